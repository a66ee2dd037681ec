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
  waiting, past which 429 with ``Retry-After``; a client that goes away leaves the line, and its answer stops at
  its next stage. A stream sends the role as soon as the answer is being computed, the text once it is decided.
  Bodies are bounded by the request guard (``limits.request_bytes``). No CORS header unless ``api.cors_origins``
  names the calling origin.

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
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from assistant.compose.answer import Answer
from corpus.errors import AssistantError, InvalidQuestion

MODELS = {"cnrs-ia-extractive": "extractive", "cnrs-ia-generative": "generative", "cnrs-ia-auto": "auto"}
OWNER = "cnrs-ia-assistant"


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
          param: str | None = None, headers: dict | None = None):
    """A refusal in the protocol's format: ``{"error": {"message", "type", "param", "code"}}``."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers=headers)


class BadRequest(ValueError):
    """A request refused with 400: ``args`` are (param, message), as :func:`read_request` has always raised;
    ``code`` is the protocol's error code (None for a malformed field)."""

    def __init__(self, param: str | None, message: str, code: str | None = None):
        super().__init__(param, message)
        self.param, self.message, self.code = param, message, code


UNSUPPORTED = "unsupported_parameter"
# Below this, a max_tokens would cut answers the evaluation sets get (the longest: 276 tokens as usage counts
# them): a sourced answer is never cut, so a smaller budget is refused rather than silently exceeded.
MIN_MAX_TOKENS = 512


def read_body(raw: bytes) -> dict:
    """The request's JSON object; :class:`BadRequest` (``invalid_json``) when it is not one.

    The request guard already refuses bodies nested past ``MAX_JSON_DEPTH`` (ui/guard.py); this holds without it
    too: a RecursionError of the parser is an invalid body, not a 500."""
    from ui.guard import MAX_JSON_DEPTH, too_deep

    if too_deep(raw):
        raise BadRequest(None, f"Corps de requête refusé : tableaux ou objets JSON imbriqués sur plus de "
                               f"{MAX_JSON_DEPTH} niveaux.", "invalid_json")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest(None, "Corps de requête qui n'est pas du JSON valide", "invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest(None, "Le corps de la requête doit être un objet JSON", "invalid_json")
    return body


# How often a request waiting for its answer checks that its client is still there.
POLL_S = 0.05


class Gate:
    """At most ``running`` answers computed at once, ``waiting`` more in line; past that, refuse (429).

    The line is kept on the event loop, not by threads blocked on a semaphore: a request waits as a coroutine that
    also watches its client (:func:`unless_gone`), so one whose client goes away leaves the line at once, its
    question never computed, and its place is free for the next request (a closed stream no longer keeps ordinary
    requests out with 429). Answers are computed by a pool of ``running`` threads; a slot is freed when its thread
    ends, never earlier: a gone client's work stops at its next stage (:class:`assistant.app.Cancelled`) and counts
    until then. The methods are called on the event loop only; the pool runs nothing but the work.
    """

    def __init__(self, running: int, waiting: int):
        self.limit = running + waiting
        self.inside = 0  # waiting + computing
        self.free = running
        self.line: deque[asyncio.Future] = deque()  # one future per waiting request, first come first served
        self.pool = ThreadPoolExecutor(max_workers=running, thread_name_prefix="api-answer")

    def enter(self) -> bool:
        """Take a place (waiting or computing); False when there is none: answer 429."""
        if self.inside >= self.limit:
            return False
        self.inside += 1
        return True

    async def slot(self, request: Request) -> bool:
        """Wait in line for a computing slot: True once it is held, False (place given back) if the client went
        away first."""
        if self.free and not self.line:
            self.free -= 1
            return True
        turn = asyncio.get_running_loop().create_future()
        self.line.append(turn)
        held = False
        try:
            held = await unless_gone(request, turn)
        finally:
            if not held:  # gone, or this coroutine cancelled: out of the line, and a slot handed meanwhile passed on
                if turn.done() and not turn.cancelled():
                    self._free_slot()
                else:
                    turn.cancel()
                    self.line.remove(turn)
                self.inside -= 1
        return held

    def start(self, work) -> tuple[asyncio.Future, threading.Event]:
        """Run ``work(cancelled)`` in the pool on a held slot; the slot and the place are given back when it ends.
        Returns its future and the event that, once set, makes ``cancelled()`` true."""
        stop = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self.pool, work, stop.is_set)

        def ended(f: asyncio.Future) -> None:
            self._free_slot()
            self.inside -= 1
            if not f.cancelled():
                f.exception()  # read here: a gone client's Cancelled is nobody's error to log

        future.add_done_callback(ended)
        return future, stop

    def _free_slot(self) -> None:
        """Hand the slot to the first request still waiting, or free it."""
        while self.line:
            turn = self.line.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.free += 1


async def unless_gone(request: Request, future: asyncio.Future, poll: float = POLL_S) -> bool:
    """Wait for ``future``; False as soon as ``request``'s client has disconnected (``future`` is left as it is)."""
    while not future.done():
        await asyncio.wait({future}, timeout=poll)
        if not future.done() and await request.is_disconnected():
            return False
    return True


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
    """(model, question, history, stream) from a request body; :class:`BadRequest` (a ``ValueError(param,
    message)``) when malformed or when it asks for what the assistant does not do (:func:`refuse_unsupported`)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model", "Champ « model » manquant : un de " + ", ".join(MODELS))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages", "Champ « messages » vide ou absent : au moins un message de rôle « user »")
    users = []
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{n}]", f"messages[{n}] n'est pas un message (objet avec « role »)")
        if message["role"] == "user":
            text = _text(message.get("content"))
            if text is None:
                raise BadRequest(f"messages[{n}].content", f"messages[{n}] : contenu qui n'est pas du texte")
            users.append(text)
    if not users:
        raise BadRequest("messages", "Aucun message de rôle « user » : la dernière question de l'utilisateur est "
                                     "ce à quoi l'assistant répond")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream", "« stream » doit être true ou false")
    refuse_unsupported(body)
    return model, users[-1], users[:-1], stream


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def refuse_unsupported(body: dict) -> None:
    """Raise :class:`BadRequest` (``unsupported_parameter``) for a parameter that asks for what the assistant does
    not do: several choices, a JSON or audio output, a tool call, log-probabilities, a cut answer, a web search.
    A client that asked for one of these must not take an ordinary answer for it.

    Parameters that tune a sampler (``temperature``, ``top_p``, ``seed``, penalties, ``logit_bias``…) or only
    label the request (``user``, ``metadata``, ``store``, ``stream_options``…) are accepted and change nothing:
    answers are quoted from the corpus, the same whatever they say. So are fields this protocol does not define
    (vendor extensions some clients send). docs/security.md lists the policy."""
    n = body.get("n")
    if n is not None and not (_integer(n) and n == 1):
        raise BadRequest("n", "« n » doit valoir 1 : l'assistant donne une seule réponse par question", UNSUPPORTED)
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not _integer(value) or value < 1:
            raise BadRequest(name, f"« {name} » doit être un entier positif")
        if value < MIN_MAX_TOKENS:
            raise BadRequest(name, f"« {name} » vaut {value} : l'assistant ne coupe pas une réponse sourcée ; "
                                   f"donnez au moins {MIN_MAX_TOKENS}, ou rien", UNSUPPORTED)
    form = body.get("response_format")
    if form is not None and not (isinstance(form, dict) and form.get("type") == "text"):
        raise BadRequest("response_format", "Seul « response_format » {\"type\": \"text\"} est possible : "
                                            "l'assistant répond en texte cité, pas en JSON", UNSUPPORTED)
    for name in ("tools", "functions"):
        if body.get(name) is not None and not isinstance(body[name], list):
            raise BadRequest(name, f"« {name} » doit être une liste")
    for name in ("tool_choice", "function_call"):
        if body.get(name) not in (None, "none", "auto"):
            raise BadRequest(name, f"L'assistant n'appelle aucun outil : « {name} » ne peut valoir que "
                                   "« none » ou « auto »", UNSUPPORTED)
    if body.get("logprobs") not in (None, False):
        raise BadRequest("logprobs", "« logprobs » n'est pas disponible : l'assistant cite des extraits, il "
                                     "n'échantillonne pas de jetons", UNSUPPORTED)
    if body.get("top_logprobs") not in (None, 0):
        raise BadRequest("top_logprobs", "« top_logprobs » n'est pas disponible (pas de « logprobs »)", UNSUPPORTED)
    stop = body.get("stop")
    if stop not in (None, "", []):
        raise BadRequest("stop", "« stop » n'est pas disponible : l'assistant ne coupe pas une réponse sourcée",
                         UNSUPPORTED)
    if body.get("modalities") not in (None, ["text"]):
        raise BadRequest("modalities", "Seule la modalité « text » est disponible", UNSUPPORTED)
    for name, what in (("audio", "de sortie audio"), ("web_search_options", "de recherche sur le web : "
                                                                            "l'assistant ne lit que son corpus")):
        if body.get(name) is not None:
            raise BadRequest(name, f"« {name} » : pas {what}", UNSUPPORTED)


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
        # no token is never a key, even if an empty one slipped past the settings' check (api.keys)
        if not token or not any(hmac.compare_digest(token.encode(), k.encode()) for k in keys):
            return error(401, "Clé d'API absente ou invalide (en-tête Authorization: Bearer …)",
                         "invalid_request_error", "invalid_api_key")
        return None

    @routes.get("/v1/models")
    async def models(request: Request):
        return cors(request, await _models(request))

    @routes.get("/v1/models/{model:path}")
    async def one_model(request: Request, model: str):
        return cors(request, await _models(request, model))

    @routes.post("/v1/chat/completions")
    async def chat(request: Request):
        return cors(request, await _chat(request))

    # Registered last: any other /v1 address or method gets the protocol's error, not FastAPI's {"detail"}
    @routes.api_route("/v1/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    async def elsewhere(request: Request, path: str):
        if (refusal := refused_key(request)) is not None:
            return cors(request, refusal)
        known = path.rstrip("/")
        allowed = "POST" if known == "chat/completions" else "GET" if known.split("/")[0] == "models" else None
        if allowed is None:
            return cors(request, error(404, f"Adresse inconnue : {request.method} /v1/{path[:200]} ; cette API sert "
                                            "GET /v1/models, GET /v1/models/{id} et POST /v1/chat/completions",
                                       code="unknown_url"))
        return cors(request, error(405, f"Méthode {request.method} non permise sur /v1/{path[:200]} : {allowed} "
                                        "seulement", code="method_not_allowed", headers={"Allow": allowed}))

    def model_card(name: str) -> dict:
        return {"id": name, "object": "model", "created": started, "owned_by": OWNER}

    async def _models(request: Request, model: str | None = None):
        if (refusal := refused_key(request)) is not None:
            return refusal
        if model:  # GET /v1/models/{id}
            if model not in MODELS:
                return error(404, f"Modèle inconnu « {model[:80]} » : {', '.join(MODELS)}", code="model_not_found",
                             param="model")
            return JSONResponse(model_card(model))
        return JSONResponse({"object": "list", "data": [model_card(name) for name in MODELS]})

    async def _chat(request: Request):
        if (refusal := refused_key(request)) is not None:
            return refusal
        try:
            model, question, history, stream = read_request(read_body(await request.body()))
        except BadRequest as exc:
            return error(400, exc.message, code=exc.code, param=exc.param)
        if model not in MODELS:
            return error(404, f"Modèle inconnu « {model[:80]} » : {', '.join(MODELS)}", code="model_not_found",
                         param="model")
        limit = settings.answer.max_question_chars
        if len(question) > limit:
            return error(400, f"Question trop longue ({len(question)} caractères, maximum {limit})",
                         code="question_too_long", param="messages")
        try:  # an empty question is refused before it takes a place in line
            question = assistant.check_question(question)
        except InvalidQuestion as exc:
            return error(*failure(exc))
        if not gate.enter():
            return error(429, "Trop de questions en cours : réessayez dans un instant", "rate_limit_exceeded",
                         "too_many_requests", headers={"Retry-After": str(api.retry_after_s)})
        if not await gate.slot(request):
            return Response(status_code=499)  # the client has gone: nothing was computed, nobody reads this
        future, stop = gate.start(partial(_answer, assistant, question, history, MODELS[model]))
        if stream:
            # the headers and the role go out now, the answer as soon as it is decided (_events)
            return StreamingResponse(_events(request, future, stop, model, question, history),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            if not await unless_gone(request, future):
                return Response(status_code=499)
        finally:
            if not future.done():  # gone, or this request cancelled: the work stops at its next stage
                stop.set()
        try:
            answer = future.result()
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            return error(*failure(exc))
        return JSONResponse(completion(answer, model, question, history))

    return routes


def _answer(assistant, question: str, history: list[str], mode: str, cancelled) -> Answer:
    """In a pool thread: the answer, or :class:`assistant.app.Cancelled` once ``cancelled()`` (client gone)."""
    return assistant.ask(question, history, mode=mode, cancelled=cancelled)


async def _events(request: Request, future: asyncio.Future, stop: threading.Event, model: str, question: str,
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


def app(assistant, settings):
    """A FastAPI application serving only the API (``assistant serve --api-only``), behind the request guard."""
    from fastapi import FastAPI
    from starlette.middleware import Middleware

    from ui.guard import RequestGuard

    application = FastAPI(title="Assistant CNRS IA — API compatible OpenAI", docs_url=None, redoc_url=None,
                          openapi_url=None, middleware=[Middleware(RequestGuard, uploads=False, login_attempts=None,
                                                                   max_body=settings.limits.request_bytes)])
    application.include_router(router(assistant, settings))

    from starlette.exceptions import HTTPException

    @application.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException):  # outside /v1: the protocol's error, not {"detail"}
        if exc.status_code == 404:
            return error(404, f"Adresse inconnue : {request.method} {request.url.path[:200]} ; cette API sert "
                              "GET /v1/models, GET /v1/models/{id} et POST /v1/chat/completions", code="unknown_url")
        return error(exc.status_code, str(exc.detail), code=None, headers=getattr(exc, "headers", None))

    return application
