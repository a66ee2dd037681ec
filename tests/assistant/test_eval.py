"""Quality regression: the dev set through the normal answering path must keep its measured figures.

Floors are the figures measured on 2026-12-01 (docs/quality.md) minus a small margin: a change that
makes retrieval, answers, abstention or citations worse fails here.
"""

import json
import subprocess
import sys
import os
from pathlib import Path

import pytest

from assistant.batch import read_items
from assistant.evaluate.metrics import ItemResult, calibrate, compare, evaluate_item, metrics, run_eval

pytestmark = pytest.mark.slow

DEV = Path(__file__).resolve().parents[2] / "eval" / "dev_qa.jsonl"


@pytest.fixture(scope="module")
def dev_report(real_assistant):
    return run_eval(real_assistant, read_items(DEV, "jsonl"))


def test_dev_set_is_big_and_varied():
    items = read_items(DEV, "jsonl")
    assert len(items) >= 80 and all(hasattr(i, "question") for i in items)
    categories = {i.category for i in items}
    assert {"fact", "paraphrase", "english", "two_facts", "follow_up", "unanswerable"} <= categories
    assert sum(i.expectation.abstain for i in items) >= 15
    assert all(i.doc_ids for i in items if not i.expectation.abstain)


def test_quality_floors_on_the_dev_set(dev_report):
    r = dev_report
    assert r["errors"] == 0
    assert r["citation_validity"] == 1.0
    assert r["retrieval"]["hit@3"] >= 0.95
    assert r["retrieval"]["mrr"] >= 0.90
    # measured 2026-12-02 (docs/quality.md): accuracy 0.952, abstention recall 0.941, false abstentions 0.008
    assert r["accuracy"] >= 0.93
    assert r["abstention"]["recall"] >= 0.88
    assert r["abstention"]["false_abstention_rate"] <= 0.05


def test_every_question_written_for_issue_13_passes(dev_report):
    """The five questions quoted by issue 13 and those on what a communication officer asks (dev-098 onwards):
    answered with the expected facts, or refused where nothing public and citable exists."""
    issue = [i for i in dev_report["items"] if int(i["id"].split("-")[1]) >= 98]
    assert len(issue) >= 60 and sum(i["should_abstain"] for i in issue) >= 9
    assert [i["id"] for i in issue if not i["correct"]] == []


def test_quality_floors_on_the_held_out_set(real_assistant):
    r = run_eval(real_assistant, read_items(DEV.with_name("test_qa.jsonl"), "jsonl"))
    assert r["citation_validity"] == 1.0 and r["retrieval"]["hit@3"] >= 0.93
    # measured 0.774 / 0.778 (2026-12-05, issue 27: the name premise refuses one more answerable question, and
    # one more unanswerable one; 0.806 / 0.667 before)
    assert r["accuracy"] >= 0.74 and r["abstention"]["recall"] >= 0.6
    assert r["abstention"]["false_abstention_rate"] <= 0.05


def test_calibration_and_comparison_are_computed_from_results(real_assistant, dev_report):
    every = read_items(DEV, "jsonl")
    items = every[:15] + [i for i in every if i.expectation.abstain][:15]
    chunk_texts = {c.chunk_id: c.text for c in real_assistant.index.chunks}
    real_assistant.pipeline.extractive.abstention.min_confidence = float("-inf")
    try:
        raw = [evaluate_item(real_assistant, i, chunk_texts) for i in items]
    finally:
        real_assistant.pipeline.extractive.abstention.min_confidence = real_assistant.settings.answer.min_confidence
    assert not any(r.abstained for r in raw if "refused" not in (r.signals or {}))
    fit = calibrate(raw)
    assert 0 <= fit["dense_weight"] <= 1 and fit["false_abstention_rate"] <= 0.05
    # never abstaining: the unanswerable questions among these become wrong, so the comparison
    # must list them as regressions and show the accuracy over all questions going down
    worse = metrics(raw)
    diff = compare(dev_report, {**worse, "items": [r.as_dict() for r in raw]})
    rightly_refused = {i["id"] for i in dev_report["items"] if i["should_abstain"] and i["correct"]}
    newly_wrong = {r.id for r in raw if r.should_abstain and not r.correct}
    assert newly_wrong and newly_wrong & rightly_refused <= set(diff["regressed"])


def test_eval_cli_json_and_compare(tmp_path, real_index_dir):
    env = {**os.environ, "ASSISTANT_INDEX__DIR": str(real_index_dir)}
    small = tmp_path / "small.jsonl"
    small.write_text("".join(line for line in DEV.read_text(encoding="utf-8").splitlines(True)[:12]), "utf-8")
    first = subprocess.run([sys.executable, "-m", "assistant", "eval", str(small), "--json"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["questions"] == 12 and len(report["items"]) == 12
    (tmp_path / "old.json").write_text(first.stdout, encoding="utf-8")
    second = subprocess.run([sys.executable, "-m", "assistant", "eval", str(small), "--retrieval", "bm25",
                             "--compare", str(tmp_path / "old.json"), "--json"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert second.returncode == 0, second.stderr
    comparison = json.loads(second.stdout)["comparison"]
    assert set(comparison) == {"deltas", "fixed", "regressed"}
    assert comparison["deltas"]  # BM25-only retrieval ranks differently: some figure must move


def test_eval_refuses_unusable_input(tmp_path, real_index_dir):
    env = {**os.environ, "ASSISTANT_INDEX__DIR": str(real_index_dir)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "assistant", "eval", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=300)
    csv_file = tmp_path / "q.csv"
    csv_file.write_text("id,question\na,Quel budget ?\n", encoding="utf-8")
    result = run(csv_file)
    assert result.returncode == 1 and "aucune question lisible" in result.stderr
    no_expectation = tmp_path / "q.jsonl"
    no_expectation.write_text('{"id": "a", "question": "Quel budget ?"}\n', encoding="utf-8")
    result = run(no_expectation)
    assert result.returncode == 1 and "sans attente" in result.stderr
    bad_report = tmp_path / "old.json"
    bad_report.write_text("[1, 2]", encoding="utf-8")
    result = run(DEV, "--compare", bad_report)
    assert result.returncode == 1 and "comparaison" in result.stderr and "Traceback" not in result.stderr


def test_a_generative_eval_reports_what_the_model_wrote_and_why_it_fell_back(real_assistant):
    import dataclasses

    from assistant.batch import BatchItem
    from assistant.generate.answerer import GenerativeAnswerer
    from assistant.generate.backends import OpenAIBackend
    from tests.llm_server import FakeLLMServer

    items = [i for i in read_items(DEV, "jsonl") if i.id in {"dev-001", "dev-002", "dev-003"}]
    assert len(items) == 3 and all(isinstance(i, BatchItem) for i in items)
    with FakeLLMServer() as server:
        # right for the budget question, unsupported for the others
        server.reply = "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."
        assistant = real_assistant.with_generator(GenerativeAnswerer(
            OpenAIBackend(f"{server.url}/v1", "m")))
        original = assistant.settings.answer.mode
        assistant.settings.answer.mode = "generative"
        try:
            report = run_eval(assistant, items)
        finally:
            assistant.settings.answer.mode = original
    generation = report["generation"]
    assert generation["asked"] == 3
    items = report["items"]
    generated = [i for i in items if i["mode"] == "generative"]
    assert 0 < len(generated) < 3 and generation["grounded_share"] == round(len(generated) / 3, 4)
    assert generation["accuracy_of_generated"] == round(sum(i["correct"] for i in generated) / len(generated), 4)
    assert sum(generation["fallbacks"].values()) == 3 - len(generated)
    assert report["citation_validity"] == 1.0
    by_id = {i["id"]: i for i in items}
    assert by_id["dev-002"]["mode"] == "generative" and by_id["dev-002"]["correct"]
    assert by_id["dev-001"]["fallback"] == "off_target"  # a launch date was asked, the text gives none


def _result(identifier, should_abstain, abstained, correct, signals):
    return ItemResult(identifier, "fact", "?", should_abstain, abstained, correct, None, [], 0.0, 1.0, "", [], signals)


def test_calibration_counts_definitions_as_answered_and_refusals_as_refused():
    """A definition carries no similarity signal: it is answered whatever the threshold, never a false abstention."""
    results = [_result(f"def-{k}", False, False, True, {"intent": "definition"}) for k in range(3)]
    results += [_result("refused", True, True, True, {"refused": "donnée personnelle"})]
    results += [_result(f"a-{k}", False, False, True, {"dense": 0.6 + k / 100, "coverage": 0.8, "unknown_share": 0.0})
                for k in range(5)]
    results += [_result("u", True, False, False, {"dense": 0.1, "coverage": 0.2, "unknown_share": 0.5})]
    fit = calibrate(results)
    assert fit and fit["false_abstention_rate"] == 0.0 and fit["abstention_recall"] == 1.0



def test_floors_on_the_near_miss_questions(real_assistant):
    """Issue 27: 31 questions whose figure exists for another entity, year or attribute (written before any fitting).
    Measured 2026-12-05 with the rules reader (docs/quality.md): 14 of 31 refused, then 16 once a count is no longer
    answered by an amount, a share or a duration, 21 once the name a question is about must be stated by a fiche line
    itself or its record's name (22 with quoted titles read whole, 23 when « combien … paie » asks an amount); each
    refusal that quotes what lies nearby says first what the corpus does not give, and cites verbatim."""
    items = read_items(DEV.with_name("dev_near_miss_qa.jsonl"), "jsonl")
    assert len(items) >= 20 and all(i.expectation.abstain for i in items)
    r = run_eval(real_assistant, items)
    assert r["errors"] == 0 and r["citation_validity"] == 1.0
    assert r["abstention"]["recall"] >= 0.70
    for item in r["items"]:
        if item["abstained"] and item["cited"]:
            assert item["answer"].startswith(("Le corpus ne donne pas", "The corpus does not give")), item["answer"]
