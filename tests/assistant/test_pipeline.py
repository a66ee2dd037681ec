"""The one pipeline: the query is read once and frozen, each stage runs on its own, and the stages run one by one give
the answer the assistant gives (what the fitting and tuning scripts rely on)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assistant.query.parse import QueryParser, read


def test_the_query_stage_reads_once_condenses_expands_and_embeds_the_search():
    embedded = []
    parser = QueryParser(lambda text: embedded.append(text) or np.ones(3, dtype=np.float32))
    query = parser.parse("Et quelle somme a-t-il reçue ?", ["Qu'est-ce que le pôle lyonnais ?"])
    assert query.text == "Et quelle somme a-t-il reçue ?" and query.condensed_by == "offline"
    assert query.search.startswith("Qu'est-ce que le pôle lyonnais ? Et quelle somme a-t-il reçue ?")
    assert query.search.endswith("budget financement montant millions")  # the lexicon's words, on the search only
    assert embedded == [query.search] and query.vector is not None  # embedded once, what is searched
    assert query.kind == "money" and "lyon" not in query.terms  # read from the question, not from the search
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.text = "autre chose"


def test_a_question_pointing_to_no_earlier_subject_is_neither_condensed_nor_embedded():
    embedded = []
    parser = QueryParser(lambda text: embedded.append(text) or np.ones(3, dtype=np.float32))
    query = parser.parse("Et son budget ?", [])
    assert query.unresolved == "Et" and embedded == [] and query.vector is None
    refused = parser.parse("Quel est son salaire ?", [])  # a refusal's policy goes first
    assert refused.unresolved is None and refused.refusal == "donnée personnelle"


def test_the_model_rewrites_a_follow_up_only_when_asked_and_is_given_the_kind_read_once():
    calls = []

    def rewrite(text, history, kind):
        calls.append(kind)
        return "Quel est le budget du PEPR IA ?"

    parser = QueryParser(None)
    assert parser.parse("Et son budget ?", ["Qu'est-ce que le PEPR IA ?"]).condensed_by == "offline"
    query = parser.parse("Et son budget ?", ["Qu'est-ce que le PEPR IA ?"], rewrite=rewrite)
    assert query.condensed_by == "llm" and calls == [read("Et son budget ?").kind] and query.vector is None


@pytest.mark.slow
def test_the_stages_run_one_by_one_give_the_assistants_answer(real_assistant):
    pipeline = real_assistant.pipeline
    for question, history in [("Quel est le budget du PEPR IA ?", []),
                              ("Et qui le dirige ?", ["Qu'est-ce que le centre AISSAI ?"]),
                              ("Quel est le salaire de Jamal Atif ?", [])]:
        query = pipeline.query(question, history, "extractive")
        retrieved = pipeline.retrieve(query)
        by_stages = pipeline.extractive.answer(query, retrieved.hits, retrieved.extra)
        asked = real_assistant.ask(question, history=history)
        assert (by_stages.answer, by_stages.abstained, by_stages.citations) == \
               (asked.answer, asked.abstained, asked.citations)
        assert asked.retrieval_query == query.search
