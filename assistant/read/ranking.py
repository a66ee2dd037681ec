"""The read stage's learned pass (``answer.reader = "learned"``): the cross-encoder reads the best candidates by the
hand-weighted scores, and the ranker turns its logit and their features into the probability that each answers."""

from __future__ import annotations

from assistant.query.parse import Query
from assistant.read.candidates import Candidate


class LearnedRanking:
    """The learned reader and ranker.

    Args:
        reader: The cross-encoder (:class:`assistant.read.learned.Reader`).
        ranker: The fitted ranker (:class:`assistant.read.ranker.Ranker`); None to read without ranking (fitting it).
        shortlist: How many of the best candidates (by the simple scores) the reader reads.
    """

    def __init__(self, reader, ranker=None, shortlist: int = 20):
        self.reader, self.ranker, self.shortlist = reader, ranker, shortlist

    @classmethod
    def load(cls, shortlist: int = 20) -> LearnedRanking:
        """The committed reader and ranker (the reader loaded once per process).

        Raises:
            BackendUnavailable: the reader's folder or the ranker's file is missing or damaged.
        """
        from assistant.read.learned import Reader
        from assistant.read.ranker import Ranker

        return cls(Reader.shared(), Ranker.load(), shortlist)

    def read(self, query: Query, candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """The shortlist (its reader logits in ``features["reader"]``) and the candidates left out of it."""
        shortlist, rest = candidates[: self.shortlist], candidates[self.shortlist:]
        logits = self.reader.logits(query.text, [(c.hit.chunk.title, c.text) for c in shortlist])
        for c, logit in zip(shortlist, logits):
            c.features["reader"] = float(logit)
        return shortlist, rest

    def rank(self, query: Query, candidates: list[Candidate]) -> list[Candidate]:
        """The shortlist ranked by the ranker's probability (each candidate's ``reader`` and ``score``); the rest
        after them, scored 0."""
        from assistant.read.ranker import matrix

        shortlist, rest = self.read(query, candidates)
        probabilities = self.ranker.probabilities(matrix([c.features for c in shortlist],
                                                         [c.features["reader"] for c in shortlist]))
        for c, p in zip(shortlist, probabilities):
            c.reader = c.score = float(p)
        for c in rest:
            c.score = 0.0
        return sorted(shortlist, key=lambda c: -c.score) + rest
