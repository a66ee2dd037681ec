"""Planning an incremental build: chunk the corpus, then find which texts already have a vector in the current
version (matched by the exact text the embedder sees) and which documents are new, changed or gone."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from corpus.documents import Document
from corpus.errors import AssistantError, BackendUnavailable, CorpusError, IndexNotBuilt
from index.chunking import Chunk, chunk_document, chunker_fingerprint
from index.loading import FAISS, StoreConfig, load_index
from index.manifest import FORMAT, Manifest
from index.versioning import BM25_PARAMS, corpus_changes, current_manifest

Progress = Callable[[str, int, int], None]


def sentence_embedding_text(chunk: Chunk, sentence: str) -> str:
    return f"{chunk.section or chunk.title} — {sentence}"


@dataclass
class BuildPlan:
    """What a build will do: which documents are new, changed or gone, and how many texts to embed.

    Passages are matched by the exact text the embedder sees, so an unchanged passage keeps its vector
    even when its document changed elsewhere, moved or was renamed.
    """

    full: bool
    reason: str  # why a full build, or « incrémental »
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    to_embed: int
    reused: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Prepared:
    chunks: list[Chunk]
    sentence_texts: list[str]
    texts: list[str]  # chunk embedding texts, then sentence embedding texts
    keys: list[str]  # their hashes, the cache's keys
    cache: dict[str, np.ndarray]
    plan: BuildPlan


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _settings_mismatch(manifest: Manifest, embedder_id: str, chunk_chars: int, chunk_overlap: int) -> str | None:
    if manifest.format != FORMAT:
        return f"format d'index {manifest.format} → {FORMAT}"
    if manifest.embedder.get("id") != embedder_id:
        return f"embedder changé ({manifest.embedder.get('id')} → {embedder_id})"
    if manifest.chunker.get("fingerprint") != chunker_fingerprint(chunk_chars, chunk_overlap):
        return (f"découpage changé ({manifest.chunker.get('max_chars')}/{manifest.chunker.get('overlap')} → "
                f"{chunk_chars}/{chunk_overlap})")
    if manifest.bm25 != BM25_PARAMS:
        return "paramètres BM25 ou analyseur changés"
    return None


def _vector_cache(index_dir: Path, embedder_id: str, chunk_chars: int, chunk_overlap: int, store: StoreConfig,
                  ) -> tuple[dict[str, np.ndarray], Manifest | None, str | None]:
    """Vectors of the current version by embedded text, or why they cannot be reused.

    The vectors are read from whichever engine holds them, so changing ``index.store`` re-embeds nothing."""
    current = current_manifest(index_dir)
    same_engine = current is not None and current.store.get("engine", "faiss") == store.engine
    try:
        old = load_index(index_dir, store=store if same_engine else None)
    except IndexNotBuilt:
        return {}, None, "pas encore d'index"
    except BackendUnavailable as exc:  # the vectors exist but their engine does not answer
        raise BackendUnavailable(f"{exc} Les vecteurs de la version en service y sont : réessayez quand il répond, "
                                 "ou revectorisez tout avec --full.") from exc
    except AssistantError as exc:
        return {}, None, f"index actuel inutilisable ({str(exc).split('. ')[0]})"
    reason = _settings_mismatch(old.manifest, embedder_id, chunk_chars, chunk_overlap)
    if reason:
        return {}, old.manifest, reason
    cache = {}
    chunk_vectors = old.dense.vectors()
    for chunk, vector in zip(old.chunks, chunk_vectors):
        cache[_text_key(chunk.embedding_text())] = vector
        for (a, b), row in zip(chunk.sentences, chunk.sentence_rows):
            cache[_text_key(sentence_embedding_text(chunk, chunk.text[a:b]))] = old.sentence_vectors[row]
    return cache, old.manifest, None


def prepare_build(index_dir: Path, documents: list[Document], *, embedder_id: str, chunk_chars: int = 700,
                  chunk_overlap: int = 1, full: bool = False, progress: Progress | None = None,
                  store: StoreConfig = FAISS) -> Prepared:
    """Chunk the corpus and find which texts already have a vector in the current version."""
    progress = progress or (lambda *_: None)
    chunks: list[Chunk] = []
    for i, doc in enumerate(documents, 1):
        chunks.extend(chunk_document(doc, chunk_chars, chunk_overlap))
        progress("découpage", i, len(documents))
    if not chunks:
        raise CorpusError("Aucun passage à indexer : les documents du corpus n'ont aucun texte après leur titre.")
    sentence_rows: dict[tuple[str, int, int], int] = {}
    sentence_texts: list[str] = []
    for chunk in chunks:
        rows = []
        for a, b in chunk.sentences:
            key = (chunk.doc_id, chunk.start + a, chunk.start + b)
            if key not in sentence_rows:
                sentence_rows[key] = len(sentence_texts)
                sentence_texts.append(sentence_embedding_text(chunk, chunk.text[a:b]))
            rows.append(sentence_rows[key])
        chunk.sentence_rows = rows
    texts = [c.embedding_text() for c in chunks] + sentence_texts
    if full:
        cache, manifest, reason = {}, current_manifest(index_dir), "reconstruction complète demandée (--full)"
    else:
        cache, manifest, reason = _vector_cache(index_dir, embedder_id, chunk_chars, chunk_overlap, store)
    changes = corpus_changes(manifest, documents) if manifest else {
        "added": sorted(d.doc_id for d in documents), "changed": [], "removed": []}
    keys = [_text_key(t) for t in texts]
    distinct = set(keys)
    reused = sum(1 for k in distinct if k in cache)
    plan = BuildPlan(full=reason is not None, reason=reason or "incrémental", added=changes["added"],
                     changed=changes["changed"], removed=changes["removed"],
                     unchanged=len(documents) - len(changes["added"]) - len(changes["changed"]),
                     to_embed=len(distinct) - reused, reused=reused)
    return Prepared(chunks, sentence_texts, texts, keys, cache, plan)
