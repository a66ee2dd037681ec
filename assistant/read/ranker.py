"""The learned ranker: the reader's score and the cheap evidence already computed for each candidate sentence,
combined by a logistic model fitted on questions nobody here wrote (``training/reader/fit_ranker.py``).

The cross-encoder judges a sentence alone; where the sentence sits (the passage's retrieval rank and scores, its
place in the passage), how much of the question it covers and whether it is a fiche line of the field asked are
evidence it never sees. A logistic model over both is small enough to read (one weight per feature, in
``ranker.json``), gives a probability that the sentence holds the answer, and that probability is what the answer
keeps or refuses on. Written by hand because it is twelve multiplications: fitting uses scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.errors import RankerError

FILE = Path(__file__).resolve().parent / "ranker.json"

# Every feature the ranker reads, as the answerer names them (assistant/read/candidates.py, ``Candidate.features``),
# then the reader's logit.
FEATURES = ("reader", "cosine", "coverage", "type", "rank", "subject", "field", "passage_dense", "passage_bm25",
            "position", "record", "short", "alias", "context_coverage", "context_cosine")


@dataclass(frozen=True)
class Ranker:
    """``p = σ(w · (x − mean) / scale + b)`` over :data:`FEATURES`, and how the answer uses ``p``.

    Attributes:
        weights, bias, mean, scale: The fitted model, one value per feature.
        second_ratio: A second sentence joins the best when its probability is at least this share of the best's.
        min_probability: Below this probability of the best sentence, the answer abstains.
        premise_penalty: Taken from that probability when the quoted sentences miss a premise of the question.
    """

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    second_ratio: float = 0.5
    min_probability: float = 0.5
    premise_penalty: float = 0.0
    abstention: Abstention | None = None  # the question-level model, when fitted: it decides refusal instead

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        path = FILE if path is None else path  # read at call time: a test points FILE at a damaged copy
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if tuple(data["features"]) != FEATURES:
                raise RankerError(f"{path} : caractéristiques {data['features']} ≠ {list(FEATURES)}")
            model = data["model"]
            abstention = Abstention.from_dict(data["abstention"]) if data.get("abstention") else None
            ranker = cls(tuple(model["weights"]), float(model["bias"]), tuple(model["mean"]), tuple(model["scale"]),
                         **{k: float(v) for k, v in data.get("policy", {}).items()}, abstention=abstention)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RankerError(f"Classement appris illisible ({path} : {exc}) ; "
                              f"python -m training.reader.fit_ranker le produit.") from exc
        if not len(ranker.weights) == len(ranker.mean) == len(ranker.scale) == len(FEATURES):
            raise RankerError(f"{path} : {len(ranker.weights)} poids pour {len(FEATURES)} caractéristiques")
        return ranker

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """For a (candidates × features) matrix, each candidate's probability of holding the answer."""
        z = ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-z))


# What a question's shortlist says about whether the corpus answers it at all: how sure the best sentence is, how far
# ahead of the next, whether it misses a premise, how close the question comes to the corpus (sentence and passage).
QUESTION_FEATURES = ("best", "second", "gap", "premise", "reader", "cosine", "passage_dense", "coverage", "subject",
                     "field", "close")


def question_features(probabilities: np.ndarray, features: list[dict], premise: bool) -> np.ndarray:
    """The :data:`QUESTION_FEATURES` of one question, from its shortlist's probabilities (best first or not) and
    features, and whether the best sentence misses a premise."""
    if not len(probabilities):
        return np.zeros(len(QUESTION_FEATURES))
    order = np.argsort(-np.asarray(probabilities))
    p = np.asarray(probabilities)[order]
    top = features[int(order[0])]
    second = float(p[1]) if len(p) > 1 else 0.0
    return np.array([float(p[0]), second, float(p[0]) - second, float(premise),
                     max(float(f.get("reader", 0.0)) for f in features), float(top.get("cosine", 0.0)),
                     float(top.get("passage_dense", 0.0)), float(top.get("coverage", 0.0)),
                     float(top.get("subject", 0.0)), float(top.get("field", 0.0)),
                     float(np.sum(p >= 0.5 * p[0]))])


@dataclass(frozen=True)
class Abstention:
    """``P(answerable) = σ(w · (x − mean) / scale + b)`` over :data:`QUESTION_FEATURES`; below ``threshold``, refuse."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float

    @classmethod
    def from_dict(cls, data: dict) -> Abstention:
        if tuple(data["features"]) != QUESTION_FEATURES:
            raise RankerError(f"abstention : caractéristiques {data['features']} ≠ {list(QUESTION_FEATURES)}")
        return cls(tuple(data["weights"]), float(data["bias"]), tuple(data["mean"]), tuple(data["scale"]),
                   float(data["threshold"]))

    def probability(self, row: np.ndarray) -> float:
        z = float(((row - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.bias)
        return 1.0 / (1.0 + np.exp(-z))


def matrix(feature_dicts: list[dict], reader_logits) -> np.ndarray:
    """The (candidates × :data:`FEATURES`) matrix of candidates' features and the reader's logits."""
    rows = np.zeros((len(feature_dicts), len(FEATURES)), np.float64)
    for r, (features, logit) in enumerate(zip(feature_dicts, reader_logits)):
        rows[r] = [float(logit) if name == "reader" else float(features.get(name, 0.0)) for name in FEATURES]
    return rows
