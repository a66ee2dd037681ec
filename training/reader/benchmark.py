"""An external benchmark: a SQuAD-format file's paragraphs indexed as documents, its questions asked through the
normal answering path, and the answer judged against the gold span.

One run measures, on the same questions and the same retrieval, every answerer named (``rules``: the hand-weighted
sentence scores; ``learned``: the trained reader) and two baselines that need no reader: the first retrieved passage,
and the three sentences of the five first passages closest to the question's e5 vector. Then the questions of a
second sample are asked against the same index with their gold paragraphs removed: refusing is right, and so is an
answer whose cited sentence truly holds the span (another paragraph may say it too).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from assistant.batch import percentile
from assistant.evaluate.metrics import ratio
from training.reader.fquad import Question, load, sample, split
from index.text import fold

ANSWERERS = ("rules", "learned", "span")
# With --sweep, each reader answers at no threshold and its confidence is swept over these.
SWEEPS = {"learned": [round(0.05 * i, 2) for i in range(20)], "span": [round(0.5 * i - 4, 1) for i in range(25)]}


def contains(text: str, answers: tuple[str, ...]) -> bool:
    """The gold span appears in ``text``, compared without case, accents or spacing differences."""
    folded = " ".join(fold(text).split())
    return any(" ".join(fold(a).split()) in folded for a in answers if a.strip())


def _quotes(answer) -> list[str]:
    return [c.quote for c in answer.citations]


def _row(name: str, results: list[dict]) -> dict:
    n = len(results)
    answered = [r for r in results if not r["abstained"]]
    latencies = [r["ms"] for r in results if r.get("ms") is not None]
    return {
        "answerer": name, "questions": n,
        "contains_gold": ratio(sum(r["contains"] for r in results), n),
        "contains_gold_2_sentences": ratio(sum(r["contains2"] for r in results), n),
        "first_sentence_gold": ratio(sum(r["first"] for r in results), n),
        "gold_paragraph_cited": ratio(sum(r["cited"] for r in results), n),
        "false_abstentions": ratio(n - len(answered), n),
        "sentences_per_answer": round(float(np.mean([r["sentences"] for r in answered])), 2) if answered else None,
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "led": ratio(sum(r.get("lead") is not None for r in results), n),
        "lead_em": ratio(sum(r["lead_em"] for r in led), len(led)) if (led := [r for r in results if r.get("lead")]) else None,
        "lead_f1": round(float(np.mean([r["lead_f1"] for r in led])), 4) if led else None,
    }


def _judge(answer, q: Question, ms: float | None) -> dict:
    from training.span_reader.evaluate import exact, f1

    quotes = _quotes(answer)
    lead = answer.citations[0].span["text"] if not answer.abstained and answer.citations[0].span else None
    return {"id": q.id, "abstained": answer.abstained, "contains": not answer.abstained and contains(answer.answer, q.answers),
            "contains2": contains(" ".join(quotes[:2]), q.answers), "first": bool(quotes) and contains(quotes[0], q.answers),
            "cited": any(c.doc_id == q.doc_id for c in answer.citations), "sentences": len(quotes), "ms": ms,
            "confidence": answer.confidence, "lead": lead, "lead_margin": (answer.signals or {}).get("lead_margin"),
            # SQuAD scoring of the exact answer that leads (the span reader's, or the span lead of another reader)
            "lead_em": None if lead is None else max(exact(lead, g) for g in q.answers),
            "lead_f1": None if lead is None else max(f1(lead, g) for g in q.answers)}


def _baselines(assistant, q: Question, query: str) -> dict[str, dict]:
    retriever, index = assistant.retriever, assistant.index
    vector = retriever.query_vector(query)
    hits = retriever.search(query, 5, query_vector=vector)
    first = hits[0].chunk.text if hits else ""
    sentences = []
    for h in hits:
        for i, text in enumerate(h.chunk.sentence_texts()):
            if h.chunk.sentence_rows:
                sentences.append((float(index.sentence_vectors[h.chunk.sentence_rows[i]] @ vector), text, h.chunk.doc_id))
    best = [s for s in sorted(sentences, key=lambda s: -s[0])[:3]]
    return {
        "first passage": {"abstained": not hits, "contains": contains(first, q.answers),
                          "contains2": bool(hits) and contains(" ".join(hits[0].chunk.sentence_texts()[:2]), q.answers),
                          "first": bool(hits) and contains(hits[0].chunk.sentence_texts()[0], q.answers), "cited": bool(hits) and hits[0].chunk.doc_id == q.doc_id,
                          "sentences": len(hits[0].chunk.sentence_texts()) if hits else 0, "ms": None},
        "3 best e5 sentences": {"abstained": not best, "contains": contains(" ".join(s[1] for s in best), q.answers),
                                "contains2": contains(" ".join(s[1] for s in best[:2]), q.answers),
                                "first": bool(best) and contains(best[0][1], q.answers),
                                "cited": any(s[2] == q.doc_id for s in best), "sentences": len(best), "ms": None},
    }


def _recall(assistant, q: Question, query: str) -> int | None:
    """1-based rank of the gold paragraph among the distinct documents of the first 30 passages."""
    docs = list(dict.fromkeys(h.chunk.doc_id for h in assistant.retriever.search(query, 30)))
    return docs.index(q.doc_id) + 1 if q.doc_id in docs else None


def prepare(file: Path, part: str, questions: int, removed: int, seed: int) -> tuple[list, list[Question], list[Question]]:
    """``part``'s paragraphs, ``questions`` of its questions, and ``removed`` others to ask without their paragraph."""
    return _questions(split(load(file), file)[part], questions, removed, seed)


def _questions(chosen, questions: int, removed: int, seed: int, match: str | None = None):
    documents = [d for a in chosen for d in a.paragraphs]
    pool = [q for a in chosen for q in a.questions]
    if match is not None:  # only the questions worded so (chosen apart from the code measured, the same before and after)
        pool = [q for q in pool if re.search(match, q.text, re.IGNORECASE)]
    asked = sample(pool, questions, seed)
    taken = {q.id for q in asked}
    others = [q for q in pool if q.id not in taken]
    return documents, asked, sample(others, removed, seed + 1) if removed else []


def run(settings, file: Path, *, part: str = "held_out", questions: int = 400, removed: int = 100, seed: int = 16,
        answerers: tuple[str, ...] = ANSWERERS, progress=print, articles: int | None = None, sweep: bool = False,
        match: str | None = None) -> dict:
    """Index ``part``'s paragraphs under ``settings.index.dir``, ask, judge; then the removed-paragraph questions.

    ``sweep``: the learned reader abstains at no threshold, and the report gives, for each threshold, the share of
    answerable questions it would refuse and of removed-paragraph questions it would refuse (to choose one).
    ``match``: only the questions matching this regular expression (« combien|nombre » : the count questions)."""
    from assistant.app import build, settings_embedder
    from index.build import build_index

    chosen = split(load(file), file)[part]
    if articles:
        chosen = chosen[:articles]
    documents, asked, removed_questions = _questions(chosen, questions, removed, seed, match)
    embedder = settings_embedder(settings)
    started = time.perf_counter()
    build_index(settings.index.dir, documents, embedder, backend=settings.index.embedder,
                chunk_chars=settings.index.chunk_chars, chunk_overlap=settings.index.chunk_overlap)
    progress(f"{len(documents)} paragraphes de {len(chosen)} articles indexés en {time.perf_counter() - started:.0f} s")
    report = {"file": str(file), "part": part, "articles": len(chosen), "paragraphs": len(documents),
              "questions": len(asked), "seed": seed, **({"match": match} if match else {})}

    def assistants() -> dict:
        """One assistant per answerer, each built from the settings as the product builds it."""
        out = {}
        for name in answerers:
            update = {"reader": name, **({"min_reader": 0.0} if sweep and name == "learned" else {}),
                      **({"min_span_margin": -50.0} if sweep and name == "span" else {})}
            out[name] = build(settings.model_copy(update={"answer": settings.answer.model_copy(update=update)}))
        return out

    assistant_of = assistants()
    for assistant in assistant_of.values():
        assistant.ask(asked[0].text)  # warm-up: models loaded, caches filled
    per: dict[str, list[dict]] = {name: [] for name in [*answerers, "first passage", "3 best e5 sentences"]}
    ranks = []
    for n, q in enumerate(asked, 1):
        query = None
        for name in answerers:
            t = time.perf_counter()
            answer = assistant_of[name].ask(q.text)
            per[name].append(_judge(answer, q, (time.perf_counter() - t) * 1000))
            query = answer.retrieval_query or q.text
        assistant = assistant_of[answerers[0]]
        for name, row in _baselines(assistant, q, query).items():
            per[name].append(row)
        ranks.append(_recall(assistant, q, query))
        if n % 100 == 0:
            progress(f"{n}/{len(asked)} questions")
    report["recall"] = {f"@{k}": ratio(sum(r is not None and r <= k for r in ranks), len(ranks)) for k in (1, 5, 10)}
    report["rows"] = [_row(name, rows) for name, rows in per.items()]
    report["items"] = per
    if removed_questions:
        gone = {q.doc_id for q in removed_questions}
        build_index(settings.index.dir, [d for d in documents if d.doc_id not in gone], embedder,
                    backend=settings.index.embedder, chunk_chars=settings.index.chunk_chars,
                    chunk_overlap=settings.index.chunk_overlap)
        assistant_of = assistants()
        rows = []
        for name in answerers:
            assistant = assistant_of[name]
            refused = supported = 0
            confidences = []
            for q in removed_questions:
                answer = assistant.ask(q.text)
                confidences.append(None if answer.abstained else answer.confidence)
                if answer.abstained:
                    refused += 1
                elif any(contains(c.quote, q.answers) for c in answer.citations[:2]):
                    supported += 1
            n = len(removed_questions)
            rows.append({"answerer": name, "questions": n, "refused": ratio(refused, n),
                         "answered_from_another_paragraph_holding_the_span": ratio(supported, n),
                         "right": ratio(refused + supported, n)})
            if sweep and name in SWEEPS:
                answerable = [None if r["abstained"] else r["confidence"] for r in per[name]]
                report.setdefault("sweeps", {})[name] = [
                    {"threshold": t, "false_abstentions": ratio(sum(c is None or c < t for c in answerable), len(answerable)),
                     "removed_refused": ratio(sum(c is None or c < t for c in confidences), n)} for t in SWEEPS[name]]
        report["removed"] = {"paragraphs_removed": len(gone), "rows": rows}
    return report


def table(report: dict) -> str:
    """The report as Markdown tables."""
    lines = [f"{report['part']}: {report['articles']} articles, {report['paragraphs']} paragraphs indexed, "
             f"{report['questions']} questions (seed {report['seed']}); gold paragraph among the retrieved documents: "
             + ", ".join(f"recall{k} {v}" for k, v in report["recall"].items()), "",
             "| answerer | contains gold | in ≤ 2 sentences | first sentence | gold paragraph cited | abstained | "
             "sentences | p50 ms | p95 ms |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['answerer']} | {r['contains_gold']} | {r['contains_gold_2_sentences']} | "
                     f"{r['first_sentence_gold']} | {r['gold_paragraph_cited']} | {r['false_abstentions']} | "
                     f"{r['sentences_per_answer']} | {r['p50_ms'] or '—'} | {r['p95_ms'] or '—'} |")
    if "removed" in report:
        lines += ["", f"Gold paragraph removed ({report['removed']['paragraphs_removed']} paragraphs):", "",
                  "| answerer | refused | answered from a paragraph holding the span | right |", "|---|---|---|---|"]
        for r in report["removed"]["rows"]:
            lines.append(f"| {r['answerer']} | {r['refused']} | "
                         f"{r['answered_from_another_paragraph_holding_the_span']} | {r['right']} |")
    led = [r for r in report["rows"] if r.get("led")]
    if led:
        lines += ["", "The exact answer that leads the answer (SQuAD scoring against the gold answers):", "",
                  "| answerer | questions led | exact match | F1 |", "|---|---|---|---|"]
        lines += [f"| {r['answerer']} | {r['led']} | {r['lead_em']} | {r['lead_f1']} |" for r in led]
    for name, rows in report.get("sweeps", {}).items():
        lines += ["", f"{name} reader, abstention threshold swept:", "", "| threshold | answerable refused | "
                  "removed-paragraph refused |", "|---|---|---|"]
        lines += [f"| {r['threshold']} | {r['false_abstentions']} | {r['removed_refused']} |" for r in rows]
    return "\n".join(lines)

