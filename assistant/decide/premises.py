"""Does an answer stand on what its question takes for granted?

A question can presuppose what the corpus never states: « le taux de sélection de l'appel » when only
its amounts are known, « le directeur du PEPR IA pour Inria » when only the CNRS's is named, « en 2024 »
when the sentence speaks of 2019-2023. The retrieved sentence then looks relevant, and answering with
it would be wrong. Two checks on the sentences an answer would quote:

- the attribute asked for by name (« Quel est le taux de sélection… ») must be stated by one of them:
  one of its words, a record field it points to, or a value of its kind (« budget » → an amount);
- each restrictive qualifier (« en 2024 », a closing « pour Inria ») must hold for the best of them:
  stated in it, or in its record (its passage for a document) when the sentence does not restrict
  itself otherwise (years of its own, a « pour le CNRS » of its own);
- each of the question's ``names`` that the corpus names specifically (« Adastra », « 2026 »: in at least one
  passage and at most a small share of them, see :class:`CorpusNames`) must be stated by the best of them or its
  record (its passage for a document), and the name the question is about by a fiche line itself or its record's
  name: a figure about Jean Zay does not answer a question about Adastra, the 2025 edition's dates do not answer one
  about 2026, the PEPR IA's budget does not answer for its project SHARP (the near misses of issue 27). Names the
  corpus never uses (« Essonne » for « Saclay », an English title) cannot be checked, and common ones (« IA »,
  « CNRS ») say little.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.compose.records import record_field
from assistant.query.kinds import type_match
from assistant.query.lexicon import french
from assistant.query.parse import Attribute, Query
from assistant.query.wording import COUNTED_OF, SPECIALISED
from index.text import analyze, term_set


@dataclass(frozen=True)
class Evidence:
    """A sentence an answer would quote.

    Attributes:
        text: The sentence.
        field: The record field it states, if it is a fiche line.
        context: What surrounds it: its whole record for a fiche line, its passage otherwise.
    """

    text: str
    field: str | None
    context: str
    title: str = ""  # the record's name, for a fiche line (its lines are about it even when they say « il »)


def unsupported_premise(question: Query, evidence: list[Evidence], *, names: tuple[str, ...] = ()) -> str | None:
    """The first premise of ``question`` that ``evidence`` (the best sentence first) does not support, or None.

    The asked attribute may be stated by any of the sentences (each answers a part of a two-part
    question); a qualifier restricts the whole question, so the best sentence must bear it, and so must it hold
    ``names`` (those of the question's names to check, from :meth:`CorpusNames.specific`).
    """
    attributes = question.attributes
    if attributes and not any(_states(e, a) for e in evidence for a in attributes):
        return f"attribut demandé : {attributes[0].name}"
    kind = question.kind
    if kind in VALUE_KINDS and not any(type_match(kind, e.text) for e in evidence):
        return f"valeur demandée : {VALUE_KINDS[kind]}"
    for qualifier in question.qualifiers:
        if not _bears(evidence[0], qualifier):
            return f"précision : {qualifier}"
    if names:
        missing = absent_names(question, evidence[0], names)
        if missing:
            return f"nom : {missing[0]}"
    return None


def absent_names(question: Query, evidence: Evidence, names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Those of ``names`` (default: all the question's) that ``evidence`` does not state (an English question's name
    also counts as stated in its French form from the lexicon: « AI » as « IA »), the question's subject first.

    A name that qualifies (« la machine d'Orsay ») may be stated by the sentence's record or passage: « Orsay » in
    another line of Jean Zay's record still describes Jean Zay. The first name the question is about (``subjects``,
    « le projet SHARP du PEPR IA » → SHARP) must be stated by a fiche line itself or by its record's name: the PEPR IA's
    record lists SHARP among its projects, and its budget line is still not SHARP's. Measured: near misses refused
    16 → 21 of 31, dev 0.950 → 0.943 (docs/quality.md, issue 27); every name judged so: dev 0.931.
    """
    loose = term_set(f"{evidence.text} {evidence.context} {evidence.title}")
    strict = term_set(f"{evidence.text} {evidence.title}") if evidence.title else loose
    names = question.names if names is None else names
    subject = next((n for n in names if n in question.subjects), None)
    out = []
    for name in names:
        held = strict if name == subject else loose
        forms = [name] + ([french(name)] if question.english else [])
        if not any(form and term_set(form) <= held for form in forms):
            out.append(name)
    return tuple(sorted(out, key=lambda n: n != subject))


# A question that asks for an amount, a date, a count, a share or a duration is not answered by sentences that
# state none (« Quel budget le CNRS consacre-t-il à X ? » answered with what X is).
VALUE_KINDS = {"money": "un montant", "date": "une date", "number": "un nombre", "count": "un nombre",
               "share": "une part", "duration": "une durée"}


def _states(evidence: Evidence, attribute: Attribute) -> bool:
    """The sentence names the attribute, is the fiche line of a field it points to, or gives a value of its kind."""
    if term_set(f"{attribute.name} {attribute.synonyms}") & term_set(evidence.text):
        return True
    if evidence.field and evidence.field.removeprefix("relations.") in attribute.fields:
        return True
    return bool(type_match(attribute.kind, evidence.text))


# A year or a span of years, with the word before it: « France 2030 » is a name, « mai 2024 » a date.
_YEARS = re.compile(r"(\w*)\W*\b((?:19|20)\d\d)(?:-((?:19|20)\d\d))?\b")


def _years(text: str) -> set[str]:
    """The years a text states, those inside a span included (« 2021-2024 » states 2022), not those of names."""
    return {str(y) for before, first, last in _YEARS.findall(text) if not before[:1].isupper()
            for y in range(int(first), int(last or first) + 1)}


# « pour le CNRS », « pour les neuf lauréats »: whom a sentence's fact holds for (« pour étudier » is a purpose).
_FOR = re.compile(r"\bpour ((?:le |la |les |l['’])[^,;:.()]+|[A-ZÉ][^,;:.()]+)")


_AI = term_set("intelligence artificielle")


def _bears(evidence: Evidence, qualifier: str) -> bool:
    """The sentence holds for the qualifier: a year it states, or the « pour X » it restricts itself to.

    A sentence that restricts itself otherwise (other years, « pour le CNRS ») does not answer « pour Inria »,
    even when it mentions Inria elsewhere; one that does not may take the qualifier from its context.
    """
    if qualifier.startswith(COUNTED_OF):
        # « Combien de chercheurs du CNRS… »: a count of someone else's researchers does not answer
        terms = term_set(qualifier.split(" ", 1)[1])
        return terms <= term_set(evidence.text) or terms <= term_set(evidence.title)
    if qualifier.startswith(SPECIALISED):
        # « start-up spécialisées en IA »: the figure must be about those, so the sentence itself says so
        terms = term_set(qualifier.split(" ", 2)[2])
        return terms <= term_set(evidence.text) or (terms == _AI and "ia" in term_set(evidence.text))
    if not qualifier.startswith("pour "):
        return qualifier in (_years(evidence.text) or _years(evidence.context))
    terms = set(analyze(qualifier))
    own = _FOR.findall(evidence.text)
    if own:
        return any(terms <= set(analyze(" ".join(phrase.split()[:4]))) for phrase in own)
    return terms <= term_set(evidence.text) or terms <= term_set(evidence.context)


def evidence_of(candidate, record_texts: dict[str, str]) -> Evidence:
    """A candidate sentence as evidence: a fiche line is judged against its whole record (``record_texts``, all its
    fields by record), a document's sentence against its passage."""
    chunk = candidate.hit.chunk
    body = record_texts.get(chunk.doc_id, chunk.text)
    context = f"{chunk.title} {chunk.section} {chunk.metadata.get('keywords', '')} {body}"
    return Evidence(candidate.text, record_field(chunk, candidate.text)[0], context,
                    chunk.title if chunk.kind == "record" else "")


class CorpusNames:
    """Which names the corpus uses specifically: held (all their terms) by at least one passage and by at most
    ``max_share`` of them. Built once per index from its chunks (text and title)."""

    def __init__(self, chunks, max_share: float):
        self.postings: dict[str, set[int]] = {}
        for n, chunk in enumerate(chunks):
            for term in term_set(f"{chunk.title} {chunk.text}"):
                self.postings.setdefault(term, set()).add(n)
        self.limit = max_share * len(chunks)

    def specific(self, names: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for name in names:
            terms = term_set(name)
            holding = set.intersection(*(self.postings.get(t, set()) for t in terms)) if terms else set()
            if 0 < len(holding) <= self.limit:
                out.append(name)
        return tuple(out)
