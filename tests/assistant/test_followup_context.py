"""Issue 25, finding 11: a follow-up whose reference no earlier turn resolves is not answered with whatever
ranks first; the answer asks for the subject, and the client is told which turns were left out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant.compose.answer import verify_citations
from assistant.query.followup import points_back

HUGE_TURN = "Qu'est-ce que le PEPR IA ? " * 200  # longer than any question may be: never used as history


@pytest.mark.parametrize("question, word", [
    ("Et son budget ?", "Et"), ("Qui le dirige ?", "le"), ("Quand a-t-il été inauguré ?", "il"),
    ("Quels organismes en font partie ?", "en font"), ("What is its budget?", "its"), ("Qui l'a créé ?", "l'")])
def test_questions_that_point_back(question, word):
    assert points_back(question) == word


@pytest.mark.parametrize("question", [
    "Quel est le budget du PEPR IA ?", "Qu'est-ce que l'IA ?", "Combien de projets y a-t-il ?",
    "Quand les instituts 3IA ont-ils été labellisés ?",
    "Quelle somme le pôle grenoblois d'IA a-t-il décrochée pour ses cinq prochaines années ?"])
def test_questions_that_stand_alone(question):
    assert points_back(question) is None


@pytest.mark.slow
@pytest.mark.parametrize("history", [[], [HUGE_TURN]], ids=["no-history", "turn-too-long"])
def test_a_follow_up_without_its_subject_asks_for_it(real_assistant, history):
    answer = real_assistant.ask("Et son budget ?", history=history)
    assert answer.abstained and not answer.citations and "précédente" in answer.answer
    assert not verify_citations(answer, {})
    data = answer.to_dict()
    assert data["needs_context"] is True
    assert data.get("history_trimmed", 0) == len(history)


@pytest.mark.slow
def test_the_same_follow_up_with_its_subject_is_answered(real_assistant):
    answer = real_assistant.ask("Et son budget ?", history=["Qu'est-ce que le PEPR IA ?", HUGE_TURN])
    assert not answer.abstained and "73" in answer.answer
    assert answer.to_dict()["history_trimmed"] == 1 and "needs_context" not in answer.to_dict()


@pytest.mark.slow
def test_cli_json_says_the_history_was_trimmed(real_index_dir):
    result = subprocess.run([sys.executable, "-m", "assistant", "ask", "--json", "--history", HUGE_TURN,
                             "Et son budget ?"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "ASSISTANT_INDEX__DIR": str(real_index_dir)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["abstained"] and data["needs_context"] and data["history_trimmed"] == 1
