"""Reading a programme record's passages: which fiche line a quote comes from, its field, source and fact.

A record is rendered (``corpus/programme.py``) as lines, each a French sentence; the chunk metadata maps
each line to its field, its own source URL, its value and, for a fact with several values, its fact group.
"""

from __future__ import annotations


def record_line(chunk, quote: str) -> str | None:
    """For a quote from a record: the fiche line it comes from."""
    if chunk.kind != "record":
        return None
    return next((line for line in chunk.metadata.get("fields", {}) if quote in line or line in quote), None)


def record_field(chunk, quote: str) -> tuple[str | None, str | None]:
    """For a quote from a record: the field it states and that fact's own source URL."""
    line = record_line(chunk, quote)
    if line is None:
        return None, None
    return chunk.metadata["fields"][line], chunk.metadata.get("line_sources", {}).get(line)


def record_group(chunk, quote: str) -> str | None:
    """For a quote stating one value of a fact that has several: the fact (shared by its other values)."""
    line = record_line(chunk, quote)
    return chunk.metadata.get("groups", {}).get(line) if line else None


def record_value(chunk, quote: str) -> str | None:
    """For a quote from a record: the value of the fact it states (« 73 millions d'euros sur six ans »)."""
    line = record_line(chunk, quote)
    return chunk.metadata.get("values", {}).get(line) if line else None
