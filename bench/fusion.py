"""The project's fusion against llama-index's ``QueryFusionRetriever`` over the same two engines, on dev and test.

Usage: .venv/bin/python bench/fusion.py [--top-k 12]

Both sides fuse the same two rankings: the dense and the BM25 searches of the current index (``var/index``),
``retrieval.candidates`` results each; llama-index gets them as two retrievers scoring with the engine's own score
(cosine, BM25). The project's side is ``HybridRetriever`` with the settings' weights; llama-index's is
``QueryFusionRetriever`` with one query (no LLM rewriting) in each of its fusion modes. Questions: the answerable,
history-free items of eval/dev_qa.jsonl and eval/test_qa.jsonl, asked as written (no lexicon expansion, so that
only the fusion differs). A hit: a passage of an expected document. Reports hit@1, hit@3, hit@k, MRR@k.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class NoLLM:
    """QueryFusionRetriever holds an LLM for query rewriting; with one query it never calls it."""

    name = "none"

    def stream(self, prompt, *, max_tokens, deadline):
        raise RuntimeError("QueryFusionRetriever n'aurait pas dû appeler le LLM (num_queries=1)")

    def complete(self, prompt, *, max_tokens, timeout):
        raise RuntimeError("QueryFusionRetriever n'aurait pas dû appeler le LLM (num_queries=1)")


def engine_retriever():
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.schema import NodeWithScore

    from assistant.llamaindex import to_node

    class EngineRetriever(BaseRetriever):
        """One engine's ranking with its own scores (cosine, or BM25), as llama-index's fusion modes expect."""

        def __init__(self, single, mode: str):
            super().__init__()
            self.single, self.mode = single, mode

        def _retrieve(self, query_bundle):
            hits = self.single.search(query_bundle.query_str, self.single.candidates)
            key = "dense_score" if self.mode == "dense" else "bm25_score"
            return [NodeWithScore(node=to_node(h.chunk, h), score=getattr(h, key)) for h in hits]

    return EngineRetriever


def scores(ranked: list[list[str]], expected: list[set[str]], k: int) -> dict:
    def first(docs, wanted):
        return next((r for r, d in enumerate(docs[:k], 1) if d in wanted), None)

    ranks = [first(docs, wanted) for docs, wanted in zip(ranked, expected)]
    n = len(ranks)
    return {"questions": n, "hit@1": round(sum(r == 1 for r in ranks if r) / n, 3),
            "hit@3": round(sum(r <= 3 for r in ranks if r) / n, 3), f"hit@{k}": round(sum(1 for r in ranks if r) / n, 3),
            f"mrr@{k}": round(sum(1 / r for r in ranks if r) / n, 3)}


def main(argv: list[str] | None = None) -> int:
    from llama_index.core.retrievers import QueryFusionRetriever

    from assistant.app import build
    from assistant.batch import read_items
    from assistant.llamaindex import BackendLLM
    from assistant.retrieve.hybrid import HybridRetriever
    from assistant.settings import Settings

    EngineRetriever = engine_retriever()

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top-k", type=int, default=12)
    args = parser.parse_args(argv)
    settings = Settings()
    assistant = build(settings)
    r = settings.retrieval
    engines = [EngineRetriever(HybridRetriever(assistant.index, assistant.retriever.embedder, mode=mode,
                                               candidates=r.candidates), mode) for mode in ("dense", "bm25")]
    ours = HybridRetriever(assistant.index, assistant.retriever.embedder, candidates=r.candidates, rrf_k=r.rrf_k,
                           dense_weight=r.dense_weight, bm25_weight=r.bm25_weight, top_k=args.top_k)
    contenders = {"project HybridRetriever (RRF, k=60)": ours}
    for mode in ("reciprocal_rerank", "relative_score", "dist_based_score", "simple"):
        contenders[f"QueryFusionRetriever {mode}"] = QueryFusionRetriever(
            engines, similarity_top_k=args.top_k, num_queries=1, mode=mode, use_async=False,
            llm=BackendLLM(backend=NoLLM()))
    table = {}
    for name in ("dev_qa.jsonl", "test_qa.jsonl"):
        items = [i for i in read_items(ROOT / "eval" / name, "jsonl")
                 if hasattr(i, "question") and not i.expectation.abstain and not i.history and i.doc_ids]
        expected = [set(i.doc_ids) for i in items]
        for label, retriever in contenders.items():
            ranked = [[n.node.metadata["doc_id"] for n in retriever.retrieve(i.question)] for i in items]
            table.setdefault(label, {})[name.split("_")[0]] = scores(ranked, expected, args.top_k)
    print(json.dumps(table, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
