"""``--resume``: reading back an output file, keeping only the records that were answered.

Error records are removed from the output and their questions asked again, and the file is put
back in input order at the end (:func:`sort_output`). A file that is not this command's output in
this format is never touched.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from assistant.batch.records import CSV_COLUMNS, from_csv_row
from corpus.errors import BatchInputError


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
