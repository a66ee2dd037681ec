"""Milvus Lite serves a file to one process (issue 25): a refused opener no longer frees a file that another process
serves, a build checks that it still holds the file before it writes, and a deleted or damaged file is reported as
such by `index status` and `ask` (never as « held by another process »), without the engine's own output."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from corpus.errors import BackendUnavailable
from index import milvus_store
from index.build import StoreConfig, build_index, current_version
from index.embedders import make_embedder
from tests.index.test_incremental import CountingEmbedder
from tests.index.test_stores import CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def e5():
    return make_embedder("e5")


@pytest.fixture
def lite(tmp_path, monkeypatch, e5):
    """An index kept in a Milvus Lite file, built and released, and the CLI's settings pointing at it."""
    uri = str(tmp_path / "milvus" / "index.db")
    store = StoreConfig(engine="milvus", uri=uri, prefix="essai")
    manifest = build_index(tmp_path / "index", CORPUS, e5, backend="e5", store=store)
    milvus_store.release(uri)
    for name, value in {"ASSISTANT_INDEX__STORE": "milvus", "ASSISTANT_INDEX__MILVUS__URI": uri,
                        "ASSISTANT_INDEX__MILVUS__COLLECTION": "essai", "ASSISTANT_LLM__BACKEND": "none"}.items():
        monkeypatch.setenv(name, value)
    yield store, manifest
    milvus_store.release(uri)


def run(*args):
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def one_error_line(result) -> str:
    """stderr holds our one-line message and nothing else: no engine log, no pymilvus log, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Erreur"), result.stderr
    return lines[0]


def test_a_refused_ask_leaves_the_file_locked_for_the_next_ask_and_the_build(tmp_path, lite, e5):
    """milvus-lite 2.5.1 unlinks its own lock when a start fails: the second `ask` used to open the file under the
    server that held it, and a `build --full` to write into it."""
    store, manifest = lite
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom pathlib import Path\nfrom index.build import StoreConfig, load_index\n"
         f"index = load_index(Path({str(tmp_path / 'index')!r}), store=StoreConfig(engine='milvus', uri={store.uri!r}, "
         "prefix='essai'))\nprint('ok', flush=True)\nfor line in sys.stdin:\n"
         "    print(index.chunks[index.lexical.search(line, 1)[0][0]].doc_id, flush=True)"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        asks = [run("ask", "--json", "Où est installé Jean Zay ?") for _ in range(2)]
        assert [(ask.returncode, ask.stdout) for ask in asks] == [(1, ""), (1, "")]
        for ask in asks:
            message = one_error_line(ask)
            assert f"le processus {holder.pid} l'a ouvert" in message and "un seul processus" in message
        status = run("index", "status", "--json")  # in service in the holder: not checked, and not a failure
        assert status.returncode == 0, status.stderr
        checked = json.loads(status.stdout)
        assert checked["store_problem"] is None and f"processus {holder.pid}" in checked["store_checked"]
        counting = CountingEmbedder(e5)
        with pytest.raises(milvus_store.FileInUse, match="un seul processus"):
            build_index(tmp_path / "index", CORPUS, counting, backend="e5", full=True, store=store)
        assert counting.embedded == [] and current_version(tmp_path / "index").name == manifest.version
        holder.stdin.write("supercalculateur\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "jz"  # the holder still serves its file
    finally:
        holder.kill()
        holder.wait()
    assert milvus_store.lock_path(store.uri).exists()  # never unlinked: the kernel released it with the holder
    milvus_store.client(store.uri)  # and the file opens again


def test_a_build_that_lost_its_lock_switches_nothing(tmp_path, lite, e5):
    """The lock file unlinked while the build embeds: another process could now open the file, so the build stops
    before it writes the collection, and the version in service stays."""
    store, manifest = lite

    def unlink_lock(stage, done, total):
        if stage == "vectorisation":
            milvus_store.lock_path(store.uri).unlink(missing_ok=True)

    with pytest.raises(BackendUnavailable, match="ne tient plus le verrou.*assistant index build"):
        build_index(tmp_path / "index", CORPUS, e5, backend="e5", full=True, store=store, progress=unlink_lock)
    assert current_version(tmp_path / "index").name == manifest.version
    assert milvus_store.client(store.uri).list_collections() == [manifest.store["collection"]]


def test_a_deleted_lite_file_fails_index_status(lite):
    store, _ = lite
    os.unlink(store.uri)
    result = run("index", "status", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["store_problem"]
    message = one_error_line(result)
    assert "a disparu" in message and "assistant index build" in message
    assert not os.path.exists(store.uri)  # status did not create an empty file in its place


def test_a_lite_file_that_is_not_a_database_is_damaged_not_held(lite):
    store, _ = lite
    with open(store.uri, "r+b") as handle:
        handle.write(b"ceci n'est pas une base" * 10)
    for command in (("index", "status"), ("ask", "--json", "Où est installé Jean Zay ?")):
        result = run(*command)
        assert result.returncode == 1 and "Erreur" not in result.stdout
        message = one_error_line(result)
        assert "endommagé" in message and "assistant index build" in message
        assert "un seul processus" not in message


def test_garbage_inside_the_collection_keeps_the_engine_off_stdout(lite):
    """The engine asserts while loading the collection: its « Assert "suc" » went to the stdout of `ask --json`."""
    store, manifest = lite
    name = manifest.store["collection"]
    db = sqlite3.connect(store.uri)  # Milvus Lite 2.5 keeps each row's serialised record in a SQLite blob
    with db:
        db.execute(f'update "{name}" set data = ? where id = (select min(id) from "{name}")', (b"\xde\xad" * 32,))
    db.close()
    ask = run("ask", "--json", "Où est installé Jean Zay ?")
    assert ask.returncode == 1 and ask.stdout == ""
    status = run("index", "status", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["store_problem"]
    for result in (ask, status):
        message = one_error_line(result)
        assert f"ne lit pas la collection {name}" in message and "endommagé" in message
        assert "Assert" not in message and "un seul processus" not in message
