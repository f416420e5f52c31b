"""Write ``model_state.pdparams`` one tensor at a time, in the pickle ``paddle.save`` writes.

``paddle.save(state_dict, path)`` with numpy values (and the default ``protocol=4``) pickles the plain
``{name: ndarray}`` dict (the ``StructuredToParameterName@@`` table is only added for paddle Tensors,
and ``paddle.load`` turns the arrays into Tensors either way); ``paddle.load`` and PaddleNLP's
``from_pretrained`` (which calls ``paddle.load``) unpickle it. Building that dict first costs the whole
model in RAM, and :mod:`pickle` then memoizes a ``tobytes()`` copy of every array until the dump ends, so a
conversion peaked at about twice the model. :class:`PdparamsWriter` emits the same pickle opcodes itself:

* ``PROTO 4``, ``EMPTY_DICT``, then per tensor ``key value SETITEM``, then ``STOP``. Framing is optional
  in protocol 4 (``FRAME`` only batches small opcodes), so none is written; nothing is memoized, so the
  unpickler's memo is never consulted.
* an array is what ``ndarray.__reduce__`` produces: ``_reconstruct(ndarray, (0,), b'b')`` followed by
  ``BUILD`` with ``(1, shape, dtype, False, raw bytes)``; the callables and the dtype's reduce tuple are
  taken from the installed numpy (``numpy._core`` on numpy 2), so the file reads exactly like one
  ``pickle`` would write. The raw bytes are written straight from the array's buffer (``BINBYTES8``
  above 4 GiB), never copied into a ``bytes`` object.

Peak memory while writing is therefore the one array being written. ``paddle.save`` splits arrays over
2**30 elements only for protocols 2 and 3, so protocol 4 needs no splitting either.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np

from ..errors import CheckpointError

__all__ = ["PdparamsWriter", "save_pdparams", "load_pdparams", "load_pickle_safely"]

# pickle opcodes (Lib/pickle.py)
_PROTO, _STOP, _EMPTY_DICT, _SETITEM = b"\x80", b".", b"}", b"s"
_MARK, _TUPLE, _TUPLE1, _TUPLE2, _TUPLE3, _EMPTY_TUPLE = b"(", b"t", b"\x85", b"\x86", b"\x87", b")"
_NONE, _NEWTRUE, _NEWFALSE = b"N", b"\x88", b"\x89"
_BININT, _BININT1, _BININT2, _LONG1 = b"J", b"K", b"M", b"\x8a"
_SHORT_BINUNICODE, _BINUNICODE = b"\x8c", b"X"
_SHORT_BINBYTES, _BINBYTES, _BINBYTES8 = b"C", b"B", b"\x8e"
_STACK_GLOBAL, _REDUCE, _BUILD = b"\x93", b"R", b"b"
_TUPLE_OPS = {0: _EMPTY_TUPLE, 1: _TUPLE1, 2: _TUPLE2, 3: _TUPLE3}
_CHUNK = 64 << 20  # write big buffers in pieces (some file systems dislike multi-GiB single writes)


def _global(obj: Any) -> bytes:
    return _str(obj.__module__) + _str(obj.__qualname__) + _STACK_GLOBAL


def _str(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) < 256:
        return _SHORT_BINUNICODE + bytes([len(raw)]) + raw
    return _BINUNICODE + struct.pack("<I", len(raw)) + raw


def _int(value: int) -> bytes:
    if 0 <= value < 256:
        return _BININT1 + bytes([value])
    if 0 <= value < 65536:
        return _BININT2 + struct.pack("<H", value)
    if -(1 << 31) <= value < (1 << 31):
        return _BININT + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return _LONG1 + bytes([len(raw)]) + raw


def _small(obj: Any) -> bytes:
    """Opcodes for the few small values an array's reduce tuple holds (what ``pickle`` would write,
    without memoization)."""
    if obj is None:
        return _NONE
    if obj is True:
        return _NEWTRUE
    if obj is False:
        return _NEWFALSE
    if isinstance(obj, int):
        return _int(int(obj))
    if isinstance(obj, str):
        return _str(obj)
    if isinstance(obj, bytes):
        if len(obj) < 256:
            return _SHORT_BINBYTES + bytes([len(obj)]) + obj
        return _BINBYTES + struct.pack("<I", len(obj)) + obj
    if isinstance(obj, tuple):
        body = b"".join(_small(item) for item in obj)
        return body + _TUPLE_OPS[len(obj)] if len(obj) <= 3 else _MARK + body + _TUPLE
    if isinstance(obj, type):
        return _global(obj)
    if isinstance(obj, np.dtype):
        return _dtype(obj)
    raise TypeError(f"cannot write {type(obj).__name__} into a pdparams file")


_DTYPE_CACHE: dict[np.dtype, bytes] = {}


def _dtype(dtype: np.dtype) -> bytes:
    cached = _DTYPE_CACHE.get(dtype)
    if cached is None:
        reduced = dtype.__reduce__()  # (np.dtype, ('f4', False, True), (3, '<', None, ...))
        cls, args = reduced[0], reduced[1]
        cached = _global(cls) + _small(args) + _REDUCE
        if len(reduced) > 2 and reduced[2] is not None:
            cached += _small(reduced[2]) + _BUILD
        _DTYPE_CACHE[dtype] = cached
    return cached


_ARRAY_HEAD: bytes | None = None


def _array_head() -> bytes:
    """``_reconstruct(ndarray, (0,), b'b')`` as the installed numpy's ``__reduce__`` spells it."""
    global _ARRAY_HEAD
    if _ARRAY_HEAD is None:
        func, args, _state = np.empty(0, np.float32).__reduce__()
        _ARRAY_HEAD = _global(func) + _small(args) + _REDUCE
    return _ARRAY_HEAD


class PdparamsWriter:
    """Stream ``name -> array`` pairs into a ``paddle.save``-compatible state dict file.

    Use as a context manager; :meth:`close` (on success) appends ``STOP``. A writer left
    by an exception leaves an incomplete file that ``paddle.load`` rejects; callers write into a temporary
    directory and rename it only on success (see :func:`paddle_electra.fs.atomic_dir`).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._names: set[str] = set()
        self.bytes_written = 0
        self._write(_PROTO + b"\x04" + _EMPTY_DICT)

    def _write(self, data: bytes | memoryview) -> None:
        assert self._file is not None, "writer is closed"
        self._file.write(data)
        self.bytes_written += len(data)

    def add(self, name: str, array: np.ndarray) -> None:
        """Append one tensor; ``array`` is written as is (C order, its own dtype), then may be dropped."""
        if name in self._names:
            raise CheckpointError(f"{self.path}: tensor name {name!r} written twice")
        if not isinstance(array, np.ndarray) or array.dtype.hasobject:
            raise CheckpointError(f"{self.path}: {name!r} is not a numeric numpy array")
        self._names.add(name)
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        nbytes = array.nbytes
        header = (_str(name) + _array_head() + _MARK + _int(1) + _small(tuple(int(d) for d in array.shape))
                  + _dtype(array.dtype) + _NEWFALSE)
        if nbytes < 256:
            header += _SHORT_BINBYTES + bytes([nbytes])
        elif nbytes < 1 << 32:
            header += _BINBYTES + struct.pack("<I", nbytes)
        else:
            header += _BINBYTES8 + struct.pack("<Q", nbytes)
        self._write(header)
        raw = memoryview(array.reshape(-1)).cast("B") if nbytes else memoryview(b"")
        for start in range(0, nbytes, _CHUNK):
            self._write(raw[start : start + _CHUNK])
        self._write(_TUPLE + _BUILD + _SETITEM)

    def close(self) -> None:
        """Finish the file (``STOP``) and close it."""
        if self._file is None:
            return
        self._write(_STOP)
        file, self._file = self._file, None
        file.close()

    def abort(self) -> None:
        """Close without finishing (the file is left incomplete)."""
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def __enter__(self) -> PdparamsWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def save_pdparams(items: Any, path: str | os.PathLike[str]) -> int:
    """Write ``(name, array)`` pairs from any iterable (or a mapping) to ``path``; returns the count."""
    if hasattr(items, "items"):
        items = items.items()
    count = 0
    with PdparamsWriter(path) as writer:
        for name, array in items:
            writer.add(name, array)
            count += 1
    return count


# ------------------------------------------------------------------------------------------------ reading
# Globals a state dict written by ``paddle.save`` (or by PdparamsWriter above) needs, and nothing else:
# numpy's array/scalar/dtype rebuilders, plain containers. ``paddle.save`` of Tensors pickles each as
# ``(name, ndarray)`` via the builtin ``tuple``. Everything else (``os.system``, ``builtins.eval``, a pickled
# Layer) is refused before it is looked up, so no code in the file ever runs.
_SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [(mod, name) for mod in ("numpy.core.multiarray", "numpy._core.multiarray") for name in ("_reconstruct", "scalar")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")]
    + [("builtins", name) for name in ("tuple", "list", "dict", "set", "frozenset", "complex")]
    + [("copyreg", "_reconstructor")]
)
_SAFE_DTYPE_MODULES = ("numpy.dtypes",)  # numpy 2 pickles dtypes as numpy.dtypes.Float32DType etc.


class _PdparamsUnpickler:
    """Builds a :class:`pickle.Unpickler` subclass lazily (keeps ``import pickle`` out of module import)."""

    @staticmethod
    def make(handle: BinaryIO, path: Path):
        import pickle

        class Restricted(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                if (module, name) in _SAFE_GLOBALS or (module in _SAFE_DTYPE_MODULES and name.endswith("DType")):
                    if (module, name) == ("copyreg", "_reconstructor"):
                        return _reconstructor
                    return super().find_class(module, name)
                raise CheckpointError(
                    f"{path}: refusing to load pickled global '{module}.{name}' — a state dict holds only arrays, "
                    "and loading this could run arbitrary code; if you trust the file, re-save it as "
                    "paddle.save(model.state_dict(), path) in a trusted Python")

            def persistent_load(self, pid: Any) -> Any:
                raise CheckpointError(f"{path}: unexpected persistent id in a .pdparams pickle; the file is not "
                                      "a Paddle state dict")

        return Restricted(handle)


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` for the only classes a state dict may hold (numpy arrays and OrderedDict)."""
    import collections

    if cls not in (np.ndarray, collections.OrderedDict, dict) or base is not object:
        raise CheckpointError(f"refusing to rebuild pickled object of type {getattr(cls, '__name__', cls)!r}")
    return cls.__new__(cls) if state is None else cls(state)


def load_pickle_safely(path: str | os.PathLike[str], what: str = "weights") -> Any:
    """Unpickle ``path`` allowing only arrays and plain containers (our checkpoints' optimizer/data state too)."""
    import pickle

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; re-run the conversion or fine-tuning that wrote the {what}")
    try:
        with open(path, "rb") as handle:
            return _PdparamsUnpickler.make(handle, path).load()
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(f"{path}: cannot be read as a Paddle state dict ({first}); the file is truncated or "
                              f"corrupt — re-run the conversion or fine-tuning that wrote the {what}") from None


def load_pdparams(path: str | os.PathLike[str], what: str = "weights") -> dict[str, Any]:
    """``paddle.load(path, return_numpy=True)`` for state dicts, without ever running code from the file.

    Tensors come back as numpy arrays; Paddle's ``(name, ndarray)`` tensor tuples are unwrapped; Paddle's
    ``StructuredToParameterName@@`` table is dropped. Non-array values (an optimizer's step counters, a learning
    rate) are kept as they are. A truncated or foreign file is a one-line :class:`CheckpointError`.
    """
    path = Path(path)
    state = load_pickle_safely(path, what)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds a pickled {type(state).__name__}, not a state dict of tensors")
    return {key: _unwrap(value) for key, value in state.items() if key != "StructuredToParameterName@@"}


def _unwrap(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], np.ndarray):
        return value[1]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value
