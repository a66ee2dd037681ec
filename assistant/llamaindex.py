"""The project's parts as llama-index parts, for use in someone else's llama-index application.

- :func:`to_node` / :func:`from_node`: a passage as a ``TextNode`` (id = chunk id; provenance, section, position,
  sentence offsets and, for a fiche, the record field of each line in its metadata) and back;
- :class:`assistant.retrieve.hybrid.HybridRetriever` is a ``BaseRetriever`` (``retrieve(query)`` → ``NodeWithScore``);
- :class:`ReaderPostprocessor`, a ``BaseNodePostprocessor``: the answerer reads the retrieved nodes and keeps the
  sentences that answer, each as a node whose text stands verbatim in its passage; nothing when the passages do
  not support an answer;
- :class:`BackendLLM`, a ``CustomLLM`` over any of the project's text generators (llama.cpp, an OpenAI-compatible
  server, Ollama).

Typical use (tests/assistant/test_llama_index.py does exactly this)::

    engine = RetrieverQueryEngine.from_args(assistant.retriever, llm=BackendLLM(backend),
                                            node_postprocessors=[ReaderPostprocessor.of(assistant)])
    response = engine.query("Quel est le budget du PEPR IA ?")

The retriever and the answerer are those of one index version: after a rebuild, ``assistant.refresh()`` loads the
new one, and an application that keeps serving builds its engine again from ``assistant.retriever`` and
``ReaderPostprocessor.of(assistant)`` (the project's own entry points do this at every question).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr
from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from index.chunking import Chunk, split_sentences

SHOWN = ("title", "section", "source")  # the metadata an LLM or an embedder sees of a node; the rest is bookkeeping
EVIDENCE = ("dense_score", "dense_rank", "bm25_score", "bm25_rank")


class PassageNode(TextNode):
    """A TextNode with the retrieval evidence beside its metadata: each engine's rank and score
    (``dense_score``, ``dense_rank``, ``bm25_score``, ``bm25_rank``). Kept out of the metadata because llama-index
    identifies a node by the hash of its text and metadata (``QueryFusionRetriever`` merges by it): the same
    passage found by two engines must stay one node."""

    evidence: dict = Field(default_factory=dict)

    @classmethod
    def class_name(cls) -> str:
        return "CnrsIaPassageNode"


def to_node(chunk: Chunk, hit=None) -> PassageNode:
    """``chunk`` as a TextNode; ``hit`` (an :class:`assistant.retrieve.hybrid.Hit`) adds each engine's rank and score."""
    metadata = {k: v for k, v in chunk.to_json().items() if k not in ("text", "chunk_id")}
    metadata["sentences"] = [list(s) for s in chunk.sentences]
    if chunk.kind == "record":
        metadata["sentence_fields"] = [_field(chunk, s) for s in chunk.sentence_texts()]
    hidden = [k for k in metadata if k not in SHOWN]
    return PassageNode(id_=chunk.chunk_id, text=chunk.text, metadata=metadata, excluded_llm_metadata_keys=hidden,
                       excluded_embed_metadata_keys=hidden,
                       evidence={k: getattr(hit, k) for k in EVIDENCE} if hit is not None else {})


def _field(chunk: Chunk, sentence: str) -> str | None:
    from assistant.compose.records import record_field

    return record_field(chunk, sentence)[0]


def from_node(node: TextNode) -> Chunk:
    """The passage a node holds: exactly the project's chunk when the node came from :func:`to_node`; otherwise
    (a node of another retriever) a passage of its own, cut into sentences here."""
    meta = dict(node.metadata or {})
    text = node.get_content()
    if "sentences" in meta and "doc_id" in meta:
        fields = {k: meta[k] for k in Chunk.__dataclass_fields__ if k in meta}
        return Chunk.from_json({**fields, "chunk_id": node.node_id, "text": text})
    doc_id = str(meta.get("doc_id") or meta.get("file_name") or node.ref_doc_id or node.node_id)
    return Chunk(chunk_id=node.node_id, doc_id=doc_id, title=str(meta.get("title") or doc_id),
                 source=str(meta.get("source") or meta.get("url") or ""), position=0, section="", start=0,
                 end=len(text), text=text, sentences=[(s.start, s.end) for s in split_sentences(text)])


class ReaderPostprocessor(BaseNodePostprocessor):
    """The project's answerer as a node postprocessor: from the retrieved passages, the sentences that answer.

    Each returned node is one quoted sentence (its text verbatim in the passage ``metadata["chunk_id"]``), best
    first, with the passage's provenance; none when the answerer abstains (the corpus does not support an answer).
    The project's full :class:`assistant.compose.answer.Answer` is in each node's ``metadata["answer"]``.

    Nodes of another retriever are read too (cut into sentences here), but the answerer's abstention weighs
    question words by their rarity in the project's corpus: a subject the corpus never names is refused.
    The question goes through the pipeline's own query stage (its lexicon, its search vector) and extractive
    stage: the sentences kept are those the assistant itself would quote from these passages.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    pipeline: Any = Field(exclude=True, description="an assistant.pipeline.Pipeline")
    _hits: Any = PrivateAttr(default=None)

    @classmethod
    def of(cls, assistant) -> "ReaderPostprocessor":
        """The postprocessor of a built :class:`assistant.service.Assistant` (its pipeline in service)."""
        return cls(pipeline=assistant.pipeline)

    @classmethod
    def class_name(cls) -> str:
        return "CnrsIaReaderPostprocessor"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        from assistant.retrieve.hybrid import Hit

        if query_bundle is None or not query_bundle.query_str.strip():
            raise ValueError("ReaderPostprocessor lit une question : donnez la requête (query_bundle)")
        question = query_bundle.query_str
        hits = []
        for n in nodes:
            meta = getattr(n.node, "evidence", None) or {}
            hits.append(Hit(from_node(n.node), float(n.score or 0.0),
                            dense_score=float(meta.get("dense_score", 0.0)), dense_rank=int(meta.get("dense_rank", 0)),
                            bm25_score=float(meta.get("bm25_score", 0.0)), bm25_rank=int(meta.get("bm25_rank", 0))))
        query = self.pipeline.query(question, [], "extractive")
        answer = self.pipeline.extractive.answer(query, hits)
        if answer.abstained:
            return []
        by_id = {h.chunk.chunk_id: h.chunk for h in hits}
        out = []
        for citation in answer.citations:
            chunk = by_id.get(citation.chunk_id)
            start = chunk.text.find(citation.quote) if chunk is not None else -1
            node = TextNode(
                id_=f"{citation.chunk_id}@{max(start, 0)}", text=citation.quote,
                metadata={"chunk_id": citation.chunk_id, "doc_id": citation.doc_id, "title": citation.title,
                          "source": citation.source, "field": citation.field, "n": citation.n,
                          "start": start, "answer": answer.to_dict()},
                excluded_llm_metadata_keys=["chunk_id", "doc_id", "field", "n", "start", "answer"],
                excluded_embed_metadata_keys=["chunk_id", "doc_id", "field", "n", "start", "answer"])
            out.append(NodeWithScore(node=node, score=citation.score))
        return out


class BackendLLM(CustomLLM):
    """One of the project's generators (:mod:`assistant.generate.backends`) as a llama-index LLM: ``complete``,
    ``stream_complete``, and ``chat`` through the base class's message formatting."""

    backend: Any = Field(exclude=True, description="an assistant.generate.backends.Backend")
    max_tokens: int = Field(default=256, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    context_window: int = Field(default=2048, gt=0)
    stop: list[str] = Field(default_factory=lambda: ["\n"],
                            description="where an answer ends (one line, as the project's own prompts ask); a "
                                        "generation cut at max_tokens before it raises GenerationFailed")

    @classmethod
    def class_name(cls) -> str:
        return "CnrsIaBackendLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.max_tokens,
                           model_name=getattr(self.backend, "name", "backend"), is_chat_model=False)

    def _prompt(self, prompt: str, stop: Sequence[str] = ()):
        from assistant.generate.backends import Prompt

        return Prompt(text=prompt, messages=[{"role": "user", "content": prompt}], stop=list(stop))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Raises: assistant.generate.backends.GenerationFailed (its ``reason`` says why)."""
        text = self.backend.complete(self._prompt(prompt, kwargs.get("stop", self.stop)),
                                     max_tokens=int(kwargs.get("max_tokens", self.max_tokens)), timeout=self.timeout_s)
        return CompletionResponse(text=text)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        import time

        pieces = self.backend.stream(self._prompt(prompt, kwargs.get("stop", self.stop)),
                                     max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
                                     deadline=time.monotonic() + self.timeout_s)

        def generate() -> CompletionResponseGen:
            text = ""
            for piece in pieces:
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return generate()
