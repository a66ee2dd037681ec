"""Incremental builds with the real embedder: only new or changed texts are embedded, and the result is the
same index a full build gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from corpus.documents import Document
from index.build import build_index, load_index, prepare_build
from index.embedders import make_embedder

pytestmark = pytest.mark.slow


def doc(doc_id: str, text: str, title: str | None = None) -> Document:
    title = title or doc_id.upper()
    return Document(doc_id, title, f"{title}\n\n{text}", f"https://example.org/{doc_id}", f"hash-{title}-{text}")


CORPUS = [
    doc("jz", "Le supercalculateur Jean Zay est installé à l'IDRIS, à Orsay. Il a servi à entraîner BLOOM."),
    doc("pepr", "Le PEPR IA est doté de 73 millions d'euros sur six ans. Il est co-piloté par le CEA, le CNRS et Inria."),
    doc("aissai", "Le centre AISSAI a été créé par le CNRS en 2021. Il fait dialoguer l'IA et les autres sciences."),
]


class CountingEmbedder:
    """The real default embedder, counting the texts it is asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.identity = inner.identity
        self.dimension = inner.dimension
        self.embedded: list[str] = []

    def get_text_embedding_batch(self, texts):
        self.embedded.extend(texts)
        return self.inner.get_text_embedding_batch(texts)

    def get_query_embedding(self, text):
        return self.inner.get_query_embedding(text)


@pytest.fixture(scope="module")
def e5():
    return make_embedder("e5")


@pytest.fixture
def embedder(e5):
    return CountingEmbedder(e5)


def same_index(a, b) -> None:
    """Two loaded indexes hold the same passages with the same vectors, in the same order."""
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    assert [c.text for c in a.chunks] == [c.text for c in b.chunks]
    va = a.dense.faiss_index.reconstruct_n(0, len(a.chunks))
    vb = b.dense.faiss_index.reconstruct_n(0, len(b.chunks))
    # int8 activations are scaled per batch: a text embedded among others differs by quantisation noise only
    assert (va * vb).sum(axis=1).min() > 0.995
    assert (a.sentence_vectors * b.sentence_vectors).sum(axis=1).min() > 0.995
    assert [c.sentence_rows for c in a.chunks] == [c.sentence_rows for c in b.chunks]


def full_build(tmp_path, documents, e5, name):
    build_index(tmp_path / name, documents, e5, backend="e5", full=True)
    return load_index(tmp_path / name)


def test_an_unchanged_corpus_embeds_nothing(tmp_path, embedder):
    build_index(tmp_path, CORPUS, embedder, backend="e5")
    first = len(embedder.embedded)
    manifest = build_index(tmp_path, CORPUS, embedder, backend="e5")
    assert len(embedder.embedded) == first and manifest.build["embedded"] == 0 and not manifest.build["full"]


@pytest.mark.parametrize("change", ["add", "change", "remove", "rename"])
def test_each_change_embeds_only_what_is_new_and_matches_a_full_build(tmp_path, embedder, e5, change):
    build_index(tmp_path / "inc", CORPUS, embedder, backend="e5")
    embedder.embedded.clear()
    if change == "add":
        updated = CORPUS + [doc("bloom", "BLOOM compte 176 milliards de paramètres.")]
    elif change == "change":
        updated = [CORPUS[0], doc("pepr", CORPUS[1].text.split("\n\n", 1)[1] + " Il a été lancé en mars 2024."),
                   CORPUS[2]]
    elif change == "remove":
        updated = CORPUS[:2]
    else:  # same text under another id: nothing to embed but the id changes
        updated = [CORPUS[0], CORPUS[1], dataclasses.replace(CORPUS[2], doc_id="centre-aissai")]
    plan = prepare_build(tmp_path / "inc", updated, embedder_id=embedder.identity).plan
    manifest = build_index(tmp_path / "inc", updated, embedder, backend="e5")
    assert manifest.build["embedded"] == len(set(embedder.embedded)) == plan.to_embed
    if change == "add":
        assert plan.added == ["bloom"] and embedder.embedded and all("BLOOM" in t for t in embedder.embedded)
    elif change == "change":
        assert plan.changed == ["pepr"] and any("mars 2024" in t for t in embedder.embedded)
        assert not any("Orsay" in t or "AISSAI" in t for t in embedder.embedded)  # other documents untouched
    elif change == "remove":
        assert plan.removed == ["aissai"] and embedder.embedded == []
    else:
        assert plan.added == ["centre-aissai"] and plan.removed == ["aissai"]
    # chunk ids carry the document id, so the renamed passages are re-embedded only if their text changed
    same_index(load_index(tmp_path / "inc"), full_build(tmp_path, updated, e5, "full"))


def test_a_chunker_or_embedder_change_forces_a_full_build_said_as_such(tmp_path, embedder):
    build_index(tmp_path, CORPUS, embedder, backend="e5")
    plan = prepare_build(tmp_path, CORPUS, embedder_id=embedder.identity, chunk_chars=300).plan
    assert plan.full and "découpage" in plan.reason and plan.reused == 0
    plan = prepare_build(tmp_path, CORPUS, embedder_id="autre-modele").plan
    assert plan.full and "embedder" in plan.reason
    plan = prepare_build(tmp_path, CORPUS, embedder_id=embedder.identity, full=True).plan
    assert plan.full and "--full" in plan.reason


def test_a_damaged_current_version_is_rebuilt_in_full(tmp_path, embedder):
    build_index(tmp_path, CORPUS, embedder, backend="e5")
    folder = next((tmp_path / "versions").iterdir())
    (folder / "sentences.npy").write_bytes(b"garbage")
    manifest = build_index(tmp_path, CORPUS, embedder, backend="e5")
    assert manifest.build["full"] and "inutilisable" in manifest.build["reason"]
    load_index(tmp_path)  # the new version is whole
