"""The questions of a batch: :class:`BatchItem`, :class:`LineProblem` for a line that cannot be read,
:class:`BatchInputError` for a file that cannot be used, and how one record (a JSONL object or a CSV
row as a dict) becomes an item.

Ids are strings or integers (integers become strings); ``history`` is a list of strings;
``expect``/``expect_all``/``doc_ids`` are a text or a list of texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.evaluate.expectations import Expectation

_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


@dataclass
class BatchItem:
    """One question of the file, with what is expected of its answer (for evaluation)."""

    line: int
    id: str
    question: str
    history: list[str] = field(default_factory=list)
    expectation: Expectation = field(default_factory=Expectation)
    doc_ids: list[str] = field(default_factory=list)  # where the answer is, for retrieval metrics
    category: str = ""


@dataclass
class LineProblem:
    """An input line that could not be read; it becomes an error record."""

    line: int
    message: str

    @property
    def id(self) -> str:
        return f"ligne-{self.line}"


def utf8_problem(text: str, where: str = "") -> str | None:
    """Why ``text`` (decoded with surrogateescape) is not UTF-8, or None when it is.

    Args:
        text: A line, or a CSV field.
        where: Where ``text`` is, for the message; empty for a whole line (the column is given).
    """
    bad = _UNDECODABLE.search(text)
    if bad is None:
        return None
    return f"texte non UTF-8 (octet 0x{ord(bad.group()) - 0xDC00:02X}, {where or f'colonne {bad.start() + 1}'})"


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "vrai", "oui", "yes"}
    return bool(value)


def to_item(number: int, data) -> BatchItem | LineProblem:
    """The item of line ``number`` from its record ``data``, or why it cannot be one."""
    if not isinstance(data, dict):
        return LineProblem(number, "un objet JSON est attendu")
    question = data.get("question")
    if not isinstance(question, str):
        return LineProblem(number, "champ « question » absent ou qui n'est pas du texte")
    history = data.get("history")
    history = [] if history is None else history
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        return LineProblem(number, "champ « history » : liste de questions (textes) attendue, "
                                   "par exemple [\"Qu'est-ce que le PEPR IA ?\"]")
    lists = {}
    for key in ("expect", "expect_all", "doc_ids"):
        value = data.get(key) or []
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return LineProblem(number, f"champ « {key} » : texte ou liste de textes attendu")
        lists[key] = value
    expectation = Expectation(lists["expect"], lists["expect_all"], _truthy(data.get("abstain", False)))
    try:
        expectation.validate()
    except ValueError as exc:
        return LineProblem(number, str(exc))
    identifier = data.get("id")
    if isinstance(identifier, bool) or not isinstance(identifier, (str, int, type(None))):
        return LineProblem(number, "champ « id » : texte ou nombre entier attendu")
    identifier = f"q{number}" if identifier in (None, "") else str(identifier)
    return BatchItem(number, identifier, question, history, expectation, lists["doc_ids"],
                     str(data.get("category") or ""))

