"""Grid search of the sentence-scoring weights of the extractive answerer on a question set.

Usage: .venv/bin/python bench/tune_sentence_weights.py eval/dev_qa.jsonl [--check eval/test_qa.jsonl]
The query and retrieval stages of the product's pipeline run once per question; only its extractive stage is repeated
for each weight setting. The score is the share of answerable questions whose answer (never abstaining) meets its
expectation.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from assistant.app import build
from assistant.batch import read_items
from assistant.rules import DEFAULT
from assistant.settings import Settings

GRID = {"dense": [0.3, 0.45, 0.6, 0.8], "coverage": [0.15, 0.25, 0.35, 0.5], "type": [0.06, 0.12, 0.2],
        "field": [0.08, 0.15, 0.25], "subject": [0.05, 0.1, 0.2]}


def prepared(assistant, path: Path):
    pipeline = assistant.pipeline
    out = []
    for item in read_items(path, "jsonl"):
        if not hasattr(item, "question") or item.expectation.abstain:
            continue
        history, _ = assistant.bounded_history(item.history)
        query = pipeline.query(assistant.check_question(item.question), history, "extractive")
        out.append((item, query, pipeline.retrieve(query)))
    return out


def accuracy(assistant, cases, weights) -> float:
    extractive = assistant.pipeline.extractive
    extractive.scorer.weights = dict(weights)
    extractive.abstention.min_confidence = float("-inf")
    extractive.abstention.min_dense_english = 0.0
    right = 0
    for item, query, retrieved in cases:
        answer = extractive.answer(query, retrieved.hits, retrieved.extra)
        right += bool(item.expectation.judge(answer.answer, answer.abstained))
    return right / len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dev", type=Path)
    parser.add_argument("--check", type=Path, help="held-out set, reported for the current and the best weights")
    args = parser.parse_args()
    assistant = build(Settings())
    dev = prepared(assistant, args.dev)
    SENTENCE_WEIGHTS = DEFAULT.sentence_weights.model_dump()  # answer.rules.sentence_weights
    current = accuracy(assistant, dev, SENTENCE_WEIGHTS)
    best = (current, SENTENCE_WEIGHTS)
    for values in itertools.product(*GRID.values()):
        weights = {**SENTENCE_WEIGHTS, **dict(zip(GRID, values))}
        score = accuracy(assistant, dev, weights)
        if score > best[0] + 1e-9:
            best = (score, weights)
    print(f"dev answerable accuracy: current {current:.3f}, best {best[0]:.3f} with {best[1]}")
    if args.check:
        held = prepared(assistant, args.check)
        print(f"held-out answerable accuracy: current {accuracy(assistant, held, SENTENCE_WEIGHTS):.3f}, "
              f"best {accuracy(assistant, held, best[1]):.3f}")


if __name__ == "__main__":
    main()
