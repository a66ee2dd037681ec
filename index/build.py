"""Building an index version from the corpus, switching to it atomically, and loading it back."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import logging
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from corpus.documents import Document, Problem
from corpus.errors import (AssistantError, BackendUnavailable, CorpusError, IndexCorrupted, IndexMismatch,
                           IndexNotBuilt)
from index.chunking import Chunk, chunk_document, chunker_fingerprint
from index.manifest import FORMAT, Manifest, sha256_file, write_json
from index.stores import DenseStore, LexicalStore
from index import milvus_store

log = logging.getLogger(__name__)
CURRENT = "CURRENT"
VERSIONS = "versions"
CHUNKS_FILE = "chunks.jsonl"
SENTENCES_FILE = "sentences.npy"
BM25_PARAMS = {"k1": 1.2, "b": 0.75, "analyzer": "fr-snowball-accented-and-folded-v3"}
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class StoreConfig:
    """Where a version's dense vectors and BM25 live: ``faiss`` (files of the version folder, the default) or
    ``milvus`` (a collection per version in Milvus at ``uri``: a local file for Milvus Lite, or a server URL)."""

    engine: str = "faiss"
    faiss_index: str = "flat"  # flat (exact), ivf or hnsw: see index.stores.DenseStore
    ef: int = 64
    uri: str = ""
    token: str = ""
    prefix: str = "cnrs_ia"
    index_type: str = "FLAT"
    nlist: int = 1024
    nprobe: int = 32

    def describe(self) -> dict:
        """What the manifest records (never the token)."""
        if self.engine == "faiss":
            return {"engine": "faiss", "faiss_index": self.faiss_index}
        return {"engine": "milvus", "uri": self.uri, "alias": self.prefix, "index_type": self.index_type}


FAISS = StoreConfig()


@dataclass
class LoadedIndex:
    """An index version in memory, ready to query: the passages, and the two searches of its store
    (``dense.search(vector, k)`` and ``lexical.search(text, k)``, each giving ``(row, score)`` best first)."""

    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    dense: DenseStore | milvus_store.MilvusDense
    lexical: LexicalStore | milvus_store.MilvusLexical
    sentence_vectors: np.ndarray


class BuildLocked(AssistantError):
    """Another build holds the lock."""


class BuildTooLarge(AssistantError):
    """More texts to embed than the settings allow without confirmation."""


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
class _Prepared:
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
    current = _current_manifest(index_dir)
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
                  store: StoreConfig = FAISS) -> _Prepared:
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
        cache, manifest, reason = {}, _current_manifest(index_dir), "reconstruction complète demandée (--full)"
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
    return _Prepared(chunks, sentence_texts, texts, keys, cache, plan)


def _current_manifest(index_dir: Path) -> Manifest | None:
    try:
        return read_manifest(current_version(index_dir))
    except AssistantError:
        return None


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
            if store.index_type == "HNSW" and milvus_store.is_local(store.uri):
                raise BackendUnavailable("Milvus Lite n'accepte pas l'index HNSW : choisissez FLAT, IVF_FLAT ou "
                                         "AUTOINDEX (index.milvus.index_type), ou un serveur Milvus.")
            milvus = milvus_store.client(store.uri, store.token)
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
            collection = milvus_store.collection_name(store.prefix, version)
            milvus_store.ensure_held(store.uri)  # the embedding took minutes: still the only writer of a Lite file?
            progress("écriture dans Milvus", 0, 1)
            milvus_store.write_collection(milvus, collection, chunk_texts, chunk_vectors,
                                          local=milvus_store.is_local(store.uri), index_type=store.index_type,
                                          nlist=store.nlist)
            milvus_store.TermStatistics.from_texts(chunk_texts).save(staging)
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
            files=_checksums(staging),
            problems=[str(p) for p in problems or []],
            build={"full": plan.full, "reason": plan.reason, "added": len(plan.added), "changed": len(plan.changed),
                   "removed": len(plan.removed), "embedded": len(missing), "reused": len(set(keys)) - len(missing),
                   "embed_seconds": round(embed_seconds, 3),
                   "passages_per_second": round(len(missing) / embed_seconds, 2) if missing and embed_seconds else None},
            store=store_record,
        )
        manifest.build_seconds = round(time.perf_counter() - started, 3)
        manifest.save(staging)
        _fsync_tree(staging)
        if milvus is not None:  # and again before the version is finished: readers will follow CURRENT to it
            milvus_store.ensure_held(store.uri)
        final = versions / version
        os.replace(staging, final)
        _fsync_dir(versions)
        previous = _current_manifest(index_dir)
        write_json(index_dir / CURRENT, {"version": version})
        _fsync_dir(index_dir)
        _cleanup(versions, keep=version)
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
        manifest.store["alias_moved"] = milvus_store.move_alias(milvus, store.prefix, collection)
    except AssistantError as exc:
        log.warning("alias %s non déplacé vers %s : %s", store.prefix, collection, exc)
        manifest.store["alias_moved"] = False
    try:
        manifest.save(final)  # the manifest is outside its own checksums: said once the alias has moved
        milvus_store.drop_older(milvus, store.prefix, keep)
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


def _checksums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != Manifest.FILE
    }


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
        _fsync_dir(path)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cleanup(versions: Path, keep: str) -> None:
    """Remove leftovers of interrupted builds and versions older than the previous one.

    The previous version stays: a reader that read ``CURRENT`` just before the switch may still be
    opening its files.
    """
    finished = sorted(p.name for p in versions.iterdir() if not p.name.startswith("."))
    keep_names = {keep, *[name for name in finished if name < keep][-1:]}
    for path in versions.iterdir():
        if path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)


def current_version(index_dir: Path) -> Path:
    """Folder of the current version.

    Raises:
        IndexNotBuilt: there is no current version.
    """
    pointer = index_dir / CURRENT
    try:
        version = json.loads(pointer.read_text(encoding="utf-8"))["version"]
    except FileNotFoundError as exc:
        raise IndexNotBuilt(index_dir) from exc
    except NotADirectoryError as exc:
        raise IndexNotBuilt(index_dir) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupted(
            f"Le pointeur {pointer} est illisible ({exc}). Reconstruisez l'index : assistant index build"
        ) from exc
    if not isinstance(version, str) or "/" in version or version.startswith("."):
        raise IndexCorrupted(f"Le pointeur {pointer} est invalide. Reconstruisez l'index : assistant index build")
    folder = index_dir / VERSIONS / version
    if not folder.is_dir():
        raise IndexCorrupted(
            f"La version {version} de l'index a disparu. Reconstruisez l'index : assistant index build"
        )
    return folder


def read_manifest(folder: Path) -> Manifest:
    """The manifest of an index version.

    Raises:
        IndexCorrupted: missing or unreadable.
    """
    try:
        return Manifest.load(folder)
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorrupted(
            f"Manifeste illisible dans {folder} ({exc}). Reconstruisez l'index : assistant index build"
        ) from exc


def corpus_changes(manifest: Manifest, documents: list[Document]) -> dict[str, list[str]]:
    """What differs between the indexed corpus and ``documents``: added, changed and removed ids."""
    indexed = {doc_id: info["hash"] for doc_id, info in manifest.documents.items()}
    current = {d.doc_id: d.content_hash for d in documents}
    return {
        "added": sorted(set(current) - set(indexed)),
        "changed": sorted(d for d in set(current) & set(indexed) if current[d] != indexed[d]),
        "removed": sorted(set(indexed) - set(current)),
    }


def damaged_files(folder: Path, manifest: Manifest) -> list[str]:
    """The files of an index version that are missing or do not match their checksum in the manifest."""
    return [name for name, digest in manifest.files.items()
            if not (folder / name).is_file() or sha256_file(folder / name) != digest]


def milvus_problem(manifest: Manifest, store: StoreConfig | None = None) -> tuple[str | None, str]:
    """For a version kept in Milvus, whether its collection can serve: the checksums of the version folder do not
    cover what Milvus holds, so ``index status`` asks the engine (the Lite file exists, the collection loads and
    holds the version's passages).

    ``store`` is the engine the settings ask for (its uri replaces the recorded one, as in :func:`load_index`).

    Returns:
        ``(problem, checked)``: the one-line problem (None when the collection serves), and what was checked, in
        words (« collection vérifiée », or why it could not be: a Lite file another process holds is in service
        there, not damaged).
    """
    if manifest.store.get("engine") != "milvus":
        return None, ""
    same = store is not None and store.engine == "milvus"
    uri = store.uri if same else manifest.store.get("uri", "")
    name, rows = manifest.store.get("collection", ""), int(manifest.counts.get("chunks", 0))
    if milvus_store.is_local(uri) and not Path(uri).is_file():  # opening it would create an empty file
        return (f"le fichier Milvus Lite {uri} a disparu — reconstruisez l'index : assistant index build",
                f"fichier {uri} absent")
    try:
        milvus = milvus_store.client(uri, store.token if same else "")
        milvus_store.open_collection(milvus, name, rows, uri)
    except milvus_store.FileInUse as exc:
        return None, f"collection non vérifiée : {exc.who} a ouvert le fichier et s'en sert"
    except AssistantError as exc:
        return str(exc), f"collection {name} illisible"
    return None, f"collection {name} vérifiée ({rows} passages)"


def load_index(index_dir: Path, embedder_identity: str | None = None, verify: bool = True,
               store: StoreConfig | None = None) -> LoadedIndex:
    """Load the current index version, checking its files and that it matches the embedder and the store.

    ``store`` is the engine the settings ask for (its Milvus uri replaces the one the build recorded, so a
    replica can reach the same cluster by another address); None takes the engine the version was built for.

    Raises:
        IndexNotBuilt, IndexCorrupted, IndexMismatch: with a message telling how to rebuild.
        BackendUnavailable: Milvus cannot be reached.
    """
    folder = current_version(index_dir)
    rebuild = "Reconstruisez l'index : assistant index build"
    manifest = read_manifest(folder)
    engine = manifest.store.get("engine", "faiss")
    if engine not in ("faiss", "milvus"):
        raise IndexCorrupted(f"Moteur d'index inconnu « {engine} » dans {folder}. {rebuild}")
    if store is not None and store.engine != engine:
        raise IndexMismatch(f"L'index actuel est rangé dans {engine} mais le réglage index.store demande "
                            f"{store.engine}. {rebuild} (les vecteurs déjà calculés sont repris).")
    if embedder_identity and manifest.embedder.get("id") != embedder_identity:
        raise IndexMismatch(
            f"L'index a été construit avec {manifest.embedder.get('id')!r} mais l'embedder configuré est "
            f"{embedder_identity!r}. {rebuild} (ou changez le réglage index.embedder)."
        )
    if manifest.bm25.get("analyzer") != BM25_PARAMS["analyzer"]:
        raise IndexMismatch(
            f"L'index a été construit avec l'analyseur lexical {manifest.bm25.get('analyzer')!r}, "
            f"cette version utilise {BM25_PARAMS['analyzer']!r}. {rebuild}"
        )
    if verify and (damaged := damaged_files(folder, manifest)):
        raise IndexCorrupted(f"Le fichier {damaged[0]} de l'index est absent ou altéré. {rebuild}")
    try:
        with (folder / CHUNKS_FILE).open(encoding="utf-8") as handle:
            chunks = [Chunk.from_json(json.loads(line)) for line in handle]
        if engine == "faiss":
            tuning = {"nprobe": store.nprobe, "ef": store.ef} if store is not None else {}
            dense, lexical = DenseStore.load(folder, **tuning), LexicalStore.load(folder)
        else:
            terms = milvus_store.TermStatistics.load(folder)
        sentence_vectors = np.load(folder / SENTENCES_FILE, allow_pickle=False)
    except Exception as exc:  # any unreadable file means the same thing to the user
        raise IndexCorrupted(f"Index illisible dans {folder} ({exc}). {rebuild}") from exc
    if engine == "milvus":
        uri = store.uri if store is not None else manifest.store["uri"]
        if milvus_store.is_local(uri) and not Path(uri).is_file():  # Milvus Lite would create an empty one
            raise IndexCorrupted(f"Le fichier Milvus Lite {uri} a disparu. {rebuild}")
        milvus = milvus_store.client(uri, store.token if store is not None else "")
        name = manifest.store["collection"]
        milvus_store.open_collection(milvus, name, len(chunks), uri)
        dense = milvus_store.MilvusDense(milvus, name, len(chunks), int(manifest.embedder["dimension"]),
                                         nprobe=store.nprobe if store is not None else 32)
        lexical = milvus_store.MilvusLexical(milvus, name, terms)
    if len(dense) != len(chunks) or len(lexical) != len(chunks):
        raise IndexCorrupted(f"Index incohérent dans {folder} (nombres de passages différents). {rebuild}")
    return LoadedIndex(folder, manifest, chunks, dense, lexical, sentence_vectors)
