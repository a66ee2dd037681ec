"""``make fit-ranker``: fit the learned ranker (assistant/read/ranker.py) and its answer policy.

Fitted on the *calibration* part of FQuAD (articles the reader was not trained on, never the held-out part) and on
eval/dev_qa.jsonl, never on eval/test_qa.jsonl:

1. **collect**: each question is asked as the product asks it (same retrieval, same candidate sentences); the
   reader reads the shortlist; every shortlisted sentence gives a row of features, labelled 1 when it holds the
   answer (the gold span for FQuAD, an expected pattern for dev). The calibration questions whose gold paragraph
   is removed from the index, and dev's unanswerable questions, give the rows of questions to refuse.
2. **fit** a logistic regression on the answerable questions' rows (scikit-learn).
3. **policy**, on the same questions: the abstention threshold on the best sentence's probability and the penalty
   when the quoted sentences miss a premise of the question, chosen to refuse as many questions to refuse as
   possible while refusing at most ``--max-false-abstention`` of the answerable ones on both sets; the share of the
   best's probability a second sentence needs, as the highest that keeps « gold in ≤ 2 sentences » within 0.01 of
   its best.
4. **abstention**: a logistic model of « the corpus answers this question » over the shortlist's question-level
   features (``QUESTION_FEATURES``), fitted on every collected question (removed-paragraph and unanswerable ones
   are its negatives), its threshold chosen under the same false-abstention limit; cross-validated by question
   against the single threshold above (``abstention_fit`` in ranker.json).

    python -m training.reader.fit_ranker [--questions 600] [--removed 200] [--seed 61] [--recollect]

Writes assistant/read/ranker.json (with the data's hashes and the figures on the fit sets) and keeps the
collected rows in var/ranker/rows.json, so that refitting does not ask again.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from assistant.read.ranker import FEATURES, FILE, Ranker, matrix

ROOT = Path(__file__).resolve().parents[2]
ROWS = ROOT / "var" / "ranker" / "rows.json"
DEV = ROOT / "eval" / "dev_qa.jsonl"


def _collect_questions(assistant, ranking, asked, label, source: str, progress) -> list[dict]:
    """One entry per question: its shortlist's feature rows, labels and premise flags, read through the assistant's
    own pipeline (its query, retrieval and sentence scores; ``ranking`` reads the shortlist, unranked)."""
    from assistant.decide.premises import unsupported_premise

    out = []
    started = time.perf_counter()
    pipeline = assistant.pipeline
    for n, (qid, text, history, answers, answerable) in enumerate(asked, 1):
        history, _ = assistant.bounded_history(history)
        query = pipeline.query(assistant.check_question(text), history, "extractive")
        candidates = pipeline.extractive.scorer.candidates(query, pipeline.retrieve(query).hits)
        shortlist, _ = ranking.read(query, candidates) if candidates else ([], [])
        out.append({
            "id": qid, "source": source, "answerable": answerable,
            "features": [{k: c.features[k] for k in FEATURES if k in c.features} for c in shortlist],
            "labels": [bool(label(c.text, answers)) for c in shortlist],
            "premise": [unsupported_premise(query, [pipeline.extractive.evidence(c)]) is not None for c in shortlist],
            "texts": [c.text for c in shortlist],
        })
        if n % 100 == 0:
            progress(f"{source} : {n}/{len(asked)} questions ({time.perf_counter() - started:.0f} s)")
    return out


def collect(questions: int, removed: int, seed: int, progress=print) -> dict:
    from assistant.app import build, settings_embedder
    from assistant.batch import BatchItem, read_items
    from training.reader.benchmark import contains, prepare
    from training.reader.fquad import DEFAULT_FILE, file_hash
    from assistant.read.learned import Reader
    from assistant.read.ranking import LearnedRanking
    from assistant.settings import Settings
    from index.build import build_index

    settings = Settings()
    ranking = LearnedRanking(Reader.shared(), None, settings.answer.reader_shortlist)
    fquad_settings = settings.model_copy(update={"index": settings.index.model_copy(
        update={"dir": ROOT / "var" / "external" / "fquad-calibration"})})
    documents, asked, removed_questions = prepare(DEFAULT_FILE, "calibration", questions, removed, seed)
    embedder = settings_embedder(fquad_settings)
    entries = []

    def fquad(qs, answerable):
        return [(q.id, q.text, None, q.answers, answerable) for q in qs]

    def index(docs):
        build_index(fquad_settings.index.dir, docs, embedder, backend=fquad_settings.index.embedder,
                    chunk_chars=fquad_settings.index.chunk_chars, chunk_overlap=fquad_settings.index.chunk_overlap)
        return build(fquad_settings)

    assistant = index(documents)
    entries += _collect_questions(assistant, ranking, fquad(asked, True), contains, "fquad", progress)
    gone = {q.doc_id for q in removed_questions}
    assistant = index([d for d in documents if d.doc_id not in gone])
    entries += _collect_questions(assistant, ranking, fquad(removed_questions, False), contains, "fquad-removed",
                                  progress)

    def expected(text, patterns):
        return any(re.search(p, text, re.IGNORECASE) for p in patterns)

    items = [i for i in read_items(DEV) if isinstance(i, BatchItem)]
    dev = [(i.id, i.question, i.history, i.expectation.expect + i.expectation.expect_all, not i.expectation.abstain)
           for i in items]
    entries += _collect_questions(build(settings), ranking, dev, expected, "dev", progress)
    return {"fquad_sha256": file_hash(DEFAULT_FILE), "questions": questions, "removed": removed, "seed": seed,
            "shortlist": ranking.shortlist, "entries": entries}


def _best(entry: dict, probabilities: np.ndarray) -> tuple[int | None, int | None]:
    """Indexes of the best and second-best candidate by probability."""
    if not len(probabilities):
        return None, None
    order = np.argsort(-probabilities)
    return int(order[0]), (int(order[1]) if len(order) > 1 else None)


def evaluate(entries: list[dict], probabilities: list[np.ndarray], threshold: float, penalty: float,
             second_ratio: float, refusals: list[bool] | None = None) -> dict:
    """What the policy gives on ``entries``: per source, answerable refused, gold first, gold in ≤ 2, refused.

    ``refusals``, when given, decides refusal per question (the question-level model) instead of the threshold."""
    out: dict[str, dict] = {}
    for n, (entry, p) in enumerate(zip(entries, probabilities)):
        s = out.setdefault(entry["source"], {"n": 0, "answerable": 0, "refused_answerable": 0, "first": 0,
                                             "two": 0, "to_refuse": 0, "refused": 0})
        s["n"] += 1
        first, second = _best(entry, p)
        confidence = -1.0 if first is None else p[first] - penalty * entry["premise"][first]
        refused = bool(confidence < threshold) if refusals is None else bool(first is None or refusals[n])
        if entry["answerable"]:
            s["answerable"] += 1
            s["refused_answerable"] += refused
            if not refused:
                s["first"] += bool(entry["labels"][first])
                s["two"] += bool(entry["labels"][first] or (second is not None and p[second] >= second_ratio * p[first]
                                                            and entry["labels"][second]))
        else:
            s["to_refuse"] += 1
            s["refused"] += refused
    for s in out.values():
        a = max(s["answerable"], 1)
        s.update(false_abstentions=round(s["refused_answerable"] / a, 3), first_rate=round(s["first"] / a, 3),
                 two_rate=round(s["two"] / a, 3),
                 refused_rate=round(s["refused"] / s["to_refuse"], 3) if s["to_refuse"] else None)
    return out


def fit(data: dict, max_false_abstention: float = 0.05, C: float = 1.0) -> dict:
    from sklearn.linear_model import LogisticRegression

    entries = data["entries"]
    X = [matrix(e["features"], [f.get("reader", 0.0) for f in e["features"]]) for e in entries]
    train = [(x, e["labels"]) for x, e in zip(X, entries) if e["answerable"] and len(x)]
    rows = np.vstack([x for x, _ in train])
    labels = np.concatenate([np.asarray(y, bool) for _, y in train])
    mean, scale = rows.mean(0), rows.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=2000).fit((rows - mean) / scale, labels)
    weights, bias = model.coef_[0], float(model.intercept_[0])
    ranker = Ranker(tuple(weights), bias, tuple(mean), tuple(scale))
    P = [ranker.probabilities(x) if len(x) else np.zeros(0) for x in X]
    best = None
    for penalty in [round(0.1 * i, 1) for i in range(11)]:
        for threshold in [round(0.01 * i, 2) for i in range(100)]:
            r = evaluate(entries, P, threshold, penalty, 1.0)
            if any(s["false_abstentions"] > max_false_abstention for s in r.values() if s["answerable"]):
                continue
            gain = np.mean([s["refused_rate"] for s in r.values() if s["refused_rate"] is not None])
            if best is None or gain > best[0] + 1e-9:
                best = (gain, threshold, penalty)
    _, threshold, penalty = best
    two_by_ratio = {ratio: float(np.mean([evaluate(entries, P, threshold, penalty, ratio)[s]["two_rate"]
                                    for s in ("fquad", "dev")])) for ratio in [round(0.05 * i, 2) for i in range(21)]}
    top = max(two_by_ratio.values())
    second_ratio = max(r for r, v in two_by_ratio.items() if v >= top - 0.01)
    abstention, refusals = fit_abstention(entries, P, max_false_abstention, C)
    return {
        "features": list(FEATURES),
        "model": {"weights": [round(float(w), 6) for w in weights], "bias": round(bias, 6),
                  "mean": [round(float(m), 6) for m in mean], "scale": [round(float(s), 6) for s in scale]},
        "policy": {"min_probability": threshold, "premise_penalty": penalty, "second_ratio": second_ratio},
        "fit": {"rows": int(len(labels)), "positives": int(labels.sum()), "C": C,
                "max_false_abstention": max_false_abstention,
                "on_fit_sets": evaluate(entries, P, threshold, penalty, second_ratio)},
        "abstention": abstention,
        "abstention_fit": {"on_fit_sets": evaluate(entries, P, threshold, penalty, second_ratio, refusals),
                           "cross_validated": _cross_validated(entries, P, max_false_abstention, C,
                                                               threshold, penalty, second_ratio)},
    }


def _question_rows(entries: list[dict], P: list[np.ndarray]) -> np.ndarray:
    from assistant.read.ranker import question_features

    rows = []
    for entry, p in zip(entries, P):
        first, _ = _best(entry, p)
        rows.append(question_features(p, entry["features"], bool(first is not None and entry["premise"][first])))
    return np.vstack(rows)


def fit_abstention(entries: list[dict], P: list[np.ndarray], max_false_abstention: float, C: float = 1.0,
                   fit_on: list[int] | None = None) -> tuple[dict, list[bool]]:
    """A logistic model of « the corpus answers this question » over :data:`QUESTION_FEATURES`, fitted on every
    question (the paragraph-removed and unanswerable ones are its negatives), and the threshold that refuses as many
    of those as possible while refusing at most ``max_false_abstention`` of the answerable ones in each source.
    Returns the model as ranker.json stores it and the refusals it gives on ``entries``."""
    from sklearn.linear_model import LogisticRegression

    from assistant.read.ranker import QUESTION_FEATURES, Abstention

    X = _question_rows(entries, P)
    y = np.array([e["answerable"] for e in entries], bool)
    chosen = np.arange(len(entries)) if fit_on is None else np.asarray(fit_on)
    mean, scale = X[chosen].mean(0), X[chosen].std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit((X[chosen] - mean) / scale, y[chosen])
    found = Abstention(tuple(model.coef_[0]), float(model.intercept_[0]), tuple(mean), tuple(scale), 0.0)
    probability = np.array([found.probability(x) for x in X])
    sources = sorted({entries[i]["source"] for i in chosen})
    best = (-1.0, 0.0)
    for t in [round(0.01 * i, 2) for i in range(100)]:
        refused = probability < t
        false = [np.mean(refused[[i for i in chosen if entries[i]["source"] == s and y[i]]])
                 for s in sources if any(entries[i]["source"] == s and y[i] for i in chosen)]
        if max(false) > max_false_abstention:
            continue
        gains = [np.mean(refused[[i for i in chosen if entries[i]["source"] == s and not y[i]]])
                 for s in sources if any(entries[i]["source"] == s and not y[i] for i in chosen)]
        if float(np.mean(gains)) > best[0] + 1e-9:
            best = (float(np.mean(gains)), t)
    threshold = best[1]
    stored = {"features": list(QUESTION_FEATURES), "weights": [round(float(w), 6) for w in model.coef_[0]],
              "bias": round(float(model.intercept_[0]), 6), "mean": [round(float(m), 6) for m in mean],
              "scale": [round(float(v), 6) for v in scale], "threshold": threshold}
    return stored, [bool(p < threshold) for p in probability]


def _cross_validated(entries, P, max_false_abstention, C, threshold, penalty, second_ratio, folds: int = 5) -> dict:
    """Both policies on questions their fit did not see: 5 folds by question, each fold's refusals from a model
    fitted on the other four (the ranker's probabilities are the fitted ones for both)."""
    order = np.random.default_rng(7).permutation(len(entries))
    refusals = [False] * len(entries)
    for k in range(folds):
        held = set(order[k::folds].tolist())
        _, decided = fit_abstention(entries, P, max_false_abstention, C, [i for i in range(len(entries)) if i not in held])
        for i in held:
            refusals[i] = decided[i]
    return {"question_model": evaluate(entries, P, threshold, penalty, second_ratio, refusals),
            "threshold": evaluate(entries, P, threshold, penalty, second_ratio)}


def main(argv: list[str] | None = None) -> int:
    from assistant.settings import offline_environment
    from corpus.errors import AssistantError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=600, help="calibration questions asked with their paragraph")
    parser.add_argument("--removed", type=int, default=200, help="calibration questions asked without it")
    parser.add_argument("--seed", type=int, default=61)
    parser.add_argument("--max-false-abstention", type=float, default=0.05)
    parser.add_argument("--recollect", action="store_true", help="ask again even if var/ranker/rows.json exists")
    parser.add_argument("--out", type=Path, default=FILE)
    args = parser.parse_args(argv)
    offline_environment()
    started = time.perf_counter()
    if args.recollect or not ROWS.is_file():
        try:
            data = collect(args.questions, args.removed, args.seed, progress=lambda m: print(m, file=sys.stderr, flush=True))
        except AssistantError as exc:  # FQuAD missing or damaged, index or reader unusable
            print(f"Erreur : {exc}", file=sys.stderr)
            return 2
        ROWS.parent.mkdir(parents=True, exist_ok=True)
        ROWS.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    try:
        data = json.loads(ROWS.read_text(encoding="utf-8"))
        missing = {name for e in data["entries"] for f in e["features"] for name in FEATURES if name not in f}
    except (ValueError, KeyError, TypeError) as exc:
        print(f"Erreur : {ROWS} illisible ({exc}) ; relancez avec --recollect", file=sys.stderr)
        return 2
    if missing:  # rows collected before a feature was added: fitting on zeros would be silently wrong
        print(f"Erreur : {ROWS} ne contient pas {', '.join(sorted(missing))} ; relancez avec --recollect",
              file=sys.stderr)
        return 2
    result = fit(data, args.max_false_abstention)
    result["provenance"] = {
        "command": "python -m training.reader.fit_ranker " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": {"fquad_sha256": data["fquad_sha256"], "fquad_part": "calibration", "questions": data["questions"],
                 "removed": data["removed"], "seed": data["seed"], "dev": "eval/dev_qa.jsonl",
                 "shortlist": data["shortlist"]},
        "licence": "CC BY-NC-SA 3.0 (fitted on FQuAD 1.0, Illuin Technology)",
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"policy": result["policy"], "on_fit_sets": result["fit"]["on_fit_sets"]}, ensure_ascii=False,
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
