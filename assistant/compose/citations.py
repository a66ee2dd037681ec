"""The one citation composer: the chosen sentences become the answer text, each quote verbatim and followed by its
marker, with its numbered citation; when sources disagree, a lead says so and each differing quote says whose it is.
Also: an abstention, an answer given whole (a definition, a summary), and two answers joined as one."""

from __future__ import annotations

import dataclasses

from assistant.compose.answer import Answer, Citation
from assistant.compose.messages import ABSTAIN_EN, ABSTAIN_FR, DISAGREEMENT_EN, DISAGREEMENT_FR, NEAR_MISS
from assistant.compose.records import record_field
from assistant.decide.agreement import attributed
from assistant.query.parse import Query
from assistant.read.candidates import Candidate
from assistant.retrieve.hybrid import Hit
from index.text import fold


def compose(query: Query, chosen: list[Candidate], confidence: float, disagreement: list[str] | None = None) -> Answer:
    """The answer text (each quote followed by its marker) and its citations. When sources disagree, a lead
    says so and each differing quote says whose it is, unless its own words already do (« selon … »)."""
    citations: list[Citation] = []
    by_chunk: dict[tuple[str, str], int] = {}
    parts = []
    english = query.english
    named: set[str] = set()
    for c in chosen:
        chunk = c.hit.chunk
        key = (chunk.chunk_id, c.text)
        field = record_field(chunk, c.text)[0]
        if key not in by_chunk:
            by_chunk[key] = len(citations) + 1
            citations.append(citation(by_chunk[key], chunk, c.text, round(c.score, 4), c.span))
        shown = " ".join(c.text.split())
        if field == "description" and chunk.doc_id not in named:
            named.add(chunk.doc_id)  # a definition says what, not whom: « LISN : Laboratoire de sciences du… »
            name = chunk.metadata.get("names", [chunk.title])[0]
            if fold(name) not in fold(shown):
                shown = f"{chunk.title} : {shown}"
        if disagreement and c.text in disagreement:
            shown = attributed(shown, citations[by_chunk[key] - 1], chunk, english)
        if c is chosen[0] and c.span is not None and not disagreement:
            shown = f"{c.span[0]} — {shown}"  # the exact answer first, then the sentence that holds it
        parts.append((shown, by_chunk[key]))
    if disagreement:  # the lead opens the first part: an answer joined after another keeps it
        parts[0] = (f"{DISAGREEMENT_EN if english else DISAGREEMENT_FR} {parts[0][0]}", parts[0][1])
    answer = Answer(question=query.text, answer=" ".join(f"{shown} [{n}]" for shown, n in parts), abstained=False,
                    citations=citations, confidence=confidence, parts=parts)
    if disagreement:
        answer.disagreement = sorted({by_chunk[(c.hit.chunk.chunk_id, c.text)] for c in chosen
                                      if c.text in disagreement})
    return answer


def citation(n: int, chunk, quote: str, score: float, span: tuple[str, int, int] | None = None) -> Citation:
    """Citation ``n`` of ``quote`` in ``chunk``; a fiche line cites its field and the fact's own source URL; the
    span reader's (text, start, end) in the quote, when it read it."""
    field, source = record_field(chunk, quote)
    return Citation(n=n, doc_id=chunk.doc_id, title=chunk.title, source=source or chunk.source,
                    chunk_id=chunk.chunk_id, quote=quote, score=score, field=field,
                    span=None if span is None else {"text": span[0], "start": span[1], "end": span[2]})


def abstention(query: Query, confidence: float, signals: dict) -> Answer:
    """« Je ne trouve pas cette information dans le corpus. », with what was weighed."""
    answer = Answer(question=query.text, answer=ABSTAIN_EN if query.english else ABSTAIN_FR,
                    abstained=True, confidence=confidence)
    answer.signals = signals
    return answer


def near_miss(query: Query, nearby, confidence: float, signals: dict) -> Answer:
    """A refusal that says what the corpus does not give, then quotes and cites what it holds nearby (« Le corpus ne
    donne pas ce nombre pour « Adastra ». Il indique en revanche, pour Jean Zay : … [1] »). Still an abstention."""
    texts = NEAR_MISS["en" if query.english else "fr"]
    names = texts["and"].join(f"“{n}”" if query.english else f"« {n} »" for n in nearby.missing)
    about = texts["about"].format(names=names) if nearby.missing else ""
    lead = texts["lead"].format(what=texts["what"][query.kind], about=about)
    chunk = nearby.candidate.hit.chunk
    where = texts["record" if chunk.kind == "record" else "document"].format(title=chunk.title)
    answer = compose(query, [nearby.candidate], confidence)
    shown, n = answer.parts[0]
    if nearby.candidate.span is not None:  # the span led a found answer; here the sentence is only what lies near
        shown = " ".join(nearby.candidate.text.split())
    answer.parts = [(f"{lead} {where} {shown}", n)]
    answer.answer = f"{lead} {where} {shown} [{n}]"
    answer.abstained = True
    answer.signals = {**signals, "nearby": list(nearby.missing)}
    return answer


def whole(query: Query, sentences: list, signals: dict) -> Answer:
    """An answer made of given (chunk, sentence) pairs: a definition or a summary."""
    if not sentences:
        return abstention(query, 0.0, signals)
    answer = compose(query, [Candidate(Hit(chunk, 1.0), s, 1.0, 1.0, 1.0) for chunk, s in sentences], 1.0)
    answer.signals = signals
    return answer


def joined(first: Answer, second: Answer) -> Answer:
    """Two answers as one: the second's sentences follow, renumbered, those already quoted left out."""
    if second.abstained:
        return first
    quoted = {c.quote for c in first.citations}
    numbers: dict[int, int] = {}
    citations = list(first.citations)
    for c in second.citations:
        if c.quote not in quoted:
            numbers[c.n] = len(citations) + 1
            citations.append(dataclasses.replace(c, n=numbers[c.n]))
    parts = list(first.parts) + [(shown, numbers[n]) for shown, n in second.parts if n in numbers]
    text = " ".join([first.answer] + [f"{shown} [{numbers[n]}]" for shown, n in second.parts if n in numbers])
    return dataclasses.replace(first, answer=text, citations=citations, parts=parts,
                               confidence=min(first.confidence, second.confidence),
                               signals={**second.signals, "intent": "definition+fact"})
