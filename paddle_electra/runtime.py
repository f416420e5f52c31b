"""Where models run: device selection and CPU tuning, from profiling on a 2-core AMD EPYC (docs/benchmarks.md).

Two settings explain most of Paddle's CPU eager gap to PyTorch:

* Paddle runs its BLAS calls single-threaded by default (``FLAGS_paddle_num_threads`` = 1); PyTorch uses
  every core. :func:`tune_cpu` sets the math-library thread count to the core count (or ``threads``).
* Paddle's wheel ships an old MKL (``libmklml_intel.so``) whose CPU dispatch gives non-Intel CPUs the
  SSE path: a 2048² float32 GEMM runs at ~80 GFLOP/s on 2 AMD cores against ~190 for numpy/torch.
  ``MKL_DEBUG_CPU_TYPE=5`` makes that MKL use its AVX2 kernels (~190 GFLOP/s). MKL reads the variable at
  its first GEMM, so it must be set before any matmul. :func:`tune_process` sets it (never over a value the
  user set): the CLI at start-up, and :func:`tune_cpu` when the first model of a process runs (predict, the hub
  module, fine-tuning). Measured without it: eager ELECTRA-small 8 ex/s instead of 33, Paddle Inference
  0.8x (docs/benchmarks-default.md).

Importing the library changes nothing (tests/test_architecture.py): tuning happens only when a model runs, and
everything here is opt-out: ``PADDLE_ELECTRA_NO_TUNE=1`` leaves Paddle's defaults alone.
"""

from __future__ import annotations

import os
from functools import lru_cache

NO_TUNE_ENV = "PADDLE_ELECTRA_NO_TUNE"
THREADS_ENV = "PADDLE_ELECTRA_THREADS"


def _cpuinfo(field: str) -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@lru_cache(maxsize=1)
def cpu_vendor() -> str:
    return _cpuinfo("vendor_id")


@lru_cache(maxsize=1)
def cpu_model() -> str:
    import platform

    return _cpuinfo("model name") or platform.processor() or "unknown"


def initial_environ(name: str) -> str | None:
    """``name`` as the process was started with it (``/proc/self/environ``), before any import changed it.

    ``import paddle`` sets ``OMP_NUM_THREADS=1`` when it is unset, so ``os.environ`` cannot tell the user's
    choice from Paddle's; where ``/proc`` is missing (not Linux) ``os.environ`` is all there is."""
    try:
        with open("/proc/self/environ", "rb") as handle:
            block = handle.read()
    except OSError:
        return os.environ.get(name)
    prefix = name.encode() + b"="
    for item in block.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix):].decode(errors="replace")
    return None


def default_threads() -> int:
    """``$PADDLE_ELECTRA_THREADS``, else the ``$OMP_NUM_THREADS`` the process started with (not the ``1`` that
    ``import paddle`` writes when it is unset), else the CPUs this process may run on."""
    for value in (os.environ.get(THREADS_ENV), initial_environ("OMP_NUM_THREADS")):
        value = (value or "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def tune_process() -> bool:
    """The CLI's own process: ask Paddle's bundled MKL for its AVX2 kernels on AMD CPUs (before the first GEMM)."""
    if os.environ.get(NO_TUNE_ENV) == "1" or "MKL_DEBUG_CPU_TYPE" in os.environ:
        return False
    if cpu_vendor() != "AuthenticAMD":
        return False
    os.environ["MKL_DEBUG_CPU_TYPE"] = "5"
    return True


_tuned: int | None = None


def tune_cpu(threads: int | None = None) -> int:
    """Make Paddle's CPU eager path use all cores and the fast GEMM kernels; returns the thread count.

    Idempotent and cheap; runs with the first model of the process (never at import). An explicit ``threads``
    re-applies the count.
    """
    global _tuned
    if os.environ.get(NO_TUNE_ENV) == "1":
        return 1
    if _tuned is not None and threads is None:
        return _tuned
    from .compat import set_math_threads

    tune_process()  # before the first GEMM of the process: the AVX2 kernels of Paddle's MKL on AMD
    count = threads or default_threads()
    set_math_threads(count)
    _tuned = count
    return count


def tuned_threads() -> int | None:
    """The thread count :func:`tune_cpu` last applied (None before it ran)."""
    return _tuned


def select_device(device: str = "auto", amp: bool = False, bf16: bool = False) -> str:
    """Set Paddle's device ("auto": the GPU when there is one) and, on CPU, tune it; returns "cpu" or "gpu"."""
    import paddle

    from .errors import ConfigError

    if device not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"unknown device {device!r}; choose auto, cpu or gpu")
    if device == "auto":
        device = "gpu" if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"
    if device == "gpu" and not (paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0):
        raise ConfigError("--device gpu: this Paddle build has no CUDA device available (CPU build or no GPU); "
                          "use --device cpu, or install paddle-electra[gpu] on a machine with a GPU")
    if amp and device == "cpu":
        raise ConfigError("--amp (float16) needs a GPU; drop --amp on CPU")
    if bf16 and device == "gpu":
        raise ConfigError("--bf16 is the fused CPU kernels' mode; on a GPU use --amp (float16), or --device cpu")
    paddle.set_device(device)
    if device == "cpu":
        tune_cpu()  # all cores for Paddle's BLAS (its default is one thread), AVX2 GEMM kernels on AMD
    return device
