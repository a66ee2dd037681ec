"""Batch Q&A: a file of questions in, one answer record per question out, written as it goes.

Every input record gives exactly one output record, in input order; an unreadable line becomes an
error record named after its line, and the other lines are still answered. ``--resume`` keeps only
the records that were answered and asks the others again.

One module per role:

- :mod:`~assistant.batch.items`: the questions (:class:`BatchItem`, :class:`LineProblem`, :class:`BatchInputError`);
- :mod:`~assistant.batch.inputs`: reading JSONL, CSV or plain text (:func:`read_items`);
- :mod:`~assistant.batch.csv_input`: the strict CSV reader behind it, which resumes after a broken record;
- :mod:`~assistant.batch.records`: writing records as JSONL or spreadsheet-safe CSV (:class:`RecordWriter`);
- :mod:`~assistant.batch.resume`: ``--resume`` (:func:`load_done`, :func:`sort_output`);
- :mod:`~assistant.batch.run`: answering in order with a few workers (:func:`run_batch`, :class:`Summary`).
"""

from assistant.batch.inputs import INPUT_FORMATS, detect_format, read_items
from assistant.batch.items import BatchItem, LineProblem
from assistant.batch.records import (CSV_COLUMNS, OUTPUT_FORMATS, RecordWriter, error_record, from_csv_row,
                                     neutralise_cell, restore_cell, to_csv_row)
from assistant.batch.resume import load_done, sort_output
from assistant.batch.run import Summary, answer_item, percentile, run_batch
from corpus.errors import BatchInputError

__all__ = ["CSV_COLUMNS", "INPUT_FORMATS", "OUTPUT_FORMATS", "BatchInputError", "BatchItem", "LineProblem",
           "RecordWriter", "Summary", "answer_item", "detect_format", "error_record", "from_csv_row", "load_done",
           "neutralise_cell", "percentile", "read_items", "restore_cell", "run_batch", "sort_output", "to_csv_row"]
