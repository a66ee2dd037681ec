"""One place builds everything: :func:`build` wires index, embedder, retriever and answerer."""

from __future__ import annotations

import os
import time
import unicodedata
from dataclasses import dataclass

from assistant.answer import Answer
from assistant.extractive import ExtractiveAnswerer
from assistant.followup import condense
from assistant.lexicon import expand
from assistant.retrieval import HybridRetriever
from assistant.settings import Settings
from corpus.errors import InvalidQuestion
from index.build import LoadedIndex, load_index
from index.embedders import make_embedder




def offline_environment() -> None:
    """Nothing is downloaded at run time: model hubs are off unless the user says otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass
class Assistant:
    """Answers questions over a loaded index."""

    settings: Settings
    index: LoadedIndex
    retriever: HybridRetriever
    answerer: ExtractiveAnswerer

    def ask(self, question: str, history: list[str] | None = None) -> Answer:
        """Answer one question, optionally as a follow-up of earlier user questions.

        Raises:
            InvalidQuestion: empty, too long, or not text.
        """
        question = self.check_question(question)
        started = time.perf_counter()
        query = condense(question, history)
        expansion = expand(question)
        if expansion:
            query = f"{query} {expansion}"
        vector = self.retriever.query_vector(query) if self.retriever.mode != "bm25" else None
        top_k = self.settings.retrieval.top_k
        hits = self.retriever.retrieve(query, top_k + self.settings.retrieval.corroboration_pool, query_vector=vector)
        retrieved = time.perf_counter()
        answer = self.answerer.answer(question, query, hits[:top_k], vector, extra_hits=hits[top_k:])
        done = time.perf_counter()
        answer.retrieval_query = query
        answer.retrieved = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        answer.timings_ms = {
            "retrieve": round((retrieved - started) * 1000, 2),
            "answer": round((done - retrieved) * 1000, 2),
            "total": round((done - started) * 1000, 2),
        }
        return answer

    def check_question(self, question) -> str:
        if not isinstance(question, str):
            raise InvalidQuestion("La question doit être du texte.")
        try:
            question.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidQuestion("La question contient des octets qui ne sont pas du texte UTF-8 valide.") from None
        # control and invisible format characters (zero-width spaces…) carry no meaning
        question = "".join(c for c in question if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf"))
        question = question.strip()
        if not question:
            raise InvalidQuestion("La question est vide : posez une question, par exemple « Quel est le budget du PEPR IA ? »")
        limit = self.settings.answer.max_question_chars
        if len(question) > limit:
            raise InvalidQuestion(
                f"La question est trop longue ({len(question)} caractères, maximum {limit}) : raccourcissez-la."
            )
        return question


def build(settings: Settings) -> Assistant:
    """Load the index and wire an :class:`Assistant` from ``settings``.

    Raises:
        IndexNotBuilt, IndexMismatch, IndexCorrupted, BackendUnavailable.
    """
    offline_environment()
    embedder = make_embedder(settings.index.embedder, settings.index.st_model)
    index = load_index(settings.index.dir, embedder_identity=embedder.identity)
    r = settings.retrieval
    retriever = HybridRetriever(index, embedder, mode=r.mode, candidates=r.candidates, rrf_k=r.rrf_k,
                                dense_weight=r.dense_weight, bm25_weight=r.bm25_weight)
    a = settings.answer
    answerer = ExtractiveAnswerer(index, settings.index.embedder, max_sentences=a.max_sentences,
                                  min_confidence=a.min_confidence, dense_weight=a.dense_weight,
                                  unknown_penalty=a.unknown_penalty, min_dense_english=a.min_dense_english)
    return Assistant(settings, index, retriever, answerer)


def build_index_from_settings(settings: Settings, progress=None):
    """Load the corpus and build a new index version as the settings describe."""
    from corpus.load import load_corpus
    from index.build import build_index

    offline_environment()
    documents, problems = load_corpus(settings.corpus.sources_dir, settings.corpus.programme_dir)
    embedder = make_embedder(settings.index.embedder, settings.index.st_model)
    manifest = build_index(
        settings.index.dir, documents, embedder, backend=settings.index.embedder,
        chunk_chars=settings.index.chunk_chars, chunk_overlap=settings.index.chunk_overlap,
        problems=problems, progress=progress,
    )
    return manifest, problems
