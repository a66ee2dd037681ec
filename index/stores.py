"""The two stores a query hits: FAISS (dense, inner product on normalised vectors) and BM25 (French)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from index.text import analyze


FAISS_KINDS = ("flat", "ivf", "hnsw")


def bm25_idf(documents: int, frequency: int) -> float:
    """BM25's inverse document frequency, bm25s's formula ``log(1 + (N - df + 0.5) / (df + 0.5))``: 0 for a term
    in no passage, whose weight :func:`bm25_idf_unknown` gives instead."""
    return float(np.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))) if frequency else 0.0


def bm25_idf_unknown(documents: int) -> float:
    """The IDF a term that appears in no passage would have: the highest possible."""
    return float(np.log(1 + (documents + 0.5) / 0.5))


class DenseStore:
    """Inner-product search over L2-normalised vectors (cosine similarity): exact (``flat``, the default), or
    approximate for large corpora: ``ivf`` (IndexIVFFlat, √n·4 lists, ``nprobe`` searched) or ``hnsw``
    (IndexHNSWFlat, M = 32, ``ef`` candidates per search)."""

    FILE = "dense.faiss"

    def __init__(self, faiss_index, *, nprobe: int = 32, ef: int = 64):
        self.faiss_index = faiss_index
        self.tune(nprobe=nprobe, ef=ef)

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, kind: str = "flat", *, nprobe: int = 32, ef: int = 64,
                     hnsw_m: int = 32, seed: int = 17) -> "DenseStore":
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
        elif kind == "ivf" and n >= 1000:  # below that, a list per 39 vectors leaves nothing to gain
            lists = int(min(4 * np.sqrt(n), n // 39))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, lists, faiss.METRIC_INNER_PRODUCT)
            sample = vectors[np.random.default_rng(seed).choice(n, min(n, lists * 64), replace=False)]
            index.train(sample)
        elif kind in FAISS_KINDS:
            index = faiss.IndexFlatIP(d)
        else:
            raise ValueError(f"index FAISS inconnu « {kind} » (possibles : {', '.join(FAISS_KINDS)})")
        if n:
            index.add(vectors)
        return cls(index, nprobe=nprobe, ef=ef)

    def tune(self, *, nprobe: int = 32, ef: int = 64) -> None:
        """Search breadth of an approximate index (no effect on the exact one)."""
        import faiss

        if hasattr(self.faiss_index, "nprobe"):
            self.faiss_index.nprobe = nprobe
        if isinstance(self.faiss_index, faiss.IndexHNSW):
            self.faiss_index.hnsw.efSearch = max(ef, 10)

    @property
    def dimension(self) -> int:
        return self.faiss_index.d

    def __len__(self) -> int:
        return self.faiss_index.ntotal

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self))
        if k <= 0:
            return []
        scores, ids = self.faiss_index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def vectors(self) -> np.ndarray:
        """Every passage's vector, by row: what an incremental build reuses."""
        if hasattr(self.faiss_index, "make_direct_map"):  # IVF lists do not keep rows in order without one
            self.faiss_index.make_direct_map()
        return self.faiss_index.reconstruct_n(0, len(self))

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self.faiss_index, str(folder / self.FILE))

    @classmethod
    def load(cls, folder: Path, *, nprobe: int = 32, ef: int = 64) -> "DenseStore":
        import faiss

        return cls(faiss.read_index(str(folder / cls.FILE)), nprobe=nprobe, ef=ef)


class LexicalStore:
    """BM25 (bm25s) over French-analysed tokens: elisions split, stop words out, stemmed, accents folded."""

    DIR = "bm25"

    def __init__(self, bm25):
        self.bm25 = bm25
        self._df: dict[str, int] | None = None  # document frequencies, computed on first use

    @classmethod
    def from_texts(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> "LexicalStore":
        bm25s = _bm25s()

        tokens = [analyze(t) or ["∅"] for t in texts]
        bm25 = bm25s.BM25(k1=k1, b=b)
        bm25.index(tokens, show_progress=False)
        return cls(bm25)

    def __len__(self) -> int:
        return int(self.bm25.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray:
        vocab = self.bm25.vocab_dict
        ids = [vocab[t] for t in dict.fromkeys(analyze(query)) if t in vocab]
        if not ids:
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(ids), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        scores = self.scores(query)
        if not len(scores):
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(top, key=lambda i: -scores[i])
        return [(int(i), float(scores[i])) for i in ranked if scores[i] > 0]

    def idf(self, token: str) -> float:
        """Inverse document frequency of an analysed token (0 when unknown)."""
        return bm25_idf(len(self), self._doc_freq().get(token, 0))

    def idf_unknown(self) -> float:
        """The IDF a token that appears in no passage would have: the highest possible."""
        return bm25_idf_unknown(len(self))

    def _doc_freq(self) -> dict[str, int]:
        cached = self._df
        if cached is None:
            indptr = np.asarray(self.bm25.scores["indptr"])
            counts = np.diff(indptr)
            inverse = {v: k for k, v in self.bm25.vocab_dict.items()}
            cached = {inverse[i]: int(counts[i]) for i in range(len(counts)) if i in inverse}
            self._df = cached
        return cached

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder / self.DIR), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalStore":
        bm25s = _bm25s()

        return cls(bm25s.BM25.load(str(folder / cls.DIR), allow_pickle=False, show_progress=False))


def _bm25s():
    """bm25s, without its DEBUG lines: it sets its own logger to DEBUG when imported."""
    import bm25s

    logger = logging.getLogger("bm25s")
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.WARNING)
    return bm25s
