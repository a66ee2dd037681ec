"""Connecting to Milvus: one client per uri for the whole process, and the lock on a Milvus Lite file.

``uri`` is a local file (Milvus Lite: the real engine, embedded, one process at a time) or ``http://host:19530``
(a Milvus standalone or distributed cluster). The process that opens a Lite file locks ``<file>.assistant.lock``
first and keeps it while its client lives; the engine's output never reaches this process's stdout (``--json``
stays one object). Hand-written: milvus-lite's own lock is unlinked by a process that fails to take it (see
:func:`_take_lock`), and pymilvus neither silences the engine's output nor says which process holds a file.
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

from corpus.errors import BackendUnavailable, FileInUse, IndexCorrupted

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10  # a server that does not answer in 10 s is reported, not waited for

_clients: dict[str, object] = {}
_locks: dict[str, object] = {}  # a Lite file's key → this process's open lock file (see _take_lock)
_clients_lock = threading.Lock()
HELD = FileInUse.HELD  # what to do when a Lite file is held, said by FileInUse


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
