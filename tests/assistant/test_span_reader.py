"""The span reader (issue 27): built from its committed adapter by make install, read with ONNX Runtime, wired in as
``answer.reader = "span"``: the answer leads with the exact span, and the citation carries it with its offsets."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from assistant.read import span
from corpus.errors import BackendUnavailable

pytestmark = pytest.mark.skipif(not (span.ADAPTER / "adapter_model.safetensors").is_file(),
                                reason="no span adapter committed")


def test_the_span_folder_made_by_make_install_is_current_and_reads_within_the_range_asked():
    assert span.is_current(), "python -m assistant.read.span (make install) builds it"
    model = span.SpanModel.shared()
    window = ("Le PEPR IA a été lancé le 25 mars 2024. Il dispose d'un budget de 73 millions d'euros sur six ans. "
              "Il est co-piloté par le CEA, le CNRS et Inria.")
    sentence = window.index("Il dispose"), window.index(" Il est co-piloté")
    found, = model.read("Quel est le budget du PEPR IA ?", [window], [sentence])
    assert sentence[0] <= found.start < found.end <= sentence[1] and found.text == window[found.start:found.end]
    assert found.text == found.text.strip() and found.margin == found.score - found.null
    assert model.read("Quel est le budget ?", []) == []


def test_a_damaged_span_adapter_is_refused_with_one_line(tmp_path):
    copy = tmp_path / "span"
    shutil.copytree(span.ADAPTER, copy)
    weights = copy / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BackendUnavailable, match="ne correspond pas à son empreinte") as caught:
        span.adapter_provenance(copy)
    assert "\n" not in str(caught.value)
    assert not span.is_current(adapter=copy)


@pytest.mark.slow
def test_without_its_folder_the_span_reader_is_a_one_line_error(tmp_path, monkeypatch, real_index_dir):
    code = ("import sys; from pathlib import Path; import assistant.read.span as s; "
            f"s.FOLDER = Path({str(tmp_path / 'absent')!r}); "
            "from assistant.cli import main; sys.argv[0] = 'assistant'; main()")
    monkeypatch.setenv("ASSISTANT_ANSWER__READER", "span")
    monkeypatch.setenv("ASSISTANT_INDEX__DIR", str(real_index_dir))
    done = subprocess.run([sys.executable, "-c", code, "ask", "Quel est le budget du PEPR IA ?"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Lecteur d'empans" in done.stderr and "python -m assistant.read.span" in done.stderr


@pytest.mark.slow
def test_the_answer_leads_with_the_span_and_its_citation_carries_it(real_index_dir, clean_settings):
    from assistant.app import build
    from assistant.settings import AnswerSettings, IndexSettings

    assistant = build(clean_settings(index=IndexSettings(dir=real_index_dir), answer=AnswerSettings(reader="span")))
    answer = assistant.ask("Quel est le budget du PEPR IA ?")
    assert not answer.abstained and "73" in answer.answer
    first = answer.citations[0]
    assert first.span is not None and first.quote[first.span["start"]:first.span["end"]] == first.span["text"]
    assert answer.answer.startswith(f"{first.span['text']} — ")
    assert answer.to_dict()["citations"][0]["span"] == first.span


def test_the_sources_panel_highlights_the_span_inside_the_quote_and_escapes_it():
    from assistant.compose.answer import Answer, Citation
    from ui.render import render_sources

    quote = "Le <b>budget</b> est de 73 M€ sur six ans."
    start = quote.index("73")
    good = Citation(1, "d", "T", "https://example.org", "d#0", quote, 1.0,
                    span={"text": "73 M€", "start": start, "end": start + 5})
    html = render_sources(Answer("q", "73 M€ — … [1]", False, [good]), {})
    assert '<strong class="span">73 M€</strong>' in html and "<b>budget</b>" not in html
    for bad in ({"text": "x", "start": 5, "end": 999}, {"text": "x", "start": 9, "end": 3}):
        wrong = Citation(1, "d", "T", "https://example.org", "d#0", quote, 1.0, span=bad)
        assert '<strong class="span">' not in render_sources(Answer("q", "… [1]", False, [wrong]), {})


@pytest.mark.slow
def test_the_default_answer_leads_with_the_exact_value_when_a_value_is_asked(real_assistant):
    """Rules reader, answer.span_lead (default): the span reader reads the best sentence; its span leads the answer
    when a value of a known kind is asked and the span is of that kind; a reason or a definition is not led."""
    answer = real_assistant.ask("Quel est le budget du PEPR IA ?")
    first = answer.citations[0]
    assert first.span is not None and "73" in first.span["text"]
    assert first.quote[first.span["start"]:first.span["end"]] == first.span["text"]
    assert answer.answer.startswith(f"{first.span['text']} — ") and answer.signals["lead_margin"] >= 2.0
    for question in ("Pourquoi le CNRS a-t-il créé le centre AISSAI ?", "Qu'est-ce que le PEPR IA ?"):
        answer = real_assistant.ask(question)
        assert not answer.abstained and all(c.span is None for c in answer.citations), question


@pytest.mark.slow
def test_without_the_span_folder_the_default_assistant_answers_without_a_lead(tmp_path, monkeypatch, real_index_dir,
                                                                           clean_settings):
    from assistant.app import build
    from assistant.settings import IndexSettings

    monkeypatch.setattr(span, "FOLDER", tmp_path / "absent")
    answer = build(clean_settings(index=IndexSettings(dir=real_index_dir))).ask("Quel est le budget du PEPR IA ?")
    assert not answer.abstained and "73" in answer.answer and answer.citations[0].span is None


def test_a_year_question_is_led_only_by_a_year():
    from assistant.query.kinds import asks_year, holds_year
    from assistant.query.parse import read

    assert read("En quelle année le CNRS a-t-il créé le centre AISSAI ?").year
    assert read("What year was BLOOM released?").year and not read("Quand BLOOM a-t-il été publié ?").year
    assert asks_year("Depuis quelle année Jean Zay est-il en service ?") and not asks_year("Quelle date ?")
    assert holds_year("novembre 2021") and not holds_year("novembre") and not holds_year("3 100 GPU")
