"""Building an index version from the corpus, switching to it atomically, and loading it back."""

from __future__ import annotations

import datetime as dt
import fcntl
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
from corpus.errors import AssistantError, CorpusError, IndexCorrupted, IndexMismatch, IndexNotBuilt
from index.chunking import Chunk, chunk_document, chunker_fingerprint
from index.manifest import Manifest, sha256_file, write_json
from index.stores import DenseStore, LexicalStore

CURRENT = "CURRENT"
VERSIONS = "versions"
CHUNKS_FILE = "chunks.jsonl"
SENTENCES_FILE = "sentences.npy"
BM25_PARAMS = {"k1": 1.2, "b": 0.75, "analyzer": "fr-snowball-accented-and-folded-v2"}
Progress = Callable[[str, int, int], None]


@dataclass
class LoadedIndex:
    """An index version in memory, ready to query."""

    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    dense: DenseStore
    lexical: LexicalStore
    sentence_vectors: np.ndarray


class BuildLocked(AssistantError):
    """Another build holds the lock."""


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
) -> Manifest:
    """Chunk, embed and index ``documents`` into a new version, then make it current.

    The version is written beside the current one and switched to with one atomic rename of
    the ``CURRENT`` pointer, so readers never see a half-written index.

    Args:
        index_dir: Root of the index (holds ``CURRENT`` and ``versions/``).
        documents: What to index.
        embedder: An embedder from :mod:`index.embedders`.
        backend: The embedder backend name, recorded in the manifest.
        chunk_chars, chunk_overlap: Chunker settings.
        problems: Corpus problems to record in the manifest.
        progress: Called as ``progress(stage, done, total)``.

    Returns:
        The manifest of the new current version.
    """
    progress = progress or (lambda *_: None)
    started = time.perf_counter()
    with build_lock(index_dir):
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
        vectors = _embed(embedder, texts, progress)
        chunk_vectors, sentence_vectors = vectors[: len(chunks)], vectors[len(chunks) :]
        dense = DenseStore.from_vectors(chunk_vectors)
        lexical = LexicalStore.from_texts([c.embedding_text() for c in chunks], BM25_PARAMS["k1"], BM25_PARAMS["b"])

        version = dt.datetime.now(dt.timezone.utc).strftime("v%Y%m%dT%H%M%S%fZ")
        versions = index_dir / VERSIONS
        staging = versions / f".{version}.partial"
        staging.mkdir(parents=True)
        dense.save(staging)
        lexical.save(staging)
        np.save(staging / SENTENCES_FILE, sentence_vectors, allow_pickle=False)
        with (staging / CHUNKS_FILE).open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        per_doc: dict[str, int] = {}
        for chunk in chunks:
            per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
        manifest = Manifest(
            version=version,
            built_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            build_seconds=0.0,
            embedder={"backend": backend, "id": embedder.identity, "dimension": int(dense.dimension)},
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
        )
        manifest.build_seconds = round(time.perf_counter() - started, 3)
        manifest.save(staging)
        _fsync_tree(staging)
        final = versions / version
        os.replace(staging, final)
        _fsync_dir(versions)
        write_json(index_dir / CURRENT, {"version": version})
        _fsync_dir(index_dir)
        _cleanup(versions, keep=version)
        return manifest


def _embed(embedder, texts: list[str], progress: Progress, batch: int = 32) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), batch):
        parts.append(embedder.encode_passages(texts[start : start + batch]))
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


def load_index(index_dir: Path, embedder_identity: str | None = None, verify: bool = True) -> LoadedIndex:
    """Load the current index version, checking its files and that it matches the embedder.

    Raises:
        IndexNotBuilt, IndexCorrupted, IndexMismatch: with a message telling how to rebuild.
    """
    folder = current_version(index_dir)
    rebuild = "Reconstruisez l'index : assistant index build"
    manifest = read_manifest(folder)
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
    if verify:
        for name, digest in manifest.files.items():
            path = folder / name
            if not path.is_file() or sha256_file(path) != digest:
                raise IndexCorrupted(f"Le fichier {name} de l'index est absent ou altéré. {rebuild}")
    try:
        with (folder / CHUNKS_FILE).open(encoding="utf-8") as handle:
            chunks = [Chunk.from_json(json.loads(line)) for line in handle]
        dense = DenseStore.load(folder)
        lexical = LexicalStore.load(folder)
        sentence_vectors = np.load(folder / SENTENCES_FILE, allow_pickle=False)
    except Exception as exc:  # any unreadable file means the same thing to the user
        raise IndexCorrupted(f"Index illisible dans {folder} ({exc}). {rebuild}") from exc
    if len(dense) != len(chunks) or len(lexical) != len(chunks):
        raise IndexCorrupted(f"Index incohérent dans {folder} (nombres de passages différents). {rebuild}")
    return LoadedIndex(folder, manifest, chunks, dense, lexical, sentence_vectors)
