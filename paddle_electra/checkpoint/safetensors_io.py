"""Read and write ``*.safetensors`` with numpy only (the ``safetensors`` package's numpy API, no torch).

Layout: an 8-byte little-endian header length ``N``, ``N`` bytes of JSON (``{name: {dtype, shape,
data_offsets}, "__metadata__": {str: str}}``), then the tensor bytes. The header is validated here first
so a truncated or corrupt file gives a one-line :class:`CheckpointError` naming the file, instead of the
library's terse ``HeaderTooLarge``/``MetadataIncompleteBuffer``.

numpy has no bfloat16, and ``safe_open(framework="np")`` refuses ``BF16``; those tensors are read from
their byte range directly and widened exactly to float32 (a bf16 value is the high 16 bits of the
float32 with the same value, so ``uint32(bits) << 16`` viewed as float32 is exact).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ._files import checked_file

__all__ = [
    "load_safetensors", "iter_safetensors", "save_safetensors", "read_safetensors_metadata", "SafetensorsReader",
]

_MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
_NUMPY_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip
_SAVABLE = {np.dtype(v) for v in _NUMPY_DTYPES.values()}
_ITEMSIZE = {k: np.dtype(v).itemsize for k, v in _NUMPY_DTYPES.items()} | {"BF16": 2}


def _check_path(path: str | os.PathLike[str]) -> tuple[Path, int]:
    return checked_file(path, ".safetensors")


def _read_header(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any], int]:
    """Validate the header against the file size; return (path, header, offset of the data section)."""
    p, size = _check_path(path)
    redo = "download it again"
    with open(p, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(
                f"{p}: {size} bytes is too short for a safetensors file (truncated); {redo}"
            )
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            hint = " (it is a zip: a PyTorch checkpoint?)" if head.startswith(b"PK") else ""
            raise CheckpointError(
                f"{p}: safetensors header length {n} goes beyond the end of the file ({size} bytes): "
                f"the file is truncated or not a safetensors file{hint}; {redo}"
            )
        if n > _MAX_HEADER:
            raise CheckpointError(
                f"{p}: safetensors header length {n} is implausibly large; corrupt file, {redo}"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{p}: corrupt safetensors header (bad JSON: {exc}); {redo}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{p}: corrupt safetensors header (JSON is not an object); {redo}")
    data_len = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            if info is not None and not isinstance(info, dict):
                raise CheckpointError(
                    f"{p}: corrupt safetensors header (__metadata__ is not an object); {redo}"
                )
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            ok = (
                isinstance(dtype, str)
                and all(isinstance(d, int) and d >= 0 for d in shape)
                and isinstance(begin, int)
                and isinstance(end, int)
                and 0 <= begin <= end
            )
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise CheckpointError(f"{p}: corrupt safetensors header entry for '{name}': {info!r}; {redo}")
        if dtype not in _ITEMSIZE:
            raise CheckpointError(
                f"{p}: tensor '{name}' has dtype {dtype}, which has no numpy equivalent here; re-save it as "
                f"float32/float16/bfloat16"
            )
        if end > data_len:
            raise CheckpointError(
                f"{p}: tensor '{name}' ends at byte {end} of the data section but only {data_len} bytes are "
                f"present: the file is truncated; {redo}"
            )
        if (end - begin) != int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[dtype]:
            raise CheckpointError(
                f"{p}: tensor '{name}' has {end - begin} bytes for shape {shape} of {dtype}; "
                f"corrupt file, {redo}"
            )
    return p, header, 8 + n


def read_safetensors_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``__metadata__`` string map of a safetensors file ({} when absent)."""
    _, header, _ = _read_header(path)
    return dict(header.get("__metadata__") or {})


def _bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def iter_safetensors(path: str | os.PathLike[str]) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, array)`` in file (data offset) order, one tensor in memory at a time; BF16 -> float32.

    The header is validated before this returns, so a bad file raises here rather than at ``next()``.
    """
    p, header, data_start = _read_header(path)
    entries = sorted(
        ((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0]
    )
    return _generate(p, entries, data_start)


def _generate(p: Path, entries: list[tuple[str, Any]], data_start: int) -> Iterator[tuple[str, np.ndarray]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(p), framework="np") as sf, open(p, "rb") as raw:
            for name, info in entries:
                if info["dtype"] == "BF16":  # safe_open(framework="np") cannot make a bf16 array
                    begin, end = info["data_offsets"]
                    raw.seek(data_start + begin)
                    bits = np.frombuffer(raw.read(end - begin), dtype="<u2").reshape(info["shape"])
                    yield name, _bf16_bits_to_float32(bits)
                else:
                    yield name, sf.get_tensor(name)
    except SafetensorError as exc:
        raise CheckpointError(f"{p}: corrupt safetensors file ({exc}); download it again") from None


class SafetensorsReader:
    """Random access to one tensor at a time (validated header; each :meth:`read` seeks and reads only that
    tensor's bytes), so converting a model never holds more than the tensor being converted."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path, header, self._data_start = _read_header(path)
        self._entries = {k: v for k, v in header.items() if k != "__metadata__"}
        self.shapes: dict[str, tuple[int, ...]] = {k: tuple(v["shape"]) for k, v in self._entries.items()}

    def keys(self) -> list[str]:
        return list(self._entries)

    def read(self, name: str) -> np.ndarray:
        info = self._entries.get(name)
        if info is None:
            raise CheckpointError(f"{self.path}: no tensor named {name!r}")
        begin, end = info["data_offsets"]
        buf = np.empty(end - begin, dtype=np.uint8)
        with open(self.path, "rb") as f:
            f.seek(self._data_start + begin)
            got = f.readinto(memoryview(buf))
        if got != end - begin:
            raise CheckpointError(f"{self.path}: tensor '{name}' is cut short (the file is truncated); "
                                  "download it again")
        if info["dtype"] == "BF16":
            return _bf16_bits_to_float32(buf.view("<u2")).reshape(info["shape"])
        dtype = np.dtype(_NUMPY_DTYPES[info["dtype"]])
        array = buf.view(dtype).reshape(info["shape"])
        return array.astype(dtype.newbyteorder("="), copy=False)


def load_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file into ``{name: array}`` (BF16 widened to float32)."""
    return dict(iter_safetensors(path))


def save_safetensors(
    tensors: Mapping[str, np.ndarray], path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write ``tensors`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``).

    Arrays are written C-contiguous in their own dtype (numpy has no bfloat16, so nothing is narrowed).
    ``metadata`` must map str to str, as the format requires. Returns the path written.
    """
    from safetensors.numpy import save_file

    p = Path(path)
    if metadata is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise CheckpointError(f"{p}: safetensors metadata must map str to str, got {dict(metadata)!r}")
    arrays: dict[str, np.ndarray] = {}
    for name, arr in tensors.items():
        if not isinstance(name, str) or not isinstance(arr, np.ndarray):
            raise CheckpointError(f"{p}: cannot save {name!r}: need str names and numpy arrays")
        if arr.dtype.kind not in "fiub" or np.dtype(arr.dtype.str.lstrip("<>=|")) not in _SAVABLE:
            raise CheckpointError(
                f"{p}: cannot save '{name}': dtype {arr.dtype} has no safetensors equivalent"
            )
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False) if arr.dtype.itemsize > 1 else arr
        arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
    if not p.parent.is_dir():
        raise CheckpointError(f"{p}: folder {p.parent} does not exist; create it first")
    from ..fs import atomic_path

    with atomic_path(p) as tmp:
        save_file(arrays, str(tmp), metadata=dict(metadata) if metadata is not None else None)
    return p
