"""Writing answer records: JSONL (the ``assistant ask --json`` object plus ``id``) or CSV with
citations flattened into readable columns and kept whole as JSON.

CSV output is meant to be opened in a spreadsheet, so a readable cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return (once any leading single quotes are skipped) is
prefixed with a single quote ``'``, as OWASP recommends against formula injection; the
``citations_json`` column stays exact JSON. :func:`from_csv_row` removes the prefix again, so
resuming sees the original ids.
"""

from __future__ import annotations

import csv
import json
import re
from typing import IO

OUTPUT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ["id", "question", "answer", "abstained", "mode", "error", "correct", "latency_ms",
               "n_citations", "citations", "sources", "citations_json"]
# Cells a spreadsheet would read as a formula (OWASP « CSV injection »), after any quotes already added.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_FORMULA_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


def error_record(identifier: str, question: str, message: str, mode: str) -> dict:
    """The record written instead of an answer, for an unreadable line or a failed question."""
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
