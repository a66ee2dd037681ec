"""Index lifecycle under stress, with real processes: builds killed with SIGKILL at random moments, two builds
at once, and questions answered while builds switch versions."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.settings import CorpusSettings, IndexSettings, LLMSettings
from corpus.errors import AssistantError
from index.build import BuildLocked, build_lock, load_index

pytestmark = pytest.mark.slow

SUBJECTS = ["Jean Zay", "le PEPR IA", "AISSAI", "BLOOM", "l'IDRIS", "Confiance.ai", "le cluster MIAI", "SHARP"]


def write_corpus(folder: Path, documents: int, marker: str) -> None:
    """``documents`` small French articles; ``marker`` makes every text (and vector) differ between corpora."""
    sources = folder / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    for old in sources.iterdir():
        old.unlink()
    (folder / "programme").mkdir(exist_ok=True)
    for i in range(documents):
        subject = SUBJECTS[i % len(SUBJECTS)]
        body = " ".join(f"{subject} est cité dans la note {marker}-{i}-{j} sur la recherche en intelligence "
                        f"artificielle, avec un budget de {i * 10 + j} millions d'euros." for j in range(6))
        (sources / f"doc{i:03d}.md").write_text(f"# Note {i} sur {subject}\n\n{body}\n", encoding="utf-8")


def corpus_hashes(folder: Path) -> dict[str, str]:
    from corpus.load import load_corpus

    documents, _ = load_corpus(folder / "sources", folder / "programme")
    return {d.doc_id: d.content_hash for d in documents}


def environment(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_INDEX__DIR=str(root / "index"), ASSISTANT_CORPUS__SOURCES_DIR=str(root / "data" / "sources"),
               ASSISTANT_CORPUS__PROGRAMME_DIR=str(root / "data" / "programme"))
    return env


def start_build(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant", "index", "build", *args], env=environment(root),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_builds_killed_at_random_moments_always_leave_a_complete_index(tmp_path):
    rng = random.Random(20261128)
    corpus = tmp_path / "data"
    write_corpus(corpus, 12, "a")
    first = start_build(tmp_path)
    started = time.monotonic()
    assert first.wait(timeout=300) == 0, first.stderr.read()
    duration = time.monotonic() - started
    corpora = [corpus_hashes(corpus)]  # every corpus a build may have indexed
    kills = 0
    for round_ in range(14):
        write_corpus(corpus, 12 + round_ % 3, f"r{round_}")  # each round's corpus differs in size and text
        corpora.append(corpus_hashes(corpus))
        build = start_build(tmp_path, *(["--full"] if round_ % 2 else []))
        time.sleep(rng.uniform(0, duration * 1.1))
        if build.poll() is None:
            build.send_signal(signal.SIGKILL)
            kills += 1
        build.wait(timeout=300)
        loaded = load_index(tmp_path / "index")  # checksums verified: never a half-written version
        indexed = {doc_id: info["hash"] for doc_id, info in loaded.manifest.documents.items()}
        assert indexed in corpora  # the whole of one corpus, not a mix
        assert len(loaded.chunks) == len(loaded.dense) == len(loaded.lexical) == loaded.manifest.counts["chunks"]
        assert {c.doc_id for c in loaded.chunks} == set(indexed)
        assert loaded.lexical.search("budget de Jean Zay", 1)  # it answers
    assert kills >= 5, f"only {kills} builds were killed; the test did not test much"
    last = start_build(tmp_path)
    assert last.wait(timeout=300) == 0, last.stderr.read()  # the next build recovers
    versions = [p.name for p in (tmp_path / "index" / "versions").iterdir()]
    assert len(versions) <= 2 and not [v for v in versions if v.startswith(".")]  # leftovers cleaned up


def test_a_second_build_is_refused_while_one_runs(tmp_path):
    write_corpus(tmp_path / "data", 3, "x")
    with build_lock(tmp_path / "index"):
        result = subprocess.run([sys.executable, "-m", "assistant", "index", "build"], env=environment(tmp_path),
                                capture_output=True, text=True, timeout=300)
        with pytest.raises(BuildLocked):
            with build_lock(tmp_path / "index"):
                pass
    assert result.returncode == 1 and "déjà en cours" in result.stderr
    assert not (tmp_path / "index" / "CURRENT").exists()


def serving(tmp_path, clean_settings, documents: int, marker: str):
    """An assistant serving an index of ``documents`` synthetic notes, and its settings."""
    from assistant.app import build
    from assistant.indexing import build_index_from_settings

    write_corpus(tmp_path / "data", documents, marker)
    settings = clean_settings(index=IndexSettings(dir=tmp_path / "index"), llm=LLMSettings(backend="none"),
                              corpus=CorpusSettings(sources_dir=tmp_path / "data" / "sources",
                                                    programme_dir=tmp_path / "data" / "programme"))
    build_index_from_settings(settings)
    return build(settings), settings


def test_questions_keep_being_answered_while_builds_switch_versions(tmp_path, clean_settings):
    from assistant.indexing import build_index_from_settings

    assistant, settings = serving(tmp_path, clean_settings, 6, "v0")
    first_version = assistant.index.manifest.version
    errors, answered, stop = [], [], threading.Event()

    def ask_forever():
        while not stop.is_set():
            try:
                answer = assistant.ask("Quel est le budget de Jean Zay ?")
                answered.append(answer.retrieved[0] if answer.retrieved else None)
            except (AssistantError, Exception) as exc:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(exc)

    reader = threading.Thread(target=ask_forever)
    reader.start()
    try:
        for round_ in range(1, 4):
            write_corpus(tmp_path / "data", 6 + round_, f"v{round_}")
            manifest, _ = build_index_from_settings(settings)
            time.sleep(0.3)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert not errors, errors[:3]
    assert len(answered) > 10
    # picked up without a restart
    assert assistant.index.manifest.version == manifest.version != first_version
    assert assistant.index.manifest.counts["documents"] == 9


def test_a_damaged_new_version_is_refused_and_the_served_one_stays(tmp_path, clean_settings):
    from assistant.indexing import build_index_from_settings

    assistant, settings = serving(tmp_path, clean_settings, 3, "d0")
    served = assistant.index.manifest.version
    write_corpus(tmp_path / "data", 4, "d1")
    manifest, _ = build_index_from_settings(settings)
    (tmp_path / "index" / "versions" / manifest.version / "chunks.jsonl").write_text("{}\n")
    assert assistant.refresh() is False and assistant.index.manifest.version == served
    assert assistant.ask("Quel est le budget de Jean Zay ?").retrieved  # still answers from the served version


def test_dry_run_says_what_would_change_and_writes_nothing(tmp_path):
    import json

    write_corpus(tmp_path / "data", 4, "p0")
    assert start_build(tmp_path).wait(timeout=300) == 0
    sources = tmp_path / "data" / "sources"
    (sources / "doc000.md").write_text("# Note 0\n\nJean Zay est à Orsay, près de Paris.\n", encoding="utf-8")
    (sources / "doc003.md").unlink()
    (sources / "neuf.md").write_text("# Neuf\n\nBLOOM compte 176 milliards de paramètres.\n", encoding="utf-8")
    before = sorted(p.name for p in (tmp_path / "index" / "versions").iterdir())
    pointer = (tmp_path / "index" / "CURRENT").read_text()
    result = subprocess.run([sys.executable, "-m", "assistant", "index", "build", "--dry-run", "--json"],
                            env=environment(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert (plan["added"], plan["changed"], plan["removed"]) == (["neuf"], ["doc000"], ["doc003"])
    assert plan["full"] is False and plan["to_embed"] > 0 and plan["reused"] > 0
    assert sorted(p.name for p in (tmp_path / "index" / "versions").iterdir()) == before
    assert (tmp_path / "index" / "CURRENT").read_text() == pointer
    text = subprocess.run([sys.executable, "-m", "assistant", "index", "build", "--dry-run", "--full"],
                          env=environment(tmp_path), capture_output=True, text=True, timeout=300)
    assert "complète" in text.stdout and "--full" in text.stdout and "rien n'a été écrit" in text.stdout
