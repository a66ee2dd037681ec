"""Strict reading of a CSV file of questions, record by record, resuming after a broken record.

Hand-written around :func:`csv.reader` because the standard module, even with ``strict=True``,
only says that a record is broken: it neither says on which line the faulty quoted field opened
nor lets the reading start again after it. Here a field whose opening quote is never closed
becomes an error record named after its line, and the rows that quote would have swallowed are
still read.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterator

from assistant.batch.items import BatchItem, LineProblem, to_item, utf8_problem
from corpus.errors import BatchInputError


def read_csv(text: str) -> Iterator[BatchItem | LineProblem]:
    """The items of a CSV with a header; a broken record or a bad cell gives a :class:`LineProblem`.

    Raises:
        BatchInputError: there is no header with a ``question`` column.
    """
    records = _csv_records(list(io.StringIO(text)))  # lines split on « \n » only, ends kept
    header = next((r for r in records if r[1] != []), None)
    if header is None or header[1] is None or "question" not in header[1]:
        raise BatchInputError("Le CSV doit avoir une ligne d'en-tête avec au moins la colonne « question ».")
    fieldnames = header[1]
    for number, fields, problem in records:
        if fields == []:
            continue  # a blank line, skipped as csv.DictReader does
        if fields is None:
            yield LineProblem(number, problem)
            continue
        names = [*fieldnames, *(f"n° {n}" for n in range(len(fieldnames) + 1, len(fields) + 1))]
        undecodable = (utf8_problem(value, f"colonne « {name} »") for name, value in zip(names, fields))
        if problem := next(filter(None, undecodable), None):
            yield LineProblem(number, problem)
            continue
        if len(fields) > len(fieldnames):
            yield LineProblem(number, "plus de colonnes que l'en-tête")
            continue
        data: dict = {k: v for k, v in zip(fieldnames, fields) if v != ""}
        try:
            for key in ("history", "expect", "expect_all"):
                if key in data and (key == "history" or data[key].lstrip().startswith("[")):
                    data[key] = json.loads(data[key])  # history is always a list, as in JSONL
        except json.JSONDecodeError as exc:
            yield LineProblem(number, f"colonne {key} : liste JSON invalide ({exc.msg})")
            continue
        yield to_item(number, data)


class _LineFeed:
    """The lines of a file for :func:`csv.reader`, from a position that can be moved back."""

    def __init__(self, lines: list[str]):
        self.lines, self.next = lines, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        self.next += 1
        return self.lines[self.next - 1]


_CSV_ERRORS = {  # what csv.Error says, in the user's words
    "',' expected after": "texte après le guillemet qui ferme un champ (un guillemet dans un champ se double : \"\")",
    "new-line character seen in unquoted field": "retour chariot seul hors d'un champ entre guillemets",
    "field larger than field limit": "champ trop long",
}


def _csv_records(lines: list[str]) -> Iterator[tuple[int, list[str] | None, str]]:
    """Parse CSV ``lines`` strictly: ``(line number, fields, "")`` per record, ``[]`` for a blank line.

    A record that does not parse (a quote never closed, text after a closing quote, a bare carriage
    return) gives ``(line number of the broken field, None, message)``, and parsing starts again on
    the line after that field's start: the rows a stray quote would have swallowed are still read.
    """
    feed = _LineFeed(lines)
    reader = csv.reader(feed, strict=True)  # strict: an end of data inside quotes is an error, not a field
    while feed.next < len(lines):
        start = feed.next
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            broken, unclosed = _broken_field(lines, start, feed.next)
            where = f" (l'enregistrement commence ligne {start + 1})" if broken != start else ""
            if unclosed:
                message = (f"guillemet ouvert et jamais refermé{where} : les lignes suivantes sont lues "
                           f"séparément ; fermez le guillemet ou doublez-le (\"\")")
            else:
                reason = next((french for english, french in _CSV_ERRORS.items() if str(exc).startswith(english)),
                              str(exc))
                message = f"ligne CSV illisible{where} : {reason}"
            yield broken + 1, None, message
            feed.next = broken + 1
            continue
        yield start + 1, fields, ""


def _broken_field(lines: list[str], start: int, end: int) -> tuple[int, bool]:
    """Where the record of ``lines[start:end]`` broke: (index of the line, quote never closed).

    Follows the default CSV dialect (``,`` and ``"``, quotes doubled inside a quoted field) and
    returns the line where the quoted field at fault opens, or ``start`` for any other error. The
    quote counts as never closed when the data ends inside the field, or when what closed it, on a
    later line, is followed by text (a quote of another row).
    """
    state, opened = "start", start  # start of a field, in an unquoted field, in quotes, quote in quotes
    for index in range(start, end):
        for char in lines[index]:
            if state == "quoted":
                if char == '"':
                    state = "quote"
            elif state == "quote":
                if char == '"':
                    state = "quoted"  # a doubled quote
                elif char == ",":
                    state = "start"
                elif char in "\r\n":
                    return start, False  # the record ended well: the error is something else
                else:  # text after a closing quote: if on a later line, the field's own quote never closed
                    return opened, index != opened
            elif char == '"' and state == "start":
                state, opened = "quoted", index
            elif char == ",":
                state = "start"
            elif char in "\r\n":
                return start, False
            else:
                state = "field"
    return (opened, True) if state == "quoted" else (start, False)

