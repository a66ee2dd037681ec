"""Milvus as the index's store (``index.store = "milvus"``): dense vectors and BM25 in one collection per version.

The version folder (manifest, passages, sentence vectors) names its collection, so a reader that follows
``CURRENT`` always queries the collection of the version it loaded, never a half-written one.

Written on pymilvus rather than llama-index's ``MilvusVectorStore``: the hybrid retriever fuses the dense and
BM25 rankings itself (the answerer was calibrated on that ranking) and the answerer reads each engine's
rank and score, which the vector store's hybrid query folds into one similarity; the store also has no notion of
one collection per version behind an alias. ``index/build.py`` keeps the versioning; Milvus is talked to by
:mod:`index.milvus_connection` (clients, the Lite file's lock) and :mod:`index.milvus_collection` (a version's
collection); this module holds the two searches the retriever runs on it, and the term statistics beside it.
Their public names are re-exported here, where the benchmarks and tests import them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corpus.errors import FileInUse  # noqa: F401  (re-exported)
from index.milvus_collection import (ANALYZER, INDEX_TYPES, INSERT_BATCH, STOP_LIST, TEXT_CHARS,  # noqa: F401
                                     _call, collection_name, drop_older, move_alias, open_collection,
                                     write_collection)
from index.milvus_connection import (CONNECT_SECONDS, HELD, _quiet, client, ensure_held, is_local,  # noqa: F401
                                     lock_path, release)
from index.stores import bm25_idf, bm25_idf_unknown
from index.text import analyze


class MilvusDense:
    """Inner-product search on the collection's dense vectors (cosine, the vectors being normalised)."""

    def __init__(self, milvus, name: str, rows: int, dimension: int, nprobe: int = 32, ef: int = 64):
        self.milvus, self.name, self.rows, self.dimension = milvus, name, rows, dimension
        self.search_params = {"metric_type": "IP", "params": {"nprobe": nprobe, "ef": ef}}

    def __len__(self) -> int:
        return self.rows

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.rows)
        if k <= 0:
            return []
        params = {**self.search_params, "params": {**self.search_params["params"],
                                                   "ef": max(self.search_params["params"]["ef"], k)}}
        found = _call(self.milvus.search, self.name, data=[np.asarray(query, dtype=np.float32).ravel().tolist()],
                      anns_field="dense", limit=k, search_params=params)
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def vectors(self) -> np.ndarray:
        """Every passage's vector, by row: what an incremental build reuses."""
        out = np.zeros((self.rows, self.dimension), dtype=np.float32)
        with _quiet():
            iterator = _call(self.milvus.query_iterator, self.name, batch_size=4096, filter="row >= 0",
                             output_fields=["row", "dense"])
        try:
            while batch := _call(iterator.next):
                for row in batch:
                    out[int(row["row"])] = row["dense"]
        finally:
            iterator.close()
        return out


class MilvusLexical:
    """BM25 computed by Milvus over the French-analysed text; the answerer's term statistics from ``terms``.

    The answerer weighs question words by their rarity in the corpus (``idf``) with the project's own analysis,
    so the build stores those document frequencies beside the passages (:class:`TermStatistics`).
    """

    def __init__(self, milvus, name: str, terms: "TermStatistics"):
        self.milvus, self.name, self.terms = milvus, name, terms

    def __len__(self) -> int:
        return len(self.terms)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        if k <= 0 or not analyze(query):  # nothing but stop words: Milvus would find nothing either
            return []
        found = _call(self.milvus.search, self.name, data=[query[:TEXT_CHARS]], anns_field="sparse", limit=k,
                      search_params={"metric_type": "BM25"})
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0] if hit["distance"] > 0]

    def idf(self, token: str) -> float:
        return self.terms.idf(token)

    def idf_unknown(self) -> float:
        return self.terms.idf_unknown()


class TermStatistics:
    """Document frequencies of the project's analysed terms (:func:`index.text.analyze`) over the passages."""

    FILE = "terms.json"

    def __init__(self, documents: int, frequencies: dict[str, int]):
        self.documents, self.frequencies = documents, frequencies

    @classmethod
    def from_texts(cls, texts: list[str]) -> "TermStatistics":
        frequencies: dict[str, int] = {}
        for text in texts:
            for term in set(analyze(text)):
                frequencies[term] = frequencies.get(term, 0) + 1
        return cls(len(texts), frequencies)

    def __len__(self) -> int:
        return self.documents

    def idf(self, token: str) -> float:
        """The same weight as the FAISS engine's bm25s store gives (:func:`index.stores.bm25_idf`)."""
        return bm25_idf(self.documents, self.frequencies.get(token, 0))

    def idf_unknown(self) -> float:
        return bm25_idf_unknown(self.documents)

    def save(self, folder: Path) -> None:
        import json

        (folder / self.FILE).write_text(json.dumps({"documents": self.documents, "frequencies": self.frequencies},
                                                   ensure_ascii=False, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "TermStatistics":
        import json

        data = json.loads((folder / cls.FILE).read_text(encoding="utf-8"))
        return cls(int(data["documents"]), {str(k): int(v) for k, v in data["frequencies"].items()})
