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

This module holds the routes, the API-only application and :func:`serve` (``assistant serve --api-only``); a
request is read in ui/api_request.py, the reply written in ui/api_response.py, and the line is ui/gate.py's.

Written by hand on FastAPI (Gradio's own server): the protocol is a few JSON shapes, and no library here serves
it over an arbitrary Python answerer.
"""

from __future__ import annotations

import hmac
import time
from functools import partial

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from assistant.compose.answer import Answer
from corpus.errors import AssistantError, InvalidQuestion
from ui.api_request import MODELS, BadRequest, read_body, read_request
from ui.api_response import completion, error, events, failure
from ui.gate import Gate, unless_gone
from ui.guard import RequestGuard, api_allowed

OWNER = "cnrs-ia-assistant"


def router(assistant, settings):
    """The ``/v1`` routes over ``assistant`` (an :class:`assistant.service.Assistant`)."""
    api = settings.api
    keys = [k.get_secret_value() for k in api.keys]
    gate = Gate(api.max_concurrent, api.max_waiting, name="api-answer")
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
        if (place := gate.enter()) is None:
            return error(429, "Trop de questions en cours : réessayez dans un instant", "rate_limit_exceeded",
                         "too_many_requests", headers={"Retry-After": str(api.retry_after_s)})
        if not await place.until_held(request):
            return Response(status_code=499)  # the client has gone: nothing was computed, nobody reads this
        future, stop = place.start(partial(_answer, assistant, question, history, MODELS[model]))
        if stream:
            # the headers and the role go out now, the answer as soon as it is decided (events)
            return StreamingResponse(events(request, future, stop, model, question, history),
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
    """In a pool thread: the answer, or :class:`corpus.errors.Cancelled` once ``cancelled()`` (client gone)."""
    return assistant.ask(question, history, mode=mode, cancelled=cancelled)


def app(assistant, settings):
    """A FastAPI application serving only the API (``assistant serve --api-only``), behind the request guard."""
    application = FastAPI(title="Assistant CNRS IA — API compatible OpenAI", docs_url=None, redoc_url=None,
                          openapi_url=None, middleware=[Middleware(RequestGuard, uploads=False, login_attempts=None,
                                                                   max_body=settings.limits.request_bytes)])
    application.include_router(router(assistant, settings))

    @application.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException):  # outside /v1: the protocol's error, not {"detail"}
        if exc.status_code == 404:
            return error(404, f"Adresse inconnue : {request.method} {request.url.path[:200]} ; cette API sert "
                              "GET /v1/models, GET /v1/models/{id} et POST /v1/chat/completions", code="unknown_url")
        return error(exc.status_code, str(exc.detail), code=None, headers=getattr(exc, "headers", None))

    return application


def serve(build, settings, host: str, port: int) -> None:
    """Serve the API alone on ``host:port`` under uvicorn: ``assistant serve --api-only``, which finds this function
    through the entry point ``api`` of the group ``assistant.frontends`` (the assistant never imports ui).

    Args:
        build: makes the assistant; called only once the API may be served, so a refusal comes before the index is
            loaded.
        settings: the :class:`assistant.settings.Settings` the assistant is built from.
        host: the address to listen on.
        port: the port to listen on.

    Raises:
        AssistantError: the API may not be served on ``host`` (off loopback without ``api.keys``, or ``api.enabled``
            false)."""
    if not api_allowed(settings, host):
        raise AssistantError(f"sur {host}, hors de la boucle locale, l'API exige des clés : api.keys "
                             "(ASSISTANT_API__KEYS), ou api.enabled est faux")
    uvicorn.run(app(build(), settings), host=host, port=port, log_level="warning")
