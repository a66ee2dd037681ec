"""One place builds everything: :func:`build` wires index, embedder, retriever and answerer."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from assistant.compose.answer import Answer, needs_context
from assistant.read.extractive import ExtractiveAnswerer
from assistant.query.followup import antecedent, condense, is_follow_up, points_back
from assistant.generate.answerer import NOTICES, GenerativeAnswerer, condense_with_llm
from assistant.query.lexicon import expand
from assistant.generate.backends import make_backend
from assistant.query.wording import ParsedQuestion
from assistant.retrieve.hybrid import HybridRetriever
from assistant.settings import Settings, offline_environment
from corpus.errors import AssistantError, BackendUnavailable, CorpusError, InvalidQuestion
from corpus.safeyaml import CorpusLimits
from index.build import LoadedIndex, StoreConfig, current_version, load_index
from index.embedders import make_embedder

MODES = ("extractive", "generative", "auto")
log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The asker went away: the question was dropped between two stages (not an error to show anyone)."""


@dataclass
class Assistant:
    """Answers questions over a loaded index, extractively or with a text generator."""

    settings: Settings
    index: LoadedIndex
    retriever: HybridRetriever
    answerer: ExtractiveAnswerer
    generator: GenerativeAnswerer | None = None
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _refused_version: str | None = field(default=None, repr=False, compare=False)
    _swap_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def refresh(self) -> bool:
        """Switch to the index's current version if a build has made a new one; True if it switched.

        Called before every question, so a long-running server serves a rebuilt index without a restart.
        A new version that does not load (damaged, other embedder) is logged once and the one in service stays.
        """
        try:
            version = current_version(self.settings.index.dir).name
        except AssistantError:
            return False
        if version == self.index.manifest.version or version == self._refused_version:
            return False
        with self._reload_lock:
            if version == self.index.manifest.version:
                return False
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
            retriever, answerer = _components(self.settings, index, self.retriever.embedder)
            with self._swap_lock:  # all three switch together; a question in flight keeps the ones it took
                self.index, self.retriever, self.answerer = index, retriever, answerer
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

        def checkpoint() -> None:
            if cancelled is not None and cancelled():
                raise Cancelled()

        question = self.check_question(question)
        mode = mode or self.settings.answer.mode
        if mode not in MODES:
            raise InvalidQuestion(f"mode de réponse inconnu « {mode} » (possibles : {', '.join(MODES)})")
        checkpoint()
        self.refresh()
        # one index version for the whole question, even if a switch happens meanwhile
        with self._swap_lock:
            retriever, answerer = self.retriever, self.answerer
        started = time.perf_counter()
        history, trimmed = self.bounded_history(history)
        reading = ParsedQuestion(question)  # read once, for the lexicon, the answerer, its checks and the generator
        pointer = points_back(question)
        if pointer and antecedent(history) is None and not reading.refusal:  # a refusal's policy goes first
            # « Et son budget ? » with no earlier subject (none given, or its turn left out as too long): answering
            # would pick the budgets of whatever ranks first, cited and wrong; ask what « son » refers to instead
            answer = needs_context(question, pointer, english=reading.english)
            answer.signals["needs_context"] = pointer
            if trimmed:
                answer.signals["history_trimmed"] = trimmed
            answer.timings_ms = {"total": round((time.perf_counter() - started) * 1000, 2)}
            yield answer
            return
        checkpoint()
        query, condensed_by = self._condense(question, history, mode)
        expansion = expand(reading)
        if expansion:
            query = f"{query} {expansion}"
        reading.query = query
        checkpoint()
        vector = retriever.query_vector(query) if retriever.mode != "bm25" else None
        top_k = min(max(int(top_k), 1), 50) if top_k else self.settings.retrieval.top_k
        hits = retriever.search(query, top_k + self.settings.retrieval.corroboration_pool, query_vector=vector)
        retrieved = time.perf_counter()
        checkpoint()
        answer = answerer.answer(reading, query, hits[:top_k], vector, extra_hits=hits[top_k:])
        extracted = time.perf_counter()
        timings = {"retrieve": round((retrieved - started) * 1000, 2), "answer": round((extracted - retrieved) * 1000, 2)}
        if mode != "extractive" and answer.disagreement:
            # a rewrite would keep one value and drop the others: the values are shown, each with its source
            answer.notice = NOTICES["en" if reading.english else "fr"]["several_values"]
            answer.fallback = {"from": "generative", "reason": "several_values",
                               "detail": "les sources donnent plusieurs valeurs de ce qui est demandé"}
        elif mode != "extractive" and not answer.abstained:
            if self.generator is None:
                answer.notice = NOTICES["en" if reading.english else "fr"]["backend"].format(
                    detail="aucun modèle configuré (llm.backend = none)")
                answer.fallback = {"from": "generative", "reason": "unavailable", "detail": "llm.backend = none"}
            else:
                checkpoint()
                generation = self.generator.generate(reading, answer, hits[:top_k], mode=mode,
                                                     english=reading.english)
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
        done = time.perf_counter()
        answer.retrieval_query = query
        answer.retrieved = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        if condensed_by:
            answer.signals["condensed_by"] = condensed_by
        if trimmed:
            answer.signals["history_trimmed"] = trimmed
        timings["total"] = round((done - started) * 1000, 2)
        answer.timings_ms = timings
        yield answer

    def _condense(self, question: str, history: list[str], mode: str) -> tuple[str, str | None]:
        """The retrieval query: the question, or its standalone form when it is a follow-up.

        With a model configured (and a generative mode), the model rewrites it; the offline
        condensation is used when it is not, or when its rewrite cannot be trusted."""
        if not history or not is_follow_up(question):
            return question, None
        if mode != "extractive" and self.generator is not None and self.settings.llm.condense_followups:
            rewritten = condense_with_llm(self.generator.backend, question, history,
                                          timeout=min(10.0, self.settings.llm.deadline_s))
            if rewritten:
                return rewritten, "llm"
        return condense(question, history), "offline"

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


def settings_embedder(settings: Settings):
    """The embedder the settings name (loads nothing yet)."""
    return make_embedder(settings.index.embedder, settings.index.st_model, settings.index.e5_backend)


def store_config(settings: Settings) -> StoreConfig:
    """The store the settings name: FAISS files in the index folder, or a Milvus collection per version."""
    m = settings.index.milvus
    i = settings.index
    if i.store == "faiss":
        return StoreConfig(faiss_index=i.faiss_index, nprobe=i.faiss_nprobe, ef=i.faiss_ef)
    return StoreConfig(engine="milvus", uri=m.uri, token=m.token.get_secret_value(), prefix=m.collection,
                       index_type=m.index_type, nlist=m.nlist, nprobe=m.nprobe)


def build(settings: Settings) -> Assistant:
    """Load the index and wire an :class:`Assistant` from ``settings``.

    Raises:
        IndexNotBuilt, IndexMismatch, IndexCorrupted, BackendUnavailable.
    """
    offline_environment()
    embedder = settings_embedder(settings)
    index = load_index(settings.index.dir, embedder_identity=embedder.identity, store=store_config(settings))
    retriever, answerer = _components(settings, index, embedder)
    backend = make_backend(settings)
    generator = None
    if backend is not None:
        g = settings.llm
        generator = GenerativeAnswerer(backend, passages=g.passages, passage_chars=g.passage_chars,
                                       max_tokens=g.max_tokens, deadline_s=g.deadline_s, context=g.context)
    return Assistant(settings, index, retriever, answerer, generator)


def _components(settings: Settings, index: LoadedIndex, embedder) -> tuple[HybridRetriever, ExtractiveAnswerer]:
    r = settings.retrieval
    retriever = HybridRetriever(index, embedder, mode=r.mode, candidates=r.candidates, rrf_k=r.rrf_k,
                                dense_weight=r.dense_weight, bm25_weight=r.bm25_weight, embed_chars=r.query_embed_chars,
                                top_k=r.top_k)
    a = settings.answer
    answerer = ExtractiveAnswerer(index, settings.index.embedder, max_sentences=a.max_sentences,
                                  min_confidence=a.min_confidence, dense_weight=a.dense_weight,
                                  unknown_penalty=a.unknown_penalty, unsupported_penalty=a.unsupported_penalty,
                                  min_dense_english=a.min_dense_english, reader=a.reader,
                                  reader_shortlist=a.reader_shortlist, min_reader=a.min_reader)
    return retriever, answerer


def corpus_limits(settings: Settings) -> CorpusLimits:
    lim = settings.limits
    return CorpusLimits(yaml_bytes=lim.yaml_bytes, yaml_nodes=lim.yaml_nodes, document_bytes=lim.document_bytes)


def load_corpus_from_settings(settings: Settings, *, for_build: bool = False):
    """The corpus the settings point to, within their limits; for a build, a blocking problem (an id claimed
    twice) stops everything before anything is written.

    Raises:
        CorpusError: a folder is missing, nothing is readable, or (for a build) a blocking problem.
    """
    from corpus.documents import Problem
    from corpus.load import load_corpus
    from index.chunking import has_passages

    documents, problems = load_corpus(settings.corpus.sources_dir, settings.corpus.programme_dir,
                                      corpus_limits(settings))
    # A file read without error can still give nothing to search (a title alone, headings only): say so, or its
    # content silently never answers anything.
    problems += [Problem(d.metadata["path"], "aucun passage à indexer : le fichier ne contient que son titre ou des "
                                             "intertitres ; ajoutez-y des phrases ou retirez-le")
                 for d in documents if d.kind == "document" and not has_passages(d)]
    blocking = [p for p in problems if p.blocking]
    if for_build and blocking:
        raise CorpusError("Le corpus ne peut pas être indexé tel quel, l'index en service ne change pas : "
                          + " ; ".join(str(p) for p in blocking) + " (voir assistant corpus check)")
    return documents, problems


def build_index_from_settings(settings: Settings, progress=None, *, full: bool = False, confirmed: bool = False):
    """Load the corpus and build a new index version as the settings describe (incremental unless ``full``).

    Unless ``confirmed``, a build that would embed more than ``limits.build_texts`` texts is refused first.
    """
    from index.build import build_index

    offline_environment()
    documents, problems = load_corpus_from_settings(settings, for_build=True)
    embedder = settings_embedder(settings)
    manifest = build_index(
        settings.index.dir, documents, embedder, backend=settings.index.embedder,
        chunk_chars=settings.index.chunk_chars, chunk_overlap=settings.index.chunk_overlap,
        problems=problems, progress=progress, full=full,
        max_texts=None if confirmed else settings.limits.build_texts, store=store_config(settings),
    )
    return manifest, problems


def index_status(settings: Settings) -> dict:
    """The current index version, its counts and embedder, and what changed in the corpus since.

    Raises:
        IndexNotBuilt, IndexCorrupted: no readable current version.
    """
    from index.build import corpus_changes, damaged_files, read_manifest

    folder = current_version(settings.index.dir)
    manifest = read_manifest(folder)
    documents, _ = load_corpus_from_settings(settings)
    changes = corpus_changes(manifest, documents)
    return {"path": str(folder), "version": manifest.version, "built_at": manifest.built_at,
            "embedder": manifest.embedder, "store": manifest.store, "counts": manifest.counts,
            "problems": manifest.problems,
            "damaged_files": damaged_files(folder, manifest),
            "corpus_changed": any(changes.values()), "changes": changes}


def describe_changes(changes: dict[str, list[str]]) -> str:
    """« 1 ajouté(s), 2 modifié(s) » from :func:`index.build.corpus_changes`; empty when nothing changed."""
    return ", ".join(f"{len(ids)} {label}" for label, ids in (("ajouté(s)", changes["added"]),
                                                             ("modifié(s)", changes["changed"]),
                                                             ("retiré(s)", changes["removed"])) if ids)


def plan_index_build(settings: Settings, *, full: bool = False):
    """What ``assistant index build`` would do now, without writing anything.

    Raises:
        CorpusError: as the build would, after the same validation (a blocking problem stops both).
    """
    from index.build import prepare_build

    offline_environment()
    documents, problems = load_corpus_from_settings(settings, for_build=True)
    embedder = settings_embedder(settings)
    prepared = prepare_build(settings.index.dir, documents, embedder_id=embedder.identity,
                             chunk_chars=settings.index.chunk_chars, chunk_overlap=settings.index.chunk_overlap,
                             full=full, store=store_config(settings))
    return prepared.plan, problems
