"""A sentence-transformers folder's ONNX file, run as ``SentenceTransformer(folder, backend="onnx")`` runs it.

Why by hand: importing sentence-transformers (transformers, torch, optimum) takes 8 to 12 s and 700 MB on the
2-core machine, before any text is embedded. Every ``assistant ask`` and every incremental ``index build`` would
pay it. :class:`OnnxEncoder` does what sentence-transformers does with that folder, and nothing else: the same
ONNX file in the same ONNX Runtime, the same token ids, the folder's prompts, texts sorted by length then cut
into the same batches, mean pooling and L2 normalisation. tests/index/test_e5_model.py checks that it gives
sentence-transformers' vectors, for questions and passages. Loading it takes about 1 s spent in C++ with
Python's lock released: :func:`preload` starts it on a thread while the caller goes on importing the rest
(``assistant ask`` does, before llama-index's 1.7 s of imports).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from corpus.errors import BackendUnavailable

REPAIR = "Refaites la conversion : python -m index.e5_model (make install la lance)."
_LOADED: dict[tuple[str, str], Future] = {}  # one encoder per file and process, shared by every embedder
_GUARD = threading.Lock()


def preload(folder: Path, onnx_file: str) -> None:
    """Start loading the encoder of ``folder`` on a thread; :meth:`OnnxEncoder.shared` waits for it."""
    _future(Path(folder), onnx_file, background=True)


def _future(folder: Path, onnx_file: str, *, background: bool) -> Future:
    key = (str(folder.resolve()), onnx_file)
    with _GUARD:
        future = _LOADED.get(key)
        if future is not None and not (future.done() and future.exception() is not None):
            return future
        future = _LOADED[key] = Future()
    if background:
        threading.Thread(target=_fill, args=(future, folder, onnx_file), name="onnx-encoder-load", daemon=True).start()
    else:
        _fill(future, folder, onnx_file)
    return future


def _fill(future: Future, folder: Path, onnx_file: str) -> None:
    try:
        future.set_result(OnnxEncoder(folder, onnx_file))
    except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the encoder
        future.set_exception(exc)


class OnnxEncoder:
    """Texts → L2-normalised vectors, for folders whose modules are Transformer → Pooling(mean) → Normalize.

    Thread-safe: ONNX Runtime sessions accept concurrent ``run`` calls.
    """

    def __init__(self, folder: Path, onnx_file: str):
        try:
            import onnxruntime
        except ImportError as exc:
            raise BackendUnavailable("onnxruntime manque : pip install -e . (voir le Makefile)") from exc
        try:
            settings = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
            max_tokens = int(json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
                             .get("max_seq_length", 512))
            self.pad_id = int(json.loads((folder / "config.json").read_text(encoding="utf-8")).get("pad_token_id") or 0)
            self.token_ids = _token_ids(folder, max_tokens)
            self.session = onnxruntime.InferenceSession(str(folder / onnx_file), providers=["CPUExecutionProvider"])
        except Exception as exc:  # a missing or damaged file: the conversion has to be redone
            raise BackendUnavailable(f"Modèle {folder} illisible ({exc}). {REPAIR}") from exc
        self.prompts = settings.get("prompts") or {}
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    @staticmethod
    def shared(folder: Path, onnx_file: str) -> OnnxEncoder:
        """The process's encoder for this file, loaded once (or being loaded by :func:`preload`)."""
        return _future(Path(folder), onnx_file, background=False).result()

    @staticmethod
    def applies(folder: Path) -> bool:
        try:
            modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        return modules == ["Transformer", "Pooling", "Normalize"] and modes == {"pooling_mode_mean_tokens"}

    def encode(self, texts: list[str], prompt_name: str = "query", batch_size: int = 32) -> np.ndarray:
        """``prompt_name`` is ``query`` or ``document``; batches as sentence-transformers' ``encode`` makes them
        (longest texts first), which matters with int8 activations: they are scaled per batch."""
        vectors = np.zeros((len(texts), self.dimension), np.float32)
        order = np.argsort([-len(t) for t in texts])  # sentence-transformers' own call: the same order
        prompt = self.prompts.get(prompt_name, "")
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            vectors[rows] = self._batch([prompt + texts[i] for i in rows])
        return vectors

    def _batch(self, texts: list[str]) -> np.ndarray:
        sequences = self.token_ids(texts)
        length = max(map(len, sequences))
        # padded with the model's pad token, as transformers' tokenizer pads: with int8 activations scaled per
        # batch, even masked positions count
        ids = np.full((len(texts), length), self.pad_id, np.int64)
        mask = np.zeros((len(texts), length), np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, :len(sequence)] = sequence
            mask[row, :len(sequence)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        weights = mask[..., None].astype(np.float32)
        means = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return (means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _token_ids(folder: Path, max_tokens: int):
    """texts → token ids with the special tokens, as the folder's ``tokenizer.json`` gives them.

    The converted e5 folder also holds the same tokenizer as a SentencePiece model, which loads in half the time
    (0.6 s instead of 1 s); tests/index/test_e5_model.py checks that both give the same ids on every FQuAD
    question. Any other folder goes through ``tokenizer.json``."""
    from index import e5_model

    if (folder / e5_model.SPM_FILE).is_file() and (folder / e5_model.MANIFEST).is_file():
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor(model_file=str(folder / e5_model.SPM_FILE))
        table = str.maketrans(e5_model.SPM_PRE_STEP)
        bos, eos, space = processor.bos_id(), processor.eos_id(), processor.piece_to_id("▁")

        def ids(texts: list[str]) -> list[list[int]]:
            texts = [t.translate(table) for t in texts]
            # SentencePiece drops trailing spaces where tokenizer.json keeps one « ▁ »
            return [[bos, *(pieces + [space] * t[-1:].isspace())[:max_tokens - 2], eos]
                    for t, pieces in zip(texts, processor.encode(texts))]

        return ids
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    return lambda texts: [e.ids for e in tokenizer.encode_batch(texts)]
