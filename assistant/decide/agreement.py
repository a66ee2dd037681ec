"""Do the sources agree? Corroboration (another source states the same figure) and disagreement (another
source, or another value of the same fact, gives a different one), decided over scored candidate sentences.

A reader about to quote a figure must see every figure the corpus gives for it, each with its source: the
one that happened to rank first is not the answer when another source says otherwise.
"""

from __future__ import annotations

import re

from assistant.compose.answer import Citation
from assistant.decide.figures import stated_figure
from assistant.compose.records import record_field, record_group, record_value
from assistant.rules import DEFAULT, Rules
from index.text import analyze, term_set

# A quote that already says whose value it is (a fact's scope, « selon l'AFAS »).
_SAYS_WHOSE = re.compile(r"\((?:[^()]*\b(?:selon|d'après|according to)\b[^()]*)\)")
_FIGURE = re.compile(r"\d+(?:[,.]\d+)?")


def headline_figure(best) -> str | None:
    """The first figure of the answer's value: « 73 » in « Le PEPR IA dispose d'un budget de 73 millions d'euros »."""
    value = record_value(best.hit.chunk, best.text) or best.text
    figures = _FIGURE.findall(value)
    return figures[0] if figures else None


def comparable(c, best, rules: Rules = DEFAULT) -> bool:
    """A sentence whose figure can be set against the best sentence's: nearly as close to the question, and
    about the same entity (see ``_mentions``). Words are not compared: a figure is said in many ways."""
    return c.dense >= rules.comparable_dense * best.dense and _mentions(c, best, rules.mention_share)


def _mentions(c, best, share: float) -> bool:
    """Both sentences are about one entity. Two records are two entities (a record's own differing values are
    its several-valued facts); a document's sentence is about a record when its passage names that record."""
    a, b = c.hit.chunk, best.hit.chunk
    if a.kind == b.kind == "record":
        return a.doc_id == b.doc_id
    if a.kind == b.kind == "document":
        return True
    record, document = (a, b) if a.kind == "record" else (b, a)
    name = analyze(record.title.split(" (")[0])
    passage = term_set(document.text)
    return bool(name) and sum(t in passage for t in name) / len(name) >= share


def corroboration(best, key: str | None, candidates: list, chosen: list, kind: str | None = None,
                  counted: frozenset[str] = frozenset(), rules: Rules = DEFAULT):
    """A sentence of another document stating the same headline figure as the best one, or None.

    A curated record confirmed by the source article (or the reverse) is worth showing: the
    reader sees two independent sources agree.
    """
    if key is None:
        return None
    used = {c.hit.chunk.doc_id for c in chosen}
    best_figure = stated_figure(best.text, kind, counted)
    # Sharing a number is not enough (« 200 » chercheurs vs « 200 » sites): the sentence must also be
    # about the question, about as much as the best one, or give the same figure of the kind asked.
    agreeing = [c for c in candidates
                if c.hit.chunk.doc_id not in used and key in _FIGURE.findall(c.text)
                and ((c.coverage >= rules.corroboration_share * best.coverage
                      and c.dense >= rules.corroboration_share * best.dense)
                     or (best_figure is not None and comparable(c, best, rules)
                         and (f := stated_figure(c.text, kind, counted)) is not None
                         and f.agrees(best_figure, rules.figure_tolerance)))]
    # A source document confirming a record (or the reverse) is independent evidence; prefer it.
    agreeing.sort(key=lambda c: c.hit.chunk.kind == best.hit.chunk.kind)
    return agreeing[0] if agreeing else None


def contradiction(best, kind: str | None, counted: frozenset[str], candidates: list, chosen: list,
                  rules: Rules = DEFAULT):
    """A sentence of another source that answers the question about as well as the best one, about the same
    subject, with a figure of the kind asked (an amount, a count of the same thing, a share) that none of the
    chosen sentences gives; or None."""
    figures = [f for c in chosen if (f := stated_figure(c.text, kind, counted)) is not None]
    if not figures:
        return None
    sources = {c.hit.chunk.doc_id for c in chosen}
    for c in candidates:
        if c.hit.chunk.doc_id in sources or not comparable(c, best, rules):
            continue
        figure = stated_figure(c.text, kind, counted)
        if figure is not None and all(figure.counted == f.counted and not figure.agrees(f, rules.figure_tolerance)
                                      for f in figures):
            return c
    return None


def _source(c) -> str:
    return record_field(c.hit.chunk, c.text)[1] or c.hit.chunk.source


def without_repeats(chosen: list, kind: str | None, counted: frozenset[str],
                    rules: Rules = DEFAULT) -> tuple[list, list[tuple]]:
    """Drop a sentence that gives the same figure, from the same source URL, as one kept (a fiche line restating
    what the cited article says, next to the article's own sentence): the document's own words stay.

    Returns the sentences kept, in order, and the (dropped, kept instead) pairs.
    """
    kept: list = []
    replaced: list[tuple] = []
    for c in sorted(chosen, key=lambda c: c.hit.chunk.kind != "document"):
        figure = stated_figure(c.text, kind, counted)
        same = None if figure is None else next(
            (k for k in kept if _source(k) == _source(c) and (g := stated_figure(k.text, kind, counted)) is not None
             and g.agrees(figure, rules.figure_tolerance)), None)
        if same is None:
            kept.append(c)
        else:
            replaced.append((c, same))
    return [c for c in chosen if c in kept], replaced


def disagreeing(chosen: list, best, differing, replaced: list[tuple] = ()) -> list[str] | None:
    """The chosen sentences that give different values: those of one fact that has several (when two or more of
    them are given; a document's sentence stands for the fiche line it repeats), and the best sentence with a
    sentence of another source that contradicts it."""
    instead = {dropped.text: kept for dropped, kept in replaced}
    groups: dict[str, list[str]] = {}
    for c in [*chosen, *(dropped for dropped, _ in replaced)]:
        if (group := record_group(c.hit.chunk, c.text)) is not None:
            groups.setdefault(group, []).append(instead[c.text].text if c.text in instead else c.text)
    texts = [t for values in groups.values() if len(set(values)) >= 2 for t in values]
    if differing is not None:
        texts += [instead[best.text].text if best.text in instead else best.text, differing.text]
    return list(dict.fromkeys(texts)) or None


def attributed(quote: str, citation: Citation, chunk, english: bool) -> str:
    """A differing quote with whose it is, unless its own words already say (« … (selon Le Point). »)."""
    if _SAYS_WHOSE.search(quote):
        return quote
    if chunk.kind == "document":
        whose = chunk.metadata.get("publisher") or f"« {chunk.title} »"
    else:
        whose = re.sub(r"^https?://(?:www\.)?", "", citation.source).split("/")[0].rstrip(".") or citation.title
    return f"{'According to' if english else 'Selon'} {whose} : {quote}"
