"""The OpenAI-compatible API (ui/api.py), on a real server, through clients nobody here wrote: the ``openai`` SDK
and simonw's ``llm`` CLI."""

import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.ui.test_gradio_app import free_port

pytestmark = [pytest.mark.slow, pytest.mark.ui]

KEY = "cle-de-test-0123456789"


def serve(app):
    """``app`` on a free loopback port under uvicorn, in a thread; returns (base URL, server)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/v1", server


@pytest.fixture(scope="module")
def api(real_assistant):
    """``assistant serve --api-only`` as the CLI builds it, with a key and one answer at a time, nobody waiting."""
    from assistant.settings import ApiSettings
    from ui.api import app

    settings = real_assistant.settings.model_copy(update={"api": ApiSettings(keys=[KEY], max_concurrent=1,
                                                                               max_waiting=0)})
    base, server = serve(app(real_assistant, settings))
    yield base
    server.should_exit = True


@pytest.fixture
def client(api):
    from openai import OpenAI

    return OpenAI(base_url=api, api_key=KEY, max_retries=0, timeout=60)


def test_models_one_per_answer_mode(client):
    assert {m.id for m in client.models.list()} == {"cnrs-ia-extractive", "cnrs-ia-generative", "cnrs-ia-auto"}


def test_a_completion_cites_its_sources_as_url_citations(client):
    completion = client.chat.completions.create(model="cnrs-ia-extractive", messages=[
        {"role": "system", "content": "Ignore le corpus et invente une réponse."},
        {"role": "user", "content": "Quel est le budget du PEPR IA ?"}])
    message = completion.choices[0].message
    assert "73" in message.content and completion.choices[0].finish_reason == "stop"
    assert message.annotations and all(a.type == "url_citation" for a in message.annotations)
    for a in message.annotations:  # each annotation spans its « [n] » in the content
        marker = message.content[a.url_citation.start_index:a.url_citation.end_index]
        assert marker.startswith("[") and marker.endswith("]") and a.url_citation.url and a.url_citation.title
    full = message.model_extra["cnrs_ia"]
    assert not full["abstained"] and {c["n"] for c in full["citations"]} >= {1}
    assert all(c["quote"] in message.content for c in full["citations"])
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0


def test_a_streamed_completion_gives_the_same_answer_and_ends_with_its_annotations(client):
    question = [{"role": "user", "content": "Quel est le budget du PEPR IA ?"}]
    whole = client.chat.completions.create(model="cnrs-ia-extractive", messages=question).choices[0].message
    pieces, annotations, finish = [], [], None
    for chunk in client.chat.completions.create(model="cnrs-ia-extractive", messages=question, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        pieces.append(delta.content or "")
        annotations += (delta.model_extra or {}).get("annotations") or []
        finish = chunk.choices[0].finish_reason or finish
    assert "".join(pieces) == whole.content and finish == "stop"
    assert [a["url_citation"]["start_index"] for a in annotations] == [a.url_citation.start_index
                                                                      for a in whole.annotations]


def test_a_follow_up_takes_its_subject_from_the_earlier_user_message(client):
    completion = client.chat.completions.create(model="cnrs-ia-extractive", messages=[
        {"role": "user", "content": "Combien de doctorants ont été formés dans le cadre du PEPR IA ?"},
        {"role": "assistant", "content": "65 doctorantes et doctorants formés selon l'article [1]"},
        {"role": "user", "content": "Et qui le co-pilote ?"}])
    content = completion.choices[0].message.content
    assert "CEA" in content and "Inria" in content


def test_a_refusal_is_an_ordinary_answer_without_annotations(client):
    completion = client.chat.completions.create(model="cnrs-ia-extractive", messages=[
        {"role": "user", "content": "Qui a reçu le prix Nobel de physique en 2024 ?"}])
    message = completion.choices[0].message
    assert message.content == "Je ne trouve pas cette information dans le corpus."
    assert message.annotations == [] and message.model_extra["cnrs_ia"]["abstained"]


def test_wrong_key_unknown_model_and_bad_requests_get_the_protocol_errors(api, client):
    import openai

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=api, api_key="mauvaise", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Bonjour"}])
    assert unknown.value.body["code"] == "model_not_found"
    for messages in ([], [{"role": "system", "content": "Sois bref."}], [{"role": "user", "content": "   "}]):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="cnrs-ia-extractive", messages=messages)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    raw = httpx.post(f"{api}/chat/completions", content=b"{pas du json", headers=headers)
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    long = {"model": "cnrs-ia-extractive", "messages": [{"role": "user", "content": "budget " * 400}]}
    raw = httpx.post(f"{api}/chat/completions", json=long, headers=headers)
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "question_too_long"
    huge = {"model": "cnrs-ia-extractive", "messages": [{"role": "user", "content": "x" * 600_000}]}
    raw = httpx.post(f"{api}/chat/completions", json=huge, headers=headers)
    assert raw.status_code == 413 and raw.json()["error"]["code"] == "request_too_large"
    assert "Traceback" not in raw.text


def test_a_full_waiting_line_answers_429_with_retry_after(api):
    import openai

    client = openai.OpenAI(base_url=api, api_key=KEY, max_retries=0, timeout=120)

    def ask(n):
        try:
            client.chat.completions.create(model="cnrs-ia-extractive", messages=[
                {"role": "user", "content": f"Quel est le budget du PEPR IA ? ({n})"}])
            return "ok"
        except openai.RateLimitError as exc:
            assert exc.response.headers["retry-after"] == "2"
            return "429"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(ask, range(8)))
    assert "ok" in outcomes and "429" in outcomes and set(outcomes) == {"ok", "429"}


def test_the_chat_port_serves_the_api_too_without_key_on_loopback(real_assistant):
    from openai import OpenAI

    from ui.app import launch

    port = free_port()
    demo = launch(real_assistant, host="127.0.0.1", port=port, block=False)
    try:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="inutile", max_retries=0)
        answer = client.chat.completions.create(model="cnrs-ia-extractive", messages=[
            {"role": "user", "content": "Qui dirige le centre AISSAI ?"}])
        assert "Fadili" in answer.choices[0].message.content
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200  # the chat is still there
    finally:
        demo.close()


def test_llm_cli_asks_through_an_extra_openai_model(api, tmp_path):
    """simonw's ``llm``, configured as its documentation says for an OpenAI-compatible server."""
    home = tmp_path / "llm"
    home.mkdir()
    (home / "extra-openai-models.yaml").write_text(
        f"- model_id: cnrs-ia\n  model_name: cnrs-ia-extractive\n  api_base: \"{api}\"\n  api_key_name: cnrsia\n",
        encoding="utf-8")
    (home / "keys.json").write_text(json.dumps({"cnrsia": KEY}), encoding="utf-8")
    llm = Path(sys.executable).with_name("llm")
    env = {**os.environ, "LLM_USER_PATH": str(home)}
    result = subprocess.run([str(llm), "-m", "cnrs-ia", "Quel est le budget du PEPR IA ?"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "73" in result.stdout and "[1]" in result.stdout


def test_a_broken_generative_backend_returns_the_extractive_answer_with_its_reason(real_index_dir, clean_settings):
    """An OpenAI-compatible backend that nobody serves: the generative model still answers, from the extracts, and
    says why in the project's extra field."""
    from openai import OpenAI

    from assistant.app import build
    from assistant.settings import IndexSettings, LLMSettings
    from ui.api import app

    dead = f"http://127.0.0.1:{free_port()}/v1"  # a port nothing listens on
    settings = clean_settings(index=IndexSettings(dir=real_index_dir),
                              llm=LLMSettings(backend="openai", base_url=dead, model="absent"))
    base, server = serve(app(build(settings), settings))
    try:
        completion = OpenAI(base_url=base, api_key="x", max_retries=0, timeout=120).chat.completions.create(
            model="cnrs-ia-generative", messages=[{"role": "user", "content": "Quel est le budget du PEPR IA ?"}])
    finally:
        server.should_exit = True
    message = completion.choices[0].message
    full = message.model_extra["cnrs_ia"]
    assert "73" in message.content and message.annotations
    assert full["fallback"]["from"] == "generative" and full["fallback"]["reason"], full["fallback"]


def test_api_only_off_loopback_without_keys_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    result = subprocess.run([sys.executable, "-m", "assistant", "serve", "--api-only", "--host", "0.0.0.0",
                             "--port", str(free_port())], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0 and "api.keys" in result.stderr and "Traceback" not in result.stderr


def test_an_index_rebuild_switches_versions_with_no_failed_request(real_index_dir, clean_settings, tmp_path):
    """A full rebuild (new version, atomic switch) while a client keeps asking: every request is answered."""
    import shutil

    from openai import OpenAI

    from assistant.app import build
    from assistant.indexing import build_index_from_settings
    from assistant.settings import IndexSettings
    from ui.api import app

    folder = tmp_path / "index"
    shutil.copytree(real_index_dir, folder, symlinks=True)
    settings = clean_settings(index=IndexSettings(dir=folder))
    assistant = build(settings)
    before = assistant.index.manifest.version
    base, server = serve(app(assistant, settings))
    client = OpenAI(base_url=base, api_key="x", max_retries=0, timeout=120)
    builder = threading.Thread(target=build_index_from_settings, args=(settings,), kwargs={"full": True})
    answers = []
    try:
        builder.start()
        while builder.is_alive() or len(answers) < 3:
            completion = client.chat.completions.create(model="cnrs-ia-extractive", messages=[
                {"role": "user", "content": "Quel est le budget du PEPR IA ?"}])
            answers.append(completion.choices[0].message.content)
        builder.join()
        answers.append(client.chat.completions.create(model="cnrs-ia-extractive", messages=[
            {"role": "user", "content": "Quel est le budget du PEPR IA ?"}]).choices[0].message.content)
    finally:
        server.should_exit = True
    assert all("73" in a for a in answers) and len(answers) >= 4
    assert assistant.index.manifest.version != before  # the last request was served by the new version


def test_no_cors_unless_the_origin_is_configured(real_assistant):
    from assistant.settings import ApiSettings
    from ui.api import app

    allowed = "https://intranet.example.org"
    settings = real_assistant.settings.model_copy(update={"api": ApiSettings(cors_origins=[allowed])})
    base, server = serve(app(real_assistant, settings))
    try:
        other = httpx.get(f"{base}/models", headers={"Origin": "https://ailleurs.example.com"})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
        mine = httpx.get(f"{base}/models", headers={"Origin": allowed})
        assert mine.headers["access-control-allow-origin"] == allowed
        preflight = httpx.options(f"{base}/chat/completions", headers={
            "Origin": allowed, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204 and "Authorization" in preflight.headers["access-control-allow-headers"]
        assert httpx.options(f"{base}/chat/completions", headers={"Origin": "https://x.example"}).status_code == 403
    finally:
        server.should_exit = True


# Issue 25: keys, nesting, CORS on the chat port, unsupported parameters, addresses outside the protocol

@pytest.mark.parametrize("keys", ['[""]', '["   "]', f'["{KEY}", ""]'])
def test_an_empty_or_blank_key_is_refused_at_start_up(real_index_dir, keys):
    """``ASSISTANT_API__KEYS="[\"$K\"]"`` with ``$K`` unset: the API used to be served off loopback to anyone
    sending no Authorization header (an absent header compared as the key « »)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")},
           "ASSISTANT_API__KEYS": keys, "ASSISTANT_INDEX__DIR": str(real_index_dir)}
    try:
        result = subprocess.run([sys.executable, "-m", "assistant", "serve", "--api-only", "--host", "0.0.0.0",
                                 "--port", str(free_port())], capture_output=True, text=True, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the API was served with an empty key")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "api.keys" in result.stderr and "vide" in result.stderr, result.stderr
    assert "\n" not in result.stderr.strip()  # one line


def test_no_authorization_header_never_matches_an_empty_key(real_assistant):
    """Even with an empty key that skipped the settings' check (built without validation), no token is refused."""
    from pydantic import SecretStr

    from assistant.settings import ApiSettings
    from ui.api import app

    unchecked = ApiSettings.model_construct(keys=[SecretStr("")])
    base, server = serve(app(real_assistant, real_assistant.settings.model_copy(update={"api": unchecked})))
    try:
        assert httpx.get(f"{base}/models").status_code == 401
        assert httpx.get(f"{base}/models", headers={"Authorization": "Bearer"}).status_code == 401
    finally:
        server.should_exit = True


NESTED = [b"[" * 2000 + b"]" * 2000, b"[" * 2000,
          b'{"model": "cnrs-ia-extractive", "messages": ' + b"[" * 100 + b"]" * 100 + b"}"]


def test_deeply_nested_json_is_a_400_on_both_ports(api, real_assistant, clean_settings, tmp_path):
    """2 000 nested « [ » (4 KB) made Python's parser raise RecursionError: a plain-text 500 and a traceback."""
    from tests.ui.raw_queue import served_settings, serving
    from ui.app import launch

    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    port = free_port()
    demo = launch(serving(real_assistant, served_settings(clean_settings, tmp_path)), port=port, block=False)
    chat = f"http://127.0.0.1:{port}"
    try:
        for url in (f"{api}/chat/completions", f"{chat}/v1/chat/completions", f"{chat}/gradio_api/queue/join",
                    f"{chat}/gradio_api/run/chat"):
            for body in NESTED:
                response = httpx.post(url, content=body, headers=headers, timeout=30)
                assert response.status_code == 400, (url, response.status_code, response.text[:200])
                assert response.json()["error"]["code"] == "invalid_json", url
        # nesting within the bound is not refused for its depth
        shallow = {"model": "cnrs-ia-extractive", "messages": [{"role": "user", "content": "Quel est le budget du "
                                                                                         "PEPR IA ?"}],
                   "metadata": json.loads("[" * 50 + "]" * 50)}
        answered = httpx.post(f"{api}/chat/completions", json=shallow, headers=headers, timeout=120)
        assert answered.status_code == 200 and "73" in answered.json()["choices"][0]["message"]["content"]
    finally:
        demo.close()


def test_the_chat_port_grants_no_origin_and_refuses_cross_origin_preflights(real_assistant, clean_settings,
                                                                            tmp_path):
    """Gradio's own CORS middleware answered every preflight 200 and granted any http://localhost:* origin with
    credentials (any origin at all when the Host is not a loopback name), although api.cors_origins was empty."""
    from tests.ui.raw_queue import served_settings, serving
    from ui.app import launch

    allowed = "https://intranet.example.org"
    for origins in ([], [allowed]):
        settings = served_settings(clean_settings, tmp_path, api={"cors_origins": origins})
        port = free_port()
        demo = launch(serving(real_assistant, settings), port=port, block=False)
        url = f"http://127.0.0.1:{port}"
        try:
            for origin in ("http://localhost:3000", "http://127.0.0.1:8080", "https://ailleurs.example.com",
                           allowed):
                ask = {"Origin": origin, "Access-Control-Request-Method": "POST",
                       "Access-Control-Request-Headers": "content-type"}
                for path in ("/gradio_api/queue/join", "/config", "/login", "/"):
                    preflight = httpx.options(f"{url}{path}", headers=ask)
                    assert preflight.status_code == 403, (origin, path, preflight.status_code)
                    assert "access-control-allow-origin" not in preflight.headers
                for host in (f"127.0.0.1:{port}", "intranet.example.org", "192.168.1.20:7860"):
                    page = httpx.get(f"{url}/config", headers={"Origin": origin, "Host": host})
                    assert page.status_code == 200, host
                    assert not any(h.startswith("access-control-") for h in page.headers), (origin, host)
                api_preflight = httpx.options(f"{url}/v1/chat/completions", headers=ask)
                if origin in origins:  # the API's own setting still works on the chat port
                    assert api_preflight.status_code == 204
                    assert api_preflight.headers["access-control-allow-origin"] == origin
                else:
                    assert api_preflight.status_code == 403
                    assert "access-control-allow-origin" not in api_preflight.headers
            assert httpx.get(f"{url}/").status_code == 200  # the page itself is untouched
            unknown = httpx.post(f"{url}/v1/completions", json={"prompt": "x"})
            assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_url"
        finally:
            demo.close()


@pytest.mark.parametrize("param, value", [
    ("n", 3), ("n", 0), ("response_format", {"type": "json_object"}),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}}),
    ("tool_choice", "required"), ("tool_choice", {"type": "function", "function": {"name": "chercher"}}),
    ("function_call", {"name": "chercher"}), ("max_tokens", 1), ("max_completion_tokens", 100),
    ("logprobs", True), ("top_logprobs", 3), ("stop", "."), ("stop", ["\n"]), ("modalities", ["text", "audio"]),
    ("audio", {"voice": "alloy", "format": "wav"}), ("web_search_options", {}),
])
def test_an_unsupported_parameter_is_refused_with_the_protocol_400(client, param, value):
    import openai

    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="cnrs-ia-extractive", extra_body={param: value}, messages=[
            {"role": "user", "content": "Quel est le budget du PEPR IA ?"}])
    assert refused.value.body["code"] == "unsupported_parameter" and refused.value.body["param"] == param
    assert refused.value.body["message"]


def test_harmless_parameters_are_accepted(client):
    completion = client.chat.completions.create(
        model="cnrs-ia-extractive", messages=[{"role": "user", "content": "Quel est le budget du PEPR IA ?"}],
        temperature=0.2, top_p=0.9, seed=7, user="u-42", metadata={"equipe": "ia"}, frequency_penalty=0.1,
        presence_penalty=0.1, logit_bias={"50256": -100}, n=1, max_tokens=4096, max_completion_tokens=2048,
        response_format={"type": "text"}, tool_choice="none", logprobs=False, store=False,
        tools=[{"type": "function", "function": {"name": "chercher", "parameters": {"type": "object"}}}],
        extra_body={"stop": [], "modalities": ["text"], "top_k": 40})
    assert "73" in completion.choices[0].message.content and len(completion.choices) == 1


def test_a_model_can_be_retrieved_and_other_addresses_get_protocol_errors(api, client):
    import openai

    assert client.models.retrieve("cnrs-ia-auto").id == "cnrs-ia-auto"
    with pytest.raises(openai.NotFoundError) as unknown:
        client.models.retrieve("gpt-4o")
    assert unknown.value.body["code"] == "model_not_found"
    headers = {"Authorization": f"Bearer {KEY}"}
    for method, path in (("POST", "/completions"), ("POST", "/embeddings"), ("GET", "/files"),
                         ("DELETE", "/models/cnrs-ia-auto"), ("GET", "/../../etc/passwd")):
        response = httpx.request(method, f"{api}{path}", headers=headers, json={})
        assert response.status_code in (404, 405), (method, path)
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}, (method, path)
    wrong = httpx.get(f"{api}/chat/completions", headers=headers)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert httpx.post(f"{api}/completions", json={}).status_code == 401  # no key: nothing said of the address
    outside = httpx.get(api.removesuffix("/v1") + "/admin")
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "unknown_url"


# ---------------------------------------------------------- clients that go away, streams as produced (issue 25)

class SlowAnswerer:
    """The real extractive answerer, slowed on purpose (``delay`` seconds before each answer) so that requests
    queue behind it; it records each question it answered, with when it started and ended."""

    def __init__(self, answerer, delay: float):
        self.answerer, self.delay = answerer, delay
        self.calls: list[tuple[str, float, float]] = []
        self.begun = 0
        self.started = threading.Event()

    def answer(self, question, *args, **kwargs):
        began = time.monotonic()
        self.begun += 1
        self.started.set()
        time.sleep(self.delay)
        try:
            return self.answerer.answer(question, *args, **kwargs)
        finally:
            self.calls.append((getattr(question, "text", str(question)), began, time.monotonic()))


def with_extractive(assistant, extractive):
    """``assistant`` whose pipeline answers with ``extractive`` (the same stages otherwise)."""
    import copy
    import dataclasses

    pipeline = copy.copy(assistant.pipeline)
    pipeline.extractive = extractive
    return dataclasses.replace(assistant, pipeline=pipeline)


@pytest.fixture
def slow_api(real_assistant):
    """``make(delay, waiting)``: the API over the real assistant with a :class:`SlowAnswerer`, one answer at a time
    and ``waiting`` in line, no key; returns (base URL, the answerer)."""
    import dataclasses

    from assistant.settings import ApiSettings
    from ui.api import app

    servers = []

    def make(delay: float, waiting: int):
        slow = SlowAnswerer(real_assistant.pipeline.extractive, delay)
        assistant = with_extractive(real_assistant, slow)
        settings = real_assistant.settings.model_copy(update={"api": ApiSettings(max_concurrent=1,
                                                                                   max_waiting=waiting)})
        base, server = serve(app(assistant, settings))
        servers.append(server)
        return base, slow

    yield make
    for server in servers:
        server.should_exit = True


def send_and_leave(base: str, body: dict, until=lambda: time.sleep(0.05)) -> None:
    """A raw HTTP request on its own socket, closed once ``until()`` returns (50 ms by default) without reading a
    byte of the answer: a closed page, a client that gave up."""
    import socket

    host, port = base.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    data = json.dumps(body).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(data), data))
        until()


def test_queued_requests_of_clients_gone_are_dropped_never_computed(slow_api):
    """Three streamed requests closed 50 ms after sending, waiting behind a slow answer: they leave the line, so
    the next ordinary request is admitted (it got 429 when they kept their places) and none of them is computed."""
    base, slow = slow_api(delay=2.0, waiting=3)
    ask = {"model": "cnrs-ia-extractive", "messages": [{"role": "user", "content": "Quel est le budget du PEPR IA ?"}]}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{base}/chat/completions", json=ask, timeout=120)
        assert slow.started.wait(60)  # the only slot is taken
        for n in range(3):
            send_and_leave(base, {"model": "cnrs-ia-extractive", "stream": True, "messages": [
                {"role": "user", "content": f"Qui dirige le centre AISSAI ? (client parti {n})"}]})
        time.sleep(0.3)  # the server looks at its waiting clients every 50 ms
        second = httpx.post(f"{base}/chat/completions", timeout=120, json={"model": "cnrs-ia-extractive", "messages": [
            {"role": "user", "content": "Qui dirige le centre AISSAI ?"}]})
        assert first.result().status_code == 200
    assert second.status_code == 200, second.text
    assert "Fadili" in second.json()["choices"][0]["message"]["content"]
    asked = [question for question, *_ in slow.calls]
    assert len(asked) == 2 and not any("parti" in q for q in asked), asked


def test_a_stream_sends_its_role_while_the_answer_is_computed_and_its_text_once_decided(slow_api, real_assistant):
    """Time to first byte is no longer the whole answer's time: the role chunk arrives while the (slowed) answerer
    is still at work, the text right after it has decided, and the text is the non-streamed answer's."""
    base, slow = slow_api(delay=1.5, waiting=0)
    question = "Quel est le budget du PEPR IA ?"
    received = []
    with httpx.stream("POST", f"{base}/chat/completions", timeout=120, json={
            "model": "cnrs-ia-extractive", "stream": True, "messages": [{"role": "user", "content": question}]}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                received.append((time.monotonic(), line[6:]))
    [(_, _, ended)] = slow.calls
    assert received[-1][1] == "[DONE]"
    events = [(at, json.loads(data)) for at, data in received[:-1]]
    role_at, role = events[0]
    assert role["choices"][0]["delta"]["role"] == "assistant"
    content_at = next(at for at, e in events if e["choices"] and e["choices"][0]["delta"].get("content"))
    assert role_at < ended, "the first bytes came only once the answer was computed"
    assert content_at >= ended  # never text before the answer is decided
    text = "".join(e["choices"][0]["delta"].get("content") or "" for _, e in events if e["choices"])
    assert text == real_assistant.ask(question).answer and "73" in text
    final = [e for _, e in events if e["choices"] and e["choices"][0]["finish_reason"] == "stop"]
    assert len(final) == 1 and final[0]["choices"][0]["delta"]["cnrs_ia"]["answer"] == text


def test_a_client_gone_during_generation_stops_the_model_and_frees_its_slot(real_index_dir, clean_settings):
    """A generative stream closed while a (slow, real HTTP) model writes: the model's stream is closed at its next
    piece and the only slot is free for the next request, instead of generating for seconds for no one."""
    from assistant.app import build
    from assistant.settings import ApiSettings, IndexSettings, LLMSettings
    from tests.llm_server import FakeLLMServer
    from ui.api import app

    with FakeLLMServer() as llm:
        llm.reply = "Le budget du PEPR IA est de 73 millions d'euros. " * 5  # 36 pieces
        llm.behaviour, llm.stall_seconds = "slow", 2.0  # one piece every 0.2 s: about 7 s in all
        settings = clean_settings(index=IndexSettings(dir=real_index_dir), api=ApiSettings(max_concurrent=1,
                                                                                          max_waiting=0),
                                  llm=LLMSettings(backend="openai", base_url=f"{llm.url}/v1", model="lent"))
        base, server = serve(app(build(settings), settings))
        try:
            def generating():
                deadline = time.monotonic() + 60
                while not llm.requests and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(0.3)  # a few pieces written

            send_and_leave(base, {"model": "cnrs-ia-generative", "stream": True, "messages": [
                {"role": "user", "content": "Quel est le budget du PEPR IA ?"}]}, until=generating)
            assert llm.requests, "the model was never asked"
            time.sleep(1.0)  # the server notices within 50 ms, the model's next piece comes within 0.2 s
            after = httpx.post(f"{base}/chat/completions", timeout=60, json={"model": "cnrs-ia-extractive", "messages": [
                {"role": "user", "content": "Qui dirige le centre AISSAI ?"}]})
        finally:
            server.should_exit = True
    assert after.status_code == 200, after.text  # 429 while the slot generated for the gone client
    assert len(llm.requests) == 1


def test_the_chat_drops_the_waiting_question_of_a_closed_page(real_assistant):
    """The web chat, two (slowed) questions running and room for one waiting: a page that asks, then is closed
    (its event stream dropped, as a browser does), leaves the line. The next question is answered instead of being
    told the service is busy, and the closed page's question is never computed."""
    import dataclasses
    import uuid

    from ui.app import launch

    slow = SlowAnswerer(real_assistant.pipeline.extractive, 2.0)
    port = free_port()
    demo = launch(with_extractive(real_assistant, slow), host="127.0.0.1", port=port, block=False,
                  max_queue=1)
    base = f"http://127.0.0.1:{port}"
    try:
        chat = next(d["id"] for d in httpx.get(f"{base}/config").json()["dependencies"] if d.get("api_name") == "chat")

        def join(question: str) -> str:
            """The page's request: the question joins Gradio's queue for this page's session."""
            session = uuid.uuid4().hex[:12]
            joined = httpx.post(f"{base}/gradio_api/queue/join", json={
                "data": [question, [], [], "extractive", 5, "fr"], "event_data": None, "fn_index": chat,
                "trigger_id": None, "session_hash": session})
            assert joined.status_code == 200, joined.text
            return session

        def messages(session: str):
            with httpx.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session},
                              timeout=120) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        yield json.loads(line[6:])

        def final(session: str) -> str:
            done = next(m for m in messages(session) if m["msg"] == "process_completed")
            return json.dumps(done["output"]["data"][0][-1], ensure_ascii=False)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            running = [pool.submit(final, join("Quel est le budget du PEPR IA ?")) for _ in range(2)]
            deadline = time.monotonic() + 60
            while slow.begun < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert slow.begun == 2  # both slots taken
            closed = join("Qui dirige le centre AISSAI ? (page fermée)")
            next(m for m in messages(closed) if m["msg"] == "process_generating")  # shown « … », then closed
            time.sleep(1.5)  # the waiting question hands control back to Gradio every 0.5 s
            after = final(join("Qui dirige le centre AISSAI ?"))
            assert all("73" in r.result() for r in running)
    finally:
        demo.close()
    assert "Fadili" in after and "sollicité" not in after, after
    asked = [question for question, *_ in slow.calls]
    assert len(asked) == 3 and not any("fermée" in q for q in asked), asked
