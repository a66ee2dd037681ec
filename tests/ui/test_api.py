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

    from assistant.app import build, build_index_from_settings
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
