"""Reading a file of questions: JSONL, CSV with a header, or plain text.

Inputs: JSONL (``id``, ``question``, optional ``history``, ``expect``, ``expect_all``, ``abstain``),
CSV with a header (same columns; ``history``/``expect``/``expect_all`` as JSON lists), or plain
text (one question per line, ``#`` comments).

Every input record gives exactly one item, in input order: a line that is not UTF-8, not valid
JSON, or (CSV) a field whose opening quote is never closed becomes a :class:`LineProblem` named
after its line, and the other lines are still read. A CSV is parsed strictly
(:mod:`assistant.batch.csv_input`), so that an unclosed quote cannot silently swallow the rows after it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from assistant.batch.csv_input import read_csv
from assistant.batch.items import BatchItem, LineProblem, to_item, utf8_problem
from corpus.errors import BatchInputError

INPUT_FORMATS = ("jsonl", "csv", "txt")


def detect_format(path: Path, formats: tuple[str, ...], default: str) -> str:
    """The format of ``path`` told by its suffix, among ``formats`` (input or output), else ``default``."""
    suffix = path.suffix.lower().lstrip(".")
    aliases = {"ndjson": "jsonl", "json": "jsonl", "text": "txt"}
    suffix = aliases.get(suffix, suffix)
    return suffix if suffix in formats else default


def read_items(path: Path, fmt: str | None = None) -> list[BatchItem | LineProblem]:
    """Read every question of ``path``; unreadable lines come back as :class:`LineProblem`.

    The file is decoded line by line: a line (a record, for CSV) that is not UTF-8 is a
    :class:`LineProblem`, the others are read.

    Raises:
        BatchInputError: the file is missing or unreadable, or (CSV) has no ``question`` column.
    """
    fmt = fmt or detect_format(path, INPUT_FORMATS, "txt")
    try:
        # Bad bytes become lone surrogates, found per line by utf8_problem, instead of failing the file.
        text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    except FileNotFoundError as exc:
        raise BatchInputError(f"Fichier de questions introuvable : {path}") from exc
    except OSError as exc:
        raise BatchInputError(f"Impossible de lire {path} : {exc}") from exc
    reader = {"jsonl": _read_jsonl, "csv": read_csv, "txt": _read_txt}[fmt]
    items = list(reader(text))
    seen: dict[str, int] = {}
    checked: list[BatchItem | LineProblem] = []
    for item in items:
        if isinstance(item, BatchItem):
            if item.id in seen:
                item = LineProblem(item.line, f"identifiant {item.id!r} déjà utilisé ligne {seen[item.id]}")
            else:
                seen[item.id] = item.line
        checked.append(item)
    return checked


def _lines(text: str) -> list[str]:
    """Lines split on « \\n » only: U+2028 and friends are legal inside a JSON string."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _read_txt(text: str) -> Iterator[BatchItem | LineProblem]:
    for number, line in enumerate(_lines(text), 1):
        if problem := utf8_problem(line):
            yield LineProblem(number, problem)
        elif line.strip() and not line.lstrip().startswith("#"):
            yield BatchItem(number, f"q{number}", line.strip())


def _read_jsonl(text: str) -> Iterator[BatchItem | LineProblem]:
    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        if problem := utf8_problem(line):
            yield LineProblem(number, problem)
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LineProblem(number, f"JSON invalide ({exc.msg}, colonne {exc.colno})")
            continue
        yield to_item(number, data)

