"""What the two learned readers share about their artefacts: the committed adapter checked against the hash in its
``provenance.json``, the built model folder checked against the inputs it was built from, and one ONNX Runtime
session per file and process. (Written here: peft and ONNX Runtime do not record what a merged export came from.)"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from corpus.errors import BackendUnavailable
from index.e5_model import sha256_file


def files_hash(folder: Path, names: tuple[str, ...]) -> str:
    """One sha256 over the files ``names`` of ``folder``, in that order: what a provenance.json vouches for."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def checked_provenance(adapter: Path, names: tuple[str, ...], label: str) -> dict:
    """The adapter's ``provenance.json``, after checking its files against the hash written there.

    Raises:
        BackendUnavailable: unreadable, or the files do not match (modified or damaged).
    """
    try:
        provenance = json.loads((adapter / "provenance.json").read_text(encoding="utf-8"))
        actual = files_hash(adapter, names)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"adaptateur du {label} illisible dans {adapter} ({exc})") from exc
    if actual != provenance.get("sha256"):
        raise BackendUnavailable(f"l'adaptateur du {label} ({adapter}) ne correspond pas à son empreinte "
                                 f"{str(provenance.get('sha256'))[:12]}… : fichier modifié ou abîmé")
    return provenance


def build_inputs(adapter: Path, names: tuple[str, ...], e5: Path, builder: str) -> dict:
    """What a model folder is built from: the builder's version, the adapter's files, e5's weights."""
    return {"builder": builder, "adapter_sha256": files_hash(adapter, names),
            "e5_weights_sha256": sha256_file(e5 / "model.safetensors")}


def current(folder: Path, manifest: str, adapter: Path, names: tuple[str, ...], e5: Path, builder: str) -> bool:
    """The model folder was built from these inputs and is intact (False when the adapter is missing)."""
    try:
        return built_from(folder, manifest, build_inputs(adapter, names, e5, builder))
    except OSError:  # no adapter
        return False


def built_from(folder: Path, manifest: str, inputs: dict) -> bool:
    """The model folder was built from ``inputs`` and none of its files changed since."""
    try:
        written = json.loads((folder / manifest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if written.get("inputs") != inputs:
        return False
    return all((folder / name).is_file() and sha256_file(folder / name) == digest
               for name, digest in written.get("files", {}).items())


_guard = threading.Lock()


def shared_instance(registry: dict, make, folder: Path, file: str):
    """One instance per (folder, file) and process in ``registry``: ``make(folder, file)`` the first time."""
    key = f"{Path(folder).resolve()}:{file}"
    with _guard:
        if key not in registry:
            registry[key] = make(Path(folder), file)
        return registry[key]


@contextmanager
def staged(folder: Path):
    """A temporary folder beside ``folder`` to build in (then published, i.e. renamed, by the caller); removed if
    the build fails."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def first_layers(model_class, e5: Path, layers: int, **options):
    """e5's first ``layers`` layers as ``model_class`` (the layers past them, and a new head, left out on purpose)."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        return model_class.from_pretrained(str(e5), num_hidden_layers=layers, local_files_only=True,
                                           attn_implementation="eager", **options)
    finally:
        transformers.logging.set_verbosity(verbosity)


def export_onnx(module, fp32: Path, int8: Path, outputs: dict[str, dict[int, str]]) -> None:
    """``module(input_ids, attention_mask)`` as ONNX at ``fp32``, then with int8 weights at ``int8``; ``outputs``:
    each output's name and dynamic axes."""
    import warnings

    import torch

    from index.e5_model import quantize_int8

    fp32.parent.mkdir(parents=True, exist_ok=True)
    sample = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, sample, str(fp32), input_names=["input_ids", "attention_mask"],
                          output_names=list(outputs), opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, **outputs})
    quantize_int8(fp32, int8)


def build_command(adapter: Path, weights: str, folder: Path, e5: Path, is_current, build, train: str) -> int:
    """``python -m assistant.read.<reader>``: build the model folder when its inputs changed (``make install``)."""
    if not (adapter / weights).is_file():
        print(f"pas d'adaptateur dans {adapter} : rien à construire ({train} l'entraîne)")
        return 0
    if is_current():
        print(f"{folder} : à jour")
        return 0
    build()
    print(f"{folder} : construit depuis {adapter} et {e5}")
    return 0
