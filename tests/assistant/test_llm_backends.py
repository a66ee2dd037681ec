"""The OpenAI-compatible and Ollama backends against a real HTTP server on 127.0.0.1 speaking each protocol."""

from __future__ import annotations

import time

import pytest

from assistant.generate.backends import GenerationFailed, OllamaBackend, OpenAIBackend, Prompt
from tests.llm_server import FakeLLMServer

PROMPT = Prompt(text="unused", messages=[{"role": "system", "content": "règles"}, {"role": "user", "content": "question"}])


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        srv.reply = "Le budget du PEPR IA est de 73 millions d'euros [1]."
        srv.stall_seconds = 3.0
        yield srv


def backends(srv):
    return {"openai": OpenAIBackend(f"{srv.url}/v1", "modele-test", api_key_env="TEST_LLM_KEY", stall_timeout=0.5),
            "ollama": OllamaBackend(srv.url, "modele-test", stall_timeout=0.5)}


@pytest.fixture(params=["openai", "ollama"])
def backend(request, server):
    return backends(server)[request.param]


def collect(backend, deadline=5.0):
    got = []
    try:
        for piece in backend.stream(PROMPT, max_tokens=50, deadline=time.monotonic() + deadline):
            got.append(piece)
    except GenerationFailed as exc:
        return got, exc
    return got, None


def test_tokens_reach_the_caller_in_order_as_streamed(backend, server):
    got, error = collect(backend)
    assert error is None
    assert len(got) > 3  # several pieces, not one block
    assert "".join(got) == server.reply
    request = server.requests[-1]
    assert request["model"] == "modele-test" and request["stream"] is True
    assert request["messages"] == PROMPT.messages


def test_openai_key_comes_from_the_named_environment_variable(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-secret")
    collect(backends(server)["openai"])
    assert server.requests[-1]["_authorization"] == "Bearer sk-secret"
    assert server.requests[-1]["_path"] == "/v1/chat/completions"


@pytest.mark.parametrize("behaviour, reason", [
    ("stall", "timeout"), ("error", "http_error"), ("cut", "truncated"), ("garbage", "protocol"),
])
def test_each_failure_is_reported_with_its_reason_and_never_hangs(backend, server, behaviour, reason):
    server.behaviour = behaviour
    started = time.monotonic()
    got, error = collect(backend)
    assert isinstance(error, GenerationFailed) and error.reason == reason, error
    assert time.monotonic() - started < 2.5  # the stall timeout (0.5 s) cut it, not the server's 3 s pause
    if behaviour == "cut":
        assert got and "".join(got) != server.reply  # what came is not passed off as the whole answer


def test_a_slow_but_steady_stream_stops_at_the_deadline(backend, server):
    server.behaviour = "slow"  # a piece every 0.3 s: no stall, but too long overall
    started = time.monotonic()
    got, error = collect(backend, deadline=1.0)
    assert error is not None and error.reason == "timeout"
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_a_server_that_is_not_there_is_unavailable(kind):
    with FakeLLMServer() as srv:
        url = srv.url
    backend = OpenAIBackend(f"{url}/v1", "m") if kind == "openai" else OllamaBackend(url, "m")
    _, error = collect(backend)
    assert error is not None and error.reason == "unavailable"
