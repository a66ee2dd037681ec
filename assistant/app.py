"""One place builds everything: :func:`build` loads the index and :func:`assemble` wires the pipeline's stages."""

from __future__ import annotations

import logging

from assistant.decide.abstention import Abstention
from assistant.extractive import ExtractiveAnswerer
from assistant.generate.answerer import GenerativeAnswerer
from assistant.generate.backends import make_backend
from assistant.pipeline import Pipeline
from assistant.query.parse import QueryParser
from assistant.read.candidates import SentenceScorer
from assistant.retrieve.hybrid import HybridRetriever
from assistant.service import Assistant
from assistant.settings import Settings, offline_environment
from corpus.errors import BackendUnavailable
from index.build import LoadedIndex, StoreConfig, load_index
from index.embedders import make_embedder


def settings_embedder(settings: Settings):
    """The embedder the settings name (loads nothing yet)."""
    return make_embedder(settings.index.embedder, settings.index.st_model, settings.index.e5_backend)


def store_config(settings: Settings) -> StoreConfig:
    """The store the settings name: FAISS files in the index folder, or a Milvus collection per version."""
    m = settings.index.milvus
    i = settings.index
    if i.store == "faiss":
        return StoreConfig(faiss_index=i.faiss_index, nprobe=i.faiss_nprobe, ef=i.faiss_ef)
    return StoreConfig(engine="milvus", uri=m.uri, token=m.token.get_secret_value(), prefix=m.collection,
                       index_type=m.index_type, nlist=m.nlist, nprobe=m.nprobe)


def build(settings: Settings) -> Assistant:
    """Load the index and wire an :class:`~assistant.service.Assistant` from ``settings``.

    Raises:
        IndexNotBuilt, IndexMismatch, IndexCorrupted, BackendUnavailable.
    """
    offline_environment()
    embedder = settings_embedder(settings)
    index = load_index(settings.index.dir, embedder_identity=embedder.identity, store=store_config(settings))

    def reassemble(other: LoadedIndex, generator: GenerativeAnswerer | None) -> Pipeline:
        return assemble(settings, other, embedder, generator)

    return Assistant(settings, index, reassemble(index, generator_of(settings)), reassemble)


def generator_of(settings: Settings) -> GenerativeAnswerer | None:
    """The generate stage the settings name (None for ``llm.backend = none``)."""
    backend = make_backend(settings)
    if backend is None:
        return None
    g = settings.llm
    return GenerativeAnswerer(backend, passages=g.passages, passage_chars=g.passage_chars, max_tokens=g.max_tokens,
                              deadline_s=g.deadline_s, context=g.context)


def assemble(settings: Settings, index: LoadedIndex, embedder, generator: GenerativeAnswerer | None = None) -> Pipeline:
    """The pipeline over ``index``: its stages made from ``settings`` (the index's embedder already loaded)."""
    r, a = settings.retrieval, settings.answer
    retriever = HybridRetriever(index, embedder, mode=r.mode, candidates=r.candidates, rrf_k=r.rrf_k,
                                dense_weight=r.dense_weight, bm25_weight=r.bm25_weight, embed_chars=r.query_embed_chars,
                                top_k=r.top_k)
    parser = QueryParser(retriever.query_vector if retriever.mode != "bm25" else None)
    ranking = None
    if a.reader == "learned":
        from assistant.read.ranking import LearnedRanking

        ranking = LearnedRanking.load(a.reader_shortlist)
    elif a.reader == "span":
        from assistant.read.ranking import SpanRanking

        ranking = SpanRanking.load(a.span_shortlist)
    abstention = Abstention(min_confidence=a.min_confidence, dense_weight=a.dense_weight,
                            unknown_penalty=a.unknown_penalty, unsupported_penalty=a.unsupported_penalty,
                            min_dense_english=a.min_dense_english, ranker=ranking.ranker if ranking else None,
                            min_reader=a.min_reader, min_span_margin=a.min_span_margin if a.reader == "span" else None)
    lead = None
    if a.span_lead and a.reader != "span":
        from assistant.read.ranking import SpanRanking

        try:
            lead = SpanRanking.load(1)
        except BackendUnavailable as exc:  # the lead is a convenience: answers stay whole without it
            logging.getLogger(__name__).warning("Réponse exacte en tête désactivée : %s", exc)
    extractive = ExtractiveAnswerer(index, SentenceScorer(index, settings.index.embedder, a.rules), abstention, ranking,
                                    max_sentences=a.max_sentences, rules=a.rules, lead=lead,
                                    min_lead_margin=a.min_lead_margin)
    return Pipeline(parser, retriever, extractive, generator, mode=a.mode, top_k=r.top_k,
                    corroboration_pool=r.corroboration_pool, condense_followups=settings.llm.condense_followups,
                    condense_timeout=min(10.0, settings.llm.deadline_s))
