"""An index version in memory: where its stores are (:class:`StoreConfig`), loading and checking it
(:func:`load_index`), and whether its Milvus collection can serve (:func:`milvus_problem`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.errors import AssistantError, FileInUse, IndexCorrupted, IndexMismatch
from index.chunking import Chunk
from index.manifest import Manifest
from index.milvus_collection import open_collection
from index.milvus_connection import client, is_local
from index.milvus_store import MilvusDense, MilvusLexical, TermStatistics
from index.stores import DenseStore, LexicalStore
from index.versioning import BM25_PARAMS, CHUNKS_FILE, SENTENCES_FILE, current_version, damaged_files, read_manifest


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
    dense: DenseStore | MilvusDense
    lexical: LexicalStore | MilvusLexical
    sentence_vectors: np.ndarray


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
    if is_local(uri) and not Path(uri).is_file():  # opening it would create an empty file
        return (f"le fichier Milvus Lite {uri} a disparu — reconstruisez l'index : assistant index build",
                f"fichier {uri} absent")
    try:
        milvus = client(uri, store.token if same else "")
        open_collection(milvus, name, rows, uri)
    except FileInUse as exc:
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
            terms = TermStatistics.load(folder)
        sentence_vectors = np.load(folder / SENTENCES_FILE, allow_pickle=False)
    except Exception as exc:  # any unreadable file means the same thing to the user
        raise IndexCorrupted(f"Index illisible dans {folder} ({exc}). {rebuild}") from exc
    if engine == "milvus":
        uri = store.uri if store is not None else manifest.store["uri"]
        if is_local(uri) and not Path(uri).is_file():  # Milvus Lite would create an empty one
            raise IndexCorrupted(f"Le fichier Milvus Lite {uri} a disparu. {rebuild}")
        milvus = client(uri, store.token if store is not None else "")
        name = manifest.store["collection"]
        open_collection(milvus, name, len(chunks), uri)
        dense = MilvusDense(milvus, name, len(chunks), int(manifest.embedder["dimension"]),
                            nprobe=store.nprobe if store is not None else 32)
        lexical = MilvusLexical(milvus, name, terms)
    if len(dense) != len(chunks) or len(lexical) != len(chunks):
        raise IndexCorrupted(f"Index incohérent dans {folder} (nombres de passages différents). {rebuild}")
    return LoadedIndex(folder, manifest, chunks, dense, lexical, sentence_vectors)
