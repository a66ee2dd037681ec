"""French-aware sentence splitting and chunking.

Sentences and chunks are exact slices of the document text (``text[start:end]``),
so every quote taken from them stands verbatim in the cited source.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from corpus.documents import Document

# Abbreviations after which a full stop does not end a sentence (compared lower-cased).
ABBREVIATIONS = frozenset(
    """
    m mm mme mmes mlle mlles dr pr me mgr st ste cf etc ex p pp vol no n° art al env av apr j.-c
    fig éd ed coll dir trad chap hab min max sq resp vs approx ca t éds
    """.split()
)
# Every pattern below is scanned once over a paragraph, never from the start of a sentence again: a dropped file
# of « M. M. M. … », « Hi! PARIS » or dots must cost time in proportion to its length (issue 25), not its square.
# The look-behind starts a boundary only at the first mark of a run (« ...... » is tried once, not once per dot);
# the possessive quantifiers never give back what cannot be followed by a space anyway.
_MARKS = r"[.!?…]++[»”\"')\]]*+\s+"
_BOUNDARY = re.compile(r"(?<![.!?…])" + _MARKS)
_BOUNDARY_HERE = re.compile(_MARKS)  # at the start of a region, where the look-behind would see outside it
_OPENER = re.compile(r"[«“\"(\[]?\s*[A-ZÀ-ÖØ-Þ0-9]")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# Names that contain sentence punctuation and must not be cut.
_PROTECTED = re.compile(r"\bHi! PARIS\b|\bYahoo!", re.IGNORECASE)
_TERMINAL = frozenset(".!?…:»”\"')")  # a paragraph ending with one of these is not a broken line
_URL = re.compile(r"\s*https?://")
_INITIALS = re.compile(r"[a-zà-ÿ]|(?:[a-zà-ÿ]\.-?)+[a-zà-ÿ]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass
class Chunk:
    """A retrievable passage: consecutive sentences of one document section.

    Attributes:
        chunk_id: ``<doc_id>#<position>`` — stable across rebuilds of the same text and settings.
        doc_id, title, source: Provenance, copied from the document.
        position: Rank of the chunk in its document (0-based).
        section: The heading the chunk sits under, if any.
        text: ``document.text[start:end]``.
        sentences: Offsets of each sentence, relative to ``text``.
    """

    chunk_id: str
    doc_id: str
    title: str
    source: str
    position: int
    section: str
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]]
    kind: str = "document"
    metadata: dict = field(default_factory=dict)
    sentence_rows: list[int] = field(default_factory=list)

    def sentence_texts(self) -> list[str]:
        return [self.text[a:b] for a, b in self.sentences]

    def embedding_text(self) -> str:
        """What the embedder sees: title and section give context to short passages."""
        head = " — ".join(p for p in (self.title, self.section) if p)
        return f"{head}\n{self.text}" if head else self.text

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict) -> "Chunk":
        data = dict(data)
        data["sentences"] = [tuple(s) for s in data["sentences"]]
        return cls(**data)


def _ends_with_abbreviation(text: str, cursor: int, stop: int) -> bool:
    """Whether the full stop at ``text[stop]`` follows an abbreviation or an initial.

    Only the word before the stop is read (back to a space, or to ``cursor``, the start of the sentence):
    reading the sentence so far made a run of abbreviations quadratic.
    """
    if text[stop] != ".":
        return False
    begin = stop
    while begin > cursor and not text[begin - 1].isspace():  # the words read here never overlap: linear in all
        begin -= 1
    word = text[begin:stop].lower().lstrip("(«“\"")
    if word in ABBREVIATIONS:
        return True
    # Initials (« J. Atif », « S. DENIS ») and dotted acronyms (« p. ex. », « J.-C. »).
    return bool(_INITIALS.fullmatch(word))


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split ``text[start:end]`` into sentence spans (absolute offsets), never across paragraphs.

    A full stop ends a sentence only when followed by a capital, a digit or an opening quote,
    and not after a known abbreviation or an initial. A paragraph that does not end with
    terminal punctuation and is followed by one starting in lower case is a broken line,
    not a boundary (the seed article has one).
    """
    end = len(text) if end is None else end
    paragraphs = _paragraphs(text, start, end)
    spans: list[Span] = []
    protected = [m.span() for m in _PROTECTED.finditer(text, start, end)]
    shield = 0  # the first protected name that does not end before the current boundary: boundaries come in order
    for p_start, p_end in paragraphs:
        cursor = p_start
        for match in _boundaries(text, p_start, p_end):
            cut, stop = match.end(), match.start()
            if cut >= p_end:
                break
            while shield < len(protected) and protected[shield][1] <= stop:
                shield += 1
            if shield < len(protected) and protected[shield][0] <= stop:
                continue
            if not _OPENER.match(text, cut):
                continue
            if _ends_with_abbreviation(text, cursor, stop):
                continue
            spans.append(_trimmed(text, cursor, cut))
            cursor = cut
        spans.append(_trimmed(text, cursor, p_end))
    return [s for s in spans if s.end > s.start]


def _boundaries(text: str, start: int, end: int):
    """Candidate sentence ends in ``text[start:end]``, in order, as if nothing stood before ``start``."""
    first = _BOUNDARY_HERE.match(text, start, end) if start > 0 and text[start - 1] in ".!?…" else None
    if first:
        yield first
        start = first.end()
    yield from _BOUNDARY.finditer(text, start, end)


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    raw, cursor = [], start
    for match in _PARAGRAPH.finditer(text, start, end):
        raw.append((cursor, match.start()))
        cursor = match.end()
    raw.append((cursor, end))
    raw = [(a, b) for a, b in (_strip(text, a, b) for a, b in raw) if b > a]
    merged: list[tuple[int, int]] = []
    for a, b in raw:
        # Offsets only: slicing the paragraph merged so far at every broken line made « a\n\na\n\n… » quadratic.
        # Paragraphs are stripped, so the last character tells whether the previous one ends a sentence.
        if merged and text[merged[-1][1] - 1] not in _TERMINAL and text[a].islower() and not _URL.match(
            text, a, b
        ) and not _URL.match(text, merged[-1][0], merged[-1][1]):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _trimmed(text: str, a: int, b: int) -> Span:
    return Span(*_strip(text, a, b))


def is_heading(text: str, span: tuple[int, int]) -> bool:
    """A short paragraph without terminal punctuation, such as « IA et sciences »."""
    chunk = text[span[0] : span[1]]
    return len(chunk) <= 90 and "\n" not in chunk and not re.search(r"[.!?…:;,]\s*$", chunk)


def chunk_document(doc: Document, max_chars: int = 700, overlap: int = 1) -> list[Chunk]:
    """Cut a document into chunks of whole sentences, at most ``max_chars`` long when possible.

    Headings start a new section and are not part of any chunk; consecutive chunks of a
    section share ``overlap`` sentences. A single sentence longer than ``max_chars`` is kept whole.
    """
    text = doc.text
    sections: list[tuple[str, list[Span]]] = [("", [])]
    for p_start, p_end in _paragraphs(text, _body_start(doc), len(text)):
        if _is_section_heading(text, p_start, p_end):
            sections.append((text[p_start:p_end].lstrip("#").strip(), []))  # « ## Budget » → « Budget »
            continue
        sections[-1][1].extend(split_sentences(text, p_start, p_end))
    chunks: list[Chunk] = []
    for section, sentences in sections:
        for group in _groups(sentences, max_chars, overlap):
            a, b = group[0].start, group[-1].end
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{len(chunks):03d}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    source=doc.source,
                    position=len(chunks),
                    section=section,
                    start=a,
                    end=b,
                    text=text[a:b],
                    sentences=[(s.start - a, s.end - a) for s in group],
                    kind=doc.kind,
                    metadata=doc.metadata,
                )
            )
    return chunks


def has_passages(doc: Document) -> bool:
    """Whether :func:`chunk_document` gives ``doc`` at least one passage: some paragraph after its title line
    that is not a heading (every such paragraph holds a sentence). Reads no sentence."""
    text = doc.text
    return any(not _is_section_heading(text, a, b) for a, b in _paragraphs(text, _body_start(doc), len(text)))


def _is_section_heading(text: str, start: int, end: int) -> bool:
    return is_heading(text, (start, end)) and not _URL.match(text, start, end)


def _body_start(doc: Document) -> int:
    """Where the passages of ``doc`` start: after its first line when that line is the title as a heading.

    The line is left out when the title was declared apart (a sidecar: the line repeats it), when it is a
    Markdown heading, or when it reads as a heading (short, no final punctuation). A first line that is a
    sentence and gave the document its title only because nothing else did stays text to index.
    """
    text = doc.text
    end = text.find("\n")
    end = len(text) if end < 0 else end
    line = text[:end]
    if line.lstrip("# ").split() != doc.title.split():
        return 0
    a, b = _strip(text, 0, end)
    if doc.title_declared or line.lstrip().startswith("#") or is_heading(text, (a, b)):
        return end
    return 0


def _groups(sentences: list[Span], max_chars: int, overlap: int) -> list[list[Span]]:
    groups: list[list[Span]] = []
    i = 0
    while i < len(sentences):
        group = [sentences[i]]
        j = i + 1
        while j < len(sentences) and sentences[j].end - group[0].start <= max_chars:
            group.append(sentences[j])
            j += 1
        groups.append(group)
        if j >= len(sentences):
            break
        i = max(j - overlap, i + 1)
    return groups


def chunker_fingerprint(max_chars: int, overlap: int) -> str:
    """Identifies the chunking rules: a change here forces a full rebuild (v2: a first line that reads as a
    sentence is indexed text, not only the title)."""
    rules = f"v2|{max_chars}|{overlap}|{sorted(ABBREVIATIONS)}|{_PROTECTED.pattern}"
    return hashlib.sha256(rules.encode()).hexdigest()[:16]
