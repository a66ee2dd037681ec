"""The entrance of the pipeline: a question is read once into a frozen :class:`Query` that every later stage reads.

:func:`read` analyses the text (language, answer type, fields, qualifiers, definition or summary wanted, refusal,
reference to an earlier turn); :class:`QueryParser` adds what depends on the conversation and the index: the
follow-up's standalone form, the lexicon's search words and the search vector. No stage after it reads the text
again (llama-index's ``QueryBundle`` plays this part for a retriever; it carries no linguistic analysis).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.query.fields import cued_field_groups, cued_fields
from assistant.query.followup import antecedent, condense, is_follow_up, points_back
from assistant.query.kinds import asks_year, expected_type
from assistant.query.lexicon import attribute_synonyms, expand
from assistant.query.policy import refusal_reason
from assistant.query.wording import (asked_attributes, asks_for_latest, asks_summary, counted_terms, definition_target,
                                     is_definitional, is_english, named, restrictive_qualifiers, split_definition,
                                     subject_names)
from index.text import analyze, analyze_words, fold


@dataclass(frozen=True)
class Attribute:
    """An attribute a question names (« taux de sélection »), read with what states it: its synonyms, the record
    fields its words cue, the kind of value it is."""

    name: str
    synonyms: str
    fields: frozenset[str]
    kind: str | None


@dataclass(frozen=True, eq=False)
class Query:
    """A question read once.

    Attributes:
        text: The question as asked (checked, stripped).
        search: What retrieval searches: the question, or its standalone form for a follow-up, plus the lexicon's
            words. Never judged against: the answer is checked against ``text``.
        vector: ``search``'s embedding (None for BM25-only retrieval, or before :class:`QueryParser` adds it).
    """

    text: str
    english: bool
    folded: str
    terms: tuple[str, ...]  # the question's own analysed terms (stems, accented and folded)
    words: tuple[tuple[str, ...], ...]  # its content words, each with its analysed forms
    kind: str | None  # the kind of value asked (money, date, person…)
    year: bool  # the date asked is a year (« En quelle année… ? »)
    field_groups: tuple[frozenset[str], ...]  # one set of record fields per thing asked
    fields: frozenset[str]
    attributes: tuple[Attribute, ...]
    qualifiers: tuple[str, ...]  # what the question restricts its subject to (a year, « pour X »)
    names: tuple[str, ...]  # the names and years it holds (« Adastra », « CINES », « 2026 »)
    subjects: tuple[str, ...]  # those no preposition brings in: what it is about (« le projet SHARP du PEPR IA » → SHARP)
    counted: frozenset[str]  # the terms of what « combien de … » counts
    refusal: str | None  # why the question is refused whatever the corpus holds
    definition: str | None  # what « qu'est-ce que … » asks about
    subject: str | None  # the definition's subject, and
    rest: str | None  # a fact asked after it (« … et quand a-t-il été créé ? »)
    subject_terms: tuple[str, ...]  # the analysed terms naming what is defined or summarised (the subject's, or all)
    summary: bool
    latest: bool
    definitional: bool
    pointer: str | None  # the word by which a question naming no subject refers back (« son »)
    follow_up: bool
    search: str = ""
    search_terms: tuple[str, ...] = ()
    searchable: bool = True  # the search has a content word (« ??? » has none)
    vector: np.ndarray | None = None
    condensed_by: str | None = None  # « offline » or « llm » when ``search`` is a follow-up's standalone form
    unresolved: str | None = None  # ``pointer`` when no earlier turn names what it refers to

    def __str__(self) -> str:
        return self.text

    @property
    def attribute_names(self) -> list[str]:
        return [a.name for a in self.attributes]


def read(text: str) -> Query:
    """``text`` read once: everything the stages need from its wording (its search is the text itself)."""
    english = is_english(text)
    groups = tuple(frozenset(g) for g in cued_field_groups(text))
    definition = definition_target(text)
    subject, rest = split_definition(definition)
    attributes = tuple(Attribute(a, attribute_synonyms(a), frozenset(cued_fields(a)), expected_type(a))
                       for a in asked_attributes(text, english=english))
    folded = fold(text)
    terms, words = tuple(analyze(text)), tuple(dict.fromkeys(analyze_words(text)))
    names = named(text)
    return Query(
        text=text, english=english, folded=folded, terms=terms, words=words, kind=expected_type(text), year=asks_year(text), field_groups=groups,
        fields=frozenset().union(*groups), attributes=attributes,
        qualifiers=tuple(restrictive_qualifiers(text, english=english)), names=tuple(names), subjects=tuple(subject_names(text, names)), counted=frozenset(counted_terms(text)),
        refusal=refusal_reason(text), definition=definition, subject=subject, rest=rest,
        subject_terms=tuple(analyze(subject)) if subject else terms, summary=asks_summary(text),
        latest=asks_for_latest(text), definitional=is_definitional(folded), pointer=points_back(text),
        follow_up=is_follow_up(text), search=text, search_terms=terms, searchable=bool(words),
    )


class QueryParser:
    """The query stage: the question read, then completed with its conversation, the lexicon and its vector.

    Args:
        embed: The search vector of a text (the retriever's query encoder), or None for BM25-only retrieval.
    """

    def __init__(self, embed: Callable[[str], np.ndarray] | None):
        self.embed = embed

    def parse(self, text: str, history: list[str], *,
              rewrite: Callable[[str, list[str], str | None], str | None] | None = None,
              checkpoint: Callable[[], None] = lambda: None) -> Query:
        """The frozen query of ``text`` asked after ``history`` (earlier user questions, oldest first).

        A question pointing back to a subject no earlier turn names is returned as read (``unresolved`` set):
        nothing is searched for it. ``rewrite`` is a model's standalone rewrite of a follow-up (``(text, history,
        kind) -> str | None``; None: the offline condensation only); ``checkpoint`` is called before each costly
        step (the rewrite, the embedding) and may raise to stop.
        """
        query = read(text)
        if query.pointer and antecedent(history) is None and not query.refusal:
            return dataclasses.replace(query, unresolved=query.pointer)
        checkpoint()
        search, condensed_by = self._condense(query, history, rewrite)
        expansion = expand(query)
        if expansion:
            search = f"{search} {expansion}"
        checkpoint()
        vector = self.embed(search) if self.embed is not None else None
        return dataclasses.replace(query, search=search, search_terms=tuple(analyze(search)),
                                   searchable=bool(analyze_words(search)), vector=vector, condensed_by=condensed_by)

    def _condense(self, query: Query, history: list[str], rewrite) -> tuple[str, str | None]:
        """The question, or its standalone form when it is a follow-up: the model's rewrite when allowed and
        trusted, the offline condensation otherwise."""
        if not history or not query.follow_up:
            return query.text, None
        if rewrite is not None:
            rewritten = rewrite(query.text, history, query.kind)
            if rewritten:
                return rewritten, "llm"
        return condense(query.text, history), "offline"
