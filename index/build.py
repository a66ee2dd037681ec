"""Building an index version from the corpus and switching to it atomically.

The rest of the index's life is beside it: the on-disk layout in :mod:`index.versioning`, the incremental plan in
:mod:`index.build_plan`, loading in :mod:`index.loading`. Their public names are re-exported here, where the
assistant, the benchmarks and the tests import them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from corpus.documents import Document, Problem
from corpus.errors import AssistantError, BackendUnavailable, BuildLocked, BuildTooLarge  # noqa: F401
from index.build_plan import Progress, prepare_build
from index.chunking import chunker_fingerprint
from index.loading import FAISS, LoadedIndex, StoreConfig, load_index, milvus_problem  # noqa: F401
from index.manifest import Manifest, write_json
from index.milvus_collection import collection_name, drop_older, move_alias, write_collection
from index.milvus_connection import client, ensure_held, is_local
from index.milvus_store import TermStatistics
from index.stores import DenseStore, LexicalStore
from index.versioning import (BM25_PARAMS, CHUNKS_FILE, CURRENT, SENTENCES_FILE, VERSIONS, checksums,  # noqa: F401
                            cleanup, corpus_changes, current_manifest, current_version, damaged_files,
                            fsync_dir, fsync_tree, read_manifest)

log = logging.getLogger(__name__)

# A conservative embedding rate on the 2-core machine, to tell how long a big build will take (docs/performance.md
# measures 50-70 texts/s for e5-torch): an estimate for the user, never a limit.
EXPECTED_TEXTS_PER_SECOND = 40


@contextmanager
def build_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / "build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildLocked(f"Une construction de l'index est déjà en cours dans {index_dir}.") from exc
        yield


def build_index(
    index_dir: Path,
    documents: list[Document],
    embedder,
    *,
    backend: str,
    chunk_chars: int = 700,
    chunk_overlap: int = 1,
    problems: list[Problem] | None = None,
    progress: Progress | None = None,
    full: bool = False,
    max_texts: int | None = None,
    store: StoreConfig = FAISS,
) -> Manifest:
    """Index ``documents`` into a new version, embedding only texts the current version lacks, then make it current.

    The version is written beside the current one (files fsynced) and switched to with one atomic
    rename of the ``CURRENT`` pointer, so readers never see a half-written index and a build killed
    at any point leaves the previous version in service.

    Args:
        index_dir: Root of the index (holds ``CURRENT`` and ``versions/``).
        documents: What to index.
        embedder: An embedder from :mod:`index.embedders`.
        backend: The embedder backend name, recorded in the manifest.
        chunk_chars, chunk_overlap: Chunker settings.
        problems: Corpus problems to record in the manifest.
        progress: Called as ``progress(stage, done, total)``.
        full: Re-embed everything, even texts the current version holds.
        max_texts: Refuse (``BuildTooLarge``, nothing written) when more texts than this need a vector; None
            means no limit (the user confirmed).
        store: Where the dense vectors and BM25 go. With Milvus, the version's collection is written and
            loaded before ``CURRENT`` moves, then the alias follows; the previous collection is kept.

    Returns:
        The manifest of the new current version; ``manifest.build`` tells what was reused.
    """
    progress = progress or (lambda *_: None)
    started = time.perf_counter()
    with build_lock(index_dir):
        # Milvus first: a file another process holds, a server that does not answer, or an index type the engine
        # refuses stops the build before anything is embedded
        milvus = None
        if store.engine == "milvus":
            if store.index_type == "HNSW" and is_local(store.uri):
                raise BackendUnavailable("Milvus Lite n'accepte pas l'index HNSW : choisissez FLAT, IVF_FLAT ou "
                                         "AUTOINDEX (index.milvus.index_type), ou un serveur Milvus.")
            milvus = client(store.uri, store.token)
        prepared = prepare_build(index_dir, documents, embedder_id=embedder.identity, chunk_chars=chunk_chars,
                                 chunk_overlap=chunk_overlap, full=full, progress=progress, store=store)
        chunks, sentence_texts, texts = prepared.chunks, prepared.sentence_texts, prepared.texts
        keys, cache = prepared.keys, prepared.cache
        missing = list(dict.fromkeys(k for k in keys if k not in cache))
        if max_texts is not None and len(missing) > max_texts:
            minutes = len(missing) / EXPECTED_TEXTS_PER_SECOND / 60
            raise BuildTooLarge(
                f"{len(missing)} textes à vectoriser, environ {minutes:.0f} min sur ce processeur "
                f"(~{EXPECTED_TEXTS_PER_SECOND} textes/s), au-delà de limits.build_texts = {max_texts}. "
                "Rien n'a été écrit ; relancez avec --yes pour confirmer, ou relevez la limite.")
        by_key = {k: t for k, t in zip(keys, texts)}
        embed_started = time.perf_counter()
        fresh = _embed(embedder, [by_key[k] for k in missing], progress)
        embed_seconds = time.perf_counter() - embed_started
        cache.update(zip(missing, fresh))
        vectors = np.stack([cache[k] for k in keys]).astype(np.float32)
        chunk_vectors, sentence_vectors = vectors[: len(chunks)], vectors[len(chunks) :]
        chunk_texts = [c.embedding_text() for c in chunks]

        version = dt.datetime.now(dt.timezone.utc).strftime("v%Y%m%dT%H%M%S%fZ")
        versions = index_dir / VERSIONS
        staging = versions / f".{version}.partial"
        store_record = store.describe()
        staging.mkdir(parents=True)
        if milvus is not None:
            collection = collection_name(store.prefix, version)
            ensure_held(store.uri)  # the embedding took minutes: still the only writer of a Lite file?
            progress("écriture dans Milvus", 0, 1)
            write_collection(milvus, collection, chunk_texts, chunk_vectors, local=is_local(store.uri),
                             index_type=store.index_type, nlist=store.nlist)
            TermStatistics.from_texts(chunk_texts).save(staging)
            store_record["collection"] = collection
        else:
            DenseStore.from_vectors(chunk_vectors, store.faiss_index).save(staging)
            LexicalStore.from_texts(chunk_texts, BM25_PARAMS["k1"], BM25_PARAMS["b"]).save(staging)
        np.save(staging / SENTENCES_FILE, sentence_vectors, allow_pickle=False)
        with (staging / CHUNKS_FILE).open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        per_doc: dict[str, int] = {}
        for chunk in chunks:
            per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
        plan = prepared.plan
        manifest = Manifest(
            version=version,
            built_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            build_seconds=0.0,
            embedder={"backend": backend, "id": embedder.identity, "dimension": int(chunk_vectors.shape[1])},
            chunker={"max_chars": chunk_chars, "overlap": chunk_overlap,
                     "fingerprint": chunker_fingerprint(chunk_chars, chunk_overlap)},
            bm25=dict(BM25_PARAMS),
            documents={d.doc_id: {"hash": d.content_hash, "title": d.title, "kind": d.kind,
                                  "chunks": per_doc.get(d.doc_id, 0)} for d in documents},
            counts={"documents": sum(d.kind == "document" for d in documents),
                    "records": sum(d.kind == "record" for d in documents),
                    "chunks": len(chunks), "sentences": len(sentence_texts)},
            files=checksums(staging),
            problems=[str(p) for p in problems or []],
            build={"full": plan.full, "reason": plan.reason, "added": len(plan.added), "changed": len(plan.changed),
                   "removed": len(plan.removed), "embedded": len(missing), "reused": len(set(keys)) - len(missing),
                   "embed_seconds": round(embed_seconds, 3),
                   "passages_per_second": round(len(missing) / embed_seconds, 2) if missing and embed_seconds else None},
            store=store_record,
        )
        manifest.build_seconds = round(time.perf_counter() - started, 3)
        manifest.save(staging)
        fsync_tree(staging)
        if milvus is not None:  # and again before the version is finished: readers will follow CURRENT to it
            ensure_held(store.uri)
        final = versions / version
        os.replace(staging, final)
        fsync_dir(versions)
        previous = current_manifest(index_dir)
        write_json(index_dir / CURRENT, {"version": version})
        fsync_dir(index_dir)
        cleanup(versions, keep=version)
        if milvus is not None:
            _after_switch(milvus, store, collection, manifest, final, previous)
        return manifest


def _after_switch(milvus, store: StoreConfig, collection: str, manifest: Manifest, final: Path,
                  previous: Manifest | None) -> None:
    """Move the alias and drop old collections. The new version already serves: a failure here is logged and
    said in the manifest (``alias_moved: false``), never a failed build."""
    keep = {collection, *([previous.store["collection"]] if previous and "collection" in previous.store else [])}
    try:
        # after CURRENT, so that the alias never names a collection whose version is not yet current
        manifest.store["alias_moved"] = move_alias(milvus, store.prefix, collection)
    except AssistantError as exc:
        log.warning("alias %s non déplacé vers %s : %s", store.prefix, collection, exc)
        manifest.store["alias_moved"] = False
    try:
        manifest.save(final)  # the manifest is outside its own checksums: said once the alias has moved
        drop_older(milvus, store.prefix, keep)
    except (AssistantError, OSError) as exc:
        log.warning("après la bascule vers %s, nettoyage incomplet : %s", collection, exc)


def _embed(embedder, texts: list[str], progress: Progress, batch: int = 32) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), batch):
        part = texts[start : start + batch]  # llama-index's batch hook, as any llama-index pipeline calls it
        parts.append(np.asarray(embedder.get_text_embedding_batch(part), dtype=np.float32).reshape(len(part), -1))
        progress("vectorisation", min(start + batch, len(texts)), len(texts))
    dim = parts[0].shape[1] if parts else embedder.dimension
    return np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
