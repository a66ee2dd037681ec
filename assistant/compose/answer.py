"""The answer contract shared by the CLI (``--json``), batch, eval and the web chat."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from assistant.compose.messages import NEEDS_CONTEXT_EN, NEEDS_CONTEXT_FR


@dataclass
class Citation:
    """One numbered source of an answer; ``quote`` stands verbatim in the cited chunk."""

    n: int
    doc_id: str
    title: str
    source: str
    chunk_id: str
    quote: str
    score: float
    field: str | None = None  # for programme records: the record field the quote comes from
    # the span reader's exact answer inside the quote: {"text", "start", "end"} (character offsets in ``quote``)
    span: dict | None = None


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    mode: str = "extractive"
    timings_ms: dict[str, float] = field(default_factory=dict)
    confidence: float = 0.0
    retrieval_query: str = ""
    notice: str | None = None  # shown to the user above the answer: why the extracts replace a generated answer
    fallback: dict | None = None  # {"from": "generative", "reason": …, "detail": …} when the generated text was refused
    generation: dict | None = None  # backend, raw text, grounded or not, timings
    disagreement: list[int] | None = None  # numbers of the citations that give different values of what was asked
    retrieved: list[str] = field(default_factory=list, repr=False)  # doc ids in rank order, for eval
    signals: dict = field(default_factory=dict, repr=False)  # what the confidence was computed from
    # (shown quote, citation number) in order, as composed (compose/citations.py): what joins two answers
    parts: list[tuple[str, int]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["retrieved"], data["signals"], data["parts"]
        if data["disagreement"] is None:
            del data["disagreement"]
        # what the client should know about the conversation it sent: earlier turns left out (too many, too long),
        # and a follow-up whose reference no earlier turn resolves (then the answer asks for the subject)
        if self.signals.get("history_trimmed"):
            data["history_trimmed"] = self.signals["history_trimmed"]
        if self.signals.get("needs_context"):
            data["needs_context"] = True
        for citation in data["citations"]:
            for name in ("field", "span"):
                if citation[name] is None:
                    del citation[name]
        return data


def needs_context(question: str, word: str, *, english: bool = False) -> Answer:
    """The answer to a follow-up whose reference (``word``) the conversation does not resolve: a request for the
    subject, counted as an abstention (nothing is cited)."""
    text = (NEEDS_CONTEXT_EN if english else NEEDS_CONTEXT_FR).format(word=word)
    return Answer(question=question, answer=text, abstained=True)


def verify_citations(answer: Answer, chunk_texts: dict[str, str]) -> list[str]:
    """Return what is wrong with an answer's citations (empty when everything holds).

    Checks that each quote stands verbatim in its chunk, that every marker ``[n]`` in the text
    has a citation and every citation is used, and that a non-abstained answer cites something (a refusal may
    cite what the corpus holds nearby: its markers are then checked like an answer's).
    """
    problems = []
    numbers = {c.n for c in answer.citations}
    for c in answer.citations:
        text = chunk_texts.get(c.chunk_id)
        if text is None:
            problems.append(f"[{c.n}] cite un passage inconnu {c.chunk_id}")
        elif c.quote not in text:
            problems.append(f"[{c.n}] la citation ne figure pas mot pour mot dans {c.chunk_id}")
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)}
    problems += [f"marqueur [{m}] sans source" for m in sorted(markers - numbers)]
    problems += [f"source [{n}] jamais citée dans la réponse" for n in sorted(numbers - markers)]
    if not answer.abstained and not answer.citations:
        problems.append("réponse sans aucune source")
    return problems
