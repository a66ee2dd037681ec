"""Throughput of `assistant batch` on 200 questions, per answer mode and number of workers.

Usage: .venv/bin/python bench/batch_throughput.py [--modes extractive] [--workers 1 2]
Runs the real CLI on the current index (build it first) and prints questions/second.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBJECTS = ["le PEPR IA", "AISSAI", "Jean Zay", "l'IDRIS", "BLOOM", "le projet SHARP", "le projet REDEEM",
            "le cluster MIAI", "la stratégie nationale pour l'IA", "Confiance.ai"]
FORMS = ["Qu'est-ce que {s} ?", "Qui dirige {s} ?", "Quel est le budget de {s} ?", "Quand {s} a-t-il été lancé ?",
         "Où se trouve {s} ?", "Quels sont les partenaires de {s} ?", "What is {s}?", "Combien de chercheurs compte {s} ?",
         "Quel est le rôle du CNRS dans {s} ?", "Qui finance {s} ?"]
OFF_TOPIC = ["Quelle est la capitale de l'Australie ?", "Donne-moi une recette de crêpes.",
             "Qui a gagné la coupe du monde 2018 ?", "Quel temps fera-t-il demain à Lyon ?"]


def questions(n: int = 200) -> list[dict]:
    pool = [f.format(s=s) for s in SUBJECTS for f in FORMS] + OFF_TOPIC * 5
    return [{"id": f"b{i:03d}", "question": pool[i % len(pool)]} for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modes", nargs="+", default=["extractive"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "questions.jsonl"
        source.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions(args.n)), "utf-8")
        for mode in args.modes:
            for workers in args.workers:
                output = Path(tmp) / f"out-{mode}-{workers}.jsonl"
                started = time.perf_counter()
                result = subprocess.run(
                    [sys.executable, "-m", "assistant", "batch", str(source), "-o", str(output), "--mode", mode,
                     "--workers", str(workers), "--summary-json"], capture_output=True, text=True)
                wall = time.perf_counter() - started
                summary = json.loads(result.stderr.strip().splitlines()[-1])
                print(f"mode={mode} workers={workers}: {summary['questions']} questions, "
                      f"{summary['questions_per_second']} q/s answering (p50 {summary['latency_p50_ms']:.1f} ms, "
                      f"p95 {summary['latency_p95_ms']:.1f} ms), {args.n / wall:.1f} q/s including start-up "
                      f"({wall:.1f} s wall), {summary['answered']} answered, {summary['abstained']} abstained, "
                      f"{summary['errors']} errors")


if __name__ == "__main__":
    main()
