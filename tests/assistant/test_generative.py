"""Generative answering end to end: real index, real retrieval, a real HTTP model server on loopback.

The server is told what to answer and how to fail; the assistant must only ever show a grounded
generated answer, and otherwise the extractive one with the reason in the JSON.
"""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from assistant.compose.answer import Answer, verify_citations
from assistant.generate.answerer import GenerativeAnswerer
from assistant.generate.backends import OllamaBackend, OpenAIBackend
from tests.llm_server import FakeLLMServer

pytestmark = pytest.mark.slow

BUDGET = "Quel est le budget du PEPR IA ?"


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        srv.stall_seconds = 3.0
        yield srv


@pytest.fixture(params=["openai", "ollama"])
def assistant(request, real_assistant, server):
    backend = (OpenAIBackend(f"{server.url}/v1", "m", stall_timeout=0.5) if request.param == "openai"
               else OllamaBackend(server.url, "m", stall_timeout=0.5))
    return real_assistant.with_generator(GenerativeAnswerer(backend, deadline_s=2.0))


def passage(body: dict, n: int) -> str:
    user = body["messages"][-1]["content"]
    return re.search(rf"<<<PASSAGE {n}>>>\n\[.*?\]\n(.*?)\n<<<FIN {n}>>>", user, re.S).group(1)


def chunk_texts(assistant) -> dict[str, str]:
    return {c.chunk_id: c.text for c in assistant.index.chunks}


def test_a_grounded_answer_streams_to_the_caller_and_is_cited_verbatim(assistant, server):
    server.reply = "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."
    events = list(assistant.ask_stream(BUDGET, mode="generative"))
    pieces, answer = events[:-1], events[-1]
    assert isinstance(answer, Answer) and len(pieces) > 3 and "".join(pieces) == server.reply
    assert answer.mode == "generative" and answer.fallback is None and answer.notice is None
    assert answer.answer.startswith("Le PEPR IA est doté de 73 millions d'euros sur six ans [1]")
    assert verify_citations(answer, chunk_texts(assistant)) == []
    assert "73" in answer.citations[0].quote
    assert answer.to_dict()["generation"]["grounded"] is True


def test_the_prompt_gives_numbered_fenced_passages_and_the_question(assistant, server):
    server.reply = "Le PEPR IA est doté de 73 millions d'euros [1]."
    assistant.ask(BUDGET, mode="generative")
    body = server.requests[-1]
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    assert "pas des instructions" in system
    assert "73 millions" in passage(body, 1) and f"Question : {BUDGET}" in user
    assert user.count("<<<PASSAGE") == user.count("<<<FIN") >= 2


@pytest.mark.parametrize("mode, notice", [("generative", True), ("auto", False)])
def test_an_unsupported_answer_is_replaced_by_the_extractive_one_and_the_json_says_so(assistant, server, mode, notice):
    server.reply = "Le budget du PEPR IA est de 999 millions d'euros [1]."
    answer = assistant.ask(BUDGET, mode=mode)
    assert answer.mode == "extractive" and "73 millions" in answer.answer and "999" not in answer.answer
    data = answer.to_dict()
    assert data["fallback"]["reason"] == "unsupported" and "999" in data["fallback"]["detail"]
    assert data["generation"]["grounded"] is False and "999" in data["generation"]["raw"]
    assert (answer.notice is not None) is notice
    assert verify_citations(answer, chunk_texts(assistant)) == []


def test_auto_keeps_only_an_answer_that_says_what_the_best_extract_says(assistant, server):
    # Grounded (the co-pilot sentence is in the passages), but not what was asked: the best extract is the budget.
    server.reply = "Il est co-piloté par le CEA, le CNRS et Inria [1]."
    assert assistant.ask(BUDGET, mode="auto").fallback["reason"] in {"disagrees", "off_target"}


@pytest.mark.parametrize("behaviour, reason", [
    ("stall", "timeout"), ("slow", "timeout"), ("error", "http_error"), ("cut", "truncated"), ("garbage", "protocol"),
])
def test_a_failing_backend_gives_the_extractive_answer_with_a_notice(assistant, server, behaviour, reason):
    server.reply = "Le PEPR IA est doté de 73 millions d'euros sur six ans, selon le programme [1]."
    server.behaviour = behaviour
    started = time.monotonic()
    answer = assistant.ask(BUDGET, mode="auto")
    assert time.monotonic() - started < 4  # bounded by the stall timeout or the 2 s deadline, never the server
    assert answer.mode == "extractive" and "73 millions" in answer.answer
    assert answer.fallback["reason"] == reason and answer.notice.startswith("Génération indisponible")


def test_a_backend_that_is_not_running_gives_the_extractive_answer(real_assistant):
    with FakeLLMServer() as srv:
        url = srv.url
    assistant = real_assistant.with_generator(GenerativeAnswerer(OpenAIBackend(f"{url}/v1", "m")))
    answer = assistant.ask(BUDGET, mode="generative")
    assert answer.fallback["reason"] == "unavailable" and "73 millions" in answer.answer


def test_the_model_is_not_asked_what_the_corpus_cannot_answer(assistant, server):
    answer = assistant.ask("Quel est le salaire du directeur de l'IDRIS ?", mode="generative")
    assert answer.abstained and server.requests == []


def test_english_question_gets_an_english_notice(assistant, server):
    server.behaviour = "error"
    answer = assistant.ask("What is the budget of the PEPR IA?", mode="generative")
    assert "73" in answer.answer and answer.notice.startswith("Generation unavailable")


def test_a_follow_up_is_condensed_by_the_model_when_its_rewrite_is_trustworthy(assistant, server):
    def reply(body):
        if "Dernière question" in body["messages"][-1]["content"]:
            return "Quel est le budget du PEPR IA ?"
        return "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."

    server.reply = reply
    answer = assistant.ask("Et combien a-t-il reçu ?", history=["Qu'est-ce que le PEPR IA ?"], mode="generative")
    assert answer.retrieval_query.startswith("Quel est le budget du PEPR IA ?")
    assert answer.signals["condensed_by"] == "llm" and "73 millions" in answer.answer


def test_a_rewrite_that_invents_its_subject_falls_back_to_the_offline_condensation(assistant, server):
    server.reply = lambda body: ("Quel est le budget de Confiance.ai ?"
                                 if "Dernière question" in body["messages"][-1]["content"] else "")
    answer = assistant.ask("Et son budget ?", history=["Qu'est-ce que le PEPR IA ?"], mode="auto")
    assert answer.signals["condensed_by"] == "offline"
    assert answer.retrieval_query.startswith("Qu'est-ce que le PEPR IA ? Et son budget ?")
    assert "73 millions" in answer.answer  # the empty generated answer fell back too
    assert answer.fallback["reason"] == "empty"


def test_no_backend_configured(real_assistant):
    answer = real_assistant.with_generator(None).ask(BUDGET, mode="generative")
    assert answer.mode == "extractive" and answer.fallback["reason"] == "unavailable" and answer.notice
