"""The learned ranker: the reader's score and the cheap evidence already computed for each candidate sentence,
combined by a logistic model fitted on questions nobody here wrote (``assistant/reader/fit_ranker.py``).

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

FILE = Path(__file__).resolve().parent / "ranker.json"

# Every feature the ranker reads, as the answerer names them (assistant/extractive.py, ``Candidate.features``),
# then the reader's logit.
FEATURES = ("reader", "cosine", "coverage", "type", "rank", "subject", "field", "passage_dense", "passage_bm25",
            "position", "record", "short", "alias", "context_coverage", "context_cosine")


class RankerError(RuntimeError):
    """The ranker's file is missing or does not describe a ranker."""


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

    @classmethod
    def load(cls, path: Path = FILE) -> Ranker:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if tuple(data["features"]) != FEATURES:
                raise RankerError(f"{path} : caractéristiques {data['features']} ≠ {list(FEATURES)}")
            model = data["model"]
            ranker = cls(tuple(model["weights"]), float(model["bias"]), tuple(model["mean"]), tuple(model["scale"]),
                         **{k: float(v) for k, v in data.get("policy", {}).items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RankerError(f"Classement appris illisible ({path} : {exc}) ; "
                              f"python -m assistant.reader.fit_ranker le produit.") from exc
        if not len(ranker.weights) == len(ranker.mean) == len(ranker.scale) == len(FEATURES):
            raise RankerError(f"{path} : {len(ranker.weights)} poids pour {len(FEATURES)} caractéristiques")
        return ranker

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """For a (candidates × features) matrix, each candidate's probability of holding the answer."""
        z = ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def matrix(feature_dicts: list[dict], reader_logits) -> np.ndarray:
    """The (candidates × :data:`FEATURES`) matrix of candidates' features and the reader's logits."""
    rows = np.zeros((len(feature_dicts), len(FEATURES)), np.float64)
    for r, (features, logit) in enumerate(zip(feature_dicts, reader_logits)):
        rows[r] = [float(logit) if name == "reader" else float(features.get(name, 0.0)) for name in FEATURES]
    return rows
