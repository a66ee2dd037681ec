"""Rendering a programme record as a French « fiche »: its definition, then one sentence per fact value and
relation, with metadata mapping each line to its field, source and value.
"""

from __future__ import annotations

import hashlib
import json

from corpus.documents import Document
from corpus.fields import date_phrase, enumerate_fr, fill, inner, of, to, vocabulary, with_qualifier
from corpus.records import Record, Value

# Fact fields whose values name places, institutions or acronyms: they count as context for every line.
KEYWORD_FIELDS = {"city", "location", "site", "lead_institution", "acronym"}

FACTS_HEADING = "Faits et sources"  # a heading (short, no stop): the chunker starts a new section after the definition

# A relation that states what a fact of this field already states (with its own source) is not repeated.
SAME_MEANING = {"lead": "lead_institution", "coordinator": "coordinators", "operators": "operator"}


def _fact_sentence(record: Record, field: str, value: Value) -> str:
    """A fact value as a French sentence: its own ``text``, else its field's template; then its qualifier."""
    if value.text:
        sentence = " ".join(value.text.split())
        sentence = sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."
    else:
        template = vocabulary().facts[field]
        shown = " ".join(value.value.split())
        sentence = fill(template.sentence, record.sentence_subject, record.feminine,
                        value=date_phrase(shown) if template.date else shown)
    return with_qualifier(sentence, value.qualifier)


def _relation_sentence(record: Record, name: str, targets: list[Record]) -> str:
    subjects = [t.sentence_subject for t in targets]
    return fill(vocabulary().relations[name].sentence, record.sentence_subject, record.feminine,
                targets=enumerate_fr([inner(s) for s in subjects]), de_targets=enumerate_fr([of(s) for s in subjects]),
                a_targets=enumerate_fr([to(s) for s in subjects]), s="s" if len(targets) > 1 else "")


def render(record: Record, records: dict[str, Record]) -> Document:
    """Render a record as a French « fiche »: its definition, then one sentence per fact value and relation.

    Args:
        record: The record.
        records: All records by id, for the names of related records.

    Returns:
        A document whose metadata maps each line to its field, its own source URL, its value, and, for a
        fact with several values, the group of lines that state the same fact.
    """
    subject = record.sentence_subject
    lines: list[tuple[str, str]] = [(record.title, "")]
    line_sources: dict[str, str] = {}
    line_values: dict[str, str] = {}
    groups: dict[str, str] = {}
    lines.append((" ".join(record.description.split()), "description"))
    for position, fact in enumerate(record.facts):
        for value in fact.values:
            line = _fact_sentence(record, fact.field, value)
            lines.append((line, fact.field))
            line_sources[line] = value.sources[0]
            line_values[line] = " ".join(value.value.split())
            if fact.several:
                groups[line] = f"{fact.field}#{position}"
    stated = {f.field for f in record.facts}
    for name, target in record.relations.items():
        targets = [records[t] for t in ([target] if isinstance(target, str) else target) if t in records]
        if targets and SAME_MEANING.get(name, name) not in stated:  # a fact already says it, with its source
            lines.append((_relation_sentence(record, name, targets), f"relations.{name}"))
    if record.aliases:
        names = enumerate_fr([a for a in record.aliases], "ou")
        lines.append((fill("{Sujet} est aussi appelé{e} {names}.", subject, record.feminine, names=names), "aliases"))
    # The definition is a passage of its own: the facts that follow are found by what they say, not drowned in it.
    paragraphs = [line for line, _ in lines[:2]] + [FACTS_HEADING] + [line for line, _ in lines[2:]]
    text = "\n\n".join(paragraphs) + "\n"
    canonical = json.dumps(record.model_dump(exclude={"facts": {"__all__": {"review"}}}), sort_keys=True,
                           ensure_ascii=False)
    return Document(
        doc_id=record.id,
        title=record.title,
        text=text,
        source=record.sources[0],
        content_hash=hashlib.sha256((canonical + "|" + text).encode()).hexdigest(),
        kind="record",
        metadata={
            "record_kind": record.kind,
            "sources": record.sources,
            "names": [record.name, *([record.full_name] if record.full_name else []), *record.aliases],
            # What every line of the fiche is about, for matching a question to any of its lines.
            "keywords": " ".join([record.name, record.full_name or "", *record.aliases,
                                  *(v.value for f in record.facts if f.field in KEYWORD_FIELDS for v in f.values),
                                  *(records[t].name for _, t in record.relation_ids() if t in records)]),
            "fields": {line: field for line, field in lines[1:]},
            "line_sources": line_sources,
            "values": line_values,
            "groups": groups,
            "facts": [f.model_dump(exclude={"review"}, exclude_none=True) for f in record.facts],
        },
        title_declared=True,  # the first line renders the record's title: a heading, not a passage
    )
