"""The local backend for real: the packaged gemma-3-270m GGUF, assembled from its package, run by llama.cpp."""

from __future__ import annotations

import dataclasses
import time

import pytest

from assistant.compose.answer import Answer, verify_citations
from assistant.generate.answerer import GenerativeAnswerer
from assistant.generate.backends import GenerationFailed, LocalBackend, Prompt, packaged_model_path

pytestmark = [pytest.mark.slow, pytest.mark.llm]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def local_backend(models_dir):
    backend = LocalBackend(None, models_dir)
    backend.load()
    return backend


def test_the_packaged_model_is_assembled_once_checked_and_in_place(models_dir, local_backend):
    path = packaged_model_path(models_dir)
    assert path.is_file() and path.stat().st_size > 100_000_000
    assert not list(models_dir.glob(".*.part"))  # no half-written file left behind
    mtime = path.stat().st_mtime_ns
    assert packaged_model_path(models_dir) == path and path.stat().st_mtime_ns == mtime  # not rewritten


def test_a_damaged_model_file_is_reassembled(tmp_path):
    path = packaged_model_path(tmp_path)
    with open(path, "r+b") as handle:
        handle.truncate(1000)
    assert packaged_model_path(tmp_path).stat().st_size > 100_000_000


def test_the_model_streams_and_stops_at_the_end_of_the_line(local_backend):
    prompt = Prompt(text="Question : Quelle est la capitale de la France ?\nRéponse :", stop=["\n"])
    pieces = list(local_backend.stream(prompt, max_tokens=40, deadline=time.monotonic() + 30))
    text = "".join(pieces)
    assert "Paris" in text and "\n" not in text


def test_a_deadline_stops_the_local_model(local_backend):
    prompt = Prompt(text="Voici une longue histoire :", stop=[])
    with pytest.raises(GenerationFailed) as failure:
        list(local_backend.stream(prompt, max_tokens=400, deadline=time.monotonic() + 0.3))
    assert failure.value.reason == "timeout"


@pytest.mark.parametrize("questions", [[
    ("Quel est le budget du PEPR IA ?", "73"), ("Quand le PEPR IA a-t-il été lancé ?", "2024"),
    ("Où est installé le supercalculateur Jean Zay ?", "Orsay"), ("Combien de paramètres compte BLOOM ?", "176"),
]])
def test_grounded_generative_answers_from_the_real_model(real_assistant, local_backend, questions):
    """The real 270M model writes answers the grounding check keeps; when it writes something the passages do
    not support, the extractive answer is shown instead, with the reason. Either way the answer is right."""
    assistant = real_assistant.with_generator(GenerativeAnswerer(local_backend))
    chunks = {c.chunk_id: c.text for c in assistant.index.chunks}
    kept = 0
    for question, value in questions:
        events = list(assistant.ask_stream(question, mode="generative"))
        answer = events[-1]
        assert isinstance(answer, Answer) and len(events) > 2  # streamed pieces, then the answer
        assert answer.generation["backend"].startswith("local:")
        assert value in answer.answer and verify_citations(answer, chunks) == []
        if answer.mode == "generative":
            kept += 1
        else:
            assert answer.fallback["reason"] in {"unsupported", "off_target", "declined", "empty"}, answer.fallback
    assert kept >= 2


def test_a_missing_model_file_is_a_clear_failure(tmp_path):
    backend = LocalBackend(tmp_path / "absent.gguf", tmp_path)
    with pytest.raises(GenerationFailed) as failure:
        backend.load()
    assert failure.value.reason == "unavailable" and "absent.gguf" in str(failure.value)
