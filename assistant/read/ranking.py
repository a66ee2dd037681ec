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


class SpanRanking:
    """The span reader (``answer.reader = "span"``): each shortlisted sentence read with its neighbours in its
    passage; its score is how much its best span beats the window's « no answer » (a SQuAD 2.0 margin), and
    abstention compares the best margin with ``answer.min_span_margin``.

    Args:
        model: :class:`assistant.read.span.SpanModel`.
        shortlist: How many of the best candidates (by the simple scores) the reader reads.
        context: Sentences read on each side of the candidate (« Il a été inauguré en 2020. » needs the one before).
    """

    def __init__(self, model, shortlist: int = 8, context: int = 1):
        self.model, self.shortlist, self.context = model, shortlist, context
        self.ranker = None

    @classmethod
    def load(cls, shortlist: int = 8) -> SpanRanking:
        """The span reader built from the committed adapter (``python -m assistant.read.span``).

        Raises:
            BackendUnavailable: its folder is missing or damaged.
        """
        from assistant.read.span import SpanModel

        return cls(SpanModel.shared(), shortlist)

    def read(self, query: Query, candidates: list[Candidate]) -> list[tuple[float, tuple[str, int, int] | None]]:
        """Each candidate read with its neighbours: (margin of its best span over « no answer », the span as (text,
        start, end) in the sentence itself, or None when no span lies in it)."""
        windows, ranges = [], []
        for c in candidates:
            chunk = c.hit.chunk
            low = max(c.position - self.context, 0)
            high = min(c.position + self.context, len(chunk.sentences) - 1)
            start, end = chunk.sentences[low][0], chunk.sentences[high][1]
            a, b = chunk.sentences[c.position]
            windows.append(chunk.text[start:end])
            ranges.append((a - start, b - start))
        return [(float("-inf"), None) if span is None else (span.margin, (span.text, span.start - a, span.end - a))
                for span, (a, _) in zip(self.model.read(query.text, windows, ranges), ranges)]

    def rank(self, query: Query, candidates: list[Candidate]) -> list[Candidate]:
        """The shortlist ranked by span margin (each candidate's ``reader``, ``score`` and ``span``); the rest after
        them, below any margin."""
        shortlist, rest = candidates[: self.shortlist], candidates[self.shortlist:]
        for c, (margin, span) in zip(shortlist, self.read(query, shortlist)):
            c.reader = c.score = margin
            c.features["span_margin"] = margin
            c.span = span
        for c in rest:
            c.score = float("-inf")
        return sorted(shortlist, key=lambda c: -c.score) + rest
