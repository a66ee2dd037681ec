"""Property-based fuzzing of the sentence splitter and chunker: every sentence and every chunk is an exact
slice of its document, in order, never across a paragraph (but for a broken line), whatever the text; and the
time they take grows with the length of the text, not its square."""

from __future__ import annotations

import gc
import re
import signal
import time
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.documents import Document
from index.chunking import chunk_document, split_sentences

words = st.sampled_from(["Le", "CNRS", "M.", "Atif", "p.", "ex.", "Hi!", "PARIS", "73", "M€", "«", "»", "IA.",
                         "Il", "est", "?", "!", "…", "J.-C.", "https://x.fr/a.b", "\n", "\n\n", "  ", "é", "1er"])
texts = st.one_of(st.text(max_size=500), st.lists(words, max_size=120).map(" ".join))


@settings(max_examples=150, deadline=None)
@given(texts)
def test_sentences_are_exact_ordered_slices_within_paragraphs(text):
    spans = split_sentences(text)
    previous = 0
    for span in spans:
        assert previous <= span.start < span.end <= len(text)
        piece = text[span.start:span.end]
        assert piece == piece.strip() and piece
        # never across a paragraph, except a broken line (no stop before, lower case after: see _paragraphs)
        for gap in re.finditer(r"\n[ \t]*\n\s*", piece):
            before, after = piece[:gap.start()].rstrip(), piece[gap.end():]
            assert not re.search(r"[.!?…:»”\"')]$", before) and after[:1].islower(), piece
        previous = span.end


@settings(max_examples=100, deadline=None)
@given(texts, st.integers(100, 900), st.integers(0, 3))
def test_chunks_and_their_sentences_are_exact_slices(text, max_chars, overlap):
    doc = Document("d", "Titre", "Titre\n\n" + text, "https://example.org", "h")
    for chunk in chunk_document(doc, max_chars=max_chars, overlap=overlap):
        assert chunk.text == doc.text[chunk.start:chunk.end]
        for (a, b), sentence in zip(chunk.sentences, chunk.sentence_texts()):
            assert 0 <= a < b <= len(chunk.text) and sentence == doc.text[chunk.start + a:chunk.start + b]


# Runs that made splitting quadratic (issue 25, finding 3): abbreviations re-read from the start of the sentence,
# protected names scanned at every boundary, broken lines re-sliced, dots tried once per dot. The base size makes
# the first run take about 0.05 s of CPU here; the old splitter needed minutes for each of them.
HOSTILE_RUNS = [("M. ", 128_000), ("A. ", 128_000), ("Selon M. Dupont et ", 512_000), ("Hi! PARIS ", 512_000),
                ("a\n\n", 64_000), (".", 512_000)]


@contextmanager
def deadline(seconds: float, what: str):
    """Fail instead of hanging: a quadratic splitter takes hours on these sizes, not a few times longer."""
    def expire(*_):
        raise TimeoutError(f"{what}: more than {seconds} s, splitting is not linear")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def chunking_seconds(texts: list[str], repeats: int = 3) -> list[float]:
    """The best of ``repeats`` CPU times to chunk each text: CPU time of this process, sizes taken in turn, so that
    the other work of a shared machine does not read as growth."""
    docs = [Document("d", "Titre", text, "https://example.org", "h") for text in texts]
    best = [float("inf")] * len(docs)
    for _ in range(repeats):
        for i, doc in enumerate(docs):
            gc.collect()
            gc.disable()  # a collection landing in one run only would read as growth
            try:
                started = time.process_time()
                chunks = chunk_document(doc)
                best[i] = min(best[i], time.process_time() - started)
            finally:
                gc.enable()
            assert chunks and all(c.text == doc.text[c.start:c.end] for c in chunks)
    return best


@pytest.mark.parametrize("unit, size", HOSTILE_RUNS, ids=[repr(u) for u, _ in HOSTILE_RUNS])
def test_splitting_time_grows_linearly_on_runs_of_abbreviations_names_lines_and_dots(unit, size):
    with deadline(30, repr(unit)):
        seconds = chunking_seconds(["Titre\n\n" + unit * (size * k // len(unit)) for k in (1, 2, 4)])
    per_doubling = (seconds[2] / seconds[0]) ** 0.5  # linear: 2; quadratic: 4
    assert per_doubling < 2.6, (unit, seconds)


@pytest.mark.slow
def test_splitting_stays_linear_up_to_the_document_limit():
    """The worst run above (« M. » repeated: one sentence that never ends) at a quarter, half and all of
    ``limits.document_bytes``: a file as large as the corpus accepts costs twice the half-size one, not four times."""
    from assistant.settings import LimitsSettings

    limit = LimitsSettings().document_bytes
    with deadline(120, "M. × 20 MB"):
        seconds = chunking_seconds(["Titre\n\n" + "M. " * (limit * k // 4 // 3) for k in (1, 2, 4)], repeats=1)
    per_doubling = (seconds[2] / seconds[0]) ** 0.5
    assert per_doubling < 2.6, seconds
