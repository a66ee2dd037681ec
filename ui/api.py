"""An OpenAI-compatible Chat Completions API over the assistant, for the clients people already have (the
``openai`` SDK, simonw's ``llm``, Open WebUI…).

- ``GET /v1/models``: one model per answer mode (:data:`MODELS`).
- ``POST /v1/chat/completions``: the last user message is the question, the earlier user messages its history;
  system messages are read by no one (they cannot loosen the grounding rules). Non-streamed, or streamed as
  server-sent events ending with ``data: [DONE]``. Each ``[n]`` of the answer is a ``url_citation`` annotation
  (the cited source's URL, its title, the marker's span in the content); the project's whole answer (quotes,
  fields, scores, abstention, fallback) is the message's extra field ``cnrs_ia``. A refusal is an ordinary answer.
- Errors in the protocol's format (``{"error": {"message", "type", "param", "code"}}``), never a traceback.
- Bearer keys when ``api.keys`` is set; at most ``api.max_concurrent`` answers at once and ``api.max_waiting``
  waiting, past which 429 with ``Retry-After``. Bodies are bounded by the request guard (``limits.request_bytes``).
  No CORS header unless ``api.cors_origins`` names the calling origin.

Written by hand on FastAPI (Gradio's own server): the protocol is a few JSON shapes, and no library here serves
it over an arbitrary Python answerer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import threading
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from assistant.answer import Answer
from corpus.errors import AssistantError, InvalidQuestion

MODELS = {"cnrs-ia-extractive": "extractive", "cnrs-ia-generative": "generative", "cnrs-ia-auto": "auto"}
OWNER = "cnrs-ia-assistant"


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
          param: str | None = None, headers: dict | None = None):
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers=headers)


class Gate:
    """At most ``running`` answers at once, ``waiting`` more in line; past that, refuse (429)."""

    def __init__(self, running: int, waiting: int):
        self.running = threading.BoundedSemaphore(running)
        self.limit = running + waiting
        self.inside = 0
        self.lock = threading.Lock()

    def enter(self) -> bool:
        with self.lock:
            if self.inside >= self.limit:
                return False
            self.inside += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


def _text(content) -> str | None:
    """A message's text: a string, or the text parts of a list of parts; None when it is neither."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(p, str) for p in parts):
            return "\n".join(parts)
    return None


def read_request(body: dict) -> tuple[str, str, list[str], bool]:
    """(model, question, history, stream) from a request body; ``ValueError(param, message)`` when malformed."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("model", "Champ « model » manquant : un de " + ", ".join(MODELS))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages", "Champ « messages » vide ou absent : au moins un message de rôle « user »")
    users = []
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ValueError(f"messages[{n}]", f"messages[{n}] n'est pas un message (objet avec « role »)")
        if message["role"] == "user":
            text = _text(message.get("content"))
            if text is None:
                raise ValueError(f"messages[{n}].content", f"messages[{n}] : contenu qui n'est pas du texte")
            users.append(text)
    if not users:
        raise ValueError("messages", "Aucun message de rôle « user » : la dernière question de l'utilisateur est "
                                     "ce à quoi l'assistant répond")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ValueError("stream", "« stream » doit être true ou false")
    return model, users[-1], users[:-1], stream


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


def completion(answer: Answer, model: str, question: str, history: list[str]) -> dict:
    prompt = _tokens(" ".join([*history, question]))
    produced = _tokens(answer.answer)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
            "role": "assistant", "content": answer.answer, "refusal": None, "annotations": annotations(answer),
            "cnrs_ia": answer.to_dict()}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": produced, "total_tokens": prompt + produced},
    }


def _pieces(text: str, size: int = 48) -> list[str]:
    """The answer cut at word boundaries into pieces of about ``size`` characters."""
    pieces, current = [], ""
    for word in re.findall(r"\S+\s*", text):
        current += word
        if len(current) >= size:
            pieces.append(current)
            current = ""
    return pieces + ([current] if current else [])


def router(assistant, settings):
    """The ``/v1`` routes over ``assistant`` (an :class:`assistant.app.Assistant`)."""
    api = settings.api
    keys = [k.get_secret_value() for k in api.keys]
    gate = Gate(api.max_concurrent, api.max_waiting)
    origins = set(api.cors_origins)
    routes = APIRouter()
    started = int(time.time())

    def cors(request: Request, response):
        """The CORS headers for a configured origin (none otherwise: browsers then refuse cross-site calls)."""
        origin = request.headers.get("origin")
        if origin and (origin in origins or "*" in origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    @routes.options("/v1/{path:path}")
    async def preflight(request: Request, path: str):
        response = Response(status_code=204 if request.headers.get("origin") in origins or "*" in origins else 403)
        if response.status_code == 204:
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        return cors(request, response)

    def refused_key(request: Request):
        if not keys:
            return None
        given = request.headers.get("authorization", "")
        token = given[7:].strip() if given.lower().startswith("bearer ") else ""
        if not any(hmac.compare_digest(token.encode(), k.encode()) for k in keys):
            return error(401, "Clé d'API absente ou invalide (en-tête Authorization: Bearer …)",
                         "invalid_request_error", "invalid_api_key")
        return None

    @routes.get("/v1/models")
    async def models(request: Request):
        return cors(request, await _models(request))

    @routes.post("/v1/chat/completions")
    async def chat(request: Request):
        return cors(request, await _chat(request))

    async def _models(request: Request):
        if (refusal := refused_key(request)) is not None:
            return refusal
        return JSONResponse({"object": "list", "data": [{"id": name, "object": "model", "created": started,
                                                         "owned_by": OWNER} for name in MODELS]})

    async def _chat(request: Request):
        if (refusal := refused_key(request)) is not None:
            return refusal
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            return error(400, "Corps de requête qui n'est pas du JSON valide", code="invalid_json")
        if not isinstance(body, dict):
            return error(400, "Le corps de la requête doit être un objet JSON", code="invalid_json")
        try:
            model, question, history, stream = read_request(body)
        except ValueError as exc:
            param, message = exc.args
            return error(400, message, param=param)
        if model not in MODELS:
            return error(404, f"Modèle inconnu « {model[:80]} » : {', '.join(MODELS)}", code="model_not_found",
                         param="model")
        limit = settings.answer.max_question_chars
        if len(question) > limit:
            return error(400, f"Question trop longue ({len(question)} caractères, maximum {limit})",
                         code="question_too_long", param="messages")
        if not gate.enter():
            return error(429, "Trop de questions en cours : réessayez dans un instant", "rate_limit_exceeded",
                         "too_many_requests", headers={"Retry-After": str(api.retry_after_s)})
        try:
            answer = await asyncio.to_thread(_answer, assistant, gate, question, history, MODELS[model])
        except InvalidQuestion as exc:
            return error(400, str(exc), code="invalid_question", param="messages")
        except AssistantError as exc:
            return error(503, f"Assistant indisponible : {exc}", "server_error", "unavailable")
        except Exception:  # noqa: BLE001 - never a traceback to the client
            return error(500, "Erreur interne de l'assistant", "server_error", "internal_error")
        finally:
            gate.leave()
        result = completion(answer, model, question, history)
        if not stream:
            return JSONResponse(result)
        return StreamingResponse(_events(result), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return routes


def _answer(assistant, gate: Gate, question: str, history: list[str], mode: str) -> Answer:
    with gate.running:
        return assistant.ask(assistant.check_question(question), history, mode=mode)


def _events(result: dict):
    """The completion as Chat Completions chunks: the role, the content in pieces, then the annotations and the
    project's answer with ``finish_reason``, the usage, and ``[DONE]``."""
    message = result["choices"][0]["message"]
    head = {k: result[k] for k in ("id", "created", "model", "system_fingerprint")}

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        data = {**head, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(message["content"]):
        yield chunk({"content": piece})
    yield chunk({"annotations": message["annotations"], "cnrs_ia": message["cnrs_ia"]}, "stop")
    yield f"data: {json.dumps({**head, 'object': 'chat.completion.chunk', 'choices': [], 'usage': result['usage']})}\n\n"
    yield "data: [DONE]\n\n"


def app(assistant, settings):
    """A FastAPI application serving only the API (``assistant serve --api-only``), behind the request guard."""
    from fastapi import FastAPI
    from starlette.middleware import Middleware

    from ui.guard import RequestGuard

    application = FastAPI(title="Assistant CNRS IA — API compatible OpenAI", docs_url=None, redoc_url=None,
                          openapi_url=None, middleware=[Middleware(RequestGuard, uploads=False, login_attempts=None,
                                                                   max_body=settings.limits.request_bytes)])
    application.include_router(router(assistant, settings))
    return application
