"""Read TensorFlow V2 ("tensor bundle") checkpoints with numpy only: no TensorFlow, no protobuf package.

Why hand-rolled: the released Chinese ELECTRA weights are TF checkpoints, and installing TensorFlow next to
Paddle just to read them is heavy and conflicts over protobuf.  The format is small and stable:

* ``<prefix>.index`` is a LevelDB-style SSTable (TF's ``tensorflow/core/lib/io/table*``): data blocks of
  prefix-compressed ``key -> value`` entries with restart points, an index block of ``last key -> block
  handle``, an empty metaindex block and a 48-byte footer ending in magic ``0xdb4775248b80fb57``.  Every
  block is followed by a type byte (0 = raw, 1 = snappy) and the *masked* crc32c of block + type byte.
* The entry under key ``""`` is a ``BundleHeaderProto`` (num_shards, endianness, version); every other key
  is a tensor name whose value is a ``BundleEntryProto``: dtype, shape, shard_id, offset, size and the
  masked crc32c of the tensor's bytes (``tensor_bundle.cc`` stores ``crc32c::Mask(crc)``; verified against
  TF output in the tests).  Partitioned variables have an entry listing ``slices``; each slice is stored
  under an ordered-code key starting with ``\\x00`` (hidden from :meth:`TFCheckpointReader.keys`).
* ``<prefix>.data-NNNNN-of-MMMMM`` shards hold the raw little-endian tensor bytes back to back.
"""

from __future__ import annotations

import ast
import difflib
import glob
import logging
import os
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from paddle_electra.errors import CheckpointError

__all__ = ["TFCheckpointReader", "open_tf_checkpoint", "crc32c", "mask_crc32c", "unmask_crc32c"]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------- crc32c
_U32 = 0xFFFFFFFF
_MASK_DELTA = 0xA282EAD8

try:  # the C build is ~1000x faster than any Python code; its pure-Python fallback is slower than ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        import google_crc32c as _gcrc

    _HAVE_FAST_CRC = _gcrc.implementation == "c"
except ImportError:  # pragma: no cover - depends on the environment
    _gcrc = None
    _HAVE_FAST_CRC = False


def _make_crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):  # reflected Castagnoli polynomial
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _make_crc_table()
_BASIS = np.uint32(1) << np.arange(32, dtype=np.uint32)


def _linear_op(images: np.ndarray) -> np.ndarray:
    """A GF(2)-linear map on the 32-bit crc register, given the images of the 32 unit vectors, as 4 byte
    lookup tables (so applying it costs 4 gathers)."""
    op = np.zeros((4, 256), dtype=np.uint32)
    byte_values = np.arange(256)
    for b in range(4):
        for i in range(8):
            op[b, (byte_values >> i) & 1 == 1] ^= images[8 * b + i]
    return op


def _apply(op: np.ndarray, v: np.ndarray) -> np.ndarray:
    return op[0][v & 0xFF] ^ op[1][(v >> 8) & 0xFF] ^ op[2][(v >> 16) & 0xFF] ^ op[3][v >> 24]


# _ZEROS[k] maps a register to the register after feeding 2**k zero bytes (each is the previous squared).
_ZEROS = [_linear_op(_CRC_TABLE[_BASIS & 0xFF] ^ (_BASIS >> 8))]


def _zeros_op(k: int) -> np.ndarray:
    while len(_ZEROS) <= k:
        _ZEROS.append(_linear_op(_apply(_ZEROS[-1], _apply(_ZEROS[-1], _BASIS))))
    return _ZEROS[k]


def _shift(register: int, n: int) -> int:
    """Register after feeding ``n`` zero bytes."""
    v = np.array([register], dtype=np.uint32)
    for bit in range(n.bit_length()):
        if n >> bit & 1:
            v = _apply(_zeros_op(bit), v)
    return int(v[0])


def _crc_body(a: np.ndarray) -> int:
    """Raw crc register after feeding ``a`` to a zero register, computed lane-parallel with numpy.

    The crc is linear: the data is front-padded with zeros (a no-op from a zero register), cut into
    ``lanes`` equal chunks that are all advanced one byte per step, and the chunk results are folded
    pairwise, shifting the left one by the right one's length.
    """
    n = a.size
    k = max(4, (n.bit_length() + 1) // 2)  # chunk of 2**k bytes ~ sqrt(n): few Python steps, wide numpy ops
    chunk = 1 << k
    lanes = -(-n // chunk)
    padded = np.zeros(lanes * chunk, dtype=np.uint8)
    padded[lanes * chunk - n :] = a
    reg = np.zeros(lanes, dtype=np.uint32)
    for column in padded.reshape(lanes, chunk).T.copy():
        reg = _CRC_TABLE[(reg ^ column) & 0xFF] ^ (reg >> 8)
    while reg.size > 1:
        if reg.size % 2:
            reg = np.concatenate([np.zeros(1, dtype=np.uint32), reg])
        reg = _apply(_zeros_op(k), reg[0::2]) ^ reg[1::2]
        k += 1
    return int(reg[0])


def _crc32c_numpy(data: bytes | memoryview | np.ndarray, crc: int = 0) -> int:
    a = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    a = a.view(np.uint8)
    register = crc ^ _U32
    step = 16 << 20  # bounded scratch memory for huge tensors
    for start in range(0, a.size, step):
        piece = a[start : start + step]
        register = _shift(register, piece.size) ^ _crc_body(piece)
    return register ^ _U32


def crc32c(data: bytes | memoryview | np.ndarray, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc``; uses google_crc32c's C code when present."""
    if not _HAVE_FAST_CRC:
        return _crc32c_numpy(data, crc)
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    if isinstance(view, bytes):
        return _gcrc.extend(crc, view)
    step = 8 << 20  # google_crc32c only takes bytes: copy bounded pieces instead of the whole tensor
    for start in range(0, len(view), step):
        crc = _gcrc.extend(crc, bytes(view[start : start + step]))
    return crc


def mask_crc32c(crc: int) -> int:
    """TF/LevelDB store ``rotr(crc, 15) + 0xa282ead8`` so that crcs of data containing crcs stay strong."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask_crc32c(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


# ------------------------------------------------------------------------------------- wire decoding
class _Corrupt(Exception):
    """Internal: malformed bytes; the reader turns it into a CheckpointError naming the file."""


def _varint(buf: bytes | memoryview, pos: int, limit: int | None = None) -> tuple[int, int]:
    limit = len(buf) if limit is None else limit
    result = shift = 0
    while True:
        if pos >= limit or shift > 63:
            raise _Corrupt("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _proto_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field_number, value)`` of a serialized protobuf message: ints for varint/fixed fields,
    bytes for length-delimited ones."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise _Corrupt("truncated fixed64 field")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise _Corrupt("truncated length-delimited field")
            value, pos = bytes(buf[pos : pos + length]), pos + length
        elif wire == 5:
            if pos + 4 > end:
                raise _Corrupt("truncated fixed32 field")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise _Corrupt(f"unsupported protobuf wire type {wire}")
        yield field, value


@dataclass(frozen=True)
class _Entry:
    """A decoded BundleEntryProto."""

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    slices: int  # number of TensorSliceProto: > 0 means a partitioned variable


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims: list[int] = []
    for field, value in _proto_fields(buf):
        if field == 2:  # Dim {int64 size = 1; string name = 2}
            size = 0
            for f, v in _proto_fields(value):  # type: ignore[arg-type]
                if f == 1:
                    size = _int64(v)  # type: ignore[arg-type]
            dims.append(size)
        elif field == 3 and value:  # unknown_rank
            return (-1,)
    return tuple(dims)


def _parse_entry(buf: bytes) -> _Entry:
    dtype = shard = offset = size = crc = slices = 0
    shape: tuple[int, ...] = ()
    for field, value in _proto_fields(buf):
        if field == 1:
            dtype = value
        elif field == 2:
            shape = _parse_shape(value)  # type: ignore[arg-type]
        elif field == 3:
            shard = _int64(value)  # type: ignore[arg-type]
        elif field == 4:
            offset = _int64(value)  # type: ignore[arg-type]
        elif field == 5:
            size = _int64(value)  # type: ignore[arg-type]
        elif field == 6:
            crc = value
        elif field == 7:
            slices += 1
    return _Entry(dtype, shape, shard, offset, size, crc, slices)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- SSTable
_FOOTER_LEN = 48  # two varint block handles padded to 40 bytes + 8-byte magic
_TABLE_MAGIC = 0xDB4775248B80FB57
_TRAILER_LEN = 5  # 1-byte compression type + 4-byte masked crc32c


def _parse_footer(data: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """(metaindex handle, index handle) as (offset, size) pairs."""
    if len(data) < _FOOTER_LEN:
        raise _Corrupt(f"file is {len(data)} bytes, shorter than the 48-byte SSTable footer (truncated?)")
    footer = data[-_FOOTER_LEN:]
    if struct.unpack_from("<Q", footer, 40)[0] != _TABLE_MAGIC:
        raise _Corrupt("bad SSTable magic number in the footer: truncated, or not a TF V2 .index file")
    meta_off, pos = _varint(footer, 0, 40)
    meta_size, pos = _varint(footer, pos, 40)
    index_off, pos = _varint(footer, pos, 40)
    index_size, pos = _varint(footer, pos, 40)
    return (meta_off, meta_size), (index_off, index_size)


def _snappy_block(raw: memoryview, offset: int) -> memoryview:
    """A snappy-compressed block (type byte 1), as the TF builds that wrote HFL's releases store index blocks."""
    import cramjam

    try:
        return memoryview(bytes(cramjam.snappy.decompress_raw(bytes(raw))))
    except cramjam.DecompressionError as err:
        raise _Corrupt(f"block at offset {offset} is snappy-compressed but does not decompress ({err})") from None


def _read_block(data: bytes, handle: tuple[int, int]) -> memoryview:
    offset, size = handle
    end = offset + size
    if end + _TRAILER_LEN > len(data) - _FOOTER_LEN:
        raise _Corrupt(f"block at offset {offset} (+{size} bytes) runs past the end of the file (truncated?)")
    stored = unmask_crc32c(struct.unpack_from("<I", data, end + 1)[0])
    actual = crc32c(memoryview(data)[offset : end + 1])  # the crc covers the block and its type byte
    if stored != actual:
        raise _Corrupt(
            f"block at offset {offset} fails its CRC check (stored {stored:08x}, computed {actual:08x})"
        )
    kind = data[end]
    if kind == 1:
        return _snappy_block(memoryview(data)[offset:end], offset)
    if kind != 0:
        raise _Corrupt(f"block at offset {offset} has unknown compression type {kind}")
    return memoryview(data)[offset:end]


def _block_entries(block: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    """Decode a block: entries ``shared | non_shared | value_len | key delta | value`` then the restart
    array (uint32 offsets of entries that store their full key) and its length."""
    if len(block) < 4:
        raise _Corrupt("block too small for its restart count")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 * (1 + num_restarts)
    if num_restarts == 0 or limit < 0:
        raise _Corrupt(f"block has an invalid restart count {num_restarts}")
    restarts = set(struct.unpack_from(f"<{num_restarts}I", block, limit))
    full_key_offsets = set()
    key = b""
    pos = 0
    while pos < limit:
        start = pos
        shared, pos = _varint(block, pos, limit)
        non_shared, pos = _varint(block, pos, limit)
        value_len, pos = _varint(block, pos, limit)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise _Corrupt(f"bad entry at block offset {start}")
        if shared == 0:
            full_key_offsets.add(start)
        key = key[:shared] + bytes(block[pos : pos + non_shared])
        pos += non_shared
        yield key, block[pos : pos + value_len]
        pos += value_len
    if not restarts <= full_key_offsets:
        raise _Corrupt("restart points do not point at full keys")


def _read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """All ``(key, value)`` pairs of an SSTable, in order, verifying every block's CRC."""
    _meta, index_handle = _parse_footer(data)
    pairs: list[tuple[bytes, bytes]] = []
    for _last_key, handle_bytes in _block_entries(_read_block(data, index_handle)):
        offset, pos = _varint(handle_bytes, 0)
        size, pos = _varint(handle_bytes, pos)
        for key, value in _block_entries(_read_block(data, (offset, size))):
            if pairs and key <= pairs[-1][0]:
                raise _Corrupt("keys are not in increasing order")
            pairs.append((key, bytes(value)))
    return pairs


# ------------------------------------------------------------------------------------- dtypes
# DataType enum (tensorflow/core/framework/types.proto) -> (name, dtype of the stored bytes).
# bfloat16 is stored as uint16 bits and returned widened to float32 (exact: bf16 is the top half of f32).
_DTYPES: dict[int, tuple[str, str | None]] = {
    1: ("float32", "<f4"),
    2: ("float64", "<f8"),
    3: ("int32", "<i4"),
    4: ("uint8", "u1"),
    5: ("int16", "<i2"),
    6: ("int8", "i1"),
    7: ("string", None),
    8: ("complex64", "<c8"),
    9: ("int64", "<i8"),
    10: ("bool", "?"),
    11: ("qint8", None),
    12: ("quint8", None),
    13: ("qint32", None),
    14: ("bfloat16", "<u2"),
    15: ("qint16", None),
    16: ("quint16", None),
    17: ("uint16", "<u2"),
    18: ("complex128", "<c16"),
    19: ("float16", "<f2"),
    20: ("resource", None),
    21: ("variant", None),
    22: ("uint32", "<u4"),
    23: ("uint64", "<u8"),
}
_BFLOAT16 = 14
_STRING = 7


def _dtype_name(code: int) -> str:
    if code in _DTYPES:
        return _DTYPES[code][0]
    if code > 100 and code - 100 in _DTYPES:
        return _DTYPES[code - 100][0] + "_ref"
    return f"DataType({code})"


# ------------------------------------------------------------------------------------- path resolution
_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_CKPT_LINE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"', re.MULTILINE)


def _data_filename(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def _index_files(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.glob("*.index") if p.is_file())
    except OSError:
        return []


def _list_prefixes(paths: list[Path], limit: int = 8) -> str:
    shown = ", ".join(str(p)[: -len(".index")] for p in paths[:limit])
    return shown + (f" (+{len(paths) - limit} more)" if len(paths) > limit else "")


def _checkpoint_file_target(ckpt_file: Path) -> str | None:
    """``model_checkpoint_path`` from TF's text-format ``checkpoint`` file (C-escaped string)."""
    try:
        match = _CKPT_LINE.search(ckpt_file.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    if not match:
        return None
    raw = match.group(1)
    try:
        return ast.literal_eval('b"' + raw + '"').decode("utf-8")
    except (ValueError, SyntaxError, UnicodeDecodeError):
        return raw


def _prefix_from_dir(directory: Path, ckpt_file: Path | None = None) -> str:
    ckpt_file = ckpt_file or directory / "checkpoint"
    indexes = _index_files(directory)
    stale = ""
    if ckpt_file.is_file():
        target = _checkpoint_file_target(ckpt_file)
        if target:
            # Paths may be relative to the directory, or absolute ones from the machine that trained (even
            # gs://...). The directory the user named wins: its own copy (by base name) is read even when the
            # absolute path happens to exist elsewhere on this machine.
            local = str(directory / re.split(r"[\\/]", target)[-1])
            absolute = os.path.isabs(target) or "://" in target
            if not absolute and os.path.isfile(str(directory / target) + ".index"):
                return str(directory / target)
            if os.path.isfile(local + ".index"):
                if absolute and os.path.isfile(target + ".index") and not os.path.samefile(target + ".index",
                                                                                         local + ".index"):
                    log.warning("%s points at %s in another directory; reading %s, the copy in the directory "
                                "you named", ckpt_file, target, local)
                return local
            if absolute and os.path.isfile(target + ".index"):
                log.warning("%s points outside %s, at %s; reading that checkpoint", ckpt_file, directory, target)
                return target
            stale = f"{ckpt_file} names {target!r} but {local}.index does not exist"
            if len(indexes) == 1:
                log.warning("%s; using the only checkpoint in the directory, %s", stale, indexes[0])
                return str(indexes[0])[: -len(".index")]
    if len(indexes) == 1:
        return str(indexes[0])[: -len(".index")]
    if indexes:
        why = stale or f"there is no {ckpt_file.name} file saying which"
        raise CheckpointError(
            f"{directory} holds {len(indexes)} TensorFlow checkpoints ({_list_prefixes(indexes)}) and {why}; "
            "pass one prefix explicitly"
        )
    nested = sorted(p for p in directory.glob("*/*.index") if p.is_file())[:8]
    hint = (
        f"; found in subfolders: {_list_prefixes(nested)} - pass one of those"
        if nested
        else "; point at the folder holding the .index and .data-* files of the unpacked model"
    )
    raise CheckpointError(
        f"no TensorFlow checkpoint in directory {directory}: looked for {ckpt_file.name} and *.index"
        f"{' (' + stale + ')' if stale else ''}{hint}"
    )


def _resolve_prefix(path: str | os.PathLike) -> str:
    """Prefix (``dir/name``, without suffix) of the checkpoint that ``path`` names."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    p = Path(text)
    if p.is_dir():
        return _prefix_from_dir(p)
    if p.name == "checkpoint" and p.is_file():
        return _prefix_from_dir(p.parent, p)
    match = _DATA_SUFFIX.search(text)
    if text.endswith(".index"):
        prefix = text[: -len(".index")]
    elif text.endswith(".meta"):
        prefix = text[: -len(".meta")]
    elif match:
        prefix = text[: match.start()]
    else:
        prefix = text
    if os.path.isfile(prefix + ".index"):
        return prefix
    if os.path.isfile(prefix + ".ckpt.index"):  # HFL's 180g releases: electra_180g_small.ckpt.index
        return prefix + ".ckpt"
    # Not found: say exactly what was looked for and what is there instead.
    parent = Path(prefix).parent
    if not parent.is_dir():
        raise CheckpointError(
            f"TensorFlow checkpoint not found: directory {parent} does not exist "
            f"(looked for {prefix}.index); check the path"
        )
    data_files = sorted(q.name for q in parent.glob(glob.escape(Path(prefix).name) + ".data-*"))
    if data_files:
        raise CheckpointError(
            f"missing index file {prefix}.index next to {', '.join(data_files)}: a TensorFlow checkpoint "
            "needs its .index file as well as its .data-* files - copy the .index file too"
        )
    if p.is_file() and prefix == text:
        raise CheckpointError(
            f"{text} is not a TensorFlow V2 checkpoint (no {text}.index); pass the prefix of a "
            "<prefix>.index + <prefix>.data-* pair (TF V1 single-file checkpoints are not supported: "
            "re-save with tf.compat.v1.train.Saver())"
        )
    indexes = _index_files(parent)
    present = (
        f"; checkpoints in {parent}: {_list_prefixes(indexes)} - pass one of these prefixes"
        if indexes
        else f"; {parent} has no *.index files"
    )
    raise CheckpointError(f"TensorFlow checkpoint not found: looked for {prefix}.index{present}")


def _check_disjoint(index_path: str, entries: dict[str, _Entry]) -> None:
    """Two tensors whose byte ranges overlap would convert to duplicated weights: TF never writes that."""
    spans = sorted((e.shard_id, e.offset, e.offset + e.size, name) for name, e in entries.items() if e.size > 0)
    for (shard_a, _, end_a, name_a), (shard_b, start_b, _, name_b) in zip(spans, spans[1:]):
        if shard_a == shard_b and start_b < end_a:
            raise CheckpointError(f"corrupt TensorFlow checkpoint index {index_path}: tensors {name_a!r} and "
                                  f"{name_b!r} overlap in shard {shard_a} (bytes from {start_b} to {end_a}); "
                                  "re-download or re-copy the checkpoint")


# ------------------------------------------------------------------------------------- reader
class TFCheckpointReader:
    """Lazy, TF-free reader of a TensorFlow V2 checkpoint.

    Opening parses only the small ``.index`` (every block CRC-checked); :meth:`read` seeks to one tensor
    in its ``.data-*`` shard and reads just its bytes, so peak memory stays near the largest tensor.
    """

    def __init__(self, path: str | os.PathLike):
        self.prefix: str = _resolve_prefix(path)
        self.index_path: str = self.prefix + ".index"
        try:
            raw = Path(self.index_path).read_bytes()
        except OSError as err:
            raise CheckpointError(f"cannot read {self.index_path}: {err.strerror or err}") from err
        try:
            pairs = _read_table(raw)
            if not pairs or pairs[0][0] != b"":
                raise _Corrupt("the BundleHeaderProto entry (empty key) is missing")
            header = dict(_proto_fields(pairs[0][1]))
            self.num_shards: int = int(header.get(1, 0))
            if self.num_shards < 1:
                raise _Corrupt(f"header says num_shards={self.num_shards}")
            version = dict(_proto_fields(header[3])) if 3 in header else {}  # type: ignore[arg-type]
            entries = {
                key.decode("utf-8", "surrogateescape"): _parse_entry(value) for key, value in pairs[1:]
            }
        except _Corrupt as err:
            raise CheckpointError(
                f"corrupt TensorFlow checkpoint index {self.index_path}: {err}; re-download or re-copy it"
            ) from None
        if int(version.get(2, 0)) > 1:  # min_consumer above the format version this reader implements (1)
            raise CheckpointError(
                f"{self.index_path} needs tensor-bundle format version >= {version[2]}, newer than this "
                "reader supports (1); re-save it with an older TensorFlow"
            )
        self._big_endian: bool = int(header.get(2, 0)) == 1
        _check_disjoint(self.index_path, entries)
        self._entries: dict[str, _Entry] = entries
        self._keys: list[str] = sorted(k for k in entries if not k.startswith("\x00"))  # "\x00...": slices
        self._files: dict[int, BinaryIO] = {}
        if not _HAVE_FAST_CRC:
            log.debug("google_crc32c (C build) not available: verifying tensor checksums with numpy (slower)")

    # -- listing ---------------------------------------------------------------------------------------
    def keys(self) -> list[str]:
        """Sorted tensor names (the header entry and the slices of partitioned variables excluded)."""
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries and not name.startswith("\x00")

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name) if not name.startswith("\x00") else None
        if entry is None:
            close = difflib.get_close_matches(name, self._keys, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise CheckpointError(
                f"no tensor named {name!r} in {self.index_path} ({len(self._keys)} tensors){hint}"
            )
        return entry

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of the full tensor (``()`` for scalars)."""
        return self._entry(name).shape

    def tf_dtype(self, name: str) -> str:
        """TF dtype name (``"float32"``, ``"bfloat16"``, ``"string"``...), for any entry, readable or not."""
        return _dtype_name(self._entry(name).dtype)

    def dtype(self, name: str) -> np.dtype:
        """numpy dtype :meth:`read` returns; bfloat16 reads as float32.  Raises for unreadable dtypes."""
        code = self._entry(name).dtype
        stored = _DTYPES.get(code, ("", None))[1]
        if stored is None:
            raise CheckpointError(self._unsupported_dtype_message(name, code))
        return np.dtype(np.float32) if code == _BFLOAT16 else np.dtype(stored).newbyteorder("=")

    def _unsupported_dtype_message(self, name: str, code: int) -> str:
        if code == _STRING:
            return (
                f"tensor {name!r} in {self.index_path} is a string tensor; only numeric tensors can be read "
                "(string entries such as _CHECKPOINTABLE_OBJECT_GRAPH hold metadata, not weights - skip them)"
            )
        return (
            f"tensor {name!r} in {self.index_path} has dtype {_dtype_name(code)}, "
            "which cannot be read; skip it"
        )

    def readable(self, name: str) -> bool:
        """Whether :meth:`read` can return this tensor (numeric dtype, not partitioned)."""
        entry = self._entry(name)
        return entry.slices == 0 and _DTYPES.get(entry.dtype, ("", None))[1] is not None

    # -- reading ---------------------------------------------------------------------------------------
    def _shard(self, shard_id: int, name: str) -> BinaryIO:
        handle = self._files.get(shard_id)
        if handle is not None:
            return handle
        if not 0 <= shard_id < self.num_shards:
            raise CheckpointError(
                f"corrupt TensorFlow checkpoint index {self.index_path}: tensor {name!r} is in shard "
                f"{shard_id} but the header lists {self.num_shards} shard(s); re-download or re-copy it"
            )
        path = _data_filename(self.prefix, shard_id, self.num_shards)
        try:
            handle = open(path, "rb", buffering=0)  # noqa: SIM115 - kept open until close()
        except FileNotFoundError:
            present = sorted(
                q.name for q in Path(self.prefix).parent.glob(glob.escape(Path(self.prefix).name) + ".data-*")
            )
            raise CheckpointError(
                f"missing data file {path} (shard {shard_id + 1} of {self.num_shards}, "
                f"holds tensor {name!r}); present: {', '.join(present) or 'none'} - "
                "copy every .data-* file of the checkpoint"
            ) from None
        except OSError as err:
            raise CheckpointError(f"cannot open {path}: {err.strerror or err}") from err
        self._files[shard_id] = handle
        return handle

    def read(self, name: str, verify: bool = True) -> np.ndarray:
        """The tensor as a writeable, native-endian numpy array of its stored shape.

        Reads only this tensor's bytes.  ``verify`` checks them against the crc32c stored in the index,
        catching truncated or bit-rotten downloads before they become silently wrong weights.
        """
        entry = self._entry(name)
        if entry.slices:
            raise CheckpointError(
                f"tensor {name!r} in {self.index_path} is a partitioned variable saved as {entry.slices} "
                "slices, which this reader does not support; re-save it unpartitioned with TensorFlow"
            )
        stored = _DTYPES.get(entry.dtype, ("", None))[1]
        if stored is None:
            raise CheckpointError(self._unsupported_dtype_message(name, entry.dtype))
        if any(d < 0 for d in entry.shape):
            raise CheckpointError(
                f"corrupt TensorFlow checkpoint index {self.index_path}: tensor {name!r} has invalid shape "
                f"{entry.shape}; re-download or re-copy it"
            )
        file_dtype = np.dtype(stored)
        count = int(np.prod(entry.shape, dtype=np.int64))
        if entry.size != count * file_dtype.itemsize or entry.offset < 0:
            raise CheckpointError(
                f"corrupt TensorFlow checkpoint index {self.index_path}: tensor {name!r} of shape "
                f"{entry.shape} ({_dtype_name(entry.dtype)}) should span {count * file_dtype.itemsize} bytes "
                f"but the index says {entry.size}; re-download or re-copy it"
            )
        handle = self._shard(entry.shard_id, name)
        data_path = handle.name
        file_size = os.fstat(handle.fileno()).st_size
        end = entry.offset + entry.size
        if end > file_size:
            raise CheckpointError(
                f"truncated data file {data_path}: tensor {name!r} needs bytes {entry.offset}..{end} "
                f"(offset {entry.offset} + size {entry.size}) but the file has {file_size} bytes; "
                "re-download or re-copy it"
            )
        buf = np.empty(entry.size, dtype=np.uint8)
        view = memoryview(buf)
        handle.seek(entry.offset)
        got = 0
        while got < entry.size:
            n = handle.readinto(view[got:])
            if not n:
                raise CheckpointError(
                    f"truncated data file {data_path}: tensor {name!r} ended after {got} of {entry.size} "
                    f"bytes at offset {entry.offset}; re-download or re-copy it"
                )
            got += n
        if verify:
            actual = crc32c(buf)
            expected = unmask_crc32c(entry.crc32c)
            if actual != expected:
                raise CheckpointError(
                    f"checksum mismatch for tensor {name!r} in {data_path} (bytes {entry.offset}..{end}): "
                    f"stored crc32c {expected:08x}, computed {actual:08x}; the file is corrupt - re-download "
                    "it (or read with verify=False at your own risk)"
                )
        if self._big_endian:  # written on a big-endian host: bytes are swapped per element
            array = buf.view(file_dtype.newbyteorder(">")).astype(file_dtype.newbyteorder("<"))
        else:
            array = buf.view(file_dtype)
        if entry.dtype == _BFLOAT16:
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array.reshape(entry.shape)

    def items(self, skip_unsupported: bool = False) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, array)`` pairs in key order, read one at a time.  With ``skip_unsupported``, string,
        exotic-dtype and partitioned entries are skipped (logged at debug) instead of raising."""
        for name in self._keys:
            if skip_unsupported and not self.readable(name):
                log.debug("skipping %s (%s) in %s", name, self.tf_dtype(name), self.index_path)
                continue
            yield name, self.read(name)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        return self.items()

    # -- lifetime --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the open data shards (the index is not kept open)."""
        files, self._files = self._files, {}
        for handle in files.values():
            handle.close()

    def __enter__(self) -> TFCheckpointReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TFCheckpointReader({self.prefix!r}, {len(self._keys)} tensors, {self.num_shards} shard(s))"


def open_tf_checkpoint(path: str | os.PathLike) -> TFCheckpointReader:
    """Open a TF V2 checkpoint by prefix, directory, ``checkpoint`` file or any of its files."""
    return TFCheckpointReader(path)
