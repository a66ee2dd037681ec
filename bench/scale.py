"""The index's stores at 100 000 and 1 000 000 passages: build, memory, start, query latency, recall.

Usage: .venv/bin/python bench/scale.py [--sizes 100000 1000000] [--engines faiss-flat faiss-ivf faiss-hnsw milvus]
                                       [--queries 200] [--json var/bench/scale.json]

Synthetic but shaped like the real index, so that nothing needs embedding:
- passages: French text drawn word by word from the real corpus's vocabulary with its own word frequencies
  (a unigram model of ``var/index``'s passages, same length distribution);
- vectors: each one a random blend of two real passage vectors of ``var/index`` plus Gaussian noise, renormalised
  (the real vectors' cone, as a continuum); a query is a passage's vector plus half that noise, and its BM25
  text is six words of that passage.

For each engine: build time (index creation from the vectors and texts, BM25 included), resident memory added
(the Milvus Lite server is a child process: counted), start time (load from disk, ready to answer), dense, BM25 and
hybrid (both, then the project's reciprocal rank fusion) query p50/p95 in ms, and the dense recall@10 of the
approximate indexes against exact search (FAISS flat) on the same vectors. The engines are the project's own
classes: ``index.stores.DenseStore`` / ``LexicalStore`` (FAISS + bm25s) and ``index.milvus_store`` (Milvus Lite
2.5.1, IVF_FLAT; HNSW is refused by Milvus Lite). Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.text import words  # noqa: E402

NOISE = 0.01  # per-dimension noise added to each blend (norm ≈ 0.2 against vectors of norm ≈ 1)
RRF_K = 60


def rss_mb() -> float:
    """Resident memory of this process and its children (the Milvus Lite server), in MB."""
    import psutil

    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 1e6


def real_material() -> tuple[list[str], np.ndarray, np.ndarray, list[int]]:
    """Vocabulary, word probabilities, the real passage vectors and the real passage lengths in words."""
    from index.build import load_index

    index = load_index(ROOT / "var" / "index", verify=False)
    counts: dict[str, int] = {}
    lengths = []
    for chunk in index.chunks:
        tokens = words(chunk.text)
        lengths.append(len(tokens))
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
    vocabulary = sorted(counts)
    frequencies = np.array([counts[w] for w in vocabulary], dtype=np.float64)
    return vocabulary, frequencies / frequencies.sum(), index.dense.vectors(), lengths


def synthetic(n: int, seed: int, material) -> tuple[list[str], np.ndarray]:
    vocabulary, probabilities, real, lengths = material
    rng = np.random.default_rng(seed)
    sizes = rng.choice(lengths, n)
    ids = rng.choice(len(vocabulary), int(sizes.sum()), p=probabilities)
    texts, at = [], 0
    for size in sizes:
        texts.append(" ".join(vocabulary[i] for i in ids[at:at + size]))
        at += size
    vectors = noisy(real, n, rng)
    return texts, vectors


def noisy(real: np.ndarray, n: int, rng) -> np.ndarray:
    """Vectors spread over the real ones' cone: a random blend of two real passage vectors plus a little noise,
    so that a million of them form a continuum rather than a few hundred clumps of near-copies."""
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        size = min(100_000, n - start)
        w = rng.uniform(0, 1, (size, 1))
        block = (w * real[rng.integers(0, len(real), size)] + (1 - w) * real[rng.integers(0, len(real), size)]
                 + rng.normal(0, NOISE, (size, real.shape[1])))
        out[start:start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def queries(texts: list[str], vectors: np.ndarray, count: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    picks = rng.choice(len(texts), count, replace=False)
    dim = vectors.shape[1]
    q = vectors[picks] + rng.normal(0, NOISE / 2, (count, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return [" ".join(rng.choice(texts[i].split(), 6)) for i in picks], q.astype(np.float32)


def fuse(dense: list[tuple[int, float]], lexical: list[tuple[int, float]], k: int = 10) -> list[int]:
    scores: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, (i, _) in enumerate(ranking, 1):
            scores[i] = scores.get(i, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores, key=lambda i: -scores[i])[:k]


def timed(fn, items) -> tuple[list, float, float]:
    out, times = [], []
    for item in items:
        started = time.perf_counter()
        out.append(fn(item))
        times.append((time.perf_counter() - started) * 1000)
    return out, float(np.percentile(times, 50)), float(np.percentile(times, 95))


class FaissEngine:
    def __init__(self, kind: str):
        self.kind, self.name = kind, f"FAISS {kind} + bm25s"

    def build(self, texts, vectors, folder: Path):
        from index.stores import DenseStore, LexicalStore

        self.dense = DenseStore.from_vectors(vectors, self.kind)
        self.lexical = LexicalStore.from_texts(texts)
        self.dense.save(folder)
        self.lexical.save(folder)

    def start(self, folder: Path):
        from index.stores import DenseStore, LexicalStore

        del self.dense, self.lexical
        gc.collect()
        self.dense, self.lexical = DenseStore.load(folder), LexicalStore.load(folder)

    def close(self):
        del self.dense, self.lexical


class MilvusEngine:
    def __init__(self, index_type: str = "IVF_FLAT"):
        self.index_type, self.name = index_type, f"Milvus Lite 2.5.1 {index_type} + BM25"

    def build(self, texts, vectors, folder: Path):
        from index import milvus_store
        from index.milvus_store import MilvusDense, MilvusLexical, TermStatistics

        self.uri = str(folder / "milvus.db")
        client = milvus_store.client(self.uri)
        milvus_store.write_collection(client, "scale", texts, vectors, local=True, index_type=self.index_type)
        terms = TermStatistics(len(texts), {})
        self.dense = MilvusDense(client, "scale", len(texts), vectors.shape[1])
        self.lexical = MilvusLexical(client, "scale", terms)

    def start(self, folder: Path):
        from index import milvus_store
        from index.milvus_store import MilvusDense, MilvusLexical

        rows, dim, terms = self.dense.rows, self.dense.dimension, self.lexical.terms
        milvus_store.release(self.uri)  # the Lite server stops; the next client starts it on the file again
        client = milvus_store.client(self.uri)
        milvus_store.open_collection(client, "scale", rows, self.uri)
        self.dense = MilvusDense(client, "scale", rows, dim)
        self.lexical = MilvusLexical(client, "scale", terms)

    def close(self):
        from index import milvus_store

        milvus_store.release(self.uri)


ENGINES = {"faiss-flat": lambda: FaissEngine("flat"), "faiss-ivf": lambda: FaissEngine("ivf"),
           "faiss-hnsw": lambda: FaissEngine("hnsw"), "milvus": lambda: MilvusEngine("IVF_FLAT")}


def run(size: int, engines: list[str], count: int, seed: int, material) -> list[dict]:
    import faiss

    started = time.perf_counter()
    texts, vectors = synthetic(size, seed, material)
    query_texts, query_vectors = queries(texts, vectors, count, seed)
    print(f"{size} passages générés en {time.perf_counter() - started:.0f} s", flush=True)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(query_vectors, 10)
    del exact
    rows = []
    for key in engines:
        engine = ENGINES[key]()
        folder = Path(tempfile.mkdtemp(prefix=f"scale-{key}-", dir=ROOT / "var"))
        try:
            gc.collect()
            before = rss_mb()
            started = time.perf_counter()
            engine.build(texts, vectors, folder)
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            engine.start(folder)
            start_s = time.perf_counter() - started
            memory = rss_mb() - before
            for q in query_vectors[:5]:  # warm-up
                engine.dense.search(q, 10)
            dense, d50, d95 = timed(lambda q: engine.dense.search(q, 10), query_vectors)
            _, b50, b95 = timed(lambda t: engine.lexical.search(t, 30), query_texts)
            _, h50, h95 = timed(lambda pair: fuse(engine.dense.search(pair[1], 30), engine.lexical.search(pair[0], 30)),
                                list(zip(query_texts, query_vectors)))
            recall = float(np.mean([len({i for i, _ in found} & set(t)) / 10 for found, t in zip(dense, truth)]))
            disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
            row = {"engine": engine.name, "passages": size, "build_s": round(build_s, 1), "memory_mb": round(memory),
                   "disk_mb": round(disk), "start_s": round(start_s, 2), "dense_p50_ms": round(d50, 2),
                   "dense_p95_ms": round(d95, 2), "bm25_p50_ms": round(b50, 2), "bm25_p95_ms": round(b95, 2),
                   "hybrid_p50_ms": round(h50, 2), "hybrid_p95_ms": round(h95, 2), "recall_at_10": round(recall, 3)}
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
        except Exception as exc:  # noqa: BLE001 - an engine that fails at this size is a result, reported as such
            print(f"{key} à {size} : échec ({type(exc).__name__}: {exc})", flush=True)
            rows.append({"engine": key, "passages": size, "error": f"{type(exc).__name__}: {exc}"[:300]})
        finally:
            try:
                engine.close()
            except Exception:  # noqa: BLE001
                pass
            shutil.rmtree(folder, ignore_errors=True)
            gc.collect()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", type=Path, default=None, help="write the rows here too")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    material = real_material()
    rows = []
    for size in args.sizes:
        rows.extend(run(size, args.engines, args.queries, args.seed, material))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
