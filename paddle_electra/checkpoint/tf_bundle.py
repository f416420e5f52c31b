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

import difflib
import glob
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from paddle_electra.errors import CheckpointError

from .crc import crc32c, mask_crc32c, unmask_crc32c
from .sstable import Corrupt, int64, proto_fields, read_table
from .tf_paths import data_filename, resolve_prefix

__all__ = ["TFCheckpointReader", "open_tf_checkpoint", "crc32c", "mask_crc32c", "unmask_crc32c"]  # crcs: from .crc

log = logging.getLogger(__name__)

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
    for field, value in proto_fields(buf):
        if field == 2:  # Dim {int64 size = 1; string name = 2}
            size = 0
            for f, v in proto_fields(value):  # type: ignore[arg-type]
                if f == 1:
                    size = int64(v)  # type: ignore[arg-type]
            dims.append(size)
        elif field == 3 and value:  # unknown_rank
            return (-1,)
    return tuple(dims)


def _parse_entry(buf: bytes) -> _Entry:
    dtype = shard = offset = size = crc = slices = 0
    shape: tuple[int, ...] = ()
    for field, value in proto_fields(buf):
        if field == 1:
            dtype = value
        elif field == 2:
            shape = _parse_shape(value)  # type: ignore[arg-type]
        elif field == 3:
            shard = int64(value)  # type: ignore[arg-type]
        elif field == 4:
            offset = int64(value)  # type: ignore[arg-type]
        elif field == 5:
            size = int64(value)  # type: ignore[arg-type]
        elif field == 6:
            crc = value
        elif field == 7:
            slices += 1
    return _Entry(dtype, shape, shard, offset, size, crc, slices)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- dtypes
# DataType enum (tensorflow/core/framework/types.proto) -> (name, dtype of the stored bytes).
# bfloat16 is stored as uint16 bits and returned widened to float32 (exact: bf16 is the top half of f32).
DTYPES: dict[int, tuple[str, str | None]] = {
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
    if code in DTYPES:
        return DTYPES[code][0]
    if code > 100 and code - 100 in DTYPES:
        return DTYPES[code - 100][0] + "_ref"
    return f"DataType({code})"


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
        self.prefix: str = resolve_prefix(path)
        self.index_path: str = self.prefix + ".index"
        try:
            raw = Path(self.index_path).read_bytes()
        except OSError as err:
            raise CheckpointError(f"cannot read {self.index_path}: {err.strerror or err}") from err
        try:
            pairs = read_table(raw)
            if not pairs or pairs[0][0] != b"":
                raise Corrupt("the BundleHeaderProto entry (empty key) is missing")
            header = dict(proto_fields(pairs[0][1]))
            self.num_shards: int = int(header.get(1, 0))
            if self.num_shards < 1:
                raise Corrupt(f"header says num_shards={self.num_shards}")
            version = dict(proto_fields(header[3])) if 3 in header else {}  # type: ignore[arg-type]
            entries = {
                key.decode("utf-8", "surrogateescape"): _parse_entry(value) for key, value in pairs[1:]
            }
        except Corrupt as err:
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
        stored = DTYPES.get(code, ("", None))[1]
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
        return entry.slices == 0 and DTYPES.get(entry.dtype, ("", None))[1] is not None

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
        path = data_filename(self.prefix, shard_id, self.num_shards)
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
        stored = DTYPES.get(entry.dtype, ("", None))[1]
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
