"""Running a batch: each question answered through the assistant, records written in input order as
they are done, by a few worker threads that answer a little ahead; a :class:`Summary` at the end.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from assistant.batch.items import BatchItem, LineProblem
from assistant.batch.records import RecordWriter, error_record
from corpus.errors import AssistantError


def percentile(values: list[float], q: int) -> float | None:
    """The q-th percentile (inclusive method), None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


@dataclass
class Summary:
    """Counts and latencies of a run, for the summary printed at the end."""

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
