"""Are the answers the same before and after a change? Ask the same questions with two commits and diff the answers.

Usage:
    .venv/bin/python bench/answers_diff.py OLD [NEW] [--sets dev,test,fquad] [--readers rules,learned] [--fquad 400]

OLD and NEW are commits (NEW defaults to the working tree). Each commit is checked out in its own worktree under
var/answers_diff/<commit>/ and answers, with its own code and an index it builds itself from its own corpus, the
questions of eval/dev_qa.jsonl and eval/test_qa.jsonl (with their history) and ``--fquad`` questions of FQuAD's
held-out part asked over that part's paragraphs (the questions of ``bench/external_qa.py``, seed 16), once per reader
(``answer.reader``). Each commit's answers go to var/answers_diff/<commit>/answers.json; then every question whose
answer text, citations (document, chunk, quote, field), abstention or disagreement differs is printed, then a count
per set and reader. Exit 0 when nothing differs, 1 otherwise.

Written here: no tool compares two commits' answers; the collection runs inside each commit's tree (``_collect``) with
only the entry points both commits have (``assistant.app.build``, ``Assistant.ask``, the index build functions).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "answers_diff"
FQUAD = ROOT.parent / "shared" / "data" / "fquad-train" / "fquad_train.json.gz"
READERS = ("rules", "learned")
SETS = ("dev", "test", "fquad")


def _import(*paths: str):
    """The first of ``module:name`` paths that imports: the collector runs in old and new trees alike."""
    import importlib

    for path in paths:
        module, name = path.split(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"aucun de {paths}")


def _record(answer) -> dict:
    return {"answer": answer.answer, "abstained": answer.abstained, "disagreement": answer.disagreement,
            "citations": [{"doc_id": c.doc_id, "chunk_id": c.chunk_id, "quote": c.quote, "field": c.field}
                          for c in answer.citations]}


def collect(out: Path, sets: list[str], readers: list[str], fquad: int) -> None:
    """Run inside a tree (cwd): build its indexes under ``out``, ask every question with every reader."""
    sys.path.insert(0, os.getcwd())
    os.environ["HF_HUB_OFFLINE"] = "1"
    from assistant.settings import Settings

    build = _import("assistant.app:build")
    result: dict[str, dict[str, dict]] = {}
    base = Settings()
    product = base.model_copy(update={"index": base.index.model_copy(update={"dir": out / "index"})})
    if {"dev", "test"} & set(sets):
        build_index = _import("assistant.indexing:build_index_from_settings", "assistant.app:build_index_from_settings")
        started = time.perf_counter()
        build_index(product, full=True, confirmed=True)
        print(f"  index du corpus en {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    for reader in readers:
        settings = product.model_copy(update={"answer": product.answer.model_copy(update={"reader": reader})})
        assistant = None
        for name in ("dev", "test"):
            if name not in sets:
                continue
            assistant = assistant or build(settings)
            for line in (Path("eval") / f"{name}_qa.jsonl").read_text(encoding="utf-8").splitlines():
                item = json.loads(line)
                answer = assistant.ask(item["question"], history=item.get("history"))
                result.setdefault(f"{name}/{reader}", {})[item["id"]] = _record(answer)
    (out / "answers.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if "fquad" in sets:
        old = "assistant." + "reader"  # where the training code lay before f3ae51c
        load = _import("training.reader.fquad:load", f"{old}.fquad:load")
        split = _import("training.reader.fquad:split", f"{old}.fquad:split")
        questions_of = _import("training.reader.benchmark:_questions", f"{old}.benchmark:_questions")
        default = FQUAD  # each tree's own default path is relative to where the tree lies
        settings_embedder = _import("assistant.app:settings_embedder")
        build_documents = _import("index.build:build_index")
        documents, asked, _ = questions_of(split(load(default), default)["held_out"], fquad, 0, 16)
        settings = base.model_copy(update={"index": base.index.model_copy(update={"dir": out / "fquad-index"})})
        started = time.perf_counter()
        build_documents(settings.index.dir, documents, settings_embedder(settings), backend=settings.index.embedder,
                        chunk_chars=settings.index.chunk_chars, chunk_overlap=settings.index.chunk_overlap)
        print(f"  index FQuAD en {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        for reader in readers:
            s = settings.model_copy(update={"answer": settings.answer.model_copy(update={"reader": reader})})
            assistant = build(s)
            result[f"fquad/{reader}"] = {q.id: _record(assistant.ask(q.text)) for q in asked}
    (out / "answers.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


def _tree(commit: str | None) -> tuple[Path, Path]:
    """(tree to run in, folder for its outputs); a commit gets its own worktree."""
    if commit is None:
        out = WORK / "working-tree"
        out.mkdir(parents=True, exist_ok=True)
        return ROOT, out
    sha = subprocess.run(["git", "rev-parse", "--short=12", commit], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    out = WORK / sha
    tree = out / "tree"
    if not tree.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True,
                       capture_output=True)
        # the converted models (e5, the learned reader) are built from packages, not committed: shared, not rebuilt
        (tree / "var").mkdir(exist_ok=True)
        (tree / "var" / "models").symlink_to(ROOT / "var" / "models")
    return tree, out


def run_collect(commit: str | None, sets: list[str], readers: list[str], fquad: int, reuse: bool) -> dict:
    tree, out = _tree(commit)
    answers = out / "answers.json"
    if not (reuse and answers.exists()):
        print(f"{commit or 'arbre de travail'} : questions posées dans {tree}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "_collect", str(out), "--sets", ",".join(sets),
                        "--readers", ",".join(readers), "--fquad", str(fquad)], cwd=tree, check=True)
    return json.loads(answers.read_text(encoding="utf-8"))


def diff(old: dict, new: dict) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """Lines describing each differing question, and per set/reader (differing, asked)."""
    lines, counts = [], {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, {}), new.get(key, {})
        differing = 0
        for qid in sorted(set(a) | set(b)):
            x, y = a.get(qid), b.get(qid)
            if x == y:
                continue
            differing += 1
            if x is None or y is None:
                lines.append(f"{key} {qid}: {'absent avant' if x is None else 'absent après'}")
                continue
            what = [f for f in ("answer", "abstained", "disagreement", "citations") if x[f] != y[f]]
            lines.append(f"{key} {qid}: {', '.join(what)}\n  avant : {x['answer'][:200]}\n  après : {y['answer'][:200]}")
        counts[key] = (differing, len(set(a) | set(b)))
    return lines, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="commit d'avant (ou _collect)")
    parser.add_argument("new", nargs="?", default=None, help="commit d'après (défaut : l'arbre de travail)")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--fquad", type=int, default=400, help="questions FQuAD (partie held_out, graine 16)")
    parser.add_argument("--reuse", action="store_true", help="reprendre les réponses déjà recueillies d'un commit")
    args = parser.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    readers = [r for r in args.readers.split(",") if r]
    if set(sets) - set(SETS) or set(readers) - set(READERS):
        print(f"--sets parmi {', '.join(SETS)}, --readers parmi {', '.join(READERS)}", file=sys.stderr)
        return 2
    if args.old == "_collect":
        collect(Path(args.new), sets, readers, args.fquad)
        return 0
    old = run_collect(args.old, sets, readers, args.fquad, args.reuse)
    new = run_collect(args.new, sets, readers, args.fquad, args.reuse and args.new is not None)
    lines, counts = diff(old, new)
    print("\n".join(lines))
    for key, (differing, asked) in counts.items():
        print(f"{key}: {differing} réponse(s) différente(s) sur {asked}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
