"""Read PyTorch ``pytorch_model.bin`` state dicts into numpy -- without torch, without running pickled code.

``torch.save`` output is a pickle, and unpickling an untrusted pickle can run arbitrary code. This reader
uses a restricted :class:`pickle.Unpickler` whose ``find_class`` resolves only the handful of globals a
plain state dict needs, each mapped to a small stub defined here (never to torch or to anything that
executes): ``collections.OrderedDict``, the ``torch._utils._rebuild_tensor*`` / ``_rebuild_parameter*``
rebuild functions, ``torch._tensor._rebuild_from_type_v2`` (for ``torch.Tensor``/``Parameter`` only),
the typed ``torch.*Storage`` classes, ``torch.<dtype>``, ``torch.Size`` and
``torch.serialization._get_layout``. Every other global -- ``os.system``, ``builtins.eval``,
``torch.storage._load_from_bytes`` (a nested ``torch.save`` blob loaded with the full unpickler),
``torch._utils._rebuild_qtensor``, a whole pickled ``nn.Module`` -- raises :class:`CheckpointError`.

Formats:

* **zip** (``torch.save`` since 1.6): ``<top>/data.pkl`` (``<top>`` is the saved file's stem in older
  writers, ``archive`` in newer ones), storages as ``<top>/data/<key>`` records, optional
  ``<top>/byteorder`` (``big`` -> byte-swapped on read). Persistent ids are
  ``('storage', storage_type, key, location, numel)``.
* **legacy** (``_use_new_zipfile_serialization=False``, torch < 1.6 default -- HFL's 2020 uploads):
  pickled magic number, protocol version 1001, sys_info, the main pickle with persistent ids
  ``('storage', storage_type, root_key, location, numel, view_metadata)`` (``view_metadata`` =
  ``(view_key, offset, numel)`` in elements, or None), the pickled list of root keys, then per key an
  8-byte little-endian element count and the raw bytes (torch always wrote these little-endian).
* **tar** (torch < 0.4): recognised and refused with a how-to-re-save message.

Tensors are rebuilt from ``(storage, storage_offset, size, stride)`` with
:func:`numpy.lib.stride_tricks.as_strided` after a bounds check, then copied, so transposed tensors and
views sharing a storage come out contiguous and correct. ``bfloat16`` has no numpy dtype: its 16 bits
are the top half of an IEEE float32, so it is widened exactly with ``uint32(bits) << 16`` viewed as
float32. Other dtypes keep their numpy equivalent (float16 stays float16, int64 stays int64).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
import struct
import tarfile
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import CheckpointError
from ._files import checked_file

__all__ = ["load_torch_state_dict", "iter_torch_state_dict", "TORCH_STORAGE_DTYPES"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_RESAVE_HINT = (
    "re-save it in a trusted Python with torch installed as "
    "torch.save(model.state_dict(), 'pytorch_model.bin') or convert it to model.safetensors"
)

# numpy dtype per torch storage class; "bfloat16" is read as uint16 and widened to float32 later.
TORCH_STORAGE_DTYPES: dict[str, str] = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}

# torch.<name> dtype globals (appear in _rebuild_tensor_v3 and metadata) -> numpy dtype names
_TORCH_DTYPES: dict[str, str] = {
    "float64": "float64", "double": "float64",
    "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16",
    "bfloat16": "bfloat16",
    "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32",
    "int16": "int16", "short": "int16",
    "int8": "int8", "uint8": "uint8", "bool": "bool",
    "complex64": "complex64", "cfloat": "complex64",
    "complex128": "complex128", "cdouble": "complex128",
}  # fmt: skip


def _np_dtype(name: str, big_endian: bool = False) -> np.dtype:
    """The on-disk numpy dtype for a storage dtype name (bf16 -> its raw uint16 bits)."""
    dt = np.dtype("uint16" if name == "bfloat16" else name)
    return dt.newbyteorder(">" if big_endian else "<") if dt.itemsize > 1 else dt


# ----------------------------------------------------------------------------------------------------------
# Stubs the restricted unpickler hands out instead of torch objects
# ----------------------------------------------------------------------------------------------------------


class _NoState:
    """Refuse pickle BUILD on our stubs, so a crafted pickle cannot rewrite their validated fields."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise pickle.UnpicklingError(f"BUILD on {type(self).__name__} is not allowed in a state dict")

    def __reduce__(self):  # pragma: no cover - never pickled
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class _StorageType(_NoState):
    """Stands for a ``torch.<X>Storage`` class; only ever passed to persistent_load."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: str) -> None:
        self.name = name
        self.dtype = dtype

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError(f"constructing torch.{self.name} in a pickle is not allowed")


class _TorchDType(_NoState):
    """Stands for ``torch.float32`` and friends."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: str) -> None:
        self.name = name
        self.dtype = dtype


class _TensorType(_NoState):
    """Stands for ``torch.Tensor`` / ``torch.nn.Parameter`` in ``_rebuild_from_type_v2``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Storage(_NoState):
    """A (possibly view of a) storage: ``nbytes`` bytes at ``byte_offset`` of root storage ``key``."""

    __slots__ = ("key", "dtype", "byte_offset", "nbytes")

    def __init__(self, key: str, dtype: str, byte_offset: int, nbytes: int) -> None:
        self.key = key
        self.dtype = dtype
        self.byte_offset = byte_offset
        self.nbytes = nbytes


class _Tensor(_NoState):
    """A tensor not yet read: where its elements live and how they are laid out."""

    __slots__ = ("storage", "offset", "size", "stride", "dtype", "negate", "conj")

    def __init__(
        self,
        storage: _Storage,
        offset: int,
        size: tuple[int, ...],
        stride: tuple[int, ...],
        dtype: str,
        negate: bool = False,
        conj: bool = False,
    ) -> None:
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride
        self.dtype = dtype
        self.negate = negate
        self.conj = conj


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise pickle.UnpicklingError(f"tensor {what} must be a tuple of non-negative ints, got {value!r}")
    return tuple(value)


def _rebuild_tensor(
    storage: Any, storage_offset: Any, size: Any, stride: Any, dtype: str | None = None, metadata: Any = None
) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"tensor storage must come from a storage record, got {type(storage)}")
    if not isinstance(storage_offset, int) or isinstance(storage_offset, bool) or storage_offset < 0:
        raise pickle.UnpicklingError(f"bad storage offset {storage_offset!r}")
    size_t = _int_tuple(size, "size")
    stride_t = _int_tuple(stride, "stride")
    if len(size_t) != len(stride_t):
        raise pickle.UnpicklingError(f"tensor size {size_t} and stride {stride_t} differ in rank")
    negate = conj = False
    if metadata:
        if not isinstance(metadata, dict):
            raise pickle.UnpicklingError(f"tensor metadata must be a dict, got {type(metadata)}")
        negate, conj = bool(metadata.get("neg")), bool(metadata.get("conj"))
    return _Tensor(storage, storage_offset, size_t, stride_t, dtype or storage.dtype, negate, conj)


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    return _rebuild_tensor(storage, storage_offset, size, stride, metadata=metadata)


def _rebuild_tensor_v3(
    storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None
):
    if not isinstance(dtype, _TorchDType):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v3 needs a torch dtype, got {dtype!r}")
    return _rebuild_tensor(storage, storage_offset, size, stride, dtype=dtype.dtype, metadata=metadata)


def _rebuild_tensor_v1(storage, storage_offset, size, stride):
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _Tensor):
        raise pickle.UnpicklingError(f"_rebuild_parameter needs a tensor, got {type(data)}")
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_tensor_v1, _rebuild_parameter):
        raise pickle.UnpicklingError("_rebuild_from_type_v2 with a non-tensor rebuild function")
    if not isinstance(new_type, _TensorType):
        raise pickle.UnpicklingError("_rebuild_from_type_v2 with a tensor subclass")
    if not isinstance(args, tuple):
        raise pickle.UnpicklingError("_rebuild_from_type_v2 args must be a tuple")
    return func(*args)


def _get_layout(name):
    if name != "torch.strided":
        raise pickle.UnpicklingError(f"only dense (strided) tensors are supported, not {name!r}")
    return name


def _torch_size(*args):
    return tuple(*args)


_REBUILDERS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor_v1,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch.serialization", "_get_layout"): _get_layout,
    ("torch", "Size"): _torch_size,
    ("torch", "Tensor"): _TensorType("Tensor"),
    ("torch.nn.parameter", "Parameter"): _TensorType("Parameter"),
    ("collections", "OrderedDict"): OrderedDict,
}

_SPECIFIC_REFUSALS: dict[tuple[str, str], str] = {
    ("torch.storage", "_load_from_bytes"): "it embeds a nested torch.save blob that only the full, unsafe "
    "unpickler can read",
    ("torch._utils", "_rebuild_qtensor"): "quantized tensors are not supported",
    ("torch._utils", "_rebuild_sparse_tensor"): "sparse tensors are not supported",
}

_MODEL_PREFIXES = ("torch.nn.", "transformers.", "paddlenlp.", "__main__", "__torch__")


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only allow-listed globals and reports the first refused one."""

    def __init__(self, file: BinaryIO, path: Path, persistent_load: Callable[[Any], Any] | None = None):
        super().__init__(file)
        self._path = path
        self._persistent = persistent_load
        self.refused: CheckpointError | None = None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return self._persistent(pid)

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _REBUILDERS:
            return _REBUILDERS[key]
        if module in ("torch", "torch.cuda") and name in TORCH_STORAGE_DTYPES:
            return _StorageType(name, TORCH_STORAGE_DTYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _TorchDType(name, _TORCH_DTYPES[name])
        where = f"{module}.{name}"
        if key in _SPECIFIC_REFUSALS:
            why = _SPECIFIC_REFUSALS[key]
        elif module.startswith(_MODEL_PREFIXES) or (module == "torch" and name[:1].isupper()):
            why = (
                "this is a pickled whole model or custom object, not a state dict; save "
                "model.state_dict() instead (torch.save(model.state_dict(), path)) or use safetensors"
            )
            self.refused = CheckpointError(f"{self._path}: refusing to load pickled global '{where}'; {why}")
            raise self.refused
        else:
            why = "this is not a plain state dict (only tensors, storages and OrderedDict are allowed)"
        self.refused = CheckpointError(
            f"{self._path}: refusing to load pickled global '{where}'; {why}. Loading it could run "
            f"arbitrary code: if you trust the file, {_RESAVE_HINT}"
        )
        raise self.refused


_BUFFER_OPCODES = frozenset({"BYTEARRAY8", "NEXT_BUFFER", "READONLY_BUFFER"})


def _scan(file: Any) -> None:
    """Walk the pickle's opcodes without building anything, so a malformed one fails cleanly here.

    Counted strings are read through the (bounded) file, so a corrupt length cannot trigger a huge
    allocation; protocol-5 out-of-band buffers, which ``torch.save`` never writes, are refused.
    """
    for op, _arg, _pos in pickletools.genops(file):
        if op.name in _BUFFER_OPCODES:
            raise pickle.UnpicklingError(f"{op.name} (out-of-band buffer) never appears in torch.save output")


def _unpickle(
    path: Path,
    file: Any,
    persistent_load: Callable[[Any], Any] | None,
    what: str,
    corrupt: str | None = None,
) -> Any:
    """Scan, then load one pickle from ``file`` (left just past it) with the restricted unpickler."""
    unpickler = _RestrictedUnpickler(file, path, persistent_load)
    try:
        start = file.tell()
        _scan(file)
        file.seek(start)
        return unpickler.load()
    except CheckpointError:
        raise
    except Exception as exc:  # UnpicklingError, EOFError, ValueError from the scan, TypeError from a stub...
        if unpickler.refused is not None:  # a refusal swallowed and re-raised as something else
            raise unpickler.refused from None
        raise CheckpointError(
            corrupt
            or f"{path}: corrupt or truncated {what} ({type(exc).__name__}: {exc}); download the file again"
        ) from None


# ----------------------------------------------------------------------------------------------------------
# Turning the lazy tensors into numpy arrays
# ----------------------------------------------------------------------------------------------------------


def _bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 is the high half of a float32: shifting its 16 bits up by 16 gives the exact value."""
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _materialize(path: Path, name: str, t: _Tensor, root: bytes | memoryview, big_endian: bool) -> np.ndarray:
    disk_dtype = _np_dtype(t.dtype, big_endian)
    s = t.storage
    region = memoryview(root)[s.byte_offset : s.byte_offset + s.nbytes]
    n_items = len(region) // disk_dtype.itemsize
    if math.prod(t.size) == 0:
        arr = np.zeros(t.size, dtype=disk_dtype)
    else:
        last = t.offset + sum((n - 1) * st for n, st in zip(t.size, t.stride))
        if last >= n_items:
            raise CheckpointError(
                f"{path}: tensor '{name}' (size {list(t.size)}, stride {list(t.stride)}, offset {t.offset}) "
                f"reaches element {last} but its storage '{s.key}' holds only {n_items}; the file is "
                f"truncated or corrupt, download it again"
            )
        flat = np.frombuffer(region, dtype=disk_dtype, count=n_items)
        arr = np.lib.stride_tricks.as_strided(
            flat[t.offset :],
            shape=t.size,
            strides=tuple(st * disk_dtype.itemsize for st in t.stride),
            writeable=False,
        ).copy()
    if big_endian and disk_dtype.itemsize > 1:
        arr = arr.astype(disk_dtype.newbyteorder("="))
    if t.dtype == "bfloat16":
        arr = _bf16_bits_to_float32(arr)
    if t.negate:
        arr = -arr
    if t.conj:
        arr = np.conj(arr)
    return arr  # contiguous: every path above ends in a fresh copy (ascontiguousarray would make 0-d 1-d)


_MAX_TENSOR_BYTES = 1 << 34  # 16 GiB: ELECTRA-large's biggest tensor is ~86 MB; guards stride-0 blow-ups


def _check_state_dict(path: Path, obj: Any) -> dict[str, _Tensor]:
    hint = "save model.state_dict() (torch.save(model.state_dict(), path)) or use safetensors"
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"{path}: the pickled object is a {type(obj).__name__}, not a dict of tensors; {hint}"
        )
    for key, value in obj.items():
        if isinstance(value, _Tensor) and (
            len(value.size) > 32
            or math.prod(value.size) * _np_dtype(value.dtype).itemsize > _MAX_TENSOR_BYTES
        ):
            raise CheckpointError(
                f"{path}: tensor '{key}' claims size {list(value.size)}, implausibly large for a checkpoint "
                f"tensor; the file is corrupt, download it again"
            )
        if not isinstance(key, str):
            raise CheckpointError(f"{path}: state dict key {key!r} is not a string; {hint}")
        if not isinstance(value, _Tensor):
            kind = "dict" if isinstance(value, dict) else type(value).__name__
            extra = " (a training checkpoint wrapping the state dict?)" if isinstance(value, dict) else ""
            raise CheckpointError(
                f"{path}: state dict entry '{key}' holds a {kind}, not a tensor{extra}; {hint}"
            )
    return obj


class _StorageCache:
    """Keeps a root storage's bytes only while tensors still to be yielded reference it."""

    def __init__(self, tensors: dict[str, _Tensor], read: Callable[[str], bytes]) -> None:
        self._left = Counter(t.storage.key for t in tensors.values())
        self._read = read
        self._data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes:
        data = self._data.get(key)
        if data is None:
            data = self._read(key)
            if self._left[key] > 1:
                self._data[key] = data
        self._left[key] -= 1
        if self._left[key] <= 0:
            self._data.pop(key, None)
        return data


# ----------------------------------------------------------------------------------------------------------
# Zip format
# ----------------------------------------------------------------------------------------------------------


class _Plan:
    """What a checked file holds: its tensors (not yet read) and how to read a root storage's bytes."""

    def __init__(self, tensors: dict[str, _Tensor], read: Callable[[str], bytes], big_endian: bool) -> None:
        self.tensors = tensors
        self.read = read
        self.big_endian = big_endian


def _plan_zip(path: Path, f: BinaryIO) -> _Plan:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: truncated or corrupt zip archive ({exc}); download the file again"
        ) from None
    # the ZipFile shares ``f``, which _generate (or iter_torch_state_dict on error) closes
    pkls = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pkls) != 1:
        if any(n.split("/", 1)[-1].startswith("code/") for n in zf.namelist()):
            raise CheckpointError(
                f"{path}: this is a TorchScript archive (torch.jit.save), not a state dict; {_RESAVE_HINT}"
            )
        raise CheckpointError(
            f"{path}: zip archive has {'no' if not pkls else 'several'} '<dir>/data.pkl' entries, so it "
            f"is not a torch.save checkpoint; {_RESAVE_HINT}"
        )
    top = pkls[0][: -len("/data.pkl")]
    names = set(zf.namelist())
    byteorder = "little"
    if f"{top}/byteorder" in names:
        byteorder = _zip_read(path, zf, f"{top}/byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise CheckpointError(f"{path}: unknown byteorder record {byteorder!r}; download it again")

    def persistent_load(pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"storage type must be a torch storage class, got {stype!r}")
        key = key.decode("ascii") if isinstance(key, bytes) else str(key)
        record = f"{top}/data/{key}"
        if record not in names:
            raise CheckpointError(
                f"{path}: storage record '{record}' is missing from the zip archive; the file is "
                f"truncated or corrupt, download it again"
            )
        nbytes = zf.getinfo(record).file_size
        return _Storage(key, stype.dtype, 0, nbytes)

    obj = _unpickle(path, io.BytesIO(_zip_read(path, zf, pkls[0])), persistent_load, "data.pkl")
    tensors = _check_state_dict(path, obj)
    return _Plan(tensors, lambda key: _zip_read(path, zf, f"{top}/data/{key}"), byteorder == "big")


def _zip_read(path: Path, zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: cannot read '{name}' from the zip archive ({exc}); the file is truncated or corrupt, "
            f"download it again"
        ) from None


# ----------------------------------------------------------------------------------------------------------
# Legacy (pre-1.6) format
# ----------------------------------------------------------------------------------------------------------


class _BoundedReader:
    """``read``/``readline``/``tell``/``seek`` over ``f`` that never ask for more than the file still holds.

    A corrupt pickle can claim a multi-gigabyte string; ``BufferedReader.read(n)`` would allocate ``n``
    bytes before finding the file short. Having no ``peek``/``readinto`` also makes the C unpickler read
    exactly what each opcode needs, so ``f`` is left just past the pickle, as the legacy format requires.
    """

    def __init__(self, f: BinaryIO, file_size: int) -> None:
        self._f = f
        self._end = file_size
        self._left = file_size - f.tell()

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(self._left if n is None or n < 0 or n > self._left else n)
        self._left -= len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        data = self._f.readline(self._left if limit is None or limit < 0 or limit > self._left else limit)
        self._left -= len(data)
        return data

    def tell(self) -> int:
        return self._f.tell()

    def seek(self, pos: int) -> None:
        self._f.seek(pos)
        self._left = self._end - pos


def _legacy_storage_spans(path: Path, f: BinaryIO, file_size: int, keys: list, roots: dict[str, tuple[str, int]],
                          tensors: dict) -> dict[str, tuple[int, int]]:
    """root key -> (file offset, nbytes): the legacy format stores each storage after the pickles as an int64
    element count and its raw bytes, in ``keys`` order; every tensor's storage must be among them."""
    spans: dict[str, tuple[int, int]] = {}
    pos = f.tell()
    for key in keys:
        key = str(key)
        if key not in roots:
            raise CheckpointError(f"{path}: storage '{key}' is listed but never used; the file is corrupt")
        f.seek(pos)
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated before storage '{key}'; download the file again")
        (count,) = struct.unpack("<q", head)
        nbytes = count * _np_dtype(roots[key][0]).itemsize
        if count < 0 or pos + 8 + nbytes > file_size:
            raise CheckpointError(
                f"{path}: storage '{key}' needs {nbytes} bytes but the file ends first; it is truncated, "
                f"download it again"
            )
        spans[key] = (pos + 8, nbytes)
        pos += 8 + nbytes
    for name, t in tensors.items():
        if t.storage.key not in spans:
            raise CheckpointError(
                f"{path}: tensor '{name}' uses storage '{t.storage.key}' that the file does not contain; "
                f"it is corrupt, download it again"
            )
    return spans


def _plan_legacy(path: Path, f: BinaryIO, file_size: int) -> _Plan:
    not_torch = f"{path} is not a PyTorch checkpoint (expected zip or legacy pickle)"
    reader = _BoundedReader(f, file_size)
    magic = _unpickle(path, reader, None, "legacy header", corrupt=not_torch)
    if magic != LEGACY_MAGIC:
        raise CheckpointError(
            f"{not_torch}: it holds a plain {type(magic).__name__} pickle, not torch.save output"
        )
    protocol = _unpickle(path, reader, None, "legacy header")
    if protocol != LEGACY_PROTOCOL:
        raise CheckpointError(
            f"{path}: unsupported legacy torch protocol version {protocol!r}; {_RESAVE_HINT}"
        )
    _unpickle(path, reader, None, "legacy header")  # sys_info (type sizes, endianness); data is always LE

    roots: dict[str, tuple[str, int]] = {}  # root key -> (dtype, declared numel)
    views: dict[str, _Storage] = {}

    def persistent_load(pid: Any) -> _Storage:
        if isinstance(pid, tuple) and pid and pid[0] in ("module", b"module"):
            raise CheckpointError(
                f"{path}: this is a pickled whole model (nn.Module), not a state dict; save "
                f"model.state_dict() instead (torch.save(model.state_dict(), path)) or use safetensors"
            )
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, stype, root_key, _location, numel, view = pid
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"storage type must be a torch storage class, got {stype!r}")
        if not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"bad storage size {numel!r}")
        root_key = str(root_key)
        roots.setdefault(root_key, (stype.dtype, numel))
        itemsize = _np_dtype(stype.dtype).itemsize
        if view is None:
            return _Storage(root_key, stype.dtype, 0, numel * itemsize)
        if not (isinstance(view, tuple) and len(view) == 3):
            raise pickle.UnpicklingError(f"bad storage view metadata {view!r}")
        view_key, offset, view_numel = view
        if not all(isinstance(v, int) and v >= 0 for v in (offset, view_numel)):
            raise pickle.UnpicklingError(f"bad storage view metadata {view!r}")
        view_key = str(view_key)
        if view_key not in views:
            views[view_key] = _Storage(root_key, stype.dtype, offset * itemsize, view_numel * itemsize)
        return views[view_key]

    obj = _unpickle(path, reader, persistent_load, "legacy pickle")
    tensors = _check_state_dict(path, obj)
    keys = _unpickle(path, reader, None, "legacy storage key list")
    if not isinstance(keys, list):
        raise CheckpointError(f"{path}: corrupt legacy storage key list; download the file again")

    spans = _legacy_storage_spans(path, f, file_size, keys, roots, tensors)

    def read(key: str) -> bytes:
        start, nbytes = spans[key]
        f.seek(start)
        return f.read(nbytes)

    return _Plan(tensors, read, False)


# ----------------------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------------------


def _open_checked(path: str | os.PathLike[str]) -> tuple[Path, int]:
    return checked_file(path, "pytorch_model.bin")


def iter_torch_state_dict(path: str | os.PathLike[str]) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, array)`` for each tensor of a ``torch.save``\\ d state dict, in file order.

    The file is opened and its whole pickle checked *before* this returns, so a missing, unsafe,
    non-dict or corrupt file raises :class:`CheckpointError` here, not at the first ``next()``. Storages
    are then read one at a time (one shared by several tensors is kept until its last tensor is yielded).
    The file stays open until the iterator is exhausted or closed.
    """
    p, size = _open_checked(path)
    f = open(p, "rb")  # closed by _generate, or below on error
    try:
        plan = _plan(p, f, size)
    except BaseException:
        f.close()
        raise
    return _generate(p, f, plan)


def _plan(p: Path, f: BinaryIO, size: int) -> _Plan:
    head = f.read(512)
    f.seek(0)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _plan_zip(p, f)
    if len(head) >= 262 and head[257:262] == b"ustar" and _is_tar(p):
        raise CheckpointError(
            f"{p}: this is the tar checkpoint format of torch < 0.4, which is not supported; load it "
            f"with an old torch and {_RESAVE_HINT}"
        )
    if head[:1] == b"\x80":  # pickle protocol >= 2: the legacy format starts with the magic number
        return _plan_legacy(p, f, size)
    raise CheckpointError(f"{p} is not a PyTorch checkpoint (expected zip or legacy pickle){_guess(head)}")


def _generate(p: Path, f: BinaryIO, plan: _Plan) -> Iterator[tuple[str, np.ndarray]]:
    try:
        cache = _StorageCache(plan.tensors, plan.read)
        for name, t in plan.tensors.items():
            yield name, _materialize(p, name, t, cache.get(t.storage.key), plan.big_endian)
    finally:
        f.close()


def load_torch_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict (zip or legacy format) into ``{name: numpy array}``, in file order.

    bfloat16 becomes float32 (exactly); every other dtype keeps its numpy equivalent. Raises
    :class:`CheckpointError` for missing, empty, truncated, non-torch, non-state-dict or unsafe files.
    """
    return dict(iter_torch_state_dict(path))


def _is_tar(p: Path) -> bool:
    try:
        return tarfile.is_tarfile(p)
    except OSError:
        return False


def _guess(head: bytes) -> str:
    if head.startswith(b"\x89HDF"):
        return "; it looks like an HDF5 (Keras/TF .h5) file"
    if len(head) >= 9 and head[8:9] == b"{":
        return "; it looks like a safetensors file, read it with load_safetensors"
    if head.lstrip()[:1] in (b"{", b"<"):
        return "; it looks like a text (JSON/HTML) file, e.g. an error page saved instead of the model"
    if head[:1] in (b"(", b"c", b"]", b"}"):
        return "; it looks like a protocol-0/1 pickle, which torch.save never writes"
    return ""
