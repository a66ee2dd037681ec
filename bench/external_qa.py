"""The external benchmark (training/reader/benchmark.py): FQuAD paragraphs indexed as documents, questions nobody
here wrote, every answerer and both baselines side by side in one run.

Usage: .venv/bin/python bench/external_qa.py [--part held_out|fit|train|calibration] [--questions 400] [--removed 100] [--seed 16]
           [--answerers rules,learned,span] [--articles N] [--sweep] [--match 'combien|nombre'] [--json report.json]

The index goes to var/external/fquad-<part>/ (never the product's index); a second run reuses its vectors.
FQuAD 1.0 (Illuin Technology, CC BY-NC-SA 3.0) is read from ../shared/data/fquad-train/, never copied.
Run it on an idle machine: the latencies are shared CPU time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from training.reader.benchmark import ANSWERERS, run, table
    from corpus.errors import DatasetError
    from training.reader.fquad import DEFAULT_FILE, PARTS
    from assistant.settings import Settings, offline_environment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--part", choices=PARTS, default="held_out")
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--removed", type=int, default=100)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--articles", type=int, default=None, help="only the first N articles of the part")
    parser.add_argument("--answerers", default=",".join(ANSWERERS))
    parser.add_argument("--match", default=None, help="only the questions matching this regular expression")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sweep", action="store_true", help="sweep the learned and span readers' abstention thresholds")
    args = parser.parse_args()
    offline_environment()
    answerers = tuple(a for a in args.answerers.split(",") if a)
    unknown = set(answerers) - set(ANSWERERS)
    if unknown:
        print(f"answerers inconnus : {', '.join(sorted(unknown))} (possibles : {', '.join(ANSWERERS)})", file=sys.stderr)
        return 2
    if args.match is not None:
        try:
            re.compile(args.match)
        except re.error as exc:
            print(f"--match : expression régulière invalide ({exc})", file=sys.stderr)
            return 2
    settings = Settings()
    index = settings.index.model_copy(update={"dir": ROOT / "var" / "external" / f"fquad-{args.part}"})
    settings = settings.model_copy(update={"index": index})
    try:
        report = run(settings, args.file, part=args.part, questions=args.questions, removed=args.removed,
                     seed=args.seed, answerers=answerers, articles=args.articles, sweep=args.sweep, match=args.match,
                     progress=lambda m: print(m, file=sys.stderr, flush=True))
    except DatasetError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
