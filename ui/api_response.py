"""What the API sends back, in the Chat Completions protocol's shapes: refusals (``{"error": …}``), a whole
``chat.completion``, and the stream of ``chat.completion.chunk`` server-sent events ending with ``data: [DONE]``.
Each ``[n]`` of an answer becomes a ``url_citation`` annotation; the project's whole answer is the extra field
``cnrs_ia``.

Written by hand: the protocol is a few JSON shapes, and no library here writes them for an arbitrary answerer.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid

from fastapi import Request
from fastapi.responses import JSONResponse

from assistant.compose.answer import Answer
from corpus.errors import AssistantError, InvalidQuestion
from ui.gate import unless_gone


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
          param: str | None = None, headers: dict | None = None):
    """A refusal in the protocol's format: ``{"error": {"message", "type", "param", "code"}}``."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers=headers)


def annotations(answer: Answer) -> list[dict]:
    """A ``url_citation`` per ``[n]`` marker of the answer: the source's URL and title, the marker's span."""
    by_n = {c.n: c for c in answer.citations}
    out = []
    for match in re.finditer(r"\[(\d+)\]", answer.answer):
        citation = by_n.get(int(match.group(1)))
        if citation is not None:
            out.append({"type": "url_citation", "url_citation": {
                "url": citation.source, "title": citation.title,
                "start_index": match.start(), "end_index": match.end()}})
    return out


def _tokens(text: str) -> int:
    """A word count stands for tokens: clients show usage, none bills by it here."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def _head(model: str) -> dict:
    """What every chunk of one completion shares: its id, creation time and model."""
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model,
            "system_fingerprint": None}


def _usage(answer: Answer, question: str, history: list[str]) -> dict:
    prompt = _tokens(" ".join([*history, question]))
    produced = _tokens(answer.answer)
    return {"prompt_tokens": prompt, "completion_tokens": produced, "total_tokens": prompt + produced}


def completion(answer: Answer, model: str, question: str, history: list[str]) -> dict:
    """The whole (non-streamed) ``chat.completion`` object for ``answer``."""
    head = _head(model)
    return {
        "id": head["id"], "object": "chat.completion", "created": head["created"],
        "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
            "role": "assistant", "content": answer.answer, "refusal": None, "annotations": annotations(answer),
            "cnrs_ia": answer.to_dict()}}],
        "usage": _usage(answer, question, history),
    }


def failure(exc: BaseException) -> tuple[int, str, str, str, str | None]:
    """(status, message, type, code, param) of the protocol's error for an exception raised while answering: the
    arguments of :func:`error`."""
    if isinstance(exc, InvalidQuestion):
        return 400, str(exc), "invalid_request_error", "invalid_question", "messages"
    if isinstance(exc, AssistantError):
        return 503, f"Assistant indisponible : {exc}", "server_error", "unavailable", None
    return 500, "Erreur interne de l'assistant", "server_error", "internal_error", None


def _pieces(text: str, size: int = 48) -> list[str]:
    """The answer cut at word boundaries into pieces of about ``size`` characters."""
    pieces, current = [], ""
    for word in re.findall(r"\S+\s*", text):
        current += word
        if len(current) >= size:
            pieces.append(current)
            current = ""
    return pieces + ([current] if current else [])


async def events(request: Request, future: asyncio.Future, stop: threading.Event, model: str, question: str,
                 history: list[str]):
    """The answer as Chat Completions chunks, each sent as soon as it exists: the role at once (the answer is being
    computed), the content in pieces as soon as the answer is decided, then the annotations and the project's answer
    with ``finish_reason``, the usage, and ``[DONE]``. An error after the role is an ``{"error": …}`` event (the
    status is already sent). If the client goes, the work is stopped at its next stage.

    The generative modes' draft is never sent: it is the model's unchecked text, and the checked answer may be the
    extracts instead. Nor is a first extractive sentence before the rest: the answer's opening (« Les sources
    donnent plusieurs valeurs : ») is known only once every value is weighed, milliseconds later."""
    head = _head(model)

    def event(data: dict) -> str:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def chunk(delta: dict, finish: str | None = None) -> str:
        return event({**head, "object": "chat.completion.chunk",
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]})

    try:
        yield chunk({"role": "assistant", "content": ""})
        if not await unless_gone(request, future):
            return
        try:
            answer = future.result()
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            _, message, kind, code, param = failure(exc)
            yield event({"error": {"message": message, "type": kind, "param": param, "code": code}})
            return
        for piece in _pieces(answer.answer):  # the text first, before the annotations and the whole answer
            yield chunk({"content": piece})
        yield chunk({"annotations": annotations(answer), "cnrs_ia": answer.to_dict()}, "stop")
        yield event({**head, "object": "chat.completion.chunk", "choices": [],
                     "usage": _usage(answer, question, history)})
        yield "data: [DONE]\n\n"
    finally:
        if not future.done():  # the client went (or the server stops): the work stops at its next stage
            stop.set()

