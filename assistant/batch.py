"""Batch Q&A: a file of questions in, one answer record per question out, written as it goes.

Inputs: JSONL (``id``, ``question``, optional ``history``, ``expect``, ``expect_all``, ``abstain``),
CSV with a header (same columns; ``history``/``expect``/``expect_all`` as JSON lists), or plain
text (one question per line, ``#`` comments). Outputs: JSONL (the ``assistant ask --json`` object
plus ``id``) or CSV with citations flattened into readable columns and kept whole as JSON.

Every input record gives exactly one output record, in input order: a line that is not UTF-8, not
valid JSON, or (CSV) a field whose opening quote is never closed becomes an error record named
after its line, and the other lines are still answered. A CSV is parsed strictly, so that an
unclosed quote cannot silently swallow the rows after it. Ids are strings or integers (integers
become strings); ``history`` is a list of strings (a JSON list in a CSV cell).

CSV output is meant to be opened in a spreadsheet, so a readable cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return (once any leading single quotes are skipped) is
prefixed with a single quote ``'``, as OWASP recommends against formula injection; the
``citations_json`` column stays exact JSON. :func:`from_csv_row` removes the prefix again, so
resuming sees the original ids.

``--resume`` keeps only the records that were answered: error records are removed from the output
and their questions asked again, and the file is put back in input order at the end.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import statistics
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

from assistant.evaluate.expectations import Expectation
from corpus.errors import AssistantError

INPUT_FORMATS = ("jsonl", "csv", "txt")
OUTPUT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ["id", "question", "answer", "abstained", "mode", "error", "correct", "latency_ms",
               "n_citations", "citations", "sources", "citations_json"]
# Cells a spreadsheet would read as a formula (OWASP « CSV injection »), after any quotes already added.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_FORMULA_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


@dataclass
class BatchItem:
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


class BatchInputError(AssistantError):
    """The input file as a whole cannot be used."""


def detect_format(path: Path, formats: tuple[str, ...], default: str) -> str:
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
        # Bad bytes become lone surrogates, found per line by _undecodable, instead of failing the file.
        text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    except FileNotFoundError as exc:
        raise BatchInputError(f"Fichier de questions introuvable : {path}") from exc
    except OSError as exc:
        raise BatchInputError(f"Impossible de lire {path} : {exc}") from exc
    reader = {"jsonl": _read_jsonl, "csv": _read_csv, "txt": _read_txt}[fmt]
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


def _undecodable(text: str, where: str = "") -> str | None:
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


def _read_txt(text: str) -> Iterator[BatchItem | LineProblem]:
    for number, line in enumerate(_lines(text), 1):
        if problem := _undecodable(line):
            yield LineProblem(number, problem)
        elif line.strip() and not line.lstrip().startswith("#"):
            yield BatchItem(number, f"q{number}", line.strip())


def _read_jsonl(text: str) -> Iterator[BatchItem | LineProblem]:
    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        if problem := _undecodable(line):
            yield LineProblem(number, problem)
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LineProblem(number, f"JSON invalide ({exc.msg}, colonne {exc.colno})")
            continue
        yield _item(number, data)


def _read_csv(text: str) -> Iterator[BatchItem | LineProblem]:
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
        undecodable = (_undecodable(value, f"colonne « {name} »") for name, value in zip(names, fields))
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
        yield _item(number, data)


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


def _item(number: int, data) -> BatchItem | LineProblem:
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


# --- output -------------------------------------------------------------------------------------

def error_record(identifier: str, question: str, message: str, mode: str) -> dict:
    return {"id": identifier, "question": question, "answer": "", "abstained": False, "citations": [],
            "mode": mode, "timings_ms": {}, "error": message}


def neutralise_cell(value: str) -> str:
    """``value`` made safe for a spreadsheet: a single quote before a would-be formula (OWASP).

    A value already starting with quotes before such a character gets one more, so that
    :func:`restore_cell` gives back exactly the original.
    """
    return "'" + value if _FORMULA.match(value) else value


def restore_cell(value: str) -> str:
    """Inverse of :func:`neutralise_cell`."""
    return value[1:] if _FORMULA_ESCAPED.match(value) else value


def to_csv_row(record: dict) -> dict:
    """The CSV row of ``record``; readable cells neutralised, ``citations_json`` exact JSON."""
    citations = record.get("citations") or []
    readable = "\n".join(f"[{c['n']}] {c['title']} — « {c['quote']} »" for c in citations)
    row = {
        "id": record["id"], "question": record.get("question", ""), "answer": record.get("answer", ""),
        "abstained": str(bool(record.get("abstained"))).lower(), "mode": record.get("mode", ""),
        "error": record.get("error", ""),
        "correct": "" if record.get("correct") is None else str(record["correct"]).lower(),
        "latency_ms": (record.get("timings_ms") or {}).get("total", ""),
        "n_citations": len(citations), "citations": readable,
        "sources": "\n".join(f"[{c['n']}] {c['source']}" for c in citations),
    }
    row = {k: neutralise_cell(v) if isinstance(v, str) else v for k, v in row.items()}
    row["citations_json"] = json.dumps(citations, ensure_ascii=False)
    return row


def from_csv_row(row: dict) -> dict:
    """Inverse of :func:`to_csv_row` for what resuming and checks need."""
    return {"id": restore_cell(row["id"]), "question": restore_cell(row["question"]),
            "answer": restore_cell(row["answer"]), "abstained": row["abstained"] == "true",
            "error": restore_cell(row["error"]) or None, "citations": json.loads(row["citations_json"] or "[]")}


class RecordWriter:
    """Writes records one by one, flushed after each, to a file or stdout."""

    def __init__(self, handle: IO[str], fmt: str, write_header: bool):
        self.handle, self.fmt = handle, fmt
        self.csv = None
        if fmt == "csv":
            self.csv = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, quoting=csv.QUOTE_ALL, lineterminator="\n")
            if write_header:
                self.csv.writeheader()

    def write(self, record: dict) -> None:
        if self.csv is not None:
            self.csv.writerow(to_csv_row(record))
        else:
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()


def load_done(path: Path, fmt: str) -> list[dict]:
    """Records already answered in ``path``, for ``--resume``; the others are to be asked again.

    Error records are removed from the file, so that their questions are retried and each id keeps
    one record. Only the last record may be incomplete (cut by an interruption before its final
    newline): it is dropped too. The file is rewritten atomically when something was removed.
    Anything else unreadable means the file is not this command's output in this format, and
    nothing is touched.

    Raises:
        BatchInputError: the file cannot be resumed.
    """
    records, raws, text = _read_output(path, fmt)
    kept = [(record, raw) for record, raw in zip(records, raws) if not record.get("error")]
    _rewrite_output(path, fmt, [raw for _, raw in kept], text)
    return [record for record, _ in kept]


def sort_output(path: Path, fmt: str, ids: list[str]) -> None:
    """Put the records of ``path`` back in the order of ``ids`` (others last), after a resume.

    Retried questions are appended at the end of the file; this restores input order, atomically,
    and leaves the file untouched when it is already in order.

    Raises:
        BatchInputError: the file cannot be read back.
    """
    records, raws, text = _read_output(path, fmt)
    position = {identifier: n for n, identifier in enumerate(ids)}

    def rank(k: int) -> int:
        identifier = records[k]["id"]
        return position.get(identifier, len(ids)) if isinstance(identifier, str) else len(ids)

    order = sorted(range(len(records)), key=rank)
    _rewrite_output(path, fmt, [raws[k] for k in order], text)


def _read_output(path: Path, fmt: str) -> tuple[list[dict], list, str]:
    """The complete records of an output file: (records, raw JSONL lines or CSV rows, file text).

    Raises:
        BatchInputError: the file is not this command's output in this format.
    """
    if not path.exists() or path.stat().st_size == 0:
        return [], [], ""
    try:
        with path.open(encoding="utf-8", newline="") as handle:  # a carriage return in a CSV field stays one
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"Impossible de reprendre {path} : {exc}") from exc
    refuse = (f"{path} n'est pas une sortie {fmt.upper()} complète de assistant batch ({{}}) : reprise "
              f"impossible sans risque ; choisissez un autre fichier de sortie ou relancez sans --resume.")
    if fmt == "jsonl":
        complete = text.rpartition("\n")[0]
        lines = complete.split("\n") if complete else []
        records = []
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise BatchInputError(refuse.format(f"ligne {number} illisible")) from None
            if not isinstance(record, dict) or "id" not in record:
                raise BatchInputError(refuse.format(f"ligne {number} sans id"))
            records.append(record)
        return records, lines, text
    rows = _csv_rows(text, refuse)
    return [from_csv_row(r) for r in rows], rows, text


def _rewrite_output(path: Path, fmt: str, raws: list, text: str) -> None:
    """Write ``raws`` (from :func:`_read_output`) to ``path`` atomically, unless that is ``text`` already."""
    if fmt == "jsonl":
        good = "".join(line + "\n" for line in raws)
    elif raws:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writeheader()
        writer.writerows(raws)
        good = buffer.getvalue()
    else:
        good = ""  # no record, no header either: the resumed run writes the header
    if good != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(good, encoding="utf-8", newline="")
        os.replace(tmp, path)


def _csv_rows(text: str, refuse: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != CSV_COLUMNS:
        raise BatchInputError(refuse.format("en-tête inattendu"))
    rows = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error:
        pass  # an unterminated quote: the cut last record, which the reader did not return
    else:
        if rows and not text.endswith("\n"):
            rows = rows[:-1]  # the last record did not reach its final newline
    for position, row in enumerate(rows[:-1], 1):
        if not _complete_csv_row(row):
            raise BatchInputError(refuse.format(f"enregistrement n° {position} incomplet"))
    if rows and not _complete_csv_row(rows[-1]):
        rows = rows[:-1]
    return rows


def _complete_csv_row(row: dict) -> bool:
    if None in row or any(v is None for v in row.values()):
        return False
    try:
        citations = json.loads(row["citations_json"] or "[]")
    except json.JSONDecodeError:
        return False
    return isinstance(citations, list) and str(len(citations)) == row["n_citations"]


# --- running ------------------------------------------------------------------------------------

def percentile(values: list[float], q: int) -> float | None:
    """The q-th percentile (inclusive method), None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


@dataclass
class Summary:
    total: int = 0
    skipped: int = 0
    answered: int = 0
    abstained: int = 0
    errors: int = 0
    judged: int = 0
    correct: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, record: dict) -> None:
        if record.get("error"):
            self.errors += 1
        elif record["abstained"]:
            self.abstained += 1
        else:
            self.answered += 1
        if record.get("correct") is not None:
            self.judged += 1
            self.correct += bool(record["correct"])
        total = (record.get("timings_ms") or {}).get("total")
        if total is not None:
            self.latencies.append(total)

    def percentile(self, q: int) -> float | None:
        return percentile(self.latencies, q)

    def as_dict(self) -> dict:
        done = self.answered + self.abstained + self.errors
        return {
            "questions": self.total, "skipped": self.skipped, "answered": self.answered,
            "abstained": self.abstained, "errors": self.errors,
            "accuracy": round(self.correct / self.judged, 4) if self.judged else None, "judged": self.judged,
            "latency_p50_ms": self.percentile(50), "latency_p95_ms": self.percentile(95),
            "seconds": round(self.seconds, 2),
            "questions_per_second": round(done / self.seconds, 2) if self.seconds else None,
        }


def answer_item(assistant, item: BatchItem | LineProblem, mode: str) -> dict:
    """One output record; never raises for a bad question or a failing backend."""
    if isinstance(item, LineProblem):
        return error_record(item.id, "", f"ligne {item.line} : {item.message}", mode)
    try:
        answer = assistant.ask(item.question, history=item.history)
    except AssistantError as exc:
        return error_record(item.id, item.question, str(exc), mode)
    except Exception as exc:  # a backend failure must not stop the batch
        return error_record(item.id, item.question, f"erreur interne : {type(exc).__name__}: {exc}", mode)
    record = {"id": item.id, **answer.to_dict()}
    verdict = item.expectation.judge(answer.answer, answer.abstained)
    if verdict is not None:
        record["correct"] = verdict
    return record


def run_batch(assistant, items: list, writer: RecordWriter, *, workers: int = 1, mode: str = "extractive",
              skip_ids: set[str] = frozenset(), on_record: Callable[[dict], None] | None = None) -> Summary:
    """Answer ``items`` in input order, writing each record as soon as it and those before it are done."""
    summary = Summary(total=len(items))
    todo = iter([i for i in items if i.id not in skip_ids])
    summary.skipped = len(items) - sum(1 for i in items if i.id not in skip_ids) if skip_ids else 0
    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    window: deque = deque()

    def submit_next() -> None:
        item = next(todo, None)
        if item is not None:
            window.append(pool.submit(answer_item, assistant, item, mode))

    try:
        for _ in range(2 * max(1, workers)):  # answer a little ahead, never the whole file
            submit_next()
        while window:
            record = window.popleft().result()
            submit_next()
            writer.write(record)
            summary.add(record)
            if on_record:
                on_record(record)
    finally:  # on Ctrl-C: what is written stays written, nothing queued keeps running
        pool.shutdown(wait=False, cancel_futures=True)
    summary.seconds = time.perf_counter() - started
    return summary
