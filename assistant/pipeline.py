"""The one answer pipeline: query → retrieve → extractive answer (read → decide → compose) → generate.

Every caller answers through it: the chat, the API, the CLI (ask, batch, eval), the FQuAD benchmark, the fitting of
the ranker and the llama-index adapters. Haystack 2 and llama-index's ``RetrieverQueryEngine`` assemble typed
components the same way; ours are small objects, one per stage folder, wired once by :func:`assistant.app.assemble`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.compose.answer import Answer, needs_context
from assistant.extractive import ExtractiveAnswerer
from assistant.compose.messages import NOTICES
from assistant.generate.answerer import GenerativeAnswerer, condense_with_llm
from assistant.query.parse import Query, QueryParser
from assistant.retrieve.hybrid import Hit, HybridRetriever
from corpus.errors import Cancelled, InvalidQuestion

MODES = ("extractive", "generative", "auto")


@dataclass
class Retrieved:
    """What the retrieve stage gives the others: the passages to answer from, and the next ones (searched only for
    a sentence that corroborates or contradicts the answer)."""

    hits: list[Hit]
    extra: list[Hit]


class Pipeline:
    """The stages of one index version, run in order for each question.

    Args:
        parser: The query stage.
        retriever: The retrieve stage.
        extractive: Read → decide → compose.
        generator: The generate stage (None: ``llm.backend = none``).
        top_k: Passages an answer is drawn from (``retrieval.top_k``); ``corroboration_pool`` more are searched for
            agreement.
        condense_followups: Whether the model rewrites follow-ups (in the generative modes), within
            ``condense_timeout`` seconds.
    """

    def __init__(self, parser: QueryParser, retriever: HybridRetriever, extractive: ExtractiveAnswerer,
                 generator: GenerativeAnswerer | None = None, *, mode: str, top_k: int, corroboration_pool: int,
                 condense_followups: bool, condense_timeout: float):
        self.parser = parser
        self.retriever = retriever
        self.extractive = extractive
        self.generator = generator
        self.mode = mode
        self.top_k = top_k
        self.corroboration_pool = corroboration_pool
        self.condense_followups = condense_followups
        self.condense_timeout = condense_timeout

    def ask(self, question: str, history: list[str] | None = None, **options) -> Answer:
        """The final answer of :meth:`run` (``question`` already checked, ``history`` already bounded)."""
        for event in self.run(question, history or [], **options):
            if isinstance(event, Answer):
                return event
        raise AssertionError("run ended without an answer")  # pragma: no cover

    def query(self, question: str, history: list[str], mode: str,
              checkpoint: Callable[[], None] = lambda: None) -> Query:
        """The query stage: ``question`` read once, completed with its conversation and its search vector."""
        allowed = mode != "extractive" and self.generator is not None and self.condense_followups
        return self.parser.parse(question, history, rewrite=self._rewrite if allowed else None, checkpoint=checkpoint)

    def _rewrite(self, text: str, earlier: list[str], kind: str | None) -> str | None:
        """A follow-up's standalone form, written by the model (None when the rewrite cannot be trusted)."""
        return condense_with_llm(self.generator.backend, text, earlier, kind, timeout=self.condense_timeout)

    def retrieve(self, query: Query, top_k: int | None = None) -> Retrieved:
        """The retrieve stage: the ``top_k`` passages to answer from, and the pool searched for agreement."""
        top_k = min(max(int(top_k), 1), 50) if top_k else self.top_k
        hits = self.retriever.search(query.search, top_k + self.corroboration_pool, query_vector=query.vector)
        return Retrieved(hits[:top_k], hits[top_k:])

    def run(self, question: str, history: list[str], *, mode: str | None = None, top_k: int | None = None,
            cancelled: Callable[[], bool] | None = None, trimmed: int = 0) -> Iterator[str | Answer]:
        """Yield the generated text as it arrives, then the final :class:`Answer`.

        ``cancelled`` (say, « has the client gone? ») is asked before each stage that costs something and at each
        generated piece: once it is true, nothing more is computed and :class:`Cancelled` is raised.
        ``trimmed``: how many earlier turns the caller left out (reported in the answer's signals).
        """

        def checkpoint() -> None:
            if cancelled is not None and cancelled():
                raise Cancelled()

        mode = mode or self.mode
        if mode not in MODES:
            raise InvalidQuestion(f"mode de réponse inconnu « {mode} » (possibles : {', '.join(MODES)})")
        started = time.perf_counter()
        query = self.query(question, history, mode, checkpoint)
        if query.unresolved:
            # « Et son budget ? » with no earlier subject (none given, or its turn left out as too long): answering
            # would pick the budgets of whatever ranks first, cited and wrong; ask what « son » refers to instead
            answer = needs_context(question, query.unresolved, english=query.english)
            answer.signals["needs_context"] = query.unresolved
            if trimmed:
                answer.signals["history_trimmed"] = trimmed
            answer.timings_ms = {"total": round((time.perf_counter() - started) * 1000, 2)}
            yield answer
            return
        retrieved = self.retrieve(query, top_k)
        done_retrieving = time.perf_counter()
        checkpoint()
        answer = self.extractive.answer(query, retrieved.hits, retrieved.extra)
        extracted = time.perf_counter()
        timings = {"retrieve": round((done_retrieving - started) * 1000, 2),
                   "answer": round((extracted - done_retrieving) * 1000, 2)}
        answer = yield from self._generate(query, answer, retrieved, mode, checkpoint, timings)
        answer.retrieval_query = query.search
        answer.retrieved = list(dict.fromkeys(h.chunk.doc_id for h in [*retrieved.hits, *retrieved.extra]))
        if query.condensed_by:
            answer.signals["condensed_by"] = query.condensed_by
        if trimmed:
            answer.signals["history_trimmed"] = trimmed
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        answer.timings_ms = timings
        yield answer

    def _generate(self, query: Query, answer: Answer, retrieved: Retrieved, mode: str, checkpoint,
                  timings: dict):
        """The generate stage (generative and auto modes): yields the generated pieces, returns the final answer
        (the generated one, or the extractive one with why it stands instead)."""
        extracted = time.perf_counter()
        language = "en" if query.english else "fr"
        if mode != "extractive" and answer.disagreement:
            # a rewrite would keep one value and drop the others: the values are shown, each with its source
            answer.notice = NOTICES[language]["several_values"]
            answer.fallback = {"from": "generative", "reason": "several_values",
                               "detail": "les sources donnent plusieurs valeurs de ce qui est demandé"}
        elif mode != "extractive" and not answer.abstained:
            if self.generator is None:
                answer.notice = NOTICES[language]["backend"].format(detail="aucun modèle configuré (llm.backend = none)")
                answer.fallback = {"from": "generative", "reason": "unavailable", "detail": "llm.backend = none"}
            else:
                checkpoint()
                generation = self.generator.generate(query, answer, retrieved.hits, mode=mode)
                try:
                    for event in generation:
                        checkpoint()  # closing the generation below stops the model
                        if isinstance(event, Answer):
                            answer = event
                        else:
                            yield event
                finally:
                    generation.close()
                timings["generate"] = round((time.perf_counter() - extracted) * 1000, 2)
        return answer
