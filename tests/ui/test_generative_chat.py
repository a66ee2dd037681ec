"""The web chat in generative mode: a real Gradio server, a real model server on loopback, gradio_client."""

import dataclasses

import pytest

from assistant.generative import GenerativeAnswerer
from assistant.llm import OpenAIBackend
from tests.llm_server import FakeLLMServer
from tests.ui.test_gradio_app import free_port

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


def test_the_draft_streams_then_the_checked_answer_replaces_it(client, model_server):
    model_server.behaviour = "ok"
    model_server.reply = "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."
    parts = list(client.submit("Quel est le budget du PEPR IA ?", "generative", api_name="/chat"))
    drafts = [p for p in parts if p.startswith("✍️")]
    assert len(drafts) > 2  # the model's words arrived piece by piece
    final = parts[-1]
    assert final.startswith("Le PEPR IA est doté de 73 millions d'euros sur six ans [1]")
    assert "**Sources**" in final and "✍️" not in final


def test_a_broken_backend_shows_the_extracts_with_a_notice(client, model_server):
    model_server.behaviour = "error"
    final = client.predict("Quel est le budget du PEPR IA ?", "generative", api_name="/chat")
    assert "Génération indisponible" in final and "73 millions" in final and "**Sources**" in final


def test_an_unsupported_draft_never_stays_on_the_page(client, model_server):
    model_server.behaviour = "ok"
    model_server.reply = "Le budget du PEPR IA est de 999 millions d'euros [1]."
    final = client.predict("Quel est le budget du PEPR IA ?", "generative", api_name="/chat")
    assert "999" not in final and "73 millions" in final and "pas entièrement appuyée" in final
