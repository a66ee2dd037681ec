"""Property-based fuzzing of the sentence splitter and chunker: every sentence and every chunk is an exact
slice of its document, in order, never across a paragraph (but for a broken line), whatever the text."""

from __future__ import annotations

import re

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
