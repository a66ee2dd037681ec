"""`assistant eval`: run a question set through the normal answering path and measure it.

Reports retrieval hit@1/hit@3/MRR against the expected documents, answer accuracy, abstention
precision/recall, citation validity and latency; compares two reports; fits the abstention threshold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import product

from assistant.compose.answer import verify_citations
from assistant.batch import BatchItem, LineProblem, percentile
from assistant.decide.abstention import weighted_confidence
from corpus.errors import AssistantError

WARM_UP = "Quel est le budget du PEPR IA ?"


@dataclass
class ItemResult:
    id: str
    category: str
    question: str
    should_abstain: bool
    abstained: bool
    correct: bool
    rank: int | None  # 1-based rank of the first expected document among retrieved ones
    citation_problems: list[str]
    confidence: float
    latency_ms: float
    answer: str
    doc_ids: list[str]
    signals: dict | None = None
    error: str | None = None
    mode: str = "extractive"  # what produced the answer shown: extractive or generative
    fallback: str | None = None  # why a generated answer was replaced, if it was
    first_token_ms: float | None = None
    cited: list[str] | None = None  # the documents the answer (or a refusal's nearby sentence) cites, in order

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def evaluate_item(assistant, item: BatchItem, chunk_texts: dict[str, str]) -> ItemResult:
    try:
        answer = assistant.ask(item.question, history=item.history)
    except Exception as exc:  # counted as an error, like batch does; the evaluation goes on
        message = str(exc) if isinstance(exc, AssistantError) else f"{type(exc).__name__}: {exc}"
        return ItemResult(item.id, item.category, item.question, item.expectation.abstain, False, False, None,
                          [], 0.0, 0.0, "", item.doc_ids, error=message)
    rank = None
    for position, doc_id in enumerate(answer.retrieved, 1):
        if doc_id in item.doc_ids:
            rank = position
            break
    return ItemResult(
        id=item.id, category=item.category, question=item.question, should_abstain=item.expectation.abstain,
        abstained=answer.abstained, correct=bool(item.expectation.judge(answer.answer, answer.abstained)),
        rank=rank, citation_problems=verify_citations(answer, chunk_texts), confidence=answer.confidence,
        latency_ms=answer.timings_ms["total"], answer=answer.answer, doc_ids=item.doc_ids, signals=answer.signals,
        mode=answer.mode, fallback=(answer.fallback or {}).get("reason"),
        first_token_ms=(answer.generation or {}).get("first_token_ms"),
        cited=[c.doc_id for c in answer.citations],
    )


def run_eval(assistant, items: list[BatchItem | LineProblem]) -> dict:
    """Evaluate every item and return the report (metrics plus per-item results)."""
    problems = [f"ligne {i.line} : {i.message}" for i in items if isinstance(i, LineProblem)]
    items = [i for i in items if isinstance(i, BatchItem)]
    chunk_texts = {c.chunk_id: c.text for c in assistant.index.chunks}
    assistant.ask(WARM_UP)  # latency is measured warm
    started = time.perf_counter()
    results = [evaluate_item(assistant, item, chunk_texts) for item in items]
    report = metrics(results)
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["input_problems"] = problems
    report["items"] = [r.as_dict() for r in results]
    return report


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def metrics(results: list[ItemResult]) -> dict:
    answerable = [r for r in results if not r.should_abstain]
    unanswerable = [r for r in results if r.should_abstain]
    with_docs = [r for r in answerable if r.doc_ids]
    abstained = [r for r in results if r.abstained]
    cited = [r for r in results if not r.error]
    categories = sorted({r.category for r in results if r.category})
    return {
        "questions": len(results),
        "errors": sum(1 for r in results if r.error),
        "retrieval": {
            "hit@1": ratio(sum(1 for r in with_docs if r.rank == 1), len(with_docs)),
            "hit@3": ratio(sum(1 for r in with_docs if r.rank and r.rank <= 3), len(with_docs)),
            "mrr": round(sum(1 / r.rank for r in with_docs if r.rank) / len(with_docs), 4) if with_docs else None,
        },
        "accuracy": ratio(sum(r.correct for r in answerable), len(answerable)),
        "accuracy_all": ratio(sum(r.correct for r in results), len(results)),
        "abstention": {
            "precision": ratio(sum(r.should_abstain for r in abstained), len(abstained)),
            "recall": ratio(sum(r.abstained for r in unanswerable), len(unanswerable)),
            "false_abstention_rate": ratio(sum(r.abstained for r in answerable), len(answerable)),
        },
        "citation_validity": ratio(sum(not r.citation_problems for r in cited), len(cited)),
        "latency_ms": {"p50": percentile([r.latency_ms for r in results if not r.error], 50),
                       "p95": percentile([r.latency_ms for r in results if not r.error], 95)},
        "generation": _generation_metrics(results),
        "by_category": {c: ratio(sum(r.correct for r in results if r.category == c),
                                  sum(1 for r in results if r.category == c)) for c in categories},
    }


def _generation_metrics(results: list[ItemResult]) -> dict | None:
    """For generative and auto runs: how many answers the model wrote, how right they were, why others fell back."""
    asked = [r for r in results if r.mode == "generative" or r.fallback]
    if not asked:
        return None
    generated = [r for r in asked if r.mode == "generative"]
    reasons: dict[str, int] = {}
    for r in asked:
        if r.fallback:
            reasons[r.fallback] = reasons.get(r.fallback, 0) + 1
    first = [r.first_token_ms for r in asked if r.first_token_ms is not None]
    return {
        "asked": len(asked),
        "grounded_share": ratio(len(generated), len(asked)),
        "accuracy_of_generated": ratio(sum(r.correct for r in generated), len(generated)),
        "fallbacks": reasons,
        "first_token_ms": {"p50": percentile(first, 50), "p95": percentile(first, 95)},
    }


def calibrate(results: list[ItemResult], max_false_abstention: float = 0.05) -> dict:
    """Fit the confidence weights and the abstention thresholds on answers produced without abstaining.

    Confidence is ``w·dense + (1−w)·coverage − p·unknown_share − q·unsupported`` (see ``ExtractiveAnswerer``);
    a French question abstains below the threshold t (refused questions always abstain). The fit keeps the
    (w, p, q, t) with the best accuracy among those whose false-abstention rate stays within the limit,
    then the best abstention recall, then the lowest threshold. English questions, which unknown words
    cannot judge, get their own floor on sentence similarity: midway between the most similar
    unanswerable question below every answerable one and the least similar answerable one.
    """
    usable = [r for r in results if not r.error]
    english = [r for r in usable if (r.signals or {}).get("english")]
    french = [r for r in usable if r not in english]

    def refused(r):  # refused before any sentence was weighed: no threshold changes that
        return "dense" not in (r.signals or {}) and r.abstained

    def direct(r):  # a definition or a summary: given whole, no threshold applies either
        return "dense" not in (r.signals or {}) and not r.abstained

    english_t = 0.0
    en_a = [r.signals["dense"] for r in english if not r.should_abstain and not refused(r) and not direct(r)]
    en_u = [r.signals["dense"] for r in english if r.should_abstain and not refused(r) and not direct(r)]
    if en_a:
        below = [d for d in en_u if d < min(en_a)]
        english_t = (max(below) + min(en_a)) / 2 if below else 0.0

    answerable = [r for r in french if not r.should_abstain]
    unanswerable = [r for r in french if r.should_abstain]
    best = None
    for w, p, q in product([x / 10 for x in range(0, 11)], (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
                           (0.0, 0.5, 1.0, 2.0, 3.0)):
        def score(r):
            if direct(r):
                return float("inf")
            return float("-inf") if refused(r) else weighted_confidence(r.signals, w, p, q)

        conf_a = [(score(r), r.correct) for r in answerable]
        conf_u = [score(r) for r in unanswerable]
        finite = [c for c, _ in conf_a if abs(c) != float("inf")] + [c for c in conf_u if abs(c) != float("inf")]
        for t in sorted({round(c + 1e-4, 4) for c in finite} | {-1.0}):
            false_abstentions = sum(c < t for c, _ in conf_a)
            if answerable and false_abstentions / len(answerable) > max_false_abstention:
                continue
            recall_hits = sum(c < t for c in conf_u)
            right = sum(c >= t and ok for c, ok in conf_a) + recall_hits
            key = (right, recall_hits, -t)
            if best is None or key > best[0]:
                best = (key, {"dense_weight": w, "unknown_penalty": p, "unsupported_penalty": q, "min_confidence": t})
    if best is None:
        return {}
    fit = best[1]
    fit["min_dense_english"] = round(english_t, 4)

    def abstains(r):
        if refused(r) or direct(r):
            return refused(r)
        s = r.signals
        confidence = weighted_confidence(s, fit["dense_weight"], fit["unknown_penalty"], fit["unsupported_penalty"])
        return confidence < fit["min_confidence"] or bool(s.get("english") and s["dense"] < english_t)

    all_a = [r for r in usable if not r.should_abstain]
    all_u = [r for r in usable if r.should_abstain]
    right = sum(not abstains(r) and r.correct for r in all_a) + sum(abstains(r) for r in all_u)
    return {**fit,
            "accuracy_all": round(right / len(usable), 4) if usable else None,
            "abstention_recall": round(sum(abstains(r) for r in all_u) / len(all_u), 4) if all_u else None,
            "false_abstention_rate": round(sum(abstains(r) for r in all_a) / len(all_a), 4) if all_a else None}


def compare(old: dict, new: dict) -> dict:
    """What got better and what regressed between two reports (metrics and per-question correctness)."""
    def flat(report, prefix=""):
        out = {}
        for key, value in report.items():
            if key in ("items", "input_problems", "by_category"):
                continue
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f"{prefix}{key}"] = value
        return out

    before, after = flat(old), flat(new)
    deltas = {k: round(after[k] - before[k], 4) for k in after if k in before and before[k] is not None
              and after[k] is not None and after[k] != before[k]}
    old_items = {i["id"]: i for i in old.get("items", [])}
    fixed, broken = [], []
    for item in new.get("items", []):
        previous = old_items.get(item["id"])
        if previous is None or previous["correct"] == item["correct"]:
            continue
        (fixed if item["correct"] else broken).append(item["id"])
    return {"deltas": deltas, "fixed": fixed, "regressed": broken}
