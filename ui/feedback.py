"""The chat's votes: each one a line of a JSONL file, written from what the conversation was answered on the server
(never from what a client sends), a few a minute per conversation."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from pathlib import Path

import gradio as gr

from ui.messages import lang_of, message_index
from ui.render import _md
from ui.texts import TEXTS


class FeedbackLog:
    """Votes appended to a JSONL file, one line each, written whole and flushed (safe with several threads)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())


def vote_handler(feedback: FeedbackLog, limits):
    """The chat's vote handler, writing to ``feedback`` within ``limits`` (the ``limits`` settings section)."""

    def vote(data: gr.LikeData, answers: list, votes: list, comment: str, lang: str):
        """Record a vote on one of the answers this conversation received.

        Everything but the vote and the comment comes from ``answers``, a gr.State the client cannot write:
        the chat history, the message text and the question the client sends are never read, so a forged
        request can neither invent a question or an answer nor make a line bigger than the comment limit.
        At most ``limits.feedback_per_minute`` votes a minute are written per conversation (``votes``, the
        times of the last ones, is a gr.State too)."""
        t = TEXTS[lang_of(lang)]
        now = time.monotonic()
        votes = [v for v in votes or [] if isinstance(v, float) and now - v < 60.0]
        index = message_index(getattr(data, "index", None))
        turn = next((a for a in answers or [] if isinstance(a, dict) and a.get("index") == index), None)
        if index is None or turn is None:
            return t["vote_unknown"], gr.update(), votes
        if len(votes) >= limits.feedback_per_minute:
            return t["vote_limited"].format(limit=limits.feedback_per_minute), gr.update(), votes
        answer = turn["answer"]
        liked = getattr(data, "liked", None)
        record = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "vote": "up" if liked is True or liked == "Like" else "down",
            "comment": (comment if isinstance(comment, str) else "").strip()[: limits.feedback_comment_chars],
            "question": turn["question"],
            "answer": answer["answer"],
            "abstained": answer["abstained"],
            "mode": answer["mode"],
            "citations": [{k: c.get(k) for k in ("n", "doc_id", "chunk_id", "source", "quote")}
                          for c in answer.get("citations", [])],
        }
        try:
            feedback.append(record)
        except OSError as exc:
            return t["vote_failed"].format(error=_md(str(exc))), gr.update(), votes
        return t["vote_saved"], "", votes + [now]

    return vote
