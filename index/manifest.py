"""The manifest: what an index version was built from and with, plus checksums of its files."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = 1


@dataclass
class Manifest:
    """Describes one index version; persisted as ``manifest.json``.

    Attributes:
        embedder: ``{"backend", "id", "dimension"}``.
        chunker: ``{"max_chars", "overlap", "fingerprint"}``.
        bm25: BM25 parameters and analyser.
        store: ``{"engine": "faiss"}``, or ``{"engine": "milvus", "uri", "alias", "collection", "index_type"}``.
        documents: ``doc_id -> {"hash", "title", "kind", "chunks"}``.
        files: ``file name -> sha256`` of every file of the version.
    """

    version: str
    built_at: str
    build_seconds: float
    embedder: dict
    chunker: dict
    bm25: dict
    documents: dict[str, dict]
    counts: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    format: int = FORMAT
    build: dict = field(default_factory=dict)  # full or incremental, why, texts embedded and reused
    store: dict = field(default_factory=lambda: {"engine": "faiss"})  # engine, and for Milvus its uri and collection

    FILE = "manifest.json"

    def save(self, folder: Path) -> None:
        write_json(folder / self.FILE, asdict(self))

    @classmethod
    def load(cls, folder: Path) -> "Manifest":
        data = json.loads((folder / cls.FILE).read_text(encoding="utf-8"))
        return cls(**data)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data) -> None:
    """Write JSON durably: to a temporary file, fsynced, then renamed over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
