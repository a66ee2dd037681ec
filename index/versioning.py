"""An index on disk: the ``CURRENT`` pointer, its version folders and their manifests, checked and cleaned.

An index root holds ``CURRENT`` (which version serves) and ``versions/<version>/`` (manifest, passages, vectors,
stores). A version is written beside the current one, fsynced, then switched to by one atomic rename of the
pointer (:func:`index.build.build_index`); this module reads that layout and writes its durable parts.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from corpus.documents import Document
from corpus.errors import AssistantError, IndexCorrupted, IndexNotBuilt
from index.manifest import Manifest, sha256_file

CURRENT = "CURRENT"
VERSIONS = "versions"
CHUNKS_FILE = "chunks.jsonl"
SENTENCES_FILE = "sentences.npy"
BM25_PARAMS = {"k1": 1.2, "b": 0.75, "analyzer": "fr-snowball-accented-and-folded-v3"}


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


def current_manifest(index_dir: Path) -> Manifest | None:
    """The current version's manifest, or None when there is none or it cannot be read."""
    try:
        return read_manifest(current_version(index_dir))
    except AssistantError:
        return None


def checksums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != Manifest.FILE
    }


def fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
        fsync_dir(path)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cleanup(versions: Path, keep: str) -> None:
    """Remove leftovers of interrupted builds and versions older than the previous one.

    The previous version stays: a reader that read ``CURRENT`` just before the switch may still be
    opening its files.
    """
    finished = sorted(p.name for p in versions.iterdir() if not p.name.startswith("."))
    keep_names = {keep, *[name for name in finished if name < keep][-1:]}
    for path in versions.iterdir():
        if path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)
