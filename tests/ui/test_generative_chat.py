"""The web chat in generative mode: a real Gradio server, a real model server on loopback, gradio_client."""

import dataclasses

import pytest

from assistant.generative import GenerativeAnswerer
from assistant.llm import OpenAIBackend
from tests.llm_server import FakeLLMServer
from tests.ui.test_gradio_app import free_port, last_text

pytestmark = [pytest.mark.slow, pytest.mark.ui]


@pytest.fixture(scope="module")
def model_server():
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def client(real_assistant, model_server):
    from gradio_client import Client

    from ui.app import launch

    backend = OpenAIBackend(f"{model_server.url}/v1", "m", stall_timeout=1.0)
    assistant = dataclasses.replace(real_assistant, generator=GenerativeAnswerer(backend, deadline_s=3.0))
    port = free_port()
    demo = launch(assistant, host="127.0.0.1", port=port, block=False)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


def generative(client, question):
    return list(client.submit(question, [], "generative", 5, "fr", api_name="/chat"))


def test_the_draft_streams_then_the_checked_answer_replaces_it(client, model_server):
    model_server.behaviour = "ok"
    model_server.reply = "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."
    parts = generative(client, "Quel est le budget du PEPR IA ?")
    texts = [last_text(p[0]) for p in parts]
    drafts = [t for t in texts if t.startswith("✍️")]
    assert len(drafts) > 2  # the model's words arrived piece by piece
    final, sources = texts[-1], parts[-1][2]
    assert final.startswith("Le PEPR IA est doté de 73 millions d'euros sur six ans [\\[1\\]](#source-1)")
    assert "✍️" not in final and 'id="source-1"' in sources


def test_a_broken_backend_shows_the_extracts_with_a_notice(client, model_server):
    model_server.behaviour = "error"
    parts = generative(client, "Quel est le budget du PEPR IA ?")
    final = last_text(parts[-1][0])
    assert "Génération indisponible" in final and "73 millions" in final and 'id="source-1"' in parts[-1][2]


def test_an_unsupported_draft_never_stays_on_the_page(client, model_server):
    model_server.behaviour = "ok"
    model_server.reply = "Le budget du PEPR IA est de 999 millions d'euros [1]."
    final = last_text(generative(client, "Quel est le budget du PEPR IA ?")[-1][0])
    assert "999" not in final and "73 millions" in final and "pas entièrement appuyée" in final
