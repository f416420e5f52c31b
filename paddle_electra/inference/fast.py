"""Run an exported model fast: Paddle Inference (IR passes + oneDNN on CPU; TensorRT fp16 where a GPU and TensorRT
are present) or ONNX Runtime for ``model.onnx``. :class:`FastPredictor` takes and returns numpy arrays and keeps one
predictor (no per-call set-up); :func:`fast_predictor` caches one per export and process; :class:`ModelExport`
exports an in-memory model (the hub module's) and re-exports when its weights change. Every export is checked
against the eager model on a probe batch (``parity_max_abs`` in export.json); the fast paths refuse one beyond
:data:`~.export.PARITY_TOL`, and the default paths then fall back to eager Paddle with one line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ExportError
from .export import (
    FORMATS,
    META_FILE,
    ONNX_FILE,
    PARITY_TOL,
    eager_reference,
    export_with_model,
    is_export_dir,
    optional_module,
    paddle_files,
    probe_batch,
    read_export_meta,
    source_fingerprint,
)
from .ort_fusion import ORT_FILE, constants_as_initializers

log = logging.getLogger("paddle_electra.inference")


PRECISIONS = ("fp32", "bf16", "int8")
INT8_FILE = "model.int8.onnx"


def paddle_inference_config(model_file: Path, params_file: Path, threads: int, device: str = "cpu",
                            onednn: bool = True, ir_optim: bool = True, trt_fp16: bool = True, bf16: bool = False):
    """A Paddle Inference ``Config`` tuned as benchmarked: IR passes + oneDNN on CPU (bf16 kernels when asked, on
    CPUs with AVX-512 BF16 or AMX); TensorRT fp16 on GPU."""
    import paddle
    import paddle.inference as pi

    config = pi.Config(str(model_file), str(params_file))
    config.switch_ir_optim(ir_optim)
    config.disable_glog_info()
    if device == "gpu" and paddle.is_compiled_with_cuda():
        config.enable_use_gpu(256, 0)
        if trt_fp16 and pi.get_trt_runtime_version() != (0, 0, 0):
            config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=64, min_subgraph_size=3,
                                          precision_mode=pi.PrecisionType.Half, use_static=False,
                                          use_calib_mode=False)
    else:
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(threads)
        if onednn:
            config.enable_onednn()
            config.set_onednn_cache_capacity(16)  # shapes vary with bucketed batches: bound the kernel cache
            if bf16:
                config.enable_onednn_bfloat16()
    return config


def ort_session_options(threads: int):
    """ONNX Runtime CPU session options for one intra-op pool of ``threads``.

    The pool spins between the ~180 ops of a run (waking a sleeping pool per op costs ~10 % at batch 1) but stops
    when the run returns: by default it keeps busy-waiting afterwards and, beside Paddle Inference
    (:class:`ShapeRouter`), takes the cores Paddle's next batch needs.
    """
    ort = optional_module("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


class FastPredictor:
    """Run an exported model on numpy inputs; ``backend`` "paddle" (Paddle Inference) or "onnx" (ONNX Runtime).

    ``precision``: ``fp32``; ``bf16`` (Paddle Inference's oneDNN bf16 kernels); ``int8`` (ONNX Runtime on a
    dynamically quantized copy of ``model.onnx``: int8 weights, activations quantized per call). The reduced
    precisions change the logits by more than the 1e-4 of the fp32 paths: their accuracy on a real task is in
    docs/benchmarks-precision.md. Inputs missing from a call are filled as the eager model would (segment 0,
    mask from ``input_ids != 0``).
    """

    def __init__(self, export_dir: str | Path, backend: str | None = None, threads: int | None = None,
                 device: str = "cpu", onednn: bool = True, ir_optim: bool = True, precision: str = "fp32"):
        from ..runtime import default_threads

        if precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self.dir = Path(export_dir)
        self.meta = read_export_meta(self.dir)
        self.precision = precision
        self.backend = backend or ("onnx" if self.meta["format"] == "onnx" or precision == "int8" else "paddle")
        if precision == "int8" and self.backend != "onnx":
            raise ConfigError("precision int8 runs on ONNX Runtime: export with --format onnx (backend onnx)")
        if precision == "bf16" and self.backend != "paddle":
            raise ConfigError("precision bf16 runs on Paddle Inference (oneDNN): export with --format paddle")
        self.threads = threads or default_threads()
        if self.backend == "onnx":
            ort = optional_module("onnxruntime")
            options = ort_session_options(self.threads)
            model_path = quantized_onnx(self.dir) if precision == "int8" else self.dir / ONNX_FILE
            if precision == "fp32" and (self.dir / ORT_FILE).is_file():  # made and checked with the export
                model_path = self.dir / ORT_FILE
            self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
            self._inputs = [i.name for i in self._session.get_inputs()]
        elif self.backend == "paddle":
            import paddle.inference as pi

            from ..runtime import tune_cpu

            tune_cpu()  # AVX2 MKL kernels on AMD for the ops oneDNN does not take

            model_file, params_file = paddle_files(self.dir)
            config = paddle_inference_config(model_file, params_file, self.threads, device, onednn, ir_optim,
                                             bf16=precision == "bf16")
            self._predictor = pi.create_predictor(config)
            self._inputs = list(self._predictor.get_input_names())
            self._handles = {n: self._predictor.get_input_handle(n) for n in self._inputs}
            self._outputs = [self._predictor.get_output_handle(n) for n in self._predictor.get_output_names()]
        else:
            raise ConfigError(f"unknown backend {self.backend!r}; choose paddle or onnx")

    def _feed(self, input_ids, token_type_ids=None, attention_mask=None) -> dict[str, np.ndarray]:
        ids = np.ascontiguousarray(input_ids, dtype="int64")
        if ids.ndim == 1:
            ids = ids[None]
        types = np.zeros_like(ids) if token_type_ids is None else token_type_ids
        mask = (ids != 0).astype("int64") if attention_mask is None else attention_mask
        feed = {"input_ids": ids, "token_type_ids": np.ascontiguousarray(types, dtype="int64").reshape(ids.shape),
                "attention_mask": np.ascontiguousarray(mask, dtype="int64").reshape(ids.shape)}
        return {name: feed[name] for name in self._inputs}

    def __call__(self, input_ids, token_type_ids=None, attention_mask=None) -> np.ndarray:
        return self.run_all(input_ids, token_type_ids, attention_mask)[0]

    def run_all(self, input_ids, token_type_ids=None, attention_mask=None) -> list[np.ndarray]:
        """Every output of the exported model (one, except for an ``all_outputs`` export such as the QA beam)."""
        feed = self._feed(input_ids, token_type_ids, attention_mask)
        if self.backend == "onnx":
            return list(self._session.run(None, feed))
        for name, value in feed.items():
            self._handles[name].reshape(value.shape)
            self._handles[name].copy_from_cpu(value)
        self._predictor.run()
        return [handle.copy_to_cpu() for handle in self._outputs]


def fast_or_none(make, subject: str, fallback: str, required: bool = False):
    """``make()`` (a fast runtime) or, when that fails and the fast runtime was not required, None after one
    warning naming why and what runs instead: every default fast path falls back the same way."""
    try:
        return make()
    except Exception as err:  # noqa: BLE001 - any failure of the optional accelerated path falls back
        if required:
            raise
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        log.warning("%s: fast runtime unavailable (%s); %s", subject, reason, fallback)
        return None


def quantized_onnx(export_dir: Path) -> Path:
    """``model.int8.onnx`` beside ``model.onnx`` (ONNX Runtime's dynamic quantization: int8 MatMul weights),
    made once; the weights' export fingerprint is the fp32 model's."""
    target = export_dir / INT8_FILE
    source = export_dir / ONNX_FILE
    if not source.is_file():
        raise ConfigError(f"{export_dir}: no {ONNX_FILE} to quantize; export with --format onnx first")
    if not target.is_file() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
        quantization = optional_module("onnxruntime.quantization")
        onnx = optional_module("onnx")
        from ..fs import atomic_path

        plain = target.with_name(f".{target.name}.initializers-{os.getpid()}")
        try:
            model = onnx.load(str(source))
            constants_as_initializers(model)
            onnx.save(model, str(plain))
            with atomic_path(target) as partial:  # a reader never sees half a model
                quantization.quantize_dynamic(str(plain), str(partial), weight_type=quantization.QuantType.QInt8,
                                              op_types_to_quantize=["MatMul"])
        finally:
            plain.unlink(missing_ok=True)
        log.info("quantized %s to int8 (dynamic) -> %s", source, target)
    return target


def export_checked(model_dir: str | Path | None, out_dir: str | Path | None = None, format: str = "paddle",
                   head: str | None = None, model=None, all_outputs: bool = False,
                   static_length: int | None = None, verbose: bool = True) -> Path:
    """:func:`export_model`, then both models run on the probe batch: ``parity_max_abs`` goes into export.json
    (over the floating-point outputs; a beam's indices follow from its scores)."""
    out, eager = export_with_model(model_dir, out_dir, format, head, model, all_outputs=all_outputs,
                                   static_length=static_length, verbose=verbose)
    batch = probe_batch(int(getattr(getattr(eager, "config", None), "vocab_size", 21128)), static_length)
    exported = FastPredictor(out).run_all(**batch)
    reference = eager_reference(eager, batch)
    diff = max(float(np.max(np.abs(got.astype("float64") - want))) for got, want in zip(exported, reference)
               if np.issubdtype(want.dtype, np.floating))
    meta = read_export_meta(out)
    meta["parity_max_abs"] = diff
    (out / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    log.log(logging.INFO if verbose else logging.DEBUG,
            "export %s: max |eager - exported| = %.1e on the probe batch (fast paths need <= %.0e)", out, diff,
            PARITY_TOL)
    return out


def check_parity(export_dir: Path) -> None:
    """Refuse an export that was not checked, or that differs from the eager model beyond :data:`PARITY_TOL`."""
    diff = read_export_meta(export_dir).get("parity_max_abs")
    if diff is None or not diff <= PARITY_TOL:
        raise ExportError(f"{export_dir}: the export differs from the eager model by {diff} (> {PARITY_TOL:g}) on "
                          "the probe batch; predict without the fast runtime (--no-fast / use_fast=False)")


def _stale(target: Path, model_dir: Path) -> bool:
    if not is_export_dir(target):
        return True
    meta = read_export_meta(target)
    return meta.get("fingerprint") != source_fingerprint(model_dir) or "parity_max_abs" not in meta


def export_cache(key: str) -> Path:
    """Exports of models whose own directory is read-only, and of hub modules' in-memory weights, by key."""
    from ..store import home

    return home() / "exports" / key


def current_export(model_dir: str | Path, format: str, head: str | None) -> Path:
    """``model_dir`` if it is an export, else ``<model_dir>/export-<format>`` (or, when the model directory is
    read-only, the export cache), (re)exported and checked when missing or stale: once per model, not per process."""
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if not Path(model_dir).is_dir():
        from ..store import resolve

        model_dir = resolve(model_dir)
    model_dir = Path(model_dir)
    if is_export_dir(model_dir):
        return model_dir
    target = model_dir / f"export-{format}"
    if not os.access(model_dir, os.W_OK) and not is_export_dir(target):
        target = export_cache(hashlib.sha256(f"{model_dir.resolve()}|{format}".encode()).hexdigest()[:16])
    if _stale(target, model_dir):
        export_checked(model_dir, target, format=format, head=head)  # first use, or the weights changed since
    return target


_PREDICTORS: dict[tuple, FastPredictor] = {}


SMALL_BATCH = 4  # batches up to this size go to ONNX Runtime when it is installed (docs/benchmarks-precision.md)


class ShapeRouter:
    """The fastest runtime per batch shape: ONNX Runtime for small batches (Paddle Inference's per-op executor
    overhead dominates there), Paddle Inference + oneDNN for the rest. Same numbers within the parity tolerance:
    both exports are checked against the eager model."""

    def __init__(self, large: FastPredictor, small: FastPredictor, small_batch: int = SMALL_BATCH):
        self.large, self.small, self.small_batch = large, small, small_batch
        self.backend, self.precision, self.meta = "paddle+onnx", "fp32", large.meta

    def __call__(self, input_ids, token_type_ids=None, attention_mask=None) -> np.ndarray:
        rows = 1 if np.ndim(input_ids) == 1 else len(input_ids)
        run = self.small if rows <= self.small_batch else self.large
        return run(input_ids, token_type_ids, attention_mask)


def _onnx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("paddle2onnx", "onnxruntime")) and os.environ.get(
        "PADDLE_ELECTRA_SMALL_BATCH_ORT", "1") != "0"


def _default_device() -> str:
    import paddle

    return "gpu" if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"


def fast_predictor(model_dir: str | Path, format: str = "paddle", head: str | None = None,
                   threads: int | None = None, precision: str = "fp32", route: bool | None = None,
                   device: str | None = None):
    """A :class:`FastPredictor` for ``model_dir`` (exported and parity-checked on first use), kept per process:
    later calls reuse the predictor (no per-call set-up cost). ``precision`` int8 uses the ONNX export.

    ``route`` (None: when the bench extra is installed, fp32 Paddle format): a :class:`ShapeRouter` over the
    Paddle Inference export and an ONNX export, each batch to the runtime that is faster at its size;
    ``PADDLE_ELECTRA_SMALL_BATCH_ORT=0`` turns it off. ``device`` (None: the GPU when there is one): on a GPU,
    Paddle Inference runs there (TensorRT fp16 when TensorRT is present) and nothing is routed to ONNX Runtime."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    device = device or _default_device()
    if route is None:
        route = format == "paddle" and precision == "fp32" and device == "cpu" and _onnx_available()
    large = _cached_predictor(model_dir, "onnx" if precision == "int8" else format, head, threads, precision,
                              device)
    if not route:
        return large
    small = _cached_predictor(model_dir, "onnx", head, threads, "fp32", "cpu")
    return ShapeRouter(large, small)


def _cached_predictor(model_dir, format: str, head: str | None, threads: int | None, precision: str,
                      device: str) -> FastPredictor:
    target = current_export(model_dir, format, head)
    check_parity(target)  # of the fp32 export a reduced precision is derived from
    key = (str(target.resolve()), read_export_meta(target).get("fingerprint"), threads, precision, device)
    if key not in _PREDICTORS:
        _PREDICTORS[key] = FastPredictor(target, threads=threads, precision=precision, device=device)
    return _PREDICTORS[key]


def model_stamp(model) -> bytes:
    """A cheap fingerprint of an in-memory model's weights (a strided sample of every parameter): an export of
    the model is stale when this changes (an optimizer step or ``set_state_dict`` changes every sample)."""
    import paddle

    params = [p for p in model.parameters()]
    if not params:
        return b""
    with paddle.no_grad():
        sums = [p.reshape([-1])[::max(1, int(p.size) // 256)].astype("float64").sum() for p in params]
        return paddle.stack(sums).numpy().tobytes()


def weights_digest(model, head: str | None) -> str:
    """sha256 of every weight (and the model class and head): the cross-process key of an in-memory export."""
    digest = hashlib.sha256(f"{type(model).__name__}|{head}".encode())
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value.numpy()).tobytes())
    return digest.hexdigest()[:24]


EXPORT_CACHE_KEEP = 8  # newest hub exports kept in the store's cache; older ones (ours only) are removed


def prune_export_cache(keep: int = EXPORT_CACHE_KEEP) -> None:
    """Keep the newest ``keep`` in-memory-model exports of the cache: every distinct set of weights (a fresh
    random head per process) would otherwise add one. Only directories this package marked are removed."""
    import shutil

    from ..fs import is_our_output

    root = export_cache("")
    exports = sorted((d for d in root.glob("hub-*") if d.is_dir() and is_our_output(d)),
                     key=lambda d: d.stat().st_mtime_ns, reverse=True)
    for stale in exports[2 * keep:]:  # a Paddle and an ONNX export per set of weights
        shutil.rmtree(stale, ignore_errors=True)


class ModelExport:
    """Export an in-memory model on first use and keep its :class:`FastPredictor` until the weights change.

    ``cache=True`` (the hub module): the export goes to the store's export cache under the weights' digest, so a
    second process with the same weights (the same ``load_checkpoint``) reuses it; the newest
    :data:`EXPORT_CACHE_KEEP` are kept. ``cache=False`` (evaluation during fine-tuning, whose weights change every
    epoch): a private temporary directory, removed with this object.
    """

    def __init__(self, model, head: str | None = None, device: str = "cpu", cache: bool = True,
                 route: bool | None = None, all_outputs: bool = False, static_length: int | None = None):
        self.model, self.head, self.device, self.cache = model, head, device, cache
        self.route = route  # None: route small batches to ONNX Runtime when it is installed (CPU)
        self.all_outputs, self.static_length = all_outputs, static_length  # the seed QA head's beam
        self._stamp: bytes | None = None
        self._predictor: FastPredictor | None = None
        self._tmp = None
        self._digest: tuple[bytes, str] | None = None  # (stamp, digest): hashing every weight once per weights

    def _key(self) -> str:
        """The cache key of the current weights; the full digest is recomputed only when the stamp moved."""
        stamp = model_stamp(self.model)
        if self._digest is None or self._digest[0] != stamp:
            self._digest = (stamp, weights_digest(self.model, self.head))
        return f"hub-{self._digest[1]}"

    def _target(self, format: str = "paddle") -> Path:
        if self.cache:
            return export_cache(self._key() + ("-onnx" if format == "onnx" else ""))
        import tempfile

        if format == "paddle":
            self._tmp = tempfile.TemporaryDirectory(prefix="electra-fast-")  # the previous one is removed
        return Path(self._tmp.name) / f"export-{format}"

    def cached(self) -> bool:
        """Whether an export of exactly these weights is ready (this process or an earlier one)."""
        if self._predictor is not None and model_stamp(self.model) == self._stamp:
            return True
        if not self.cache:
            return False
        target = export_cache(self._key())
        return is_export_dir(target) and "parity_max_abs" in read_export_meta(target)

    def _checked(self, format: str) -> FastPredictor:
        target = self._target(format)
        if not is_export_dir(target) or "parity_max_abs" not in read_export_meta(target):
            # a cached export is said once; the per-epoch ones of fine-tuning's scoring only at DEBUG
            export_checked(None, target, format=format, model=self.model, head=self.head,
                           all_outputs=self.all_outputs, static_length=self.static_length, verbose=self.cache)
            if self.cache:
                prune_export_cache()
        else:
            os.utime(target)  # recently used: kept by the pruning
        check_parity(target)
        return FastPredictor(target, device=self.device)

    def predictor(self):
        """The runtime for the current weights: Paddle Inference, routed to ONNX Runtime for small batches when the
        bench extra is installed (CPU); (re)exported when the weights changed."""
        stamp = model_stamp(self.model)
        if self._predictor is None or stamp != self._stamp:
            large = self._checked("paddle")
            route = self.device == "cpu" and _onnx_available() if self.route is None else self.route
            self._predictor = ShapeRouter(large, self._checked("onnx")) if route else large
            self._stamp = stamp
        return self._predictor
