"""The learned reader: FQuAD's fixed split, the committed adapter and its check, the ONNX reader, and quality floors
on a small fixed slice of FQuAD's held-out articles (questions nobody here wrote)."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

from training.reader import fquad
from assistant.read.learned import ADAPTER, FOLDER, Reader, adapter_provenance, is_current
from corpus.errors import BackendUnavailable

needs_fquad = pytest.mark.skipif(not fquad.DEFAULT_FILE.is_file(), reason="FQuAD absent (../shared/data/fquad-train)")


@needs_fquad
def test_the_split_is_fixed_by_article_and_the_reader_never_saw_the_held_out_part():
    articles = fquad.load(fquad.DEFAULT_FILE)
    parts = fquad.split(articles, fquad.DEFAULT_FILE)
    fixed = json.loads(fquad.SPLIT_FILE.read_text(encoding="utf-8"))
    assert fixed["held_out"] == [a.title for a in articles if fquad.held_out(a.title)]  # the written rule
    assert {a.title for a in parts["held_out"]}.isdisjoint(a.title for a in parts["fit"])
    assert {a.title for a in parts["train"]} | {a.title for a in parts["calibration"]} == {a.title for a in parts["fit"]}
    assert {a.title for a in parts["train"]}.isdisjoint(a.title for a in parts["calibration"])
    held = parts["held_out"]
    assert sum(len(a.paragraphs) for a in held) >= 700 and sum(len(a.questions) for a in held) >= 400
    provenance = json.loads((ADAPTER / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["data"]["fquad_sha256"] == fixed["sha256"] and "train articles" in provenance["data"]["fquad"]


def test_a_squad_file_that_is_not_one_is_refused_clearly(tmp_path):
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(b'{"data": [{"title": "x"}]}'))
    with pytest.raises(fquad.DatasetError, match="mal formé"):
        fquad.load(bad)
    with pytest.raises(fquad.DatasetError, match="introuvable"):
        fquad.load(tmp_path / "missing.json")
    other = tmp_path / "other.json"
    other.write_text('{"data": []}', encoding="utf-8")
    with pytest.raises(fquad.DatasetError, match="pas le fichier"):
        fquad.split(fquad.load(other), other)


def test_the_committed_adapter_is_small_licensed_and_checked_by_hash(tmp_path):
    weights = ADAPTER / "adapter_model.safetensors"
    assert weights.stat().st_size <= 10 * 1024 * 1024
    provenance = adapter_provenance()
    assert "CC BY-NC-SA 3.0" in provenance["licence"] and provenance["command"].startswith("python -m training.reader")
    damaged = tmp_path / "adapter"
    shutil.copytree(ADAPTER, damaged)
    data = bytearray((damaged / "adapter_model.safetensors").read_bytes())
    data[-1] ^= 1
    (damaged / "adapter_model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BackendUnavailable, match="empreinte"):
        adapter_provenance(damaged)
    assert not is_current(FOLDER, damaged)  # a changed adapter means the folder must be rebuilt


def test_the_reader_folder_made_by_make_install_is_current_and_reads():
    assert is_current(), "lancez make install"
    reader = Reader.shared()
    question = "Quel est le budget du PEPR IA ?"
    scores = reader.scores(question, [
        ("PEPR IA", "Le PEPR IA est doté de 73 millions d'euros sur six ans."),
        ("PEPR IA", "Le PEPR IA est co-piloté par le CEA, le CNRS et Inria."),
        ("Jean Zay", "Jean Zay est installé à l'IDRIS, à Orsay."),
    ])
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    assert scores[0] > scores[1] and scores[0] > scores[2]
    # batching and order barely change a score (int8 activations are scaled per batch, hence not to the bit; on an
    # AVX2 machine without VNNI, with 7-bit weights, a score moved by 0.052 between a batch of 3 and one of 1)
    again = reader.scores(question, [("Jean Zay", "Jean Zay est installé à l'IDRIS, à Orsay."),
                                     ("PEPR IA", "Le PEPR IA est doté de 73 millions d'euros sur six ans.")],
                          batch_size=1)
    assert again[1] == pytest.approx(scores[0], abs=0.06) and again[0] == pytest.approx(scores[2], abs=0.06)


def test_a_missing_reader_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BackendUnavailable, match="python -m assistant.read.learned"):
        Reader(tmp_path / "nowhere")


# Measured on 2026-12-02, third session (docs/quality.md), on this slice: rules 0.625 in ≤ 2 sentences / 0.60 first /
# 0.20 abstained / removed right 0.6; learned (reader + ranker + question-level abstention) 0.625 / 0.625 / 0.15 / 0.4.
# Floors two questions (0.05) under, one question (0.1) under for the 10 removed-paragraph ones.
FLOORS = {"rules": {"contains2": 0.575, "first": 0.55, "abstained": 0.25, "removed_right": 0.5},
          "learned": {"contains2": 0.575, "first": 0.575, "abstained": 0.20, "removed_right": 0.3},
          # issue 27, measured on this slice 2026-12-05: 0.525, 0.525, 0.30, 0.70; its lead's F1 0.545
          "span": {"contains2": 0.475, "first": 0.475, "abstained": 0.35, "removed_right": 0.6, "lead_f1": 0.45}}


@needs_fquad
@pytest.mark.slow
def test_floors_on_a_fixed_slice_of_the_held_out_articles(tmp_path):
    """Two held-out FQuAD articles indexed as documents, 40 of their questions, 10 more with their paragraph removed;
    the floors sit under what this very slice measured, for the three readers."""
    from training.reader.benchmark import run
    from assistant.settings import Settings

    settings = Settings()
    settings = settings.model_copy(update={"index": settings.index.model_copy(update={"dir": tmp_path / "index"})})
    report = run(settings, fquad.DEFAULT_FILE, part="held_out", articles=2, questions=40, removed=10,
                 answerers=("rules", "learned", "span"), progress=lambda _: None)
    assert report["paragraphs"] == 64 and report["questions"] == 40
    rows = {r["answerer"]: r for r in report["rows"]}
    removed = {r["answerer"]: r for r in report["removed"]["rows"]}
    for name, floors in FLOORS.items():
        assert rows[name]["contains_gold_2_sentences"] >= floors["contains2"], name
        assert rows[name]["first_sentence_gold"] >= floors["first"], name
        assert rows[name]["false_abstentions"] <= floors["abstained"], name
        if floors["removed_right"] is not None:
            assert removed[name]["right"] >= floors["removed_right"], name
        if "lead_f1" in floors:  # the span that leads the answer, scored as SQuAD does
            assert rows[name]["led"] >= 0.5 and rows[name]["lead_f1"] >= floors["lead_f1"], name
    # the baselines are computed on the same retrieval: the first passage holds the span at least as often as
    # its first two sentences do
    first = rows["first passage"]
    assert first["contains_gold"] >= first["contains_gold_2_sentences"]


def test_the_committed_ranker_loads_and_weighs_the_reader_up(tmp_path):
    from assistant.read.ranker import FEATURES, FILE, Ranker, RankerError, matrix

    ranker = Ranker.load()
    data = json.loads(FILE.read_text(encoding="utf-8"))
    assert data["provenance"]["data"]["fquad_part"] == "calibration"  # never the held-out part
    assert "CC BY-NC-SA 3.0" in data["provenance"]["licence"]
    assert 0 < ranker.min_probability < 1 and 0 <= ranker.second_ratio <= 1
    # two candidates alike but for the reader's logit: the one the reader prefers ranks first
    base = {name: 0.5 for name in FEATURES}
    p = ranker.probabilities(matrix([base, base], [2.0, -2.0]))
    assert p.shape == (2,) and np.all((p > 0) & (p < 1)) and p[0] > p[1]
    broken = tmp_path / "ranker.json"
    broken.write_text(json.dumps({**data, "features": data["features"][:-1]}), encoding="utf-8")
    with pytest.raises(RankerError, match="caractéristiques"):
        Ranker.load(broken)
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(RankerError, match="fit_ranker"):
        Ranker.load(broken)


def test_the_question_level_abstention_model_loads_and_prefers_a_sure_shortlist(tmp_path):
    from assistant.read.ranker import FILE, QUESTION_FEATURES, Ranker, RankerError, question_features

    ranker = Ranker.load()
    data = json.loads(FILE.read_text(encoding="utf-8"))
    model = ranker.abstention
    assert model is not None and data["abstention"]["features"] == list(QUESTION_FEATURES)
    assert 0 < model.threshold < 1
    sure = question_features(np.array([0.9, 0.1, 0.05]), [{"reader": 4.0, "cosine": 0.9, "coverage": 1.0}] * 3, False)
    unsure = question_features(np.array([0.1, 0.09, 0.08]), [{"reader": -3.0, "cosine": 0.8, "coverage": 0.3}] * 3, True)
    assert sure.shape == (len(QUESTION_FEATURES),) and sure[0] == 0.9 and unsure[3] == 1.0
    assert model.probability(sure) > model.threshold > model.probability(unsure)
    assert question_features(np.zeros(0), [], False).shape == (len(QUESTION_FEATURES),)
    broken = tmp_path / "ranker.json"
    broken.write_text(json.dumps({**data, "abstention": {**data["abstention"], "features": ["best"]}}), encoding="utf-8")
    with pytest.raises(RankerError, match="abstention"):
        Ranker.load(broken)
