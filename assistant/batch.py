"""Batch Q&A: a file of questions in, one answer record per question out, written as it goes.

Inputs: JSONL (``id``, ``question``, optional ``history``, ``expect``, ``expect_all``, ``abstain``),
CSV with a header (same columns; ``history``/``expect``/``expect_all`` as JSON lists), or plain
text (one question per line, ``#`` comments). Outputs: JSONL (the ``assistant ask --json`` object
plus ``id``) or CSV with citations flattened into readable columns and kept whole as JSON.
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

from assistant.scoring import Expectation
from corpus.errors import AssistantError

INPUT_FORMATS = ("jsonl", "csv", "txt")
OUTPUT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ["id", "question", "answer", "abstained", "mode", "error", "correct", "latency_ms",
               "n_citations", "citations", "sources", "citations_json"]


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

    Raises:
        BatchInputError: the file is missing, not UTF-8, or (CSV) has no ``question`` column.
    """
    fmt = fmt or detect_format(path, INPUT_FORMATS, "txt")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise BatchInputError(f"Fichier de questions introuvable : {path}") from exc
    except UnicodeDecodeError as exc:
        raise BatchInputError(f"{path} n'est pas encodé en UTF-8 (octet {exc.start})") from exc
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


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "vrai", "oui", "yes"}
    return bool(value)


def _read_txt(text: str) -> Iterator[BatchItem | LineProblem]:
    for number, line in enumerate(_lines(text), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield BatchItem(number, f"q{number}", line.strip())


def _read_jsonl(text: str) -> Iterator[BatchItem | LineProblem]:
    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LineProblem(number, f"JSON invalide ({exc.msg}, colonne {exc.colno})")
            continue
        yield _item(number, data)


def _read_csv(text: str) -> Iterator[BatchItem | LineProblem]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "question" not in reader.fieldnames:
        raise BatchInputError("Le CSV doit avoir une ligne d'en-tête avec au moins la colonne « question ».")
    start = 2
    for row in reader:
        number, start = start, reader.line_num + 1
        data: dict = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        if None in row:
            yield LineProblem(number, "plus de colonnes que l'en-tête")
            continue
        try:
            for key in ("history", "expect", "expect_all"):
                if key in data and data[key].lstrip().startswith("["):
                    data[key] = json.loads(data[key])
        except json.JSONDecodeError as exc:
            yield LineProblem(number, f"colonne {key} : liste JSON invalide ({exc.msg})")
            continue
        yield _item(number, data)


def _item(number: int, data) -> BatchItem | LineProblem:
    if not isinstance(data, dict):
        return LineProblem(number, "un objet JSON est attendu")
    question = data.get("question")
    if not isinstance(question, str):
        return LineProblem(number, "champ « question » absent ou qui n'est pas du texte")
    history = data.get("history") or []
    if isinstance(history, str):
        history = [history]
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        return LineProblem(number, "champ « history » : liste de questions (textes) attendue")
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
    identifier = f"q{number}" if identifier in (None, "") else str(identifier)
    return BatchItem(number, identifier, question, history, expectation, lists["doc_ids"],
                     str(data.get("category") or ""))


# --- output -------------------------------------------------------------------------------------

def error_record(identifier: str, question: str, message: str, mode: str) -> dict:
    return {"id": identifier, "question": question, "answer": "", "abstained": False, "citations": [],
            "mode": mode, "timings_ms": {}, "error": message}


def to_csv_row(record: dict) -> dict:
    citations = record.get("citations") or []
    readable = "\n".join(f"[{c['n']}] {c['title']} — « {c['quote']} »" for c in citations)
    return {
        "id": record["id"], "question": record.get("question", ""), "answer": record.get("answer", ""),
        "abstained": str(bool(record.get("abstained"))).lower(), "mode": record.get("mode", ""),
        "error": record.get("error", ""),
        "correct": "" if record.get("correct") is None else str(record["correct"]).lower(),
        "latency_ms": (record.get("timings_ms") or {}).get("total", ""),
        "n_citations": len(citations), "citations": readable,
        "sources": "\n".join(f"[{c['n']}] {c['source']}" for c in citations),
        "citations_json": json.dumps(citations, ensure_ascii=False),
    }


def from_csv_row(row: dict) -> dict:
    """Inverse of :func:`to_csv_row` for what resuming and checks need."""
    return {"id": row["id"], "question": row["question"], "answer": row["answer"],
            "abstained": row["abstained"] == "true", "error": row["error"] or None,
            "citations": json.loads(row["citations_json"] or "[]")}


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
    """Complete records already in ``path``, for ``--resume``.

    Only the last record may be incomplete (cut by an interruption before its final newline): it is
    dropped and the file rewritten without it, atomically. Anything else unreadable means the file
    is not this command's output in this format, and nothing is touched.

    Raises:
        BatchInputError: the file cannot be resumed.
    """
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"Impossible de reprendre {path} : {exc}") from exc
    refuse = (f"{path} n'est pas une sortie {fmt.upper()} complète de assistant batch ({{}}) : reprise "
              f"impossible sans risque ; choisissez un autre fichier de sortie ou relancez sans --resume.")
    complete, cut = text.rpartition("\n")[0::2]
    if fmt == "jsonl":
        records = []
        for number, line in enumerate(complete.split("\n") if complete else [], 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise BatchInputError(refuse.format(f"ligne {number} illisible")) from None
            if not isinstance(record, dict) or "id" not in record:
                raise BatchInputError(refuse.format(f"ligne {number} sans id"))
            records.append(record)
        good = complete + "\n" if complete else ""
    else:
        rows = _csv_rows(text, refuse)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        good = buffer.getvalue()
        records = [from_csv_row(r) for r in rows]
    if good != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(good, encoding="utf-8")
        os.replace(tmp, path)
    return records


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
