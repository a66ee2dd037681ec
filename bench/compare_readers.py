"""The readers side by side in one run (issue 27): quality on the real corpus's dev, test and near-miss questions,
the FQuAD held-out part with its removed-paragraph questions, and speed (warm p50, batch throughput, cold ask).

Usage: .venv/bin/python bench/compare_readers.py [--readers rules,learned,span] [--out var/compare] [--no-fquad]
           [--questions 400] [--removed 100]

Each reader answers through the product's own entry points, chosen by ``ASSISTANT_ANSWER__READER``: ``assistant
eval`` (warm latency), ``assistant batch`` on bench/batch_throughput.py's 200 questions with one worker, and a cold
``assistant ask`` (a new process: imports, index and models loaded, one answer). The near-miss questions
(eval/dev_near_miss_qa.jsonl) say which record holds what lies nearby (``near.doc_id``): a refusal that cites it
shows the right neighbour. Run it on an idle machine: latencies are shared CPU time. Writes one JSON per run and
``summary.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SETS = ("dev_qa", "test_qa", "dev_near_miss_qa")
COLD_QUESTION = "Quel est le budget du PEPR IA ?"


def cli(reader: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_ANSWER__READER": reader}
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)


def evaluate(reader: str, name: str, out: Path) -> dict:
    result = cli(reader, "eval", str(ROOT / "eval" / f"{name}.jsonl"), "--json")
    if result.returncode != 0:
        raise SystemExit(f"assistant eval {name} ({reader}) : {result.stderr.strip().splitlines()[-1:]}")
    (out / f"{reader}-{name}.json").write_text(result.stdout, encoding="utf-8")
    return json.loads(result.stdout)


def near_misses(report: dict) -> dict:
    """Refused; refused with a cited neighbour; that neighbour from the record the question's author named."""
    near = {}
    for line in (ROOT / "eval" / "dev_near_miss_qa.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            near[item["id"]] = item["near"]["doc_id"]
    items = report["items"]
    refused = [r for r in items if r["abstained"]]
    shown = [r for r in refused if r.get("cited")]
    right = [r for r in shown if near.get(r["id"]) in r["cited"]]
    n = len(items)
    return {"questions": n, "refused": round(len(refused) / n, 3), "refused_with_nearby": round(len(shown) / n, 3),
            "nearby_from_expected_record": round(len(right) / n, 3)}


def speed(reader: str) -> dict:
    from bench.batch_throughput import questions

    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "questions.jsonl", Path(tmp) / "answers.jsonl"
        source.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions(200)), "utf-8")
        result = cli(reader, "batch", str(source), "-o", str(output), "--workers", "1", "--summary-json")
        summary = json.loads(result.stderr.strip().splitlines()[-1])
    started = time.perf_counter()
    cold = cli(reader, "ask", COLD_QUESTION)
    cold_seconds = time.perf_counter() - started
    if cold.returncode != 0:
        raise SystemExit(f"assistant ask ({reader}) : {cold.stderr.strip().splitlines()[-1:]}")
    return {"batch_questions_per_second": summary["questions_per_second"],
            "batch_p50_ms": round(summary["latency_p50_ms"], 1), "cold_ask_seconds": round(cold_seconds, 2)}


def summary(readers: list[str], reports: dict, fquad: str | None) -> str:
    rows = [("dev (159): accuracy answerable / all", lambda r: f"{r['dev_qa']['accuracy']} / {r['dev_qa']['accuracy_all']}"),
            ("dev: abstention recall, false abstentions",
             lambda r: f"{r['dev_qa']['abstention']['recall']}, {r['dev_qa']['abstention']['false_abstention_rate']}"),
            ("test (40): accuracy answerable / all",
             lambda r: f"{r['test_qa']['accuracy']} / {r['test_qa']['accuracy_all']}"),
            ("test: abstention recall, false abstentions",
             lambda r: f"{r['test_qa']['abstention']['recall']}, {r['test_qa']['abstention']['false_abstention_rate']}"),
            ("near misses (31): refused / with a cited neighbour / from the expected record",
             lambda r: " / ".join(str(v) for v in list(r["near"].values())[1:])),
            ("citation validity dev / test / near misses",
             lambda r: " / ".join(str(r[s]["citation_validity"]) for s in SETS)),
            ("warm p50 ms (dev, `assistant eval`)", lambda r: r["dev_qa"]["latency_ms"]["p50"]),
            ("`assistant batch`, 1 worker: questions/s", lambda r: r["speed"]["batch_questions_per_second"]),
            ("cold `assistant ask` s", lambda r: r["speed"]["cold_ask_seconds"])]
    lines = ["| set | " + " | ".join(readers) + " |", "|---|" + "---|" * len(readers)]
    lines += [f"| {label} | " + " | ".join(str(get(reports[r])) for r in readers) + " |" for label, get in rows]
    return "\n".join(lines) + ("\n\n" + fquad if fquad else "") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", default="rules,learned,span")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "compare")
    parser.add_argument("--no-fquad", action="store_true")
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--removed", type=int, default=100)
    args = parser.parse_args()
    readers = args.readers.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    reports = {}
    for reader in readers:
        reports[reader] = {name: evaluate(reader, name, args.out) for name in SETS}
        reports[reader]["near"] = near_misses(reports[reader]["dev_near_miss_qa"])
        reports[reader]["speed"] = speed(reader)
        print(reader, json.dumps({"near": reports[reader]["near"], "speed": reports[reader]["speed"]}), flush=True)
    fquad = None
    if not args.no_fquad:
        result = subprocess.run([sys.executable, str(ROOT / "bench" / "external_qa.py"), "--answerers", args.readers,
                                 "--questions", str(args.questions), "--removed", str(args.removed),
                                 "--json", str(args.out / "fquad-heldout.json")], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"bench/external_qa.py : {result.stderr.strip().splitlines()[-1:]}")
        fquad = result.stdout.strip()
    text = summary(readers, reports, fquad)
    (args.out / "summary.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
