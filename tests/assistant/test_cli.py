"""The CLI as a user runs it: a real subprocess, real index, stdout/stderr and exit codes."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run(*args, env=None, index_dir=None):
    environment = {**os.environ, **(env or {})}
    if index_dir is not None:
        environment["ASSISTANT_INDEX__DIR"] = str(index_dir)
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          env=environment, timeout=300)


def test_ask_json_prints_exactly_one_answer_object(real_index_dir):
    result = run("ask", "--json", "Quel est le budget du PEPR IA ?", index_dir=real_index_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert "73 millions" in data["answer"] and data["abstained"] is False
    assert data["citations"][0]["quote"]


def test_ask_with_history(real_index_dir):
    result = run("ask", "--json", "--history", "Qu'est-ce que le PEPR IA ?", "Et son budget ?",
                 index_dir=real_index_dir)
    assert result.returncode == 0, result.stderr
    assert "73 millions" in json.loads(result.stdout)["answer"]


@pytest.mark.parametrize("question, message", [("   ", "vide"), ("x" * 100_000, "trop longue")])
def test_bad_question_is_one_clear_line_and_non_zero(real_index_dir, question, message):
    result = run("ask", question, index_dir=real_index_dir)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_index_says_how_to_build_it(tmp_path):
    result = run("ask", "Quel est le budget du PEPR IA ?", index_dir=tmp_path / "absent")
    assert result.returncode == 1
    assert "assistant index build" in result.stderr and "Traceback" not in result.stderr


def test_bad_settings_list_every_bad_field(tmp_path):
    result = run("ask", "question", env={"ASSISTANT_RETRIEVAL__TOP_K": "beaucoup",
                                         "ASSISTANT_INDEX__EMBEDDER": "word2vec"})
    assert result.returncode == 1
    assert "retrieval.top_k" in result.stderr and "index.embedder" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_setting_in_config_file(tmp_path):
    config = tmp_path / "assistant.toml"
    config.write_text("[retrieval]\ntop_kk = 3\n", encoding="utf-8")
    result = run("ask", "question", env={"ASSISTANT_CONFIG": str(config)})
    assert result.returncode == 1 and "top_kk" in result.stderr and "Traceback" not in result.stderr


def test_index_build_and_status_on_a_corpus_with_a_broken_file(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "ok.md").write_text("# Note\n\nLe centre AISSAI a été créé en 2021.\n", encoding="utf-8")
    (sources / "broken.txt").write_bytes(b"\xff\xfe\x00 pas de l'UTF-8 \xe9")
    env = {"ASSISTANT_CORPUS__SOURCES_DIR": str(sources),
           "ASSISTANT_CORPUS__PROGRAMME_DIR": str(tmp_path / "programme")}
    (tmp_path / "programme").mkdir()
    build = run("index", "build", env=env, index_dir=tmp_path / "idx")
    assert build.returncode == 0, build.stderr
    assert "broken.txt" in build.stderr and "UTF-8" in build.stderr
    status = run("index", "status", "--json", env=env, index_dir=tmp_path / "idx")
    report = json.loads(status.stdout)
    assert report["counts"]["documents"] == 1 and report["corpus_changed"] is False
    assert run("index", "status", "--check", env=env, index_dir=tmp_path / "idx").returncode == 0
    other = run("index", "status", "--check", env={**env, "ASSISTANT_INDEX__EMBEDDER": "sentence-transformers"},
                index_dir=tmp_path / "idx")
    assert other.returncode == 1 and "assistant index build" in other.stderr
    (sources / "new.md").write_text("# Nouveau\n\nJean Zay est à Orsay.\n", encoding="utf-8")
    (sources / "ok.md").write_text("# Note\n\nLe centre AISSAI a été créé fin 2021.\n", encoding="utf-8")
    report = json.loads(run("index", "status", "--json", env=env, index_dir=tmp_path / "idx").stdout)
    assert report["corpus_changed"] is True
    assert report["changes"] == {"added": ["new"], "changed": ["ok"], "removed": []}
    assert run("index", "status", "--check", env=env, index_dir=tmp_path / "idx").returncode == 1
    human = run("index", "status", env=env, index_dir=tmp_path / "idx")
    assert "modifié depuis" in human.stdout and "assistant index build" in human.stdout


def test_status_without_index_and_misspelt_settings(tmp_path):
    missing = run("index", "status", index_dir=tmp_path / "absent")
    assert missing.returncode == 1 and "assistant index build" in missing.stderr
    misspelt = run("ask", "question", env={"ASSISTANT_RETRIEVEL__TOP_K": "3"})
    assert misspelt.returncode == 1 and "ASSISTANT_RETRIEVEL__TOP_K" in misspelt.stderr
    no_file = run("ask", "question", env={"ASSISTANT_CONFIG": str(tmp_path / "absent.toml")})
    assert no_file.returncode == 1 and "absent.toml" in no_file.stderr
    file_as_dir = tmp_path / "a-file"
    file_as_dir.write_text("x")
    result = run("index", "build", index_dir=file_as_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_ask_imports_neither_gradio_nor_torch(real_index_dir):
    """Python's own import log (-X importtime) lists every module the command imported, up to its exit."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "assistant", "ask", "Quel est le budget du PEPR IA ?"],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "ASSISTANT_INDEX__DIR": str(real_index_dir)})
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "llama_index.core" in imported  # the log is read
    assert not imported & {"gradio", "torch", "sentence_transformers", "transformers"}
    assert "73 millions" in result.stdout


def test_ask_generative_against_a_model_server(real_index_dir):
    from tests.llm_server import FakeLLMServer

    with FakeLLMServer() as server:
        server.reply = "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."
        env = {"ASSISTANT_LLM__BACKEND": "openai", "ASSISTANT_LLM__BASE_URL": f"{server.url}/v1",
               "ASSISTANT_LLM__MODEL": "m"}
        result = run("ask", "--json", "--mode", "generative", "Quel est le budget du PEPR IA ?", env=env,
                     index_dir=real_index_dir)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["mode"] == "generative" and data["generation"]["grounded"] is True
        assert data["answer"].startswith("Le PEPR IA est doté de 73 millions") and data["citations"]

        server.behaviour = "error"
        result = run("ask", "--mode", "generative", "Quel est le budget du PEPR IA ?", env=env, index_dir=real_index_dir)
        assert result.returncode == 0 and "73 millions" in result.stdout
        assert "Génération indisponible" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_mode_is_refused_in_one_line(real_index_dir):
    result = run("ask", "--mode", "poetique", "Quel est le budget du PEPR IA ?", index_dir=real_index_dir)
    assert result.returncode == 1 and "answer.mode" in result.stderr and "Traceback" not in result.stderr


def corpus_env(tmp_path, sources: dict[str, str], records: str | None = None) -> dict:
    """A private corpus: source files by name, and one record file."""
    (tmp_path / "sources").mkdir()
    (tmp_path / "programme").mkdir()
    for name, text in sources.items():
        (tmp_path / "sources" / name).write_text(text, encoding="utf-8")
    if records is not None:
        (tmp_path / "programme" / "records.yaml").write_text(records, encoding="utf-8")
    return {"ASSISTANT_CORPUS__SOURCES_DIR": str(tmp_path / "sources"),
            "ASSISTANT_CORPUS__PROGRAMME_DIR": str(tmp_path / "programme")}


ZORGLUB = "Le laboratoire Zorglub du CNRS a été créé en 2019.\n\nIl étudie les réseaux de neurones frugaux.\n"


def test_a_first_line_sentence_is_answered_and_a_file_with_only_a_title_is_reported(tmp_path):
    """Issue 25, finding 5: the first line of a .txt without sidecar was its title only, so never an answer."""
    env = corpus_env(tmp_path, {"zorglub.txt": ZORGLUB, "titre.txt": "Rapport annuel\n"})
    problem = "titre.txt: aucun passage à indexer"
    dry = run("index", "build", "--dry-run", env=env, index_dir=tmp_path / "idx")
    assert dry.returncode == 0 and problem in dry.stdout, dry.stdout + dry.stderr
    check = run("corpus", "check", env=env)
    assert check.returncode == 1 and problem in check.stdout
    build = run("index", "build", env=env, index_dir=tmp_path / "idx")
    assert build.returncode == 0 and problem in build.stderr, build.stderr
    answer = run("ask", "--json", "Quand le laboratoire Zorglub du CNRS a-t-il été créé ?", env=env,
                 index_dir=tmp_path / "idx")
    data = json.loads(answer.stdout)
    assert not data["abstained"] and "2019" in data["answer"], data
    assert data["citations"][0]["quote"] == "Le laboratoire Zorglub du CNRS a été créé en 2019."
    # corpus show lists the indexed sentences, the first line among them
    shown = run("corpus", "show", "zorglub", "titre", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "# zorglub — Le laboratoire Zorglub du CNRS a été créé en 2019.",
        "Le laboratoire Zorglub du CNRS a été créé en 2019.", "Il étudie les réseaux de neurones frugaux.",
        "# titre — Rapport annuel", "(aucun passage indexé)"]


DUPLICATE_IN_ONE_FILE = """
- id: prog
  kind: programme
  name: PROG
  subject: Le programme PROG
  description: Un programme national de recherche sur l'apprentissage automatique, imaginaire.
  sources: [https://example.org/prog]
- id: prog
  kind: programme
  name: PROG bis
  subject: Le programme PROG bis
  description: Un autre programme imaginaire.
  sources: [https://example.org/prog-bis]
"""


def test_the_dry_run_refuses_what_the_build_refuses(tmp_path):
    """Issue 25, finding 12: with an id defined twice in one file, the dry run said « 1 retiré », rc 0."""
    env = corpus_env(tmp_path, {"zorglub.txt": ZORGLUB}, DUPLICATE_IN_ONE_FILE)
    build = run("index", "build", env=env, index_dir=tmp_path / "idx")
    assert build.returncode == 1 and "identifiant en double" in build.stderr, build.stderr
    for args in (["--dry-run"], ["--dry-run", "--json"]):
        dry = run("index", "build", *args, env=env, index_dir=tmp_path / "idx")
        assert dry.returncode == 1 and dry.stdout == "", dry.stdout
        assert dry.stderr == build.stderr  # the same refusal, word for word
    assert not (tmp_path / "idx").exists() or not any((tmp_path / "idx").iterdir())


def test_corpus_text_in_messages_is_printed_as_text_not_as_markup(tmp_path):
    """Issue 25, finding 7: « [/x] » in a record crashed `index build` (rich MarkupError) after the switch, and
    « [a-z0-9] » vanished from the schema message."""
    env = corpus_env(tmp_path, {"zorglub.txt": ZORGLUB}, '- id: "[/x]"\n  kind: programme\n')
    build = run("index", "build", env=env, index_dir=tmp_path / "idx")
    assert build.returncode == 0 and "Traceback" not in build.stderr, build.stderr
    assert "records.yaml › [/x]: champ id" in build.stderr and "'^[a-z0-9][a-z0-9-]*$'" in build.stderr
    # the same text in an error (two sidecars claim the id « [/x] »): one line, not a traceback
    for name in ("a", "b"):
        (tmp_path / "sources" / f"{name}.txt").write_text(ZORGLUB, encoding="utf-8")
        (tmp_path / "sources" / f"{name}.meta.yaml").write_text('id: "[/x]"\n', encoding="utf-8")
    refused = run("index", "build", env=env, index_dir=tmp_path / "idx")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "identifiant '[/x]' déjà pris par a.txt" in refused.stderr
