"""Batch Q&A through the real CLI and the real index."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from assistant.batch import RecordWriter, load_done, read_items, to_csv_row

pytestmark = pytest.mark.slow

QUESTIONS = [
    {"id": "budget", "question": "Quel est le budget du PEPR IA ?", "expect": ["73 millions"]},
    {"id": "suite", "question": "Et son budget ?", "history": ["Qu'est-ce que le PEPR IA ?"], "expect": ["73 millions"]},
    {"id": "vide", "question": "   "},
    {"id": "hors", "question": "Quelle est la capitale de l'Australie ?", "abstain": True},
    {"id": "sharp", "question": "Qui porte le projet SHARP ?", "expect": ["Gribonval"]},
]


def run(*args, index_dir, env=None):
    environment = {**os.environ, "ASSISTANT_INDEX__DIR": str(index_dir), **(env or {})}
    return subprocess.run([sys.executable, "-m", "assistant", "batch", *map(str, args)], capture_output=True,
                          text=True, env=environment, timeout=600)


def write_jsonl(path, rows, extra_lines=()):
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    for position, line in extra_lines:
        lines.insert(position, line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def test_jsonl_in_jsonl_out_with_a_failing_row_in_the_middle(tmp_path, real_index_dir):
    source = tmp_path / "q.jsonl"
    write_jsonl(source, QUESTIONS, extra_lines=[(3, "{pas du json")])
    result = run(source, "-o", tmp_path / "out.jsonl", index_dir=real_index_dir)
    assert result.returncode == 1  # some records failed
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["budget", "suite", "vide", "ligne-4", "hors", "sharp"]
    by_id = {r["id"]: r for r in records}
    assert "vide" in by_id["vide"]["error"]
    assert "ligne 4" in by_id["ligne-4"]["error"] and "ligne 4" in result.stderr
    assert by_id["budget"]["correct"] is True and by_id["suite"]["correct"] is True
    assert by_id["hors"]["abstained"] is True and by_id["hors"]["correct"] is True
    for key in ("question", "answer", "abstained", "citations", "mode", "timings_ms"):
        assert key in by_id["sharp"]
    assert "2 erreur(s)" in result.stderr and "exactitude" in result.stderr


def test_csv_input_with_history_and_csv_output(tmp_path, real_index_dir):
    source = tmp_path / "q.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "history"])
        writer.writerow(["a", "Et son budget ?", json.dumps(["Qu'est-ce que le PEPR IA ?"])])
        writer.writerow(["b", "Où se trouve l'IDRIS ?", ""])
    result = run(source, "-o", tmp_path / "out.csv", index_dir=real_index_dir)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8", newline="")))
    assert [r["id"] for r in rows] == ["a", "b"]
    assert "73 millions" in rows[0]["answer"]
    citations = json.loads(rows[1]["citations_json"])
    assert citations and rows[1]["citations"].startswith("[1] ") and citations[0]["quote"] in rows[1]["citations"]


def test_plain_text_to_stdout_with_generated_ids_in_order(tmp_path, real_index_dir):
    source = tmp_path / "q.txt"
    source.write_text("# mes questions\nQuel est le budget du PEPR IA ?\n\nQui dirige AISSAI ?\n", encoding="utf-8")
    result = run(source, "--workers", "2", index_dir=real_index_dir)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["q2", "q4"]
    assert "Fadili" in records[1]["answer"]


def test_many_questions_keep_input_order_with_workers(tmp_path, real_index_dir):
    questions = [{"id": f"n{i}", "question": q["question"]} for i, q in enumerate(QUESTIONS * 4) if q["id"] != "vide"]
    source = tmp_path / "q.jsonl"
    write_jsonl(source, questions)
    result = run(source, "-o", tmp_path / "out.jsonl", "--workers", "3", index_dir=real_index_dir)
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [q["id"] for q in questions]


def test_interrupted_run_resumes_without_loss_or_duplicates(tmp_path, real_index_dir):
    questions = [{"id": f"k{i}", "question": f"Question {i} : quel est le budget du PEPR IA ?"} for i in range(150)]
    source, output = tmp_path / "q.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, questions)
    env = {**os.environ, "ASSISTANT_INDEX__DIR": str(real_index_dir)}
    process = subprocess.Popen([sys.executable, "-m", "assistant", "batch", str(source), "-o", str(output)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and (not output.exists() or output.read_text().count("\n") < 5):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = output.read_text(encoding="utf-8").count("\n")
    assert 5 <= written < 150, "the run was not interrupted in the middle"
    with output.open("a", encoding="utf-8") as handle:  # a record cut in the middle of its line
        handle.write('{"id": "k999", "question": "coup')
    result = run(source, "-o", output, "--resume", index_dir=real_index_dir)
    assert result.returncode == 0, result.stderr
    ids = [r["id"] for r in read_jsonl(output)]
    assert ids == [q["id"] for q in questions]
    assert "déjà faite(s)" in result.stderr


def test_csv_round_trip_of_awkward_quotes(tmp_path):
    quote = 'Il a dit « oui », puis "non",\net enfin ; — fin.'
    record = {"id": "x", "question": "q, \"avec\" virgule", "answer": f"{quote} [1]", "abstained": False,
              "mode": "extractive", "timings_ms": {"total": 3.0},
              "citations": [{"n": 1, "doc_id": "d", "title": "T, \"titre\"", "source": "https://e.org/a,b",
                             "chunk_id": "d#000", "quote": quote, "score": 0.5}]}
    path = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        RecordWriter(handle, "csv", write_header=True).write(record)
    (row,) = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert row["answer"] == record["answer"] and row["question"] == record["question"]
    assert json.loads(row["citations_json"]) == record["citations"]
    assert quote in row["citations"]
    (back,) = load_done(path, "csv")
    assert back["citations"][0]["quote"] == quote


def test_input_problems_are_reported_by_line(tmp_path):
    source = tmp_path / "q.jsonl"
    source.write_text('{"id": "a", "question": "ok ?"}\n[1, 2]\n{"id": "a", "question": "doublon"}\n'
                      '{"question": "regex", "expect": ["(unclosed"]}\n{"history": []}\n', encoding="utf-8")
    items = read_items(source)
    problems = {i.line: i.message for i in items if not hasattr(i, "question")}
    assert set(problems) == {2, 3, 4, 5}
    assert "déjà utilisé ligne 1" in problems[3] and "régulière" in problems[4] and "question" in problems[5]


def test_bad_usage_exit_codes(tmp_path, real_index_dir):
    missing = run(tmp_path / "absent.jsonl", index_dir=real_index_dir)
    assert missing.returncode == 1 and "introuvable" in missing.stderr and "Traceback" not in missing.stderr
    source = tmp_path / "q.txt"
    source.write_text("Quel est le budget du PEPR IA ?\n", encoding="utf-8")
    assert run(source, "--format", "xml", index_dir=real_index_dir).returncode == 2
    assert run(source, "--resume", index_dir=real_index_dir).returncode == 2
    bad_mode = run(source, "--mode", "divination", index_dir=real_index_dir)
    assert bad_mode.returncode == 2 and "--mode" in bad_mode.stderr and "extractive" in bad_mode.stderr
    assert len(bad_mode.stderr.strip().splitlines()) == 1 and "Traceback" not in bad_mode.stderr


def test_resume_keeps_records_with_unicode_line_separators(tmp_path, real_index_dir):
    source, output = tmp_path / "q.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, [{"id": "a", "question": "Quel est le budget\u2028du PEPR IA ?"},
                         {"id": "b", "question": "Qui dirige AISSAI ?"}])
    assert [i.id for i in read_items(source)] == ["a", "b"]
    assert run(source, "-o", output, index_dir=real_index_dir).returncode == 0
    again = run(source, "-o", output, "--resume", index_dir=real_index_dir)
    assert again.returncode == 0 and "2 déjà faite(s)" in again.stderr
    assert [r["id"] for r in read_jsonl(output)] == ["a", "b"]


def test_resume_refuses_a_file_of_another_format_and_keeps_it(tmp_path, real_index_dir):
    source, output = tmp_path / "q.txt", tmp_path / "out.jsonl"
    source.write_text("Quel est le budget du PEPR IA ?\n", encoding="utf-8")
    assert run(source, "-o", output, "--format", "csv", index_dir=real_index_dir).returncode == 0
    before = output.read_text(encoding="utf-8")
    result = run(source, "-o", output, "--resume", index_dir=real_index_dir)
    assert result.returncode == 1 and "reprise impossible" in result.stderr
    assert output.read_text(encoding="utf-8") == before


def test_resume_of_a_csv_cut_anywhere_keeps_only_whole_records(tmp_path):
    record = {"id": "x", "question": "q", "answer": "Réponse, « citée » [1]", "abstained": False,
              "mode": "extractive", "timings_ms": {"total": 1.0},
              "citations": [{"n": 1, "doc_id": "d", "title": "T", "source": "https://e.org", "chunk_id": "d#0",
                             "quote": "ligne 1\nligne 2, « fin »", "score": 1.0}]}
    full = tmp_path / "full.csv"
    with full.open("w", encoding="utf-8", newline="") as handle:
        writer = RecordWriter(handle, "csv", write_header=True)
        writer.write(record)
        writer.write({**record, "id": "y"})
    text = full.read_text(encoding="utf-8")
    header_end = text.index("\n") + 1
    first_end = text.index('\n"y"') + 1
    for cut in range(header_end, len(text) + 1):
        part = tmp_path / "part.csv"
        part.write_text(text[:cut], encoding="utf-8")
        ids = [r["id"] for r in load_done(part, "csv")]
        expected = ["x", "y"] if cut == len(text) else ["x"] if cut >= first_end else []
        assert ids == expected, cut
        for row in load_done(part, "csv"):
            assert row["citations"] == record["citations"]


def test_output_cannot_overwrite_the_input(tmp_path, real_index_dir):
    source = tmp_path / "q.jsonl"
    write_jsonl(source, QUESTIONS[:1])
    result = run(source, "-o", source, index_dir=real_index_dir)
    assert result.returncode == 2 and source.exists()


def test_non_boolean_abstain_strings_and_bad_field_types(tmp_path):
    source = tmp_path / "q.jsonl"
    source.write_text('{"id": "a", "question": "q ?", "abstain": "false", "expect": ["x"]}\n'
                      '{"id": "b", "question": "q ?", "expect": 73}\n{"id": "c", "question": "q ?", "doc_ids": 5}\n',
                      encoding="utf-8")
    a, b, c = read_items(source)
    assert a.expectation.abstain is False
    assert "expect" in b.message and "doc_ids" in c.message


def test_generative_batch_with_a_backend_that_fails_midway_keeps_every_answer(tmp_path, real_index_dir):
    from tests.llm_server import FakeLLMServer

    source = tmp_path / "q.jsonl"
    write_jsonl(source, [q for q in QUESTIONS if q["id"] != "vide"])
    calls = []

    def reply(body):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the model server falls over")  # the connection drops: a broken backend
        return "Le PEPR IA est doté de 73 millions d'euros sur six ans [1]."

    with FakeLLMServer() as server:
        server.reply = reply
        env = {"ASSISTANT_LLM__BACKEND": "ollama", "ASSISTANT_LLM__BASE_URL": server.url, "ASSISTANT_LLM__MODEL": "m",
               "ASSISTANT_LLM__CONDENSE_FOLLOWUPS": "false"}
        result = run(source, "-o", tmp_path / "out.jsonl", "--mode", "generative", "--workers", "2",
                     index_dir=real_index_dir, env=env)
    assert result.returncode == 0, result.stderr  # a fallback is an answer, not an error
    records = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert list(records) == ["budget", "suite", "hors", "sharp"]
    assert records["hors"]["abstained"] is True and records["hors"]["generation"] is None
    fallbacks = [r for r in records.values() if r["fallback"]]
    assert any(r["fallback"]["reason"] in {"truncated", "unavailable", "protocol"} for r in fallbacks)
    assert all("73 millions" in records[i]["answer"] for i in ("budget", "suite"))


# --- issue 14: audit of assistant batch ---------------------------------------------------------

def test_csv_output_neutralises_formulas_but_keeps_the_json_exact(tmp_path):
    citations = [{"n": 1, "doc_id": "d", "title": "=HYPERLINK(\"https://e.org\")", "source": "@source",
                  "chunk_id": "d#0", "quote": "-1+1", "score": 1.0}]
    record = {"id": "=1+1", "question": "+cmd|' /C calc'!A0", "answer": "-2 [1]", "abstained": False,
              "mode": "@mode", "error": "\tcaché", "timings_ms": {"total": 1.0}, "citations": citations}
    path = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = RecordWriter(handle, "csv", write_header=True)
        writer.write(record)
        writer.write({**record, "id": "'=déjà protégé", "question": "\rretour", "error": "", "answer": "ok"})
    first, second = csv.DictReader(path.open(encoding="utf-8", newline=""))
    for column in ("id", "question", "answer", "mode", "error"):
        assert first[column] == "'" + record[column], column
    assert second["id"] == "''=déjà protégé" and second["question"] == "'\rretour" and second["answer"] == "ok"
    assert json.loads(first["citations_json"]) == citations  # exact JSON, no quote added
    for row in (first, second):
        for column, value in row.items():
            if column != "citations_json":
                assert not value or value[0] not in "=+-@\t\r", (column, value)
    (back,) = load_done(path, "csv")  # the error record is retried; the answered one keeps its exact id
    assert back["id"] == "'=déjà protégé" and back["question"] == "\rretour"
    assert to_csv_row({"id": "x", "answer": "Le budget : 73 M€"})["answer"] == "Le budget : 73 M€"


CUT_CSV = 'id,question\na,"Quel est le budget\nb,Qui dirige AISSAI ?\nc,Où est l\'IDRIS ?\nd,Qu\'est-ce que le PEPR IA ?\n'


def test_csv_with_an_unclosed_quote_reports_its_line_and_keeps_the_other_rows(tmp_path):
    source = tmp_path / "q.csv"
    source.write_text(CUT_CSV, encoding="utf-8")
    items = read_items(source)
    assert [(i.line, i.id) for i in items] == [(2, "ligne-2"), (3, "b"), (4, "c"), (5, "d")]
    assert "guillemet" in items[0].message and "jamais refermé" in items[0].message
    # a quote closed by the quote of a later row is caught too (strict parsing), not merged
    source.write_text('id,question\nz,"sur deux\nlignes"\na,"oops\nb,ok\nc,"fin"\nd,"x" y\n', encoding="utf-8")
    items = read_items(source)
    assert [(i.line, i.id) for i in items] == [(2, "z"), (4, "ligne-4"), (5, "b"), (6, "c"), (7, "ligne-7")]
    assert items[0].question == "sur deux\nlignes" and "jamais refermé" in items[1].message
    assert "après le guillemet" in items[4].message
    source.write_text('id,question\na,b\rc\nd,ok\n', encoding="utf-8")  # a bare carriage return: no traceback
    assert [i.id for i in read_items(source)] == ["ligne-2", "d"]


def test_csv_with_an_unclosed_quote_through_the_cli_exits_1_with_every_row(tmp_path, real_index_dir):
    source = tmp_path / "q.csv"
    source.write_text(CUT_CSV, encoding="utf-8")
    result = run(source, "-o", tmp_path / "out.jsonl", index_dir=real_index_dir)
    assert result.returncode == 1, result.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["ligne-2", "b", "c", "d"]
    assert "ligne 2" in records[0]["error"] and "ligne 2" in result.stderr
    assert all(not r.get("error") for r in records[1:]) and "Fadili" in records[1]["answer"]


def test_a_line_that_is_not_utf8_is_one_error_record(tmp_path, real_index_dir):
    jsonl, txt, table = tmp_path / "q.jsonl", tmp_path / "q.txt", tmp_path / "q.csv"
    jsonl.write_bytes(b'{"id": "a", "question": "Qui dirige AISSAI ?"}\n{"id": "b", "question": "caf\xe9 ?"}\n'
                      b'{"id": "c", "question": "Quel est le budget du PEPR IA ?"}\n')
    txt.write_bytes(b"Qui dirige AISSAI ?\nmauvais \xff octet\n\nQuel est le budget du PEPR IA ?\n")
    table.write_bytes(b'id,question\na,"multi\nligne \xc3"\nb,ok\n')
    assert [(i.line, i.id) for i in read_items(jsonl)] == [(1, "a"), (2, "ligne-2"), (3, "c")]
    assert "0xE9" in read_items(jsonl)[1].message and "UTF-8" in read_items(jsonl)[1].message
    assert [(i.line, i.id) for i in read_items(txt)] == [(1, "q1"), (2, "ligne-2"), (4, "q4")]
    assert "colonne 9" in read_items(txt)[1].message
    assert [(i.line, i.id) for i in read_items(table)] == [(2, "ligne-2"), (4, "b")]
    assert "« question »" in read_items(table)[0].message
    result = run(jsonl, "-o", tmp_path / "out.jsonl", index_dir=real_index_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["a", "ligne-2", "c"]
    assert "Fadili" in records[0]["answer"] and "73 millions" in records[2]["answer"]
    assert "UTF-8" in records[1]["error"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_retries_error_records_and_exits_on_the_final_state(tmp_path, real_index_dir, fmt):
    source, output = tmp_path / "q.jsonl", tmp_path / f"out.{fmt}"
    write_jsonl(source, [{"id": "b", "question": "   "}, {"id": "a", "question": "Qui dirige AISSAI ?"}])
    assert run(source, "-o", output, index_dir=real_index_dir).returncode == 1
    again = run(source, "-o", output, "--resume", index_dir=real_index_dir)  # still failing: retried, still 1
    assert again.returncode == 1 and "1 déjà faite(s)" in again.stderr

    def records():
        if fmt == "jsonl":
            return read_jsonl(output)
        text = output.read_text(encoding="utf-8")
        assert text.count('"id","question"') == 1  # one header, however many resumes
        return list(csv.DictReader(io.StringIO(text)))

    assert [r["id"] for r in records()] == ["b", "a"]  # one record per id, in input order
    write_jsonl(source, [{"id": "b", "question": "Quel est le budget du PEPR IA ?"},
                         {"id": "a", "question": "Qui dirige AISSAI ?"}])
    fixed = run(source, "-o", output, "--resume", index_dir=real_index_dir)
    assert fixed.returncode == 0, fixed.stderr
    final = records()
    assert [r["id"] for r in final] == ["b", "a"] and not any(r["error"] for r in final if "error" in r)
    assert "73 millions" in final[0]["answer"] and "1 déjà faite(s)" in fixed.stderr


def test_resume_of_a_csv_of_errors_only_writes_one_header(tmp_path):
    path = tmp_path / "out.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        RecordWriter(handle, "csv", write_header=True).write(
            {"id": "x", "question": "", "answer": "", "abstained": False, "citations": [], "error": "vide"})
    assert load_done(path, "csv") == [] and path.read_text(encoding="utf-8") == ""
    path.write_text(",".join(f'"{c}"' for c in ["id", "question", "answer", "abstained", "mode", "error",
                                                 "correct", "latency_ms", "n_citations", "citations", "sources",
                                                 "citations_json"]) + "\n", encoding="utf-8")
    assert load_done(path, "csv") == [] and path.read_text(encoding="utf-8") == ""  # cut after the header


def test_history_must_be_a_list_of_texts_and_ids_text_or_integers(tmp_path):
    source = tmp_path / "q.jsonl"
    rows = [{"id": "a", "question": "q ?", "history": "notalist"}, {"id": "b", "question": "q ?", "history": [1, 2]},
            {"id": "c", "question": "q ?", "history": ["Qu'est-ce que le PEPR IA ?"]}, {"id": [1], "question": "q ?"},
            {"id": {"k": 1}, "question": "q ?"}, {"id": True, "question": "q ?"}, {"id": 1.5, "question": "q ?"},
            {"id": 7, "question": "q ?"}, {"question": "q ?", "history": None}]
    write_jsonl(source, rows)
    items = read_items(source)
    problems = {i.line: i.message for i in items if not hasattr(i, "question")}
    assert set(problems) == {1, 2, 4, 5, 6, 7}
    assert all("history" in problems[n] for n in (1, 2)) and all("id" in problems[n] for n in (4, 5, 6, 7))
    assert items[2].history == ["Qu'est-ce que le PEPR IA ?"] and items[7].id == "7" and items[8].id == "q9"
    table = tmp_path / "q.csv"
    table.write_text('id,question,history\na,q ?,notalist\nb,q ?,"[""Qu\'est-ce que le PEPR IA ?""]"\nc,q ?,\n',
                     encoding="utf-8")
    a, b, c = read_items(table)
    assert "history" in a.message and b.history == ["Qu'est-ce que le PEPR IA ?"] and c.history == []
