"""Which sentences the answer quotes: the best, those nearly as good that say something else, one per other thing
asked, every value of a fact that has several, and — for « actuel », « aujourd'hui » — the latest first."""

from __future__ import annotations

import re

from assistant.compose.definitions import Definitions
from assistant.compose.records import record_field, record_group, record_value
from assistant.decide.figures import stated_figure
from assistant.query.fields import field_asked, field_meaning
from assistant.query.kinds import type_match
from assistant.query.parse import Query
from assistant.read.candidates import Candidate, subject_precision
from assistant.retrieve.hybrid import Hit
from assistant.rules import DEFAULT, Rules


def choose(query: Query, candidates: list[Candidate], max_sentences: int, second_ratio: float,
           rules: Rules = DEFAULT) -> list[Candidate]:
    """The best sentence, those nearly as good (``second_ratio`` of its score) that say something else, and one
    per other part asked."""
    best = candidates[0]
    chosen = [best]
    for c in candidates[1:]:
        if len(chosen) >= max_sentences:
            break
        if c.score >= second_ratio * best.score and not any(same_statement(c, o) for o in chosen):
            chosen.append(c)
    return chosen + other_asked_fields(query, best, candidates, chosen, rules.other_field_ratio)


def other_asked_fields(query: Query, best: Candidate, candidates: list[Candidate], chosen: list[Candidate],
                       ratio: float = DEFAULT.other_field_ratio) -> list[Candidate]:
    """When the question asks two things (« qui porte X et de quelle somme est-il doté ? »), the best
    sentence of the same subject for each thing not yet answered."""
    groups = query.field_groups
    if len(groups) < 2:
        return []
    subject = best.hit.chunk.doc_id
    answered = {record_field(c.hit.chunk, c.text)[0] for c in chosen}
    added = []
    for group in groups:
        if group & answered:
            continue
        for c in candidates:
            if c.hit.chunk.doc_id == subject and record_field(c.hit.chunk, c.text)[0] in group \
                    and c.score >= ratio * best.score and all(c.text != o.text for o in chosen + added):
                added.append(c)
                answered.add(record_field(c.hit.chunk, c.text)[0])
                break
    return added


def other_values(query: Query, chosen: list[Candidate], definitions: Definitions) -> list[Candidate]:
    """For a fiche line that answers the question (of a field the question asks for, or giving the kind of
    value it asks for) and states one value of a fact that has several, the lines of its other values."""
    added = []
    for c in chosen:
        chunk = c.hit.chunk
        value = record_value(chunk, c.text) or c.text  # the datum itself, not its « (selon …, mars 2025) »
        if not field_asked(record_field(chunk, c.text)[0], query.fields) and not gives_asked_value(value, query):
            continue  # a side sentence: its fact was not asked for
        group = record_group(chunk, c.text)
        if group is None:
            continue
        for other in definitions.chunks_of[chunk.doc_id]:
            for sentence in other.sentence_texts():
                if record_group(other, sentence) == group and all(sentence != o.text for o in chosen + added):
                    added.append(Candidate(Hit(other, c.hit.score), sentence, c.score, c.dense, c.coverage))
    return added


def gives_asked_value(sentence: str, query: Query) -> bool:
    """The sentence gives the kind of value asked: an amount, a date, a share, a duration, or a count of the very
    thing counted (« combien de clusters » → « neuf clusters », not « 400 M€ »). Names are too loosely recognised
    (« Jean Zay ») to tell a person apart."""
    kind = query.kind
    if kind in ("number", "count"):
        return stated_figure(sentence, kind, query.counted) is not None
    return kind in ("money", "date", "share", "duration") and bool(type_match(kind, sentence))


def same_statement(a: Candidate, b: Candidate) -> bool:
    """Two sentences saying the same thing: same text, or the same record field twice."""
    if a.text == b.text:
        return True
    ca, cb = a.hit.chunk, b.hit.chunk
    if ca.kind == cb.kind == "record" and ca.doc_id == cb.doc_id:
        return field_meaning(record_field(ca, a.text)[0]) == field_meaning(record_field(cb, b.text)[0])
    return False


def same_subject(c: Candidate, best: Candidate, query_terms: dict, share: float = DEFAULT.subject_share) -> bool:
    """A corroborating sentence must be about what the best one is about, or about something the question
    names: sharing « 2021 » does not make INS2I's director a confirmation of AISSAI's."""
    chunk = c.hit.chunk
    if chunk.doc_id == best.hit.chunk.doc_id or chunk.kind == "document":
        return True
    return subject_precision(chunk, query_terms) >= share


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def prefer_recent(candidates: list[Candidate], rules: Rules = DEFAULT) -> list[Candidate]:
    """For « actuelle », « aujourd'hui »…: among close candidates, the one stating the latest year wins."""
    best = candidates[0].score
    close = [c for c in candidates if c.score >= rules.recent_ratio * best]
    latest = max((int(y) for c in close for y in _YEAR.findall(c.text)), default=None)
    if latest is None:
        return candidates
    for c in close:
        if str(latest) in _YEAR.findall(c.text):
            c.score += rules.recent_bonus
    return sorted(candidates, key=lambda c: -c.score)
