"""Property-based tests of the batch readers and writers: no input row is lost or merged silently.

Each generated file is built together with its oracle, the records it must give: one per
non-blank line (JSONL, text) or per CSV record, in order, with its id or ``ligne-<n>`` when the
line cannot be read. The readers are checked against it, then a few files go through the CLI.
"""

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from assistant.batch import (CSV_COLUMNS, LineProblem, RecordWriter, load_done, neutralise_cell, read_items,
                             restore_cell)

BAD = "\ue000"  # stands for a byte that is not UTF-8 (0xFF) until the file is encoded; never generated otherwise
FORMULA_START = "=+-@\t\r"

# Questions with what breaks files: quotes, commas, newlines, carriage returns, unicode, U+2028, empty.
piece = st.sampled_from(['"', "'", ",", ";", "\n", "\r", "\r\n", "\t", " ", "#", "=", "+", "-", "@", "[", "]",
                         "{", "}", "\\", "\u2028", "«", "»", "é", "💡", "\x00", "\ufeff"])
plain = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=BAD), max_size=12)
question = st.lists(st.one_of(piece, plain), max_size=6).map("".join)
maybe_bad = st.tuples(question, st.booleans()).map(lambda t: t[0] + BAD if t[1] else t[0])
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encode(text: str) -> bytes:
    return text.encode("utf-8").replace(BAD.encode("utf-8"), b"\xff")


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def check(items: list, expected: list[tuple[int, str, str | None]]) -> None:
    """``items`` are exactly ``expected``: (line, id, question or None for an error), in order."""
    got = [(i.line, i.id, None if isinstance(i, LineProblem) else i.question) for i in items]
    assert got == expected


# --- JSONL ------------------------------------------------------------------------------------

@st.composite
def jsonl_files(draw):
    """(file bytes, expected items) for a JSONL file of good, bad, blank and non-UTF-8 lines."""
    lines, expected = [], []
    for number in range(1, draw(st.integers(0, 12)) + 1):
        kind = draw(st.sampled_from(["object", "object", "object", "junk", "blank", "bad-id", "bad-history"]))
        text = draw(maybe_bad)
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", " ", "\t", "\r", " \r"])))
            continue
        if kind == "junk":  # a raw NUL is never valid JSON
            line = draw(plain).replace("\n", " ") + "\x00" + text.replace("\n", " ")
            lines.append(line)
            expected.append((number, f"ligne-{number}", None))
            continue
        identifier = draw(st.sampled_from(["text", "int", "none", "empty"]))
        obj = {"question": text}
        if identifier == "text":
            obj["id"] = f"k{number}-{draw(question)}"
        elif identifier == "int":
            obj["id"] = number * 1000 + draw(st.integers(0, 999))
        elif identifier == "empty":
            obj["id"] = ""
        if kind == "bad-id":
            obj["id"] = draw(st.sampled_from([[number], {"n": number}, True, 1.5]))
        if kind == "bad-history":
            obj["history"] = draw(st.sampled_from(["notalist", [1, 2], [None], {"q": "x"}]))
        elif draw(st.booleans()):
            obj["history"] = draw(st.lists(question, max_size=2))
        line = json.dumps(obj, ensure_ascii=draw(st.booleans()))
        lines.append(line)
        readable = BAD not in line and kind not in ("bad-id", "bad-history")
        name = str(obj["id"]) if obj.get("id") not in (None, "") else f"q{number}"
        expected.append((number, name, text) if readable else (number, f"ligne-{number}", None))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return encode(ending.join(lines) + (ending if lines and draw(st.booleans()) else "")), expected


@FAST
@given(jsonl_files())
def test_jsonl_reader_gives_one_item_per_line_in_order(case):
    data, expected = case
    with tempfile.TemporaryDirectory() as folder:
        check(read_items(write(Path(folder), "q.jsonl", data)), expected)


# --- text -------------------------------------------------------------------------------------

@st.composite
def txt_files(draw):
    lines = [draw(maybe_bad).replace("\n", " ").replace("\ufeff", "") for _ in range(draw(st.integers(0, 12)))]
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    expected = []
    for number, line in enumerate(lines, 1):
        line = line.removesuffix("\r") if ending == "\n" else line  # « \r\n » ends only at the true line end
        if BAD in line:
            expected.append((number, f"ligne-{number}", None))
        elif line.strip() and not line.lstrip().startswith("#"):
            expected.append((number, f"q{number}", line.strip()))
    return encode(ending.join(lines) + ending), expected


@FAST
@given(txt_files())
def test_text_reader_gives_one_item_per_question_line_in_order(case):
    data, expected = case
    with tempfile.TemporaryDirectory() as folder:
        check(read_items(write(Path(folder), "q.txt", data)), expected)


# --- CSV --------------------------------------------------------------------------------------

@st.composite
def csv_files(draw, broken: bool = False):
    """A CSV written by :mod:`csv` (any quoting, any line ending), optionally with one row whose quote
    never closes; the rows after it then hold no quote (else where the stray field ends is a guess)."""
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    header = ["id", "question", "history"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting, lineterminator=ending)
    # csv.writer leaves a lone « \r » unquoted when the line ends with « \n » only: not valid CSV
    quote_all = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator=ending)
    writer.writerow(header)
    count = draw(st.integers(0, 10))
    cut = draw(st.integers(0, count)) if broken else None
    expected = []
    for position in range(count + (1 if broken else 0)):
        if draw(st.booleans()):
            buffer.write(ending)  # a blank line, skipped
        line = buffer.getvalue().count("\n") + 1
        identifier = f"k{position}" + draw(st.sampled_from(["", "-x", " y", ",z", '"w"']))
        if broken and position == cut:
            buffer.write(f'k{position},"{draw(plain).translate(str.maketrans("", "", chr(34) + chr(10) + chr(13)))}'
                         f"{ending}")
            expected.append((line, f"ligne-{line}", None))
            continue
        if broken and cut is not None and position > cut:
            simple = draw(plain).translate(str.maketrans("", "", '",\n\r'))
            buffer.write(f"k{position},{simple}{ending}")
            expected.append((line, f"k{position}", simple) if simple else (line, f"ligne-{line}", None))
            continue
        text = draw(maybe_bad)
        history = draw(st.sampled_from(["none", "list", "text"]))
        cell = {"none": "", "list": json.dumps(draw(st.lists(question, max_size=2))), "text": "pas une liste"}[history]
        (quote_all if "\r" in identifier + text + cell else writer).writerow([identifier, text, cell])
        readable = text != "" and history != "text" and BAD not in text  # an empty cell is no question
        expected.append((line, identifier, text) if readable else (line, f"ligne-{line}", None))
    return encode(buffer.getvalue()), expected


@FAST
@given(csv_files())
def test_csv_reader_gives_one_item_per_record_in_order(case):
    data, expected = case
    with tempfile.TemporaryDirectory() as folder:
        check(read_items(write(Path(folder), "q.csv", data)), expected)


@FAST
@given(csv_files(broken=True))
def test_csv_reader_with_an_unclosed_quote_loses_and_merges_no_row(case):
    data, expected = case
    with tempfile.TemporaryDirectory() as folder:
        items = read_items(write(Path(folder), "q.csv", data))
    check(items, expected)
    assert any("guillemet" in i.message for i in items if isinstance(i, LineProblem))


# --- CSV output -------------------------------------------------------------------------------

@FAST
@given(st.text(max_size=20))
def test_neutralised_cells_never_start_a_formula_and_come_back_exactly(value):
    safe = neutralise_cell(value)
    assert not safe or safe[0] not in FORMULA_START
    assert restore_cell(safe) == value


@FAST
@given(st.lists(st.tuples(question, question, question, st.booleans()), max_size=6))
def test_csv_output_reads_back_exactly_through_resume(rows):
    records = [{"id": f"{identifier}#{n}", "question": text, "answer": answer, "abstained": False,
                "mode": "extractive", "timings_ms": {"total": 1.0}, "error": "échec" if failed else None,
                "citations": [{"n": 1, "title": answer, "source": text, "quote": identifier}]}
               for n, (identifier, text, answer, failed) in enumerate(rows)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = RecordWriter(handle, "csv", write_header=True)
            for record in records:
                writer.write(record)
        with path.open(encoding="utf-8", newline="") as handle:
            cells = list(csv.DictReader(handle))
        assert [json.loads(c["citations_json"]) for c in cells] == [r["citations"] for r in records]
        for row in cells:
            assert all(not row[c] or row[c][0] not in FORMULA_START for c in CSV_COLUMNS if c != "citations_json")
        done = load_done(path, "csv")
    answered = [r for r in records if not r["error"]]
    assert [(d["id"], d["question"], d["answer"], d["citations"]) for d in done] == \
        [(r["id"], r["question"], r["answer"], r["citations"]) for r in answered]


# --- the CLI ----------------------------------------------------------------------------------

def refused(text: str | None) -> bool:
    """Whether the assistant refuses ``text`` (unreadable line, empty or too long question), by its own rule."""
    from assistant.service import Assistant
    from assistant.settings import AnswerSettings
    from corpus.errors import InvalidQuestion

    if text is None:
        return True
    try:
        Assistant.check_question(SimpleNamespace(settings=SimpleNamespace(answer=AnswerSettings())), text)
    except InvalidQuestion:
        return True
    return False


def expected_records(expected):
    """Ids in order, and whether each record must be an error."""
    return [(identifier, refused(text)) for _, identifier, text in expected]


@pytest.mark.slow
@settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(jsonl_files().map(lambda c: ("jsonl", c)), csv_files(broken=True).map(lambda c: ("csv", c)),
                 txt_files().map(lambda c: ("txt", c))), st.sampled_from(["jsonl", "csv"]))
def test_cli_batch_writes_one_record_per_input_and_resumes_only_errors(monkeypatch, real_assistant, case,
                                                                     out_format):
    """The batch command in-process over the real assistant (built once for the session)."""
    from assistant.cli import app

    monkeypatch.setattr("assistant.app.build", lambda settings: real_assistant)
    (in_format, (data, expected)), wanted = case, expected_records(case[1][1])
    with tempfile.TemporaryDirectory() as folder:
        source, output = write(Path(folder), f"q.{in_format}", data), Path(folder) / f"out.{out_format}"
        runner = CliRunner()
        for attempt in ([], ["--resume"]):
            result = runner.invoke(app, ["batch", str(source), "-o", str(output), *attempt])
            assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
            assert result.exit_code == (1 if any(error for _, error in wanted) else 0), result.output
            with output.open(encoding="utf-8", newline="") as handle:
                if out_format == "jsonl":
                    records = [json.loads(line) for line in handle.read().split("\n") if line]
                    records = [{**r, "error": r.get("error")} for r in records]
                else:
                    records = [{**row, "id": restore_cell(row["id"])} for row in csv.DictReader(handle)]
            assert [(r["id"], bool(r["error"])) for r in records] == wanted


@pytest.mark.slow
@settings(max_examples=2, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
@given(jsonl_files())
def test_real_cli_batch_on_a_fuzzed_file(real_index_dir, case):
    data, expected = case
    with tempfile.TemporaryDirectory() as folder:
        source, output = write(Path(folder), "q.jsonl", data), Path(folder) / "out.jsonl"
        result = subprocess.run([sys.executable, "-m", "assistant", "batch", str(source), "-o", str(output)],
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "ASSISTANT_INDEX__DIR": str(real_index_dir)})
        records = [json.loads(line) for line in output.read_text(encoding="utf-8").split("\n") if line]
    wanted = expected_records(expected)
    assert "Traceback" not in result.stderr
    assert [(r["id"], bool(r.get("error"))) for r in records] == wanted
    assert result.returncode == (1 if any(error for _, error in wanted) else 0)
