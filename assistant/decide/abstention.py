"""Answer or abstain: how sure the best sentence answers the query, against a threshold.

Three policies, by what the read stage produced: the hand-weighted confidence (``rules``), the learned ranker's
probability of the best sentence, or the question-level model fitted with the ranker (« does the corpus answer this
question at all? »). An answer whose sentences miss a premise of the question is penalised in all three.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.query.parse import Query
from assistant.read.candidates import Candidate


def weighted_confidence(signals: dict, dense_weight: float, unknown_penalty: float, unsupported_penalty: float) -> float:
    """``w·dense + (1−w)·coverage − p·unknown_share − q·unsupported``: the rules' confidence, and the quantity
    ``assistant eval --calibrate`` fits its weights for."""
    return (dense_weight * signals["dense"] + (1 - dense_weight) * signals["coverage"]
            - unknown_penalty * signals["unknown_share"] - unsupported_penalty * signals.get("unsupported", 0.0))


class Abstention:
    """The abstention policy and its fitted values (settings ``answer.*``, or the ranker's file).

    Args:
        min_confidence: Below this rules confidence the answer abstains.
        min_dense_english: English questions cannot be judged by unknown words (all are unknown to a French
            corpus): they must reach this sentence similarity instead (rules only).
        ranker: The learned ranker, when the learned reader ranked the candidates.
        min_reader: A threshold on the ranker's probability set by hand (replaces the question-level model).
        min_span_margin: With the span reader, the margin of the best span over « no answer » under which the
            answer abstains (None: the span reader is not in use).
    """

    def __init__(self, *, min_confidence: float, dense_weight: float, unknown_penalty: float,
                 unsupported_penalty: float, min_dense_english: float, ranker=None,
                 min_reader: float | None = None, min_span_margin: float | None = None):
        self.min_span_margin = min_span_margin
        self.min_confidence = min_confidence
        self.dense_weight = dense_weight
        self.unknown_penalty = unknown_penalty
        # An answer whose sentences do not state what the question asks or restricts to (see premises.py).
        self.unsupported_penalty = ranker.premise_penalty if ranker is not None else unsupported_penalty
        self.min_dense_english = min_dense_english
        self.ranker = ranker
        self.min_reader = ranker.min_probability if ranker is not None and min_reader is None else min_reader
        self.min_reader_set = min_reader  # a threshold set by hand replaces the question-level model

    def confidence(self, signals: dict) -> float:
        """The rules confidence; the weights are fitted by ``assistant eval --calibrate``."""
        return round(weighted_confidence(signals, self.dense_weight, self.unknown_penalty, self.unsupported_penalty), 4)

    def judge(self, query: Query, candidates: list[Candidate], signals: dict,
              premise_of_best: Callable[[], str | None]) -> tuple[float, bool]:
        """(confidence, abstains) for the best of ``candidates``; ``signals`` gets what was weighed.

        ``premise_of_best`` gives the premise the best sentence alone misses (asked only by the question-level model).
        """
        best = candidates[0]
        if self.min_span_margin is not None:  # the span reader: its margin, in logits (-inf: it read nothing)
            margin = max(best.reader if best.reader is not None else float("-inf"), -99.0)
            signals["span_margin"] = round(margin, 4)
            confidence = round(margin - self.unsupported_penalty * signals["unsupported"], 4)
            return confidence, confidence < self.min_span_margin
        if best.reader is not None and self.ranker.abstention is not None and self.min_reader_set is None:
            from assistant.read.ranker import question_features

            shortlist = [c for c in candidates if c.reader is not None]
            row = question_features(np.array([c.reader for c in shortlist]), [c.features for c in shortlist],
                                    premise_of_best() is not None)
            signals["reader"] = round(best.reader, 4)
            confidence = round(self.ranker.abstention.probability(row), 4)
            signals["answerable"] = confidence
            threshold = self.ranker.abstention.threshold
        elif best.reader is not None:
            signals["reader"] = round(best.reader, 4)
            confidence = round(best.reader - self.unsupported_penalty * signals["unsupported"], 4)
            threshold = self.min_reader
        else:
            confidence, threshold = self.confidence(signals), self.min_confidence
        # the learned ranker's probability already weighs how close the sentence is: no floor of its own for English
        floor = query.english and self.ranker is None and signals["dense"] < self.min_dense_english
        return confidence, confidence < threshold or floor
