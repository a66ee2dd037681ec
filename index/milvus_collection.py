"""A Milvus collection per index version: its schema and French BM25 analyzer, writing it, checking it on load,
the alias that follows the current version, and dropping old versions' collections.

Each build writes a new collection ``<prefix>_<version>`` holding, per passage, its row number, its embedded text
(analysed by Milvus with the French analyzer below, for BM25) and its dense vector, then moves the alias
``<prefix>`` to it. Milvus Lite 2.5.1 does not implement aliases (its gRPC answers UNIMPLEMENTED): there the
version folder's pointer is the only switch, and the manifest says the alias was not moved.
"""

from __future__ import annotations

import re

import numpy as np

from corpus.errors import BackendUnavailable, IndexCorrupted
from index.milvus_connection import _quiet, _reason, is_local
from index.text import STOP_WORDS, fold

# Milvus folds accents before the stop filter, so the stop words are given folded; hyphenated entries
# (« est-ce ») are split by the tokenizer and their parts are already in the list. The built-in « _french_ »
# list is not recognised by Milvus 2.5's stop filter.
STOP_LIST = sorted({fold(w) for w in STOP_WORDS if "-" not in w})
ANALYZER = {"tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", {"type": "stop", "stop_words": STOP_LIST},
                       {"type": "stemmer", "language": "french"}]}
INDEX_TYPES = ("FLAT", "IVF_FLAT", "AUTOINDEX", "HNSW")
TEXT_CHARS = 16_000  # Milvus VARCHAR fields are bounded in bytes (65 535); a passage is far shorter
INSERT_BATCH = 1000


def collection_name(prefix: str, version: str) -> str:
    return f"{prefix}_{version}"


def write_collection(milvus, name: str, texts: list[str], vectors: np.ndarray, *, local: bool,
                     index_type: str = "FLAT", nlist: int = 1024, hnsw_m: int = 16) -> None:
    """Create collection ``name`` with one row per passage (row number, text for BM25, dense vector) and load it.

    Raises:
        BackendUnavailable: the engine refused (HNSW on Milvus Lite, a server error).
    """
    from pymilvus import DataType, Function, FunctionType

    if index_type == "HNSW" and local:
        raise BackendUnavailable("Milvus Lite n'accepte pas l'index HNSW : choisissez FLAT, IVF_FLAT ou AUTOINDEX "
                                 "(index.milvus.index_type), ou un serveur Milvus.")
    schema = milvus.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True, analyzer_params=ANALYZER)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=int(vectors.shape[1]))
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    params = milvus.prepare_index_params()
    dense_params = {"IVF_FLAT": {"nlist": int(min(nlist, max(1, len(texts) // 39)))},
                    "HNSW": {"M": hnsw_m, "efConstruction": 200}}.get(index_type, {})
    params.add_index("dense", index_type=index_type, metric_type="IP", params=dense_params)
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    try:
        if milvus.has_collection(name):
            milvus.drop_collection(name)
        milvus.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")
        for start in range(0, len(texts), INSERT_BATCH):
            milvus.insert(name, [{"row": start + i, "text": text[:TEXT_CHARS] or "∅",
                                  "dense": vectors[start + i].tolist()}
                                 for i, text in enumerate(texts[start:start + INSERT_BATCH])])
        milvus.flush(name)
        milvus.load_collection(name)
    except Exception as exc:
        if _is_backend_error(exc):
            raise BackendUnavailable(f"Milvus a refusé la collection {name} : {_reason(exc)}") from exc
        raise


def _is_backend_error(exc: Exception) -> bool:
    return type(exc).__module__.split(".")[0] in ("pymilvus", "grpc")


def _call(method, *args, **kwargs):
    """A Milvus call whose failure (server gone, timeout) is a :class:`BackendUnavailable`, not a traceback."""
    try:
        return method(*args, **kwargs)
    except Exception as exc:
        if _is_backend_error(exc):
            raise BackendUnavailable(f"Milvus a échoué ({getattr(method, '__name__', 'appel')}) : {_reason(exc)}") from exc
        raise


@_quiet()
def move_alias(milvus, alias: str, name: str) -> bool:
    """Point ``alias`` at collection ``name``; False where the engine has no aliases (Milvus Lite)."""
    try:
        if alias in milvus.list_aliases(collection_name=name).get("aliases", []):
            return True
        try:
            milvus.alter_alias(collection_name=name, alias=alias)
        except Exception:
            milvus.create_alias(collection_name=name, alias=alias)
        return True
    except Exception as exc:
        if "UNIMPLEMENTED" in str(exc):
            return False
        if _is_backend_error(exc):
            raise BackendUnavailable(f"Milvus n'a pas déplacé l'alias {alias} vers {name} : {_reason(exc)}") from exc
        raise


def drop_older(milvus, prefix: str, keep: set[str]) -> list[str]:
    """Drop this index's collections other than ``keep`` (the new one and the previous): what was dropped."""
    dropped = []
    own = re.compile(rf"{re.escape(prefix)}_v\d{{8}}T\d{{12}}Z")  # collection_name(prefix, version) only
    for name in _call(milvus.list_collections):
        if own.fullmatch(name) and name not in keep:
            _call(milvus.drop_collection, name)
            dropped.append(name)
    return dropped


def open_collection(milvus, name: str, rows: int, uri: str) -> None:
    """Check that collection ``name`` exists, holds ``rows`` passages and is loaded.

    Raises:
        IndexCorrupted: the collection is missing or does not hold the version's passages, or the Lite engine
            cannot read it from its file.
        BackendUnavailable: the server does not answer.
    """
    rebuild = "Reconstruisez l'index : assistant index build"
    try:
        with _quiet():  # every refusal below is raised with its reason: pymilvus need not log it too
            if not milvus.has_collection(name):
                raise IndexCorrupted(f"La collection Milvus {name} est absente de {uri}. {rebuild}")
            milvus.load_collection(name)
            count = milvus.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
    except IndexCorrupted:
        raise
    except Exception as exc:
        if is_local(uri) and _engine_refused(exc):  # the engine is this process's child, alone on its file
            raise IndexCorrupted(f"Milvus Lite ne lit pas la collection {name} de {uri} ({_engine_words(exc)}) : "
                                 f"le fichier est endommagé. {rebuild} (si elle échoue aussi, déplacez ou "
                                 "supprimez ce fichier)") from exc
        if _is_backend_error(exc):  # the server, not the index: a timeout, a refused token, a dropped connection
            raise BackendUnavailable(f"Milvus ne répond pas pour la collection {name} à {uri} : {_reason(exc)}") from exc
        raise
    if count != rows:
        raise IndexCorrupted(f"La collection Milvus {name} contient {count} passages au lieu de {rows}. {rebuild}")


def _engine_words(exc: Exception) -> str:
    """The engine's reason without its assertion syntax and source location: « failed to parse insert data »."""
    said = re.sub(r'^Assert "\w+"\s*=>\s*', "", _reason(exc))
    return re.sub(r"\s+at /\S+:\d+.*$", "", said).strip() or _reason(exc)


def _engine_refused(exc: Exception) -> bool:
    """An error the engine answered (« Assert "suc" … », « internal error »), not a timeout or a lost link."""
    from pymilvus.exceptions import MilvusException

    return isinstance(exc, MilvusException) and "Retry" not in str(exc)
