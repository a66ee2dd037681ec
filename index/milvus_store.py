"""Milvus as the index's store (``index.store = "milvus"``): dense vectors and BM25 in one collection per version.

Each build writes a new collection ``<prefix>_<version>`` holding, per passage, its row number, its embedded text
(analysed by Milvus with the French analyzer below, for BM25) and its dense vector, then moves the alias
``<prefix>`` to it. The version folder (manifest, passages, sentence vectors) names its collection, so a reader
that follows ``CURRENT`` always queries the collection of the version it loaded, never a half-written one.

Written on pymilvus rather than llama-index's ``MilvusVectorStore``: the hybrid retriever fuses the dense and
BM25 rankings itself (the answerer was calibrated on that ranking) and the answerer reads each engine's
rank and score, which the vector store's hybrid query folds into one similarity; the store also has no notion of
one collection per version behind an alias. ``index/build.py`` keeps the versioning; this module only talks to Milvus.

``uri`` is a local file (Milvus Lite: the real engine, embedded, one process at a time) or ``http://host:19530``
(a Milvus standalone or distributed cluster). Milvus Lite 2.5.1 does not implement aliases (its gRPC answers
UNIMPLEMENTED): there the version folder's pointer is the only switch, and the manifest says the alias was not moved.
The process that opens a Lite file locks ``<file>.assistant.lock`` first and keeps it while its client lives; the
engine's output never reaches this process's stdout (``--json`` stays one object).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from corpus.errors import BackendUnavailable, IndexCorrupted
from index.stores import bm25_idf, bm25_idf_unknown
from index.text import STOP_WORDS, analyze, fold

log = logging.getLogger(__name__)

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
CONNECT_SECONDS = 10  # a server that does not answer in 10 s is reported, not waited for

_clients: dict[str, object] = {}
_locks: dict[str, object] = {}  # a Lite file's key → this process's open lock file (see _take_lock)
_clients_lock = threading.Lock()
HELD = ("Milvus Lite sert un fichier à un seul processus à la fois : si le chat tourne, reconstruisez l'index depuis "
        "son onglet « Index », ou arrêtez-le ; pour plusieurs processus ou machines, utilisez un serveur Milvus "
        "(index.milvus.uri = http://hôte:19530).")


class FileInUse(BackendUnavailable):
    """The Milvus Lite file is open in another process (which serves it, so it is not damaged)."""

    def __init__(self, uri: str, who: str):
        super().__init__(f"Milvus Lite ne peut pas ouvrir {uri} : {who} l'a ouvert. {HELD}")
        self.who = who


def is_local(uri: str) -> bool:
    """A file path means Milvus Lite; a URL means a Milvus server."""
    return "://" not in uri


def _key(uri: str) -> str:
    """One key per file, however its path is spelled (milvus-lite keys its servers by the resolved path too)."""
    return str(Path(uri).absolute().resolve()) if is_local(uri) else uri


def lock_path(uri: str) -> Path:
    """The project's own lock beside a Lite file: ``<file>.assistant.lock``, never removed."""
    db = Path(_key(uri))
    return db.with_name(db.name + ".assistant.lock")


def client(uri: str, token: str = ""):
    """One MilvusClient per uri for the whole process.

    Milvus Lite serves a file to one process only, and two clients of one file inside a process share a
    connection (closing either closes both), so clients are opened once and never closed here. A Lite file is
    locked by this process (:func:`lock_path`) before its engine starts, for as long as the client lives.

    Raises:
        FileInUse: the Lite file is open in another process.
        IndexCorrupted: the Lite file exists but its engine cannot read it.
        BackendUnavailable: pymilvus/milvus-lite missing, the Lite engine did not start, the server unreachable.
    """
    key = _key(uri)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        try:
            with warnings.catch_warnings():  # milvus-lite 2.5 imports pkg_resources, which warns of its end
                warnings.simplefilter("ignore", UserWarning)
                from pymilvus import MilvusClient
                import milvus_lite  # noqa: F401  (imported here, under the filter, rather than by the connection)
        except ImportError as exc:
            raise BackendUnavailable(
                "Le moteur Milvus demande pymilvus et milvus-lite : pip install -e '.[milvus]'") from exc
        if not is_local(uri):
            try:
                with _logs_off():
                    made = MilvusClient(uri=uri, token=token or "", timeout=CONNECT_SECONDS)
            except Exception as exc:  # pymilvus raises its own exception classes, and grpc's
                raise BackendUnavailable(f"Serveur Milvus injoignable à {uri} ({_reason(exc)}).") from exc
        else:
            held = _take_lock(uri)
            try:
                made = _open_lite(uri, token, MilvusClient)
            except BaseException:
                held.close()  # closing releases the lock; the file stays, for the next opener to lock
                raise
            _locks[key] = held
        _clients[key] = made
        return made


def _take_lock(uri: str):
    """Lock the Lite file for this process before its engine starts, or say who holds it.

    milvus-lite 2.5.1 has a lock of its own (``.<file>.lock``), but a process that fails to take it unlinks it on
    its way out (``Server.stop()``), so the next opener finds no lock and opens the file under the running server.
    This one is an ``flock`` that nobody unlinks: the kernel drops it when its holder exits, so it is never stale.
    """
    path = lock_path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.seek(0)
        holder = handle.read(20).strip()
        handle.close()
        raise FileInUse(uri, f"le processus {holder}" if holder.isdigit() else "un autre processus") from exc
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))  # who holds it, for the next opener's message
    handle.flush()
    return handle


def _open_lite(uri: str, token: str, milvus_client):
    """Start the Lite engine on ``uri`` (locked by this process) and connect to it."""
    from milvus_lite.server_manager import server_manager_instance

    db = Path(_key(uri))
    if db.suffix != ".db":  # pymilvus would refuse it only after the engine had started on it
        raise BackendUnavailable(f"Milvus Lite n'ouvre qu'un fichier .db, pas {uri} : index.milvus.uri = "
                                 "chemin/vers/index.db, ou l'URL d'un serveur Milvus (http://hôte:19530).")
    if _lite_lock_taken(db):  # a program other than this project: starting would unlink its lock (see _take_lock)
        raise FileInUse(uri, "un autre programme")
    existed = db.is_file() and db.stat().st_size > 0
    with tempfile.TemporaryFile() as output:
        try:
            with _engine_output(output), _logs_off():
                started = server_manager_instance.start_and_get_uri(str(db))
        except Exception as exc:  # milvus-lite refuses some names before starting anything
            raise BackendUnavailable(f"Milvus Lite n'a pas démarré sur {uri} ({_reason(exc)}).") from exc
        try:
            if started is None:
                raise RuntimeError("le moteur s'est arrêté au démarrage")
            with _logs_off():
                return milvus_client(uri=uri, token=token or "", timeout=CONNECT_SECONDS)
        except Exception as exc:  # pymilvus raises its own exception classes, and grpc's
            if started is not None:
                with _quiet(), _logs_off():
                    server_manager_instance.release_server(str(db))
            said = _engine_reason(output)
            if existed and said:  # alone on the file (both locks), the engine refused what it read in it
                raise IndexCorrupted(f"Milvus Lite ne peut pas lire {uri} ({said}) : le fichier est endommagé. "
                                     "Déplacez-le ou supprimez-le, puis reconstruisez l'index : assistant index "
                                     "build") from exc
            raise BackendUnavailable(f"Milvus Lite n'a pas démarré sur {uri} ({_reason(exc)}) ; relancez avec "
                                     "--verbose pour le détail du moteur.") from exc


def _lite_lock_taken(db: Path) -> bool:
    """Whether milvus-lite's own lock on ``db`` is held (it uses ``lockf``, a POSIX record lock)."""
    path = db.parent / f".{db.name}.lock"
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:  # no lock file: nobody holds it
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)  # this process held no other lock on that file: closing releases nothing of anyone's


@contextmanager
def _engine_output(output):
    """The Lite engine is a child process that inherits this one's stdout and stderr and writes to them for its
    whole life (an ``Assert "suc"`` on stdout breaks ``ask --json``): while it starts, both point to ``output``
    (an anonymous file) instead, read back to say why a start failed (and logged with ``--verbose``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        if log.isEnabledFor(logging.DEBUG):
            output.seek(0)
            log.debug("milvus-lite au démarrage : %s", output.read(65_536).decode("utf-8", "replace").strip())


def _engine_reason(output) -> str:
    """The engine's own reason for a failed start (« file is not a database »), from its log lines."""
    output.seek(0)
    found = re.findall(r"\berrs?: *([^\n]+)", output.read(65_536).decode("utf-8", "replace"))
    return found[0].strip()[:200] if found else ""


@contextmanager
def _logs_off():
    """milvus-lite logs a refused file on the root logger, pymilvus a refused connection on its own: the error
    raised says it (``logging.disable`` level restored, whatever the application had set)."""
    previous = logging.root.manager.disable
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(previous)


def release(uri: str) -> None:
    """Close this process's client of ``uri`` and, for Milvus Lite, stop the server of its file (closing the
    client alone leaves it running and the file locked for other processes), then release the file's lock."""
    key = _key(uri)
    with _clients_lock:
        made = _clients.pop(key, None)
        held = _locks.pop(key, None)
    try:
        if made is not None:
            made.close()
            if is_local(uri):
                from milvus_lite.server_manager import server_manager_instance

                with _quiet():
                    server_manager_instance.release_server(key)
    finally:
        if held is not None:  # after the engine has stopped: the next opener must not find it still running
            held.close()


def ensure_held(uri: str) -> None:
    """Check, right before a build writes to or switches to a Lite collection, that this process still holds the
    file's lock: the lock file is the one it locked (not unlinked or replaced), so no other process can have opened
    the file since. Nothing to check for a Milvus server.

    Raises:
        BackendUnavailable: the lock is no longer this process's.
    """
    if not is_local(uri):
        return
    key = _key(uri)
    with _clients_lock:
        held = _locks.get(key)
    try:
        ours = held is not None and os.path.samestat(os.fstat(held.fileno()), os.stat(lock_path(uri)))
    except OSError:
        ours = False
    if not ours:
        raise BackendUnavailable(f"Ce processus ne tient plus le verrou {lock_path(uri)} du fichier Milvus Lite "
                                 f"{uri} (supprimé ou remplacé) : la nouvelle version n'a pas été mise en service. "
                                 "Arrêtez les autres processus qui l'utilisent, puis relancez : assistant index build")


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc).strip().splitlines()[0][:200]


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


@contextmanager
def _quiet():
    """pymilvus logs every refused call at ERROR and its iterator's fallbacks at WARNING: an expected refusal
    (no aliases in Milvus Lite) is not news. Its client module has a logger of its own, not propagating."""
    loggers = [logging.getLogger(name) for name in ("pymilvus", "pymilvus.milvus_client")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


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


class MilvusDense:
    """Inner-product search on the collection's dense vectors (cosine, the vectors being normalised)."""

    def __init__(self, milvus, name: str, rows: int, dimension: int, nprobe: int = 32, ef: int = 64):
        self.milvus, self.name, self.rows, self.dimension = milvus, name, rows, dimension
        self.search_params = {"metric_type": "IP", "params": {"nprobe": nprobe, "ef": ef}}

    def __len__(self) -> int:
        return self.rows

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.rows)
        if k <= 0:
            return []
        params = {**self.search_params, "params": {**self.search_params["params"],
                                                   "ef": max(self.search_params["params"]["ef"], k)}}
        found = _call(self.milvus.search, self.name, data=[np.asarray(query, dtype=np.float32).ravel().tolist()],
                      anns_field="dense", limit=k, search_params=params)
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def vectors(self) -> np.ndarray:
        """Every passage's vector, by row: what an incremental build reuses."""
        out = np.zeros((self.rows, self.dimension), dtype=np.float32)
        with _quiet():
            iterator = _call(self.milvus.query_iterator, self.name, batch_size=4096, filter="row >= 0",
                             output_fields=["row", "dense"])
        try:
            while batch := _call(iterator.next):
                for row in batch:
                    out[int(row["row"])] = row["dense"]
        finally:
            iterator.close()
        return out


class MilvusLexical:
    """BM25 computed by Milvus over the French-analysed text; the answerer's term statistics from ``terms``.

    The answerer weighs question words by their rarity in the corpus (``idf``) with the project's own analysis,
    so the build stores those document frequencies beside the passages (:class:`TermStatistics`).
    """

    def __init__(self, milvus, name: str, terms: "TermStatistics"):
        self.milvus, self.name, self.terms = milvus, name, terms

    def __len__(self) -> int:
        return len(self.terms)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        if k <= 0 or not analyze(query):  # nothing but stop words: Milvus would find nothing either
            return []
        found = _call(self.milvus.search, self.name, data=[query[:TEXT_CHARS]], anns_field="sparse", limit=k,
                      search_params={"metric_type": "BM25"})
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0] if hit["distance"] > 0]

    def idf(self, token: str) -> float:
        return self.terms.idf(token)

    def idf_unknown(self) -> float:
        return self.terms.idf_unknown()


class TermStatistics:
    """Document frequencies of the project's analysed terms (:func:`index.text.analyze`) over the passages."""

    FILE = "terms.json"

    def __init__(self, documents: int, frequencies: dict[str, int]):
        self.documents, self.frequencies = documents, frequencies

    @classmethod
    def from_texts(cls, texts: list[str]) -> "TermStatistics":
        frequencies: dict[str, int] = {}
        for text in texts:
            for term in set(analyze(text)):
                frequencies[term] = frequencies.get(term, 0) + 1
        return cls(len(texts), frequencies)

    def __len__(self) -> int:
        return self.documents

    def idf(self, token: str) -> float:
        """The same weight as the FAISS engine's bm25s store gives (:func:`index.stores.bm25_idf`)."""
        return bm25_idf(self.documents, self.frequencies.get(token, 0))

    def idf_unknown(self) -> float:
        return bm25_idf_unknown(self.documents)

    def save(self, folder: Path) -> None:
        import json

        (folder / self.FILE).write_text(json.dumps({"documents": self.documents, "frequencies": self.frequencies},
                                                   ensure_ascii=False, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "TermStatistics":
        import json

        data = json.loads((folder / cls.FILE).read_text(encoding="utf-8"))
        return cls(int(data["documents"]), {str(k): int(v) for k, v in data["frequencies"].items()})
