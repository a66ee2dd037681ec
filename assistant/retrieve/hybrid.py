"""Hybrid retrieval: dense and lexical (BM25) rankings fused by reciprocal rank fusion, as a llama-index retriever.

The fusion is the project's own (weights, RRF constant, French analysis), kept rather than llama-index's
``QueryFusionRetriever``: the answerer was calibrated on its ranking and reads each engine's rank and score,
which a fused similarity loses. (On dev and test, QueryFusionRetriever's reciprocal mode ranks identically and its
score-normalising modes a little better: docs/quality.md.) Both engines of ``index.store`` (FAISS + bm25s files, or Milvus)
answer the same two searches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from index.build import LoadedIndex
from index.chunking import Chunk


@dataclass
class Hit:
    """A retrieved chunk with the evidence of each ranker (ranks are 1-based, 0 = not found)."""

    chunk: Chunk
    score: float
    dense_score: float = 0.0
    dense_rank: int = 0
    bm25_score: float = 0.0
    bm25_rank: int = 0


class HybridRetriever(BaseRetriever):
    """Fuses dense and BM25 rankings: ``score = Σ weight / (rrf_k + rank)``.

    The project calls :meth:`search` (its :class:`Hit` carries each engine's evidence); any llama-index
    application calls ``retrieve(query)`` and gets ``NodeWithScore``s (:mod:`assistant.llamaindex`), ``top_k`` of them.

    Args:
        index: The loaded index.
        embedder: The embedder the index was built with (for the query vector).
        mode: ``hybrid``, ``dense`` or ``bm25``.
        top_k: Passages ``retrieve`` returns.
    """

    def __init__(self, index: LoadedIndex, embedder, *, mode: str = "hybrid", candidates: int = 30,
                 rrf_k: int = 60, dense_weight: float = 1.0, bm25_weight: float = 1.0, embed_chars: int = 400,
                 top_k: int = 12):
        super().__init__()
        self.top_k = top_k
        self.index = index
        self.embedder = embedder
        self.mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.embed_chars = embed_chars
        self.weights = {"dense": dense_weight if mode != "bm25" else 0.0,
                        "bm25": bm25_weight if mode != "dense" else 0.0}

    def query_vector(self, query: str) -> np.ndarray:
        """The query's vector, from at most ``embed_chars`` characters (cut at a word): the cost of a query
        grows with the square of its length, and what a long question asks is in its first words; BM25
        still reads it whole."""
        if len(query) > self.embed_chars:
            query = query[: self.embed_chars].rsplit(" ", 1)[0] or query[: self.embed_chars]
        return np.asarray(self.embedder.get_query_embedding(query), dtype=np.float32)  # llama-index's query hook

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        from assistant.llamaindex import to_node

        vector = np.asarray(query_bundle.embedding, dtype=np.float32) if query_bundle.embedding else None
        return [NodeWithScore(node=to_node(h.chunk, h), score=h.score)
                for h in self.search(query_bundle.query_str, self.top_k, query_vector=vector)]

    def search(self, query: str, top_k: int, query_vector: np.ndarray | None = None) -> list[Hit]:
        """Return the ``top_k`` best chunks for ``query``, best first."""
        hits: dict[int, Hit] = {}

        def hit(i: int) -> Hit:
            if i not in hits:
                hits[i] = Hit(self.index.chunks[i], 0.0)
            return hits[i]

        if self.weights["dense"] > 0:
            vector = self.query_vector(query) if query_vector is None else query_vector
            for rank, (i, score) in enumerate(self.index.dense.search(vector, self.candidates), 1):
                h = hit(i)
                h.dense_rank, h.dense_score = rank, score
                h.score += self.weights["dense"] / (self.rrf_k + rank)
        if self.weights["bm25"] > 0:
            for rank, (i, score) in enumerate(self.index.lexical.search(query, self.candidates), 1):
                h = hit(i)
                h.bm25_rank, h.bm25_score = rank, score
                h.score += self.weights["bm25"] / (self.rrf_k + rank)
        ranked = sorted(hits.values(), key=lambda h: (-h.score, -h.dense_score))
        return ranked[:top_k]
