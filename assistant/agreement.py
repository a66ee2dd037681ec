"""Do the sources agree? Corroboration (another source states the same figure) and disagreement (another
source, or another value of the same fact, gives a different one), decided over scored candidate sentences.

A reader about to quote a figure must see every figure the corpus gives for it, each with its source: the
one that happened to rank first is not the answer when another source says otherwise.
"""

from __future__ import annotations

import re

from assistant.answer import Citation
from assistant.figures import stated_figure
from assistant.fiche import record_field, record_group, record_value
from index.text import analyze, term_set

DISAGREEMENT_FR = "Les sources ne concordent pas sur ce point :"
DISAGREEMENT_EN = "The sources disagree on this point:"
# A quote that already says whose value it is (a fact's scope, « selon l'AFAS »).
_SAYS_WHOSE = re.compile(r"\((?:[^()]*\b(?:selon|d'après|according to)\b[^()]*)\)")
_FIGURE = re.compile(r"\d+(?:[,.]\d+)?")


def headline_figure(best) -> str | None:
    """The first figure of the answer's value: « 73 » in « Le PEPR IA dispose d'un budget de 73 millions d'euros »."""
    value = record_value(best.hit.chunk, best.text) or best.text
    figures = _FIGURE.findall(value)
    return figures[0] if figures else None


def comparable(c, best) -> bool:
    """A sentence whose figure can be set against the best sentence's: nearly as close to the question, and
    about the same subject (a document sentence's passage names the best record; see ``_mentions``)."""
    return c.dense >= 0.7 * best.dense and c.coverage >= 0.3 * best.coverage and _mentions(c, best)


def _mentions(c, best) -> bool:
    if best.hit.chunk.kind != "record" or c.hit.chunk.kind == "record":
        return True  # a record candidate was already checked to be about the question's subject
    name = analyze(best.hit.chunk.title.split(" (")[0])
    passage = term_set(c.hit.chunk.text)
    return bool(name) and sum(t in passage for t in name) / len(name) >= 0.5


def corroboration(best, key: str | None, candidates: list, chosen: list, kind: str | None = None,
                  question: str = ""):
    """A sentence of another document stating the same headline figure as the best one, or None.

    A curated record confirmed by the source article (or the reverse) is worth showing: the
    reader sees two independent sources agree.
    """
    if key is None:
        return None
    used = {c.hit.chunk.doc_id for c in chosen}
    best_figure = stated_figure(best.text, kind, question)
    # Sharing a number is not enough (« 200 » chercheurs vs « 200 » sites): the sentence must also be
    # about the question, about as much as the best one, or give the same figure of the kind asked.
    agreeing = [c for c in candidates
                if c.hit.chunk.doc_id not in used and key in _FIGURE.findall(c.text)
                and ((c.coverage >= 0.5 * best.coverage and c.dense >= 0.5 * best.dense)
                     or (best_figure is not None and comparable(c, best)
                         and (f := stated_figure(c.text, kind, question)) is not None and f.agrees(best_figure)))]
    # A source document confirming a record (or the reverse) is independent evidence; prefer it.
    agreeing.sort(key=lambda c: c.hit.chunk.kind == best.hit.chunk.kind)
    return agreeing[0] if agreeing else None


def contradiction(best, kind: str | None, question: str, candidates: list, chosen: list):
    """A sentence of another source that answers the question about as well as the best one, about the same
    subject, with a figure of the kind asked (an amount, a count of the same thing, a share) that none of the
    chosen sentences gives; or None."""
    figures = [f for c in chosen if (f := stated_figure(c.text, kind, question)) is not None]
    if not figures:
        return None
    sources = {c.hit.chunk.doc_id for c in chosen}
    for c in candidates:
        if c.hit.chunk.doc_id in sources or not comparable(c, best):
            continue
        figure = stated_figure(c.text, kind, question)
        if figure is not None and all(figure.counted == f.counted and not figure.agrees(f) for f in figures):
            return c
    return None


def _source(c) -> str:
    return record_field(c.hit.chunk, c.text)[1] or c.hit.chunk.source


def without_repeats(chosen: list, kind: str | None, question: str) -> list:
    """Drop a sentence that gives the same figure, from the same source URL, as one already kept (a fiche line
    restating what the cited article says, next to the article's own sentence): the document's own words stay."""
    kept: list = []
    for c in sorted(chosen, key=lambda c: c.hit.chunk.kind != "document"):
        figure = stated_figure(c.text, kind, question)
        if figure is None or not any(
                _source(k) == _source(c) and (g := stated_figure(k.text, kind, question)) is not None
                and g.agrees(figure) for k in kept):
            kept.append(c)
    return [c for c in chosen if c in kept]


def disagreeing(chosen: list, kind: str | None, question: str) -> list[str] | None:
    """The chosen sentences that disagree: the values of a fact that has several, or different figures."""
    grouped = [c.text for c in chosen if record_group(c.hit.chunk, c.text)]
    figures = {c.text: f for c in chosen if (f := stated_figure(c.text, kind, question)) is not None}
    if any(not a.agrees(b) for a in figures.values() for b in figures.values()):
        return list(dict.fromkeys(grouped + list(figures)))
    return grouped if len(grouped) >= 2 else None


def attributed(quote: str, citation: Citation, chunk, english: bool) -> str:
    """A differing quote with whose it is, unless its own words already say (« … (selon Le Point). »)."""
    if _SAYS_WHOSE.search(quote):
        return quote
    if chunk.kind == "document":
        whose = chunk.metadata.get("publisher") or f"« {chunk.title} »"
    else:
        whose = re.sub(r"^https?://(?:www\.)?", "", citation.source).split("/")[0].rstrip(".") or citation.title
    return f"{'According to' if english else 'Selon'} {whose} : {quote}"
