"""A real HTTP server on 127.0.0.1 speaking OpenAI's ``/v1/chat/completions`` (server-sent events) and
Ollama's ``/api/chat`` (one JSON object per line), for the backends' tests.

It answers with ``server.reply`` (a string, or a function of the request body), cut into pieces, and can
be told to misbehave: ``server.behaviour`` is ``ok``, ``stall`` (sends one piece, then nothing),
``slow`` (a piece every ``stall_seconds / 10``), ``error`` (HTTP 500), ``cut`` (closes the connection mid-stream, without the end marker), ``garbage``
(an unreadable event). Every request body is kept in ``server.requests``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled handler must not hold the test up

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply = "Réponse."
        self.behaviour = "ok"
        self.stall_seconds = 5.0
        self.requests: list[dict] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def text_for(self, body: dict) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    def handle_error(self, request, client_address):  # a client that hangs up is part of the tests
        pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def pieces(text: str, size: int = 7) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeLLMServer

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        body["_path"] = self.path
        body["_authorization"] = self.headers.get("Authorization")
        self.server.requests.append(body)
        if self.path == "/v1/chat/completions":
            self._serve(body, self._sse_event, "data: [DONE]\n\n", "text/event-stream")
        elif self.path == "/api/chat":
            self._serve(body, self._ollama_event, json.dumps({"done": True, "done_reason": "stop"}) + "\n",
                        "application/x-ndjson")
        else:
            self._plain(404, "not found")

    def _plain(self, status: int, text: str):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _sse_event(text: str) -> str:
        return "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}) + "\n\n"

    @staticmethod
    def _ollama_event(text: str) -> str:
        return json.dumps({"message": {"role": "assistant", "content": text}, "done": False}) + "\n"

    def _serve(self, body: dict, event, end: str, content_type: str):
        behaviour = self.server.behaviour
        if behaviour == "error":
            self._plain(500, "model crashed")
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        parts = pieces(self.server.text_for(body))
        if behaviour == "garbage":
            self._chunk("data: {not json\n\n" if "event-stream" in content_type else "{not json\n")
            self._chunk("")
            return
        for i, part in enumerate(parts):
            self._chunk(event(part))
            if behaviour == "slow":
                time.sleep(self.server.stall_seconds / 10)
            if behaviour == "stall" and i == 0:
                time.sleep(self.server.stall_seconds)
                return
            if behaviour == "cut" and i == len(parts) // 2:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # no end marker, no final empty chunk
                return
        self._chunk(end)
        self._chunk("")

    def _chunk(self, text: str):
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
