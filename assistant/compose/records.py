"""Reading a programme record's passages: which fiche line a quote comes from, its field, source and fact.

A record is rendered (``corpus/fiches.py``) as lines, each a French sentence; the chunk metadata maps each line to
its field, its own source URL, its value and, for a fact with several values, its fact group. :class:`FicheLine` is
that line read back, typed; the functions below are what the stages ask of it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FicheLine:
    """One line of a record as rendered: the sentence, the field it states, the fact's own source URL, the value
    stated (« 73 millions d'euros sur six ans »), and the fact it is one value of, when the fact has several."""

    text: str
    field: str
    source: str | None
    value: str | None
    group: str | None

    @classmethod
    def of(cls, chunk, quote: str) -> FicheLine | None:
        """The line of ``chunk`` (a record's passage) that ``quote`` comes from or contains; None for a document."""
        if chunk.kind != "record":
            return None
        meta = chunk.metadata
        line = next((line for line in meta.get("fields", {}) if quote in line or line in quote), None)
        if line is None:
            return None
        return cls(line, meta["fields"][line], meta.get("line_sources", {}).get(line), meta.get("values", {}).get(line),
                   meta.get("groups", {}).get(line))


def record_line(chunk, quote: str) -> str | None:
    """For a quote from a record: the fiche line it comes from."""
    line = FicheLine.of(chunk, quote)
    return line.text if line else None


def record_field(chunk, quote: str) -> tuple[str | None, str | None]:
    """For a quote from a record: the field it states and that fact's own source URL."""
    line = FicheLine.of(chunk, quote)
    return (line.field, line.source) if line else (None, None)


def record_group(chunk, quote: str) -> str | None:
    """For a quote stating one value of a fact that has several: the fact (shared by its other values)."""
    line = FicheLine.of(chunk, quote)
    return line.group if line else None


def record_value(chunk, quote: str) -> str | None:
    """For a quote from a record: the value of the fact it states (« 73 millions d'euros sur six ans »)."""
    line = FicheLine.of(chunk, quote)
    return line.value if line else None
