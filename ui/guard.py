"""What stands in front of Gradio's routes: uploads refused unless configured, failed logins limited per address,
request bodies bounded in size and nesting, no cross-origin grant from Gradio, what counts as a loopback host, and
whether the OpenAI-compatible API may be served at all."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import threading
import time

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 64  # nesting of arrays and objects in a request body; Gradio's and the API's requests need < 10
API_PREFIX = "/v1/"  # the OpenAI-compatible API (ui/api.py) answers its own CORS preflights


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, « localhost »)."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_allowed(settings, host: str, *, logged_in: bool = False) -> bool:
    """Whether the OpenAI-compatible API may be served: enabled, and with keys unless on loopback with no login
    (a chat behind a password must not be reachable through a keyless API)."""
    if not settings.api.enabled:
        return False
    if settings.api.keys:
        return True
    if not is_loopback(host) or logged_in:
        log.warning("API /v1 non servie : sur %s%s, elle demande api.keys (ASSISTANT_API__KEYS)", host,
                    " avec identification au chat" if logged_in else "")
        return False
    return True


def _json_response(status: int, detail: str, headers: dict[str, str] | None = None, code: str | None = None):
    """A small JSON refusal, as an ASGI response callable."""
    from starlette.responses import JSONResponse

    # « detail » for Gradio's clients, « error » in the OpenAI format for the /v1 API's (ui/api.py)
    kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
    return JSONResponse({"detail": detail, "error": {"message": detail, "type": kind, "param": None,
                                                     "code": code or {413: "request_too_large"}.get(status)}},
                        status_code=status, headers=headers)


# A JSON string, or an unterminated one up to the end: always matches once started, so stripping is linear
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\Z)', re.S)
_SQUARE = bytes.maketrans(b"{}", b"[]")  # for nesting, an object is an array
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` read as JSON nests arrays and objects more than ``limit`` levels deep (2 000 « [ » in
    4 KB made Python's parser raise RecursionError: every JSON route answered a plain-text 500, with a traceback
    in the log). A body that is not text is left to its route.

    Measured on the text, vectorised (strings taken out, then the running count of open brackets): walking a
    parsed 500 KB body of empty arrays, or peeling brackets pass after pass, would hold the event loop for a
    tenth of a second or more."""
    if body.count(b"[") + body.count(b"{") <= limit:  # cannot nest deeper: almost every request stops here
        return False
    try:
        text = body.decode(json.detect_encoding(body))
    except (UnicodeDecodeError, LookupError):  # not text: the route says so in its own terms
        return False
    import numpy as np

    skeleton = np.frombuffer(_STRING.sub("", text).encode().translate(_SQUARE, _NOT_BRACKETS), dtype=np.uint8)
    if not skeleton.size:
        return False
    return bool(np.cumsum(np.where(skeleton == ord("["), 1, -1), dtype=np.int32).max() > limit)


@contextlib.asynccontextmanager
async def without_gradio_cors(app):
    """A lifespan (``app_kwargs["lifespan"]`` of Gradio's launch) that takes Gradio's CORS middleware out of
    ``app`` before the server accepts its first connection.

    That middleware answers every preflight 200 and grants, with credentials, any ``http://localhost:*`` origin
    when the chat is on loopback, and *any* origin when its host is another name or address: a page elsewhere
    could then drive the chat, logged in, and read its answers. Gradio has no setting to turn it off. The chat's
    page calls only its own origin and needs no CORS; the /v1 API grants ``api.cors_origins`` itself, and
    :class:`RequestGuard` refuses every other preflight (403). uvicorn runs the lifespan before it binds its
    socket, and Starlette has built the middleware stack for the lifespan call, so the stack is rebuilt here."""
    from gradio.route_utils import CustomCORSMiddleware

    kept = [m for m in app.user_middleware if m.cls is not CustomCORSMiddleware]
    if len(kept) != len(app.user_middleware):
        app.user_middleware = kept
        app.middleware_stack = app.build_middleware_stack()
    yield


class RequestGuard:
    """ASGI middleware in front of Gradio's routes: request bodies bounded, uploads refused when
    ``ui.max_upload_bytes`` is 0, failed logins limited per client address.

    A body larger than ``max_body`` bytes (``limits.request_bytes``) is answered 413 before Gradio parses it:
    a forged 5 MB vote or a history of megabytes costs the server no JSON parsing nor validation. Uploads
    (when allowed) have their own limit. A JSON body nested more than :data:`MAX_JSON_DEPTH` levels is answered
    400 (``invalid_json``) before any route parses it.

    A CORS preflight is refused (403) unless it is for the /v1 API, which answers its own (``api.cors_origins``).

    Gradio checks only a file's size against its limit, so with a limit of 0 an empty file (any name) is
    still stored and served back: here, with 0, every upload route and every multipart request other than
    the login form is refused (403) before Gradio reads it. A positive limit is Gradio's own (413 past it).

    After ``login_attempts`` failed logins from one address within ``window`` seconds, ``/login`` answers
    429 to that address, even with the right password, until the oldest of those failures is ``window``
    seconds old."""

    UPLOAD_ROUTES = ("upload", "process_recording")

    def __init__(self, app, *, uploads: bool, login_attempts: int | None, window: float = 60.0, clock=None,
                 max_body: int | None = None):
        self.app = app
        self.max_body = max_body
        self.uploads = uploads
        self.login_attempts = login_attempts
        self.window = window
        self.clock = clock or time.monotonic
        self._failures: dict[str, list[float]] = {}
        self._pending: dict[str, int] = {}  # attempts being checked: parallel ones count too
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "").rstrip("/")
        if self._is_preflight(scope) and not (path + "/").startswith(API_PREFIX):
            response = _json_response(403, "Appel depuis une autre origine refusé : seule l'API /v1 l'accepte, "
                                           "pour les origines d'api.cors_origins.")
            return await response(scope, receive, send)
        is_login = path.endswith("/login")
        if not self.uploads and self._is_upload(scope, path, is_login):
            response = _json_response(403, "Envoi de fichier refusé : ce service n'accepte aucun fichier "
                                           "(ui.max_upload_bytes = 0).")
            return await response(scope, receive, send)
        if self.max_body is not None and scope.get("method") in ("POST", "PUT", "PATCH") \
                and not (self.uploads and self._is_upload(scope, path, is_login)):
            receive = await self._bounded(scope, receive, send)
            if receive is None:
                return
        if is_login and scope.get("method") == "POST" and self.login_attempts is not None:
            return await self._login(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _bounded(self, scope, receive, send):
        """The request's ``receive``, its body read whole if within ``max_body``; None once a 413 was sent."""
        refusal = _json_response(413, f"Requête trop volumineuse (plus de {self.max_body} octets, "
                                      "limits.request_bytes).")
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await refusal(scope, receive, send)
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body:
                await refusal(scope, receive, send)
                return None
        body, replayed = b"".join(chunks), False
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
        if not content_type.startswith((b"multipart/", b"application/x-www-form-urlencoded")) and too_deep(body):
            await _json_response(400, f"Corps de requête refusé : tableaux ou objets JSON imbriqués sur plus de "
                                      f"{MAX_JSON_DEPTH} niveaux.", code="invalid_json")(scope, receive, send)
            return None

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    @staticmethod
    def _is_preflight(scope) -> bool:
        headers = dict(scope.get("headers") or [])
        return scope.get("method") == "OPTIONS" and b"origin" in headers \
            and b"access-control-request-method" in headers

    def _is_upload(self, scope, path: str, is_login: bool) -> bool:
        if path.rsplit("/", 1)[-1] in self.UPLOAD_ROUTES:
            return True
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
        return content_type.startswith(b"multipart/") and not is_login

    def _recent(self, address: str, now: float) -> list[float]:
        """This address's failures within the window (the caller holds the lock); forgets old addresses."""
        if len(self._failures) > 10_000:  # many addresses: drop those with no recent failure
            for key in [k for k, v in self._failures.items() if not v or now - v[-1] >= self.window]:
                del self._failures[key]
        recent = [t for t in self._failures.get(address, []) if now - t < self.window]
        if recent:
            self._failures[address] = recent
        else:
            self._failures.pop(address, None)
        return recent

    async def _login(self, scope, receive, send):
        address = (scope.get("client") or ("?", 0))[0]
        now = self.clock()
        with self._lock:
            recent = self._recent(address, now)
            pending = self._pending.get(address, 0)
            refused = len(recent) + pending >= self.login_attempts
            if not refused:
                self._pending[address] = pending + 1
        if refused:
            oldest = recent[-self.login_attempts] if len(recent) >= self.login_attempts else now
            wait = max(1, int(oldest + self.window - now + 0.999))
            response = _json_response(
                429, f"Trop d'essais d'identification manqués depuis cette adresse ({self.login_attempts} par "
                     f"minute au plus) : réessayez dans {wait} s.", headers={"Retry-After": str(wait)})
            return await response(scope, receive, send)
        status = {}

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            with self._lock:
                left = self._pending.get(address, 1) - 1
                if left > 0:
                    self._pending[address] = left
                else:
                    self._pending.pop(address, None)
                if status.get("code", 500) >= 400:  # a wrong password (400) or a malformed attempt
                    self._failures.setdefault(address, []).append(self.clock())
