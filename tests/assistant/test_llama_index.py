"""The project's retriever, reader and generator inside a plain llama-index application: a RetrieverQueryEngine
built by llama-index's own ``from_args``, over the real index."""

from __future__ import annotations

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers.no_text import NoText
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.llamaindex import BackendLLM, ReaderPostprocessor, from_node, to_node

pytestmark = pytest.mark.slow


class EchoBackend:
    """A generator that answers with the last line of its prompt, and keeps every prompt it was sent."""

    name = "echo"

    def __init__(self):
        self.prompts: list[str] = []

    def stream(self, prompt, *, max_tokens, deadline):
        self.prompts.append(prompt.text)
        yield from prompt.text.strip().splitlines()[-1].split(" ")[:max_tokens]

    def complete(self, prompt, *, max_tokens, timeout):
        return " ".join(self.stream(prompt, max_tokens=max_tokens, deadline=0))


def test_passages_are_text_nodes_and_come_back_unchanged(real_assistant):
    chunks = [c for c in real_assistant.index.chunks if c.kind == "record"][:3] + real_assistant.index.chunks[:3]
    for chunk in chunks:
        node = to_node(chunk)
        assert isinstance(node, TextNode) and node.node_id == chunk.chunk_id and node.text == chunk.text
        assert from_node(node) == chunk
        assert node.metadata["sentences"] == [list(s) for s in chunk.sentences]
        shown = node.get_content(metadata_mode="llm")
        assert chunk.title in shown and "sentence_rows" not in shown
    record = next(c for c in chunks if c.kind == "record")
    assert any(to_node(record).metadata["sentence_fields"])  # each fiche line names the field it states


def test_the_hybrid_retriever_is_a_llama_index_retriever(real_assistant):
    retriever = real_assistant.retriever
    assert isinstance(retriever, BaseRetriever)
    found = retriever.retrieve("Quel est le budget du PEPR IA ?")
    assert len(found) == retriever.top_k and all(isinstance(n, NodeWithScore) for n in found)
    assert found[0].node.metadata["doc_id"].startswith("pepr") or any("73 millions" in n.node.text for n in found[:3])
    assert found[0].score >= found[-1].score and found[0].node.evidence["dense_rank"] >= 1
    # one passage, one node: the evidence stays out of what llama-index hashes to tell nodes apart
    alone = retriever.search("Quel est le budget du PEPR IA ?", 1)[0]
    assert to_node(alone.chunk, alone).hash == to_node(alone.chunk).hash
    hits = retriever.search("Quel est le budget du PEPR IA ?", retriever.top_k)
    assert [n.node.node_id for n in found] == [h.chunk.chunk_id for h in hits]  # the same ranking either way


def test_a_query_engine_answers_with_verbatim_quotes_and_refuses_what_the_corpus_lacks(real_assistant):
    reader = ReaderPostprocessor.of(real_assistant)
    assert isinstance(reader, BaseNodePostprocessor)
    # the quotes alone: llama-index 0.14's factory builds NoText without the llm given, so it is built here
    llm = BackendLLM(backend=EchoBackend())
    engine = RetrieverQueryEngine.from_args(real_assistant.retriever, llm=llm, node_postprocessors=[reader],
                                            response_synthesizer=NoText(llm=llm))
    response = engine.query("Quel est le budget du PEPR IA ?")
    assert response.source_nodes and "73 millions" in response.source_nodes[0].node.text
    texts = {c.chunk_id: c.text for c in real_assistant.index.chunks}
    for node in response.source_nodes:
        assert node.node.text in texts[node.node.metadata["chunk_id"]]  # verbatim in the cited passage
        assert node.node.metadata["source"].startswith("http")
    assert response.source_nodes[0].node.metadata["answer"]["abstained"] is False
    refused = engine.query("Quel est le numéro de téléphone personnel du directeur du CNRS ?")
    assert refused.source_nodes == []


def test_the_generator_is_a_llama_index_llm_fed_with_the_quotes(real_assistant):
    backend = EchoBackend()
    llm = BackendLLM(backend=backend, max_tokens=64)
    assert llm.complete("une deux trois").text == "une deux trois"
    assert [r.delta for r in llm.stream_complete("a b")] == ["a", "b"]
    backend.prompts.clear()
    engine = RetrieverQueryEngine.from_args(real_assistant.retriever, llm=llm,
                                            node_postprocessors=[ReaderPostprocessor.of(real_assistant)])
    response = engine.query("Quel est le budget du PEPR IA ?")
    assert response.source_nodes and str(response).strip() != "Empty Response"
    # llama-index's synthesiser sent the project's generator the quotes the reader kept, and the question
    assert backend.prompts and all(n.node.text in backend.prompts[0] for n in response.source_nodes)
    assert "Quel est le budget du PEPR IA ?" in backend.prompts[0]


@pytest.mark.llm
def test_the_local_model_answers_through_llama_index(real_assistant, tmp_path_factory):
    from assistant.generate.backends import LocalBackend

    backend = LocalBackend(None, tmp_path_factory.mktemp("models"))
    llm = BackendLLM(backend=backend, max_tokens=128)
    engine = RetrieverQueryEngine.from_args(real_assistant.retriever, llm=llm,
                                            node_postprocessors=[ReaderPostprocessor.of(real_assistant)])
    response = engine.query("Quel est le budget du PEPR IA ?")
    assert str(response).strip() and response.source_nodes


def test_nodes_of_another_retriever_are_read_too(real_assistant):
    """A node from elsewhere (no project metadata) is cut into sentences and read; the quote stays verbatim.
    Its abstention still weighs question words by their rarity in the project's corpus: a subject the corpus
    never names is refused, whatever the foreign node says."""
    text = ("Le supercalculateur Jean Zay est hébergé à l'IDRIS, sur le plateau de Saclay. "
            "Il a été mis en service en 2019.")
    node = NodeWithScore(node=TextNode(id_="ailleurs-1", text=text, metadata={"title": "Note interne"}), score=1.0)
    reader = ReaderPostprocessor.of(real_assistant)
    kept = reader.postprocess_nodes([node], QueryBundle("Quand Jean Zay a-t-il été mis en service ?"))
    assert [n.node.text for n in kept] == ["Il a été mis en service en 2019."]
    assert kept[0].node.metadata["chunk_id"] == "ailleurs-1" and kept[0].node.metadata["start"] == text.index("Il a")
    unknown = NodeWithScore(node=TextNode(id_="ailleurs-2", text="Le programme Zorglub est doté de 12 millions "
                                                                 "d'euros."), score=1.0)
    assert reader.postprocess_nodes([unknown], QueryBundle("Quel est le budget du programme Zorglub ?")) == []
    with pytest.raises(ValueError):
        reader.postprocess_nodes([node])
