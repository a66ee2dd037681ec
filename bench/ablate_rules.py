"""Each hand-set value of the rules reader taken out in turn (issue 27, step 4): what it is worth, measured.

Usage: .venv/bin/python bench/ablate_rules.py [--part calibration] [--questions 400] [--removed 100]
           [--only type,rank] [--sets dev_qa,dev_near_miss_qa] [--out var/ablation]

A value is taken out by setting it to the value that makes it do nothing (a weight to 0, a factor to 1, a penalty to
0), through the product's own settings (``ASSISTANT_ANSWER__…`` in the environment): no code path is patched. Each row
runs ``assistant eval`` on the named question sets and bench/external_qa.py on an FQuAD part (rules reader only)
with that one value out. Choose on the fit sets (FQuAD calibration, dev, near misses); report the held-out part
and eval/test_qa.jsonl once, for what was chosen (``--part held_out --sets test_qa --only …``).
Writes one JSON per row and ``summary.md`` to ``--out``. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = "ASSISTANT_ANSWER__RULES__"

# name → (what it does, the environment that takes it out)
ABLATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "type": ("a sentence stating a value of the kind asked scores more", {f"{RULES}SENTENCE_WEIGHTS__TYPE": "0"}),
    "rank": ("a sentence of a better-ranked passage scores more", {f"{RULES}SENTENCE_WEIGHTS__RANK": "0"}),
    "subject": ("a record line scores with how precisely its record's name matches the query",
                {f"{RULES}SENTENCE_WEIGHTS__SUBJECT": "0"}),
    "field": ("a record line of a field the question cues scores more", {f"{RULES}SENTENCE_WEIGHTS__FIELD": "0"}),
    "search_term_weight": ("terms added by the follow-up or the lexicon count half",
                           {f"{RULES}SEARCH_TERM_WEIGHT": "1"}),
    "context_credit": ("a term found only in the passage's title, section or keywords counts 0.6",
                       {f"{RULES}CONTEXT_CREDIT": "0"}),
    "short_factor": ("a sentence under 25 characters scores half", {f"{RULES}SHORT_FACTOR": "1"}),
    "alias_factor": ("« X est aussi appelé Y » scores 0.6 outside definitions", {f"{RULES}ALIAS_FACTOR": "1"}),
    "recent_bonus": ("« actuel » : the latest year's sentence gets a bonus", {f"{RULES}RECENT_BONUS": "0"}),
    "name_share": ("the question's specific names must be stated (name premise)", {f"{RULES}NAME_SHARE": "0"}),
    "unsupported_penalty": ("an answer missing a premise of the question is penalised (all premise checks)",
                            {"ASSISTANT_ANSWER__UNSUPPORTED_PENALTY": "0"}),
    "unknown_penalty": ("question words absent from the corpus lower the confidence",
                        {"ASSISTANT_ANSWER__UNKNOWN_PENALTY": "0"}),
}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env, "ASSISTANT_ANSWER__READER": "rules"})


def row(name: str, env: dict[str, str], sets: list[str], part: str, questions: int, removed: int, out: Path) -> dict:
    result = {"name": name, "env": env}
    for s in sets:
        done = run(["-m", "assistant", "eval", str(ROOT / "eval" / f"{s}.jsonl"), "--json"], env)
        if done.returncode != 0:
            raise SystemExit(f"assistant eval {s} ({name}) : {done.stderr.strip().splitlines()[-1:]}")
        report = json.loads(done.stdout)
        result[s] = {"accuracy": report["accuracy"], "accuracy_all": report["accuracy_all"],
                     "abstention_recall": report["abstention"]["recall"],
                     "false_abstentions": report["abstention"]["false_abstention_rate"]}
    if part != "none":
        target = out / f"{name}-fquad-{part}.json"
        done = run([str(ROOT / "bench" / "external_qa.py"), "--part", part, "--answerers", "rules", "--questions",
                    str(questions), "--removed", str(removed), "--json", str(target)], env)
        if done.returncode != 0:
            raise SystemExit(f"external_qa ({name}) : {done.stderr.strip().splitlines()[-1:]}")
        report = json.loads(target.read_text(encoding="utf-8"))
        rules = next(r for r in report["rows"] if r["answerer"] == "rules")
        result["fquad"] = {"in_2_sentences": rules["contains_gold_2_sentences"], "abstained": rules["false_abstentions"],
                           "removed_refused": next((r["refused"] for r in report.get("removed", {}).get("rows", [])
                                                    if r["answerer"] == "rules"), None)}
    (out / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


def summary(rows: list[dict], sets: list[str], part: str) -> str:
    head = ["taken out", *[f"{s}: acc. all / abst. recall / false abst." for s in sets]]
    if part != "none":
        head += [f"FQuAD {part}: in ≤ 2 sentences / abstained", "removed refused"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"]] + [f"{r[s]['accuracy_all']} / {r[s]['abstention_recall']} / {r[s]['false_abstentions']}"
                               for s in sets]
        if part != "none":
            cells += [f"{r['fquad']['in_2_sentences']} / {r['fquad']['abstained']}", str(r["fquad"]["removed_refused"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="calibration", help="FQuAD part (calibration, held_out), or none")
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--removed", type=int, default=100)
    parser.add_argument("--only", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--sets", default="dev_qa,dev_near_miss_qa")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "ablation")
    args = parser.parse_args()
    names = list(ABLATIONS) if args.only is None else [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        print(f"valeurs inconnues : {', '.join(unknown)} (possibles : {', '.join(ABLATIONS)})", file=sys.stderr)
        return 2
    sets = [s for s in args.sets.split(",") if s]
    missing = [s for s in sets if not (ROOT / "eval" / f"{s}.jsonl").is_file()]
    if missing or args.part not in ("calibration", "held_out", "none"):
        print(f"jeu inconnu : {', '.join(missing)}" if missing else f"--part : calibration, held_out ou none, pas {args.part}",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in ["none", *names]:
        env = {} if name == "none" else ABLATIONS[name][1]
        rows.append(row(name, env, sets, args.part, args.questions, args.removed, args.out))
        print(f"{name} fait", file=sys.stderr, flush=True)
        (args.out / "summary.md").write_text(summary(rows, sets, args.part) + "\n", encoding="utf-8")
    print(summary(rows, sets, args.part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
