"""Generative answers on top of the extractive one: the model writes, the grounding check decides.

The extractive answer is computed first, always. It decides abstention (a model is never asked what
the corpus cannot answer), it is the fallback whenever the generated text fails, and its cited
passages are the first ones the model reads.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from assistant.compose.answer import Answer, Citation
from assistant.compose.citations import citation
from assistant.compose.messages import NOTICES
from assistant.generate.grounding import Passage, build_prompt, check_answer, fence, select_passages, unconfirmed
from assistant.generate.backends import Backend, GenerationFailed, LocalBackend, Prompt
from assistant.query.kinds import expected_type, type_match
from assistant.query.parse import Query
from assistant.retrieve.hybrid import Hit
from index.text import analyze



class GenerativeAnswerer:
    """Streams a model's answer over the best passages, then keeps it only if it is grounded.

    Args:
        backend: The text generator.
        passages: How many passages the model reads.
        passage_chars: Longest passage text given.
        max_tokens: Longest answer.
        deadline_s: Longest time an answer may take, first token to last.
    """

    def __init__(self, backend: Backend, *, passages: int = 3, passage_chars: int = 700, max_tokens: int = 96,
                 deadline_s: float = 45.0, context: str = "auto"):
        self.backend = backend
        # What the model reads: the extractive answer's quoted sentences (best for a small base model,
        # measured on the dev set), or whole passages (for a capable chat model behind a server).
        self.context = context if context != "auto" else ("quotes" if isinstance(backend, LocalBackend) else "passages")
        self.passages = passages
        self.passage_chars = passage_chars
        self.max_tokens = max_tokens
        self.deadline_s = deadline_s

    def passages_for(self, extractive: Answer, hits: list[Hit]) -> list[Passage]:
        """The chunks the extractive answer cites first, then the best retrieved ones."""
        by_id = {h.chunk.chunk_id: h.chunk for h in hits}
        if self.context == "quotes":
            quoted = [(by_id[c.chunk_id], c.quote) for c in extractive.citations if c.chunk_id in by_id]
            if quoted:
                return [Passage(n, chunk, quote) for n, (chunk, quote) in enumerate(quoted[:self.passages], 1)]
        cited = [by_id[c.chunk_id] for c in extractive.citations if c.chunk_id in by_id]
        return select_passages(cited + [h.chunk for h in hits], self.passages, self.passage_chars)

    def generate(self, query: Query, extractive: Answer, hits: list[Hit], *, mode: str) -> Iterator[str | Answer]:
        """Yield text pieces as they arrive, then the final :class:`Answer` (generated, or the extractive
        one marked as a fallback)."""
        question, english = query.text, query.english
        passages = self.passages_for(extractive, hits)
        prompt = build_prompt(question, passages)
        started = time.perf_counter()
        first = None
        pieces: list[str] = []
        try:
            for piece in self.backend.stream(prompt, max_tokens=self.max_tokens,
                                             deadline=time.monotonic() + self.deadline_s):
                if first is None:
                    first = time.perf_counter()
                pieces.append(piece)
                yield piece
        except GenerationFailed as exc:
            yield self._fallback(extractive, mode, english, exc.reason, str(exc), "".join(pieces), started, first)
            return
        raw = "".join(pieces).strip()
        check = check_answer(raw, passages, english=english)
        if check.declined:
            yield self._fallback(extractive, mode, english, "declined", "le modèle ne trouve pas la réponse",
                                 raw, started, first)
        elif not check.ok:
            detail = "; ".join(check.problems) or "réponse vide"
            yield self._fallback(extractive, mode, english, "empty" if not raw else "unsupported", detail,
                                 raw, started, first)
        elif (kind := query.kind) and not any(type_match(kind, s.text) for s in check.sentences):
            yield self._fallback(extractive, mode, english, "off_target", f"la question attend : {kind}",
                                 raw, started, first)
        elif mode == "auto" and (extra := unconfirmed([s.text for s in check.sentences],
                                                      " ".join(c.quote for c in extractive.citations))):
            yield self._fallback(extractive, mode, english, "disagrees",
                                 f"absent(s) des extraits retenus : {', '.join(extra)}", raw, started, first)
        else:
            yield self._grounded(question, extractive, check, raw, started, first)

    def _grounded(self, question, extractive, check, raw, started, first) -> Answer:
        citations: list[Citation] = []
        numbers: dict[tuple[str, str], int] = {}
        parts = []
        for s in check.sentences:
            key = (s.passage.chunk.chunk_id, s.quote)
            if key not in numbers:
                numbers[key] = len(citations) + 1
                citations.append(citation(numbers[key], s.passage.chunk, s.quote, 0.0))
            text = s.text.rstrip()
            end = text[-1] if text[-1] in ".!?…" else "."
            parts.append(f"{text.rstrip('.!?…').rstrip()} [{numbers[key]}]{end}")
        done = time.perf_counter()
        return Answer(question=question, answer=" ".join(parts), abstained=False, citations=citations,
                      mode="generative", confidence=extractive.confidence,
                      generation=self._generation(raw, started, first, done, grounded=True))

    def _fallback(self, extractive: Answer, mode, english, reason, detail, raw, started, first) -> Answer:
        backend_failure = reason not in ("unsupported", "declined", "empty", "off_target", "disagrees")
        notices = NOTICES["en" if english else "fr"]
        key = "backend" if backend_failure else ("declined" if reason == "declined" else "unsupported")
        # In auto mode, extracts are a normal outcome; a broken backend is still worth saying.
        if mode == "generative" or backend_failure:
            extractive.notice = notices[key].format(detail=_short(detail))
        extractive.fallback = {"from": "generative", "reason": reason, "detail": detail}
        extractive.generation = self._generation(raw, started, first, time.perf_counter(), grounded=False)
        return extractive

    def _generation(self, raw, started, first, done, *, grounded: bool) -> dict:
        return {"backend": self.backend.name, "grounded": grounded, "raw": raw,
                "first_token_ms": round((first - started) * 1000, 1) if first else None,
                "ms": round((done - started) * 1000, 1)}


def _short(detail: str) -> str:
    return detail if len(detail) <= 90 else detail[:87] + "…"


# ---------------------------------------------------------------------------------------------- follow-ups

_CONDENSE_EXAMPLE = (
    "Questions précédentes :\n- Qu'est-ce que le programme Exemplaire ?\n"
    "Question de suivi : Et qui le dirige ?\n"
    "Question autonome : Qui dirige le programme Exemplaire ?\n\n"
)
CONDENSE_SYSTEM = ("Réécris la dernière question de l'utilisateur pour qu'elle se comprenne seule, en nommant ce "
                   "dont elle parle d'après les questions précédentes. Réponds par la question réécrite seule, "
                   "sans y répondre.")


def condense_prompt(question: str, history: list[str]) -> Prompt:
    earlier = "".join(f"- {' '.join(fence(h).split())}\n" for h in history[-3:])
    follow = " ".join(fence(question).split())
    text = f"{_CONDENSE_EXAMPLE}Questions précédentes :\n{earlier}Question de suivi : {follow}\nQuestion autonome :"
    messages = [{"role": "system", "content": CONDENSE_SYSTEM},
                {"role": "user", "content": f"Questions précédentes :\n{earlier}\nDernière question : {follow}"}]
    return Prompt(text=text, messages=messages, stop=["\n"])


_QUANTITIES = {"money", "number", "count", "share", "duration"}


def _what_is_asked(kind: str | None) -> str | None:
    """The kind of answer, with every quantity alike: « Et combien a-t-il reçu ? » asks what « Quel est son
    budget ? » asks; « Qui dirige… » does not."""
    return "quantity" if kind in _QUANTITIES else kind


def condense_with_llm(backend: Backend, question: str, history: list[str], kind: str | None, *,
                      timeout: float = 10.0) -> str | None:
    """A standalone rewrite of ``question`` (whose expected answer type is ``kind``) by the model, or ``None`` when
    the rewrite cannot be trusted: failed, empty, overlong, or bringing nothing of the conversation (the offline
    condensation then applies). The rewrite is read here, once: it is the model's text, not the question."""
    try:
        text = backend.complete(condense_prompt(question, history), max_tokens=48, timeout=timeout)
    except GenerationFailed:
        return None
    text = " ".join(text.split()).strip(" «»\"")
    if not text or len(text) > 2 * len(question) + 150 or "exemplaire" in text.lower():
        return None
    own = set(analyze(question))
    rewritten = set(analyze(text))
    from_history = set(analyze(" ".join(history))) - own
    added = rewritten - own
    if not added & from_history or (added - from_history and len(added - from_history) > len(added & from_history)):
        return None  # it invented a subject instead of taking it from the conversation
    asked, asks = _what_is_asked(kind), _what_is_asked(expected_type(text))
    if (asked and asks != asked) or (not asked and len(own & rewritten) < len(own) / 2):
        return None  # it changed what is asked: « Et son budget ? » is not « Qui dirige le PEPR IA ? »
    return text if re.search(r"\w", text) else None
