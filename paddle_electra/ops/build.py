"""Compile the fused CPU kernels (kernels.cc) on first use, cache the build, and load them — or say why not.

The build is keyed by the source, the flags, the Paddle install, Python and the CPU (it is compiled with
``-march=native`` for the machine that runs it), lives in the user's cache (:func:`cache_root`) and takes
~15 s once. Concurrent first uses (distributed ranks) wait on one lock. The kernels call the OpenBLAS numpy
ships, found in this process's loaded libraries; nothing is linked against it. Where there is no compiler,
no such OpenBLAS, or ``PADDLE_ELECTRA_FUSED=0``, :func:`load` returns None with the reason in
:func:`unavailable_reason` and callers keep Paddle's own ops.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import hashlib
import logging
import os
import platform
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels.cc")
NAME = "paddle_electra_fused"
DISABLE_ENV = "PADDLE_ELECTRA_FUSED"
CACHE_ENV = "PADDLE_ELECTRA_CACHE"
# the last two let the compiler vectorise the kernels' exp/erf loops
CXX_FLAGS = ["-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"]
# Paddle's own OpenMP runtime (libiomp5, in paddle/libs, on the rpath Paddle's builder sets), not libgomp
LD_FLAGS = ["-l:libiomp5.so", "-ldl"]

_loaded: ModuleType | None = None
_reason: str | None = None
_threads: int | None = None  # what the kernels were last told
_bf16_reason: str | None = "not loaded"


def openblas_libraries() -> list[str]:
    """OpenBLAS shared libraries loaded in this process, numpy's first (its wheels bundle ``scipy_openblas``)."""
    import numpy

    numpy.dot  # noqa: B018 - numpy's BLAS is loaded with numpy itself
    found: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and ".so" in path and path not in found:
                    found.append(path)
    except OSError:
        pass
    root = Path(numpy.__file__).resolve().parent
    for pattern in ("../numpy.libs/*openblas*.so*", ".libs/*openblas*.so*"):
        found += [path for path in sorted(glob.glob(str(root / pattern))) if path not in found]
    return sorted(found, key=lambda path: "numpy" not in path)


@lru_cache(maxsize=1)
def _build_key() -> str:
    import paddle

    from ..runtime import cpu_model

    digest = hashlib.sha256(SOURCE.read_bytes())
    # the Paddle directory too: the library's rpath points at that install's libiomp5 and libpaddle
    for part in (paddle.__version__, os.path.dirname(paddle.__file__), sys.version, platform.machine(), cpu_model(),
                 _cpu_flags(), *CXX_FLAGS, *LD_FLAGS):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def _cpu_flags() -> str:
    from ..runtime import _cpuinfo

    return _cpuinfo("flags")


def cache_root() -> Path:
    """``$PADDLE_ELECTRA_CACHE``, else ``$XDG_CACHE_HOME/paddle-electra``, else ``~/.cache/paddle-electra``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "paddle-electra"


def build_dir() -> Path:
    """A build cache (not user data), shared by every model home of this user: compiled once per machine."""
    return cache_root() / "ops" / _build_key()


def unavailable_reason() -> str | None:
    """Why :func:`load` returned None (None when it did not)."""
    return _reason


@contextlib.contextmanager
def _output_to(log_path: Path) -> Any:
    """Paddle's extension builder prints every compiler line to stdout/stderr: into the build's log instead."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


BUILT_STAMP = "BUILT"  # written after a build succeeded: later processes register the library directly


def _compile(directory: Path) -> ModuleType:
    import warnings

    from paddle.utils.cpp_extension import load as load_extension

    from ..compat import import_custom_ops

    directory.mkdir(parents=True, exist_ok=True)
    if (directory / BUILT_STAMP).is_file():
        with _output_to(Path(os.devnull)):  # Paddle logs the registration at INFO
            return import_custom_ops(str(_shared_object(directory).parent), NAME)
    build_log = directory / "build.log"
    log.info("compiling paddle-electra's fused CPU kernels once into %s (~15 s)", directory)
    try:
        with _output_to(build_log), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = load_extension(name=NAME, sources=[str(SOURCE)], build_directory=str(directory),
                                  extra_cxx_cflags=CXX_FLAGS, extra_ldflags=LD_FLAGS, verbose=False)
    except Exception as err:
        tail = build_log.read_text(errors="replace").strip().splitlines()[-3:] if build_log.exists() else []
        raise RuntimeError(f"{err}; see {build_log}: {' | '.join(tail)}") from err
    (directory / BUILT_STAMP).write_text("built\n", encoding="utf-8")
    return module


def _shared_object(directory: Path) -> Path:
    found = sorted(directory.rglob(f"{NAME}*.so"))
    if not found:
        raise FileNotFoundError(f"no {NAME}.so under {directory}")
    return found[0]


def load() -> ModuleType | None:
    """The compiled kernels (a module of Paddle ops), or None with :func:`unavailable_reason` set."""
    global _loaded, _reason
    if _loaded is not None or _reason is not None:
        return _loaded
    _reason = _why_not()
    if _reason is None:
        try:
            _loaded = _build_and_bind()
        except Exception as err:  # noqa: BLE001 - any build failure means: keep Paddle's ops
            _reason = f"building the fused kernels failed ({type(err).__name__}: {str(err)[:300]})"
    if _reason is not None:
        log.info("fused CPU kernels not used: %s", _reason)
    return _loaded


def _why_not() -> str | None:
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return f"{DISABLE_ENV}=0"
    if platform.system() != "Linux":
        return f"built only on Linux (this is {platform.system()})"
    if not (shutil.which("c++") or shutil.which("g++")) and not (build_dir() / BUILT_STAMP).is_file():
        return "no C++ compiler (c++/g++) on PATH"
    if not openblas_libraries():
        return "numpy has no bundled OpenBLAS in this process"
    return None


def _build_and_bind() -> ModuleType:
    directory = build_dir()
    with _build_lock(directory):
        module = _compile(directory)
    library = ctypes.CDLL(str(_shared_object(directory)))
    candidates = openblas_libraries()
    if not any(library.pe_load_blas(path.encode()) == 0 for path in candidates):
        raise OSError(f"no cblas sgemm in {', '.join(candidates)}")
    global _bf16_reason
    _bf16_reason = _load_onednn(library)
    from ..runtime import tune_cpu

    tune_cpu()  # the process's thread count (PADDLE_ELECTRA_THREADS, the starting OMP_NUM_THREADS, the cores)
    module._library = library  # type: ignore[attr-defined]
    sync_threads(module)
    return module


def onednn_libraries() -> list[str]:
    """Paddle's own oneDNN (``paddle/libs/libdnnl.so*``), whose bf16 GEMM the kernels' bf16 mode calls."""
    import paddle

    return sorted(glob.glob(os.path.join(os.path.dirname(paddle.__file__), "libs", "libdnnl.so*")))


def _load_onednn(library: Any) -> str | None:
    """Point the kernels' GEMMs at Paddle's oneDNN (OpenBLAS stays the float32 fallback); returns why bf16
    GEMMs cannot run here, or None."""
    from ..runtime import _cpuinfo

    candidates = onednn_libraries()
    if not candidates:
        return "Paddle ships no oneDNN (paddle/libs/libdnnl.so*)"
    if not any(library.pe_load_dnnl(path.encode()) == 0 for path in candidates):
        return f"no usable dnnl_sgemm in {', '.join(candidates)}"
    flags = _cpuinfo("flags").split()
    if "avx512_bf16" not in flags and "amx_bf16" not in flags:
        return "this CPU has no bfloat16 instructions (avx512_bf16 / amx_bf16 in /proc/cpuinfo)"
    if not library.pe_has_bf16_gemm():
        return f"no dnnl_gemm_bf16bf16f32 in {', '.join(candidates)}"
    return None


def bf16_unavailable_reason() -> str | None:
    """Why the kernels cannot run their GEMMs in bfloat16 here (None when they can)."""
    if load() is None:
        return f"the fused kernels are unavailable ({_reason})"
    return _bf16_reason


def sync_threads(module: ModuleType) -> None:
    """The kernels' OpenMP and BLAS threads = :func:`~..runtime.tune_cpu`'s count, also after a later
    ``tune_cpu(n)`` re-applies it (one int comparison per call)."""
    global _threads
    from ..runtime import tuned_threads

    count = tuned_threads()
    if count and count != _threads:
        module._library.pe_set_threads(int(count))  # type: ignore[attr-defined]
        _threads = count


@contextlib.contextmanager
def _build_lock(directory: Path) -> Any:
    """Unlike ``fs.locked`` (which fails at once), a second rank compiling the same kernels waits for the first."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build-lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield

