"""The web chat in generative mode: a real Gradio server, a real model server on loopback, gradio_client."""

import dataclasses

import pytest

from assistant.generate.answerer import GenerativeAnswerer
from assistant.generate.backends import OpenAIBackend
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
    assistant = real_assistant.with_generator(GenerativeAnswerer(backend, deadline_s=3.0))
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


def test_past_the_waiting_line_a_question_is_told_the_service_is_busy(real_assistant, model_server):
    import threading

    from gradio_client import Client

    from ui.app import launch

    model_server.behaviour = "slow"  # each answer takes about 2 s: the two running slots stay taken
    model_server.stall_seconds = 2.0
    model_server.reply = "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."
    backend = OpenAIBackend(f"{model_server.url}/v1", "m", stall_timeout=5.0)
    assistant = real_assistant.with_generator(GenerativeAnswerer(backend, deadline_s=20.0))
    port = free_port()
    demo = launch(assistant, host="127.0.0.1", port=port, block=False, max_queue=1)
    try:
        finals: list[str] = []
        lock = threading.Lock()

        def one():
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            history, _, _ = client.predict("Quel est le budget du PEPR IA ?", [], "generative", 5, "fr",
                                           api_name="/chat")
            with lock:
                finals.append(last_text(history))

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        busy = [f for f in finals if "très sollicité" in f]
        answered = [f for f in finals if "73 millions" in f]
        assert len(finals) == 6 and len(busy) + len(answered) == 6
        assert busy and len(answered) >= 3  # two running and one waiting got their answer
    finally:
        demo.close()
        model_server.stall_seconds = 3.0
