"""The assistant as its callers see it: one object that checks a question, bounds its conversation, runs the
pipeline of the index version in service, and switches to a new version when a build has made one."""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from assistant.compose.answer import Answer
from assistant.pipeline import Pipeline
from assistant.settings import Settings
from corpus.errors import AssistantError, BackendUnavailable, Cancelled, InvalidQuestion
from index.build import LoadedIndex, current_version, load_index

log = logging.getLogger(__name__)


@dataclass
class Assistant:
    """Answers questions over a loaded index, extractively or with a text generator.

    Attributes:
        pipeline: The stages of the index version in service (:class:`assistant.pipeline.Pipeline`).
        reassemble: Builds the pipeline of another index version with a generator (``assistant.app.assemble``
            with these settings).
    """

    settings: Settings
    index: LoadedIndex
    pipeline: Pipeline
    reassemble: Callable[[LoadedIndex, object], Pipeline] | None = field(default=None, repr=False, compare=False)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _refused_version: str | None = field(default=None, repr=False, compare=False)
    _swap_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def retriever(self):
        return self.pipeline.retriever

    def with_generator(self, generator) -> Assistant:
        """This assistant answering with another generate stage (a :class:`GenerativeAnswerer`, or None), the
        other stages shared."""
        pipeline = copy.copy(self.pipeline)
        pipeline.generator = generator
        return dataclasses.replace(self, pipeline=pipeline)

    def refresh(self) -> bool:
        """Switch to the index's current version if a build has made a new one; True if it switched.

        Called before every question, so a long-running server serves a rebuilt index without a restart.
        A new version that does not load (damaged, other embedder) is logged once and the one in service stays.
        """
        try:
            version = current_version(self.settings.index.dir).name
        except AssistantError:
            return False
        if version == self.index.manifest.version or version == self._refused_version or self.reassemble is None:
            return False
        with self._reload_lock:
            if version == self.index.manifest.version:
                return False
            from assistant.app import store_config

            try:
                index = load_index(self.settings.index.dir, embedder_identity=self.retriever.embedder.identity,
                                   store=store_config(self.settings))
            except BackendUnavailable as exc:  # the store is down, not the version: tried again next question
                log.warning("nouvelle version d'index %s pas encore chargée, %s reste en service : %s",
                            version, self.index.manifest.version, exc)
                return False
            except AssistantError as exc:
                log.warning("nouvelle version d'index %s refusée, %s reste en service : %s",
                            version, self.index.manifest.version, exc)
                self._refused_version = version
                return False
            pipeline = self.reassemble(index, self.pipeline.generator)
            with self._swap_lock:  # both switch together; a question in flight keeps the pipeline it took
                self.index, self.pipeline = index, pipeline
            return True

    def ask(self, question: str, history: list[str] | None = None, *, mode: str | None = None,
            top_k: int | None = None, cancelled: Callable[[], bool] | None = None) -> Answer:
        """Answer one question, optionally as a follow-up of earlier user questions.

        ``mode`` overrides ``answer.mode`` (``extractive``, ``generative`` or ``auto``); ``top_k`` overrides
        ``retrieval.top_k`` (passages the answer is drawn from); ``cancelled`` as for :meth:`ask_stream`.

        Raises:
            InvalidQuestion: empty, too long, or not text.
            Cancelled: ``cancelled()`` became true before the answer was done.
        """
        for event in self.ask_stream(question, history, mode=mode, top_k=top_k, cancelled=cancelled):
            if isinstance(event, Answer):
                return event
        raise AssertionError("ask_stream ended without an answer")  # pragma: no cover

    def ask_stream(self, question: str, history: list[str] | None = None, *,
                   mode: str | None = None, top_k: int | None = None,
                   cancelled: Callable[[], bool] | None = None) -> Iterator[str | Answer]:
        """Like :meth:`ask`, but yields the generated text as it arrives, then the final :class:`Answer`.

        The pieces are a draft: the final answer may replace them (by the extractive answer) when the
        generated text is not supported by the passages or the backend fails.

        ``cancelled`` (say, « has the client gone? ») is asked before each stage that costs something (the
        follow-up condensation, the retrieval, the extractive answer, the generation) and at each generated
        piece: once it is true, nothing more is computed and :class:`Cancelled` is raised. A server thus stops
        spending its cores on an answer nobody will read; the answer itself never depends on it.
        """
        question = self.check_question(question)
        if cancelled is not None and cancelled():
            raise Cancelled()
        self.refresh()
        with self._swap_lock:  # one index version for the whole question, even if a switch happens meanwhile
            pipeline = self.pipeline
        history, trimmed = self.bounded_history(history)
        yield from pipeline.run(question, history, mode=mode or self.settings.answer.mode, top_k=top_k,
                                cancelled=cancelled, trimmed=trimmed)

    def bounded_history(self, history) -> tuple[list[str], int]:
        """The earlier questions that count: text only, none longer than a question may be, the most recent
        ``limits.history_turns``, within ``limits.history_chars`` in all. Returns them and how many were left out.

        A follow-up needs the last subject named, not the whole conversation: a client sending a huge history
        (one 100 KB « question », or thousands of turns) costs no more than an ordinary one.
        """
        limits, cap = self.settings.limits, self.settings.answer.max_question_chars
        given = [h for h in (history or []) if isinstance(h, str) and h.strip()] if isinstance(history, list) else []
        kept: list[str] = []
        total = 0
        for turn in reversed(given):
            if len(kept) >= limits.history_turns:
                break
            if len(turn) > cap:
                continue  # longer than any question may be: it was never asked
            if total + len(turn) > limits.history_chars:
                break
            kept.append(turn)
            total += len(turn)
        dropped = (len(history) if isinstance(history, list) else 0) - len(kept)
        return kept[::-1], dropped

    def check_question(self, question) -> str:
        """``question`` as the pipeline reads it: text, without control or invisible characters, stripped.

        Raises:
            InvalidQuestion: not text, not valid UTF-8, empty, or longer than ``answer.max_question_chars``.
        """
        if not isinstance(question, str):
            raise InvalidQuestion("La question doit être du texte.")
        try:
            question.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidQuestion("La question contient des octets qui ne sont pas du texte UTF-8 valide.") from None
        # control and invisible format characters (zero-width spaces…) carry no meaning
        question = "".join(c for c in question if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf"))
        question = question.strip()
        if not question:
            raise InvalidQuestion("La question est vide : posez une question, par exemple « Quel est le budget du PEPR IA ? »")
        limit = self.settings.answer.max_question_chars
        if len(question) > limit:
            raise InvalidQuestion(
                f"La question est trop longue ({len(question)} caractères, maximum {limit}) : raccourcissez-la."
            )
        return question
