"""Export a model directory to a Paddle Inference model (or ONNX) and run it fast on CPU or GPU.

``export_model(dir, out)`` traces the eager PaddleNLP model (any head, or a fine-tuned ``best_model/``) with
``paddle.jit.to_static`` over dynamic ``[batch, seq]`` int64 inputs and saves ``model.json``/``model.pdiparams``
(PIR) plus ``export.json`` describing inputs, the head and the source directory. ``format="onnx"`` converts that
with paddle2onnx into ``model.onnx``.

:class:`FastPredictor` runs an exported directory: Paddle Inference with IR optimisation and oneDNN on CPU
(TensorRT fp16 where a GPU and TensorRT are present), or ONNX Runtime for ``model.onnx``. It takes and returns
numpy arrays, keeps one predictor (no per-call set-up), and is what ``predict``/hub call when asked for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

log = logging.getLogger("paddle_electra.export")

INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask")
META_FILE = "export.json"
PADDLE_STEM = "model"
ONNX_FILE = "model.onnx"
FORMATS = ("paddle", "onnx")
# tokenizer / label files copied next to the exported model so the directory is self-contained for predict
_SIDE_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "labels.json", "config.json")


def _load_eager(model_dir: Path, head: str | None):
    """The eager model of ``model_dir`` in eval mode: a fine-tuned classifier when labels.json is present."""
    if (model_dir / "labels.json").is_file() and head in (None, "seed-cls", "classifier"):
        from .predict import load_finetuned

        model, _tokenizer, _labels = load_finetuned(model_dir)
        return model, "seed-cls"
    from .modeling.load import load_model, stored_head

    model, resolved = load_model(model_dir, head=head)
    return model, head or stored_head(resolved)


@contextlib.contextmanager
def _without_dropout(model):
    """Dropout is the identity in eval mode, but it still traces to ``dropout(is_test)`` copy ops that cost time
    and break oneDNN op chains in Paddle Inference; p = 0 makes ``F.dropout`` return its input, so none are
    traced. Restored afterwards (the model may be the caller's)."""
    import paddle

    saved = []
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, paddle.nn.Dropout):
            saved.append((layer, "p", layer.p))
            layer.p = 0.0
        elif isinstance(layer, paddle.nn.MultiHeadAttention):
            saved.append((layer, "dropout", layer.dropout))
            layer.dropout = 0.0
    try:
        yield model
    finally:
        for layer, attr, value in saved:
            setattr(layer, attr, value)


def _static_layer(model):
    """A layer with the fixed signature ``(input_ids, token_type_ids, attention_mask) -> first output``."""
    import paddle

    class _Export(paddle.nn.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, token_type_ids, attention_mask):
            if head is not None:  # PaddleNLP's discriminator head squeezes every axis: a batch of 1 would lose one
                hidden = self.inner.electra(input_ids=input_ids, token_type_ids=token_type_ids,
                                            attention_mask=attention_mask)
                hidden = hidden[0] if isinstance(hidden, (tuple, list)) else hidden
                return head.dense_prediction(head.act(head.dense(hidden))).squeeze(-1)
            out = self.inner(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
            return out[0] if isinstance(out, (tuple, list)) else out

    head = getattr(model, "discriminator_predictions", None)
    wrapped = _Export(model)
    wrapped.eval()
    spec = [paddle.static.InputSpec([None, None], "int64", name) for name in INPUT_NAMES]
    return paddle.jit.to_static(wrapped, input_spec=spec, full_graph=True)


def _optional(module: str):
    """Import an optional ONNX dependency, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"ONNX export/inference needs {module}: pip install 'paddle-electra[bench]' "
                          "(or paddle2onnx onnxruntime), or use --format paddle") from None


def source_fingerprint(model_dir: Path) -> str:
    """Size and mtime of the weight and config files: an export made from other weights is stale."""
    parts = []
    for name in ("model_state.pdparams", "model.safetensors", "config.json", "labels.json"):
        path = model_dir / name
        if path.is_file():
            stat = path.stat()
            parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def _paddle_files(out_dir: Path) -> tuple[Path, Path]:
    for suffix in (".json", ".pdmodel"):
        model_file = out_dir / f"{PADDLE_STEM}{suffix}"
        if model_file.is_file():
            return model_file, out_dir / f"{PADDLE_STEM}.pdiparams"
    raise ConfigError(f"{out_dir}: no exported Paddle model ({PADDLE_STEM}.json); run `paddle-electra export` first")


def export_model(model_dir: str | Path, out_dir: str | Path | None = None, format: str = "paddle",
                 head: str | None = None, model=None, opset: int = 13) -> Path:
    """Export ``model_dir`` (a store name or directory) and return the export directory.

    ``out_dir`` defaults to ``<model_dir>/export-<format>``. ``head`` picks the PaddleNLP head as
    ``load_model`` does (default: the stored one; a fine-tuned dir with labels.json exports its classifier).
    ``model``: an already-loaded eager model to export instead of loading one (its directory still supplies
    the tokenizer files).
    """
    import paddle

    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if model_dir is not None and not Path(model_dir).is_dir():
        from .store import resolve

        model_dir = resolve(model_dir)
    model_dir = Path(model_dir) if model_dir is not None else None
    if model is None:
        if model_dir is None:
            raise ConfigError("export_model needs a model directory or a model")
        model, head = _load_eager(model_dir, head)
    out = Path(out_dir) if out_dir else model_dir / f"export-{format}"
    from .fs import MARKER_FILE, guard_output

    guard_output(out, force=True, inputs=[model_dir])  # an export of ours is refreshed; anything else is refused
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER_FILE).write_text("a paddle-electra export\n", encoding="utf-8")
    except OSError as err:
        from .errors import StoreError

        raise StoreError(f"cannot create the export directory {out}: {err.strerror}; choose another --output") from None
    training = model.training
    model.eval()
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        try:
            with _without_dropout(model):
                paddle.jit.save(_static_layer(model), str(work / PADDLE_STEM))
        finally:
            if training:
                model.train()
        model_file, params_file = _paddle_files(work)
        if format == "onnx":
            paddle2onnx = _optional("paddle2onnx")
            try:  # optimize_tool "None": the default folds constants with Polygraphy, which pip-installs from the net
                paddle2onnx.export(str(model_file), str(params_file), save_file=str(work / ONNX_FILE),
                                   opset_version=opset, enable_onnx_checker=True, verbose=False,
                                   optimize_tool="None")
            except SystemExit:  # paddle2onnx's logging.error() exits the interpreter
                raise ConfigError(f"paddle2onnx could not convert {model_dir}; see its log above") from None
            model_file.unlink()
            params_file.unlink()
        for item in work.iterdir():
            target = out / item.name
            if target.exists():
                target.unlink()
            item.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if model_dir is not None:
        for name in _SIDE_FILES:
            source = model_dir / name
            if source.is_file() and source.resolve() != (out / name).resolve():
                shutil.copyfile(source, out / name)
    meta = {"format": format, "head": head, "inputs": list(INPUT_NAMES), "input_dtype": "int64",
            "source": str(model_dir) if model_dir else None, "paddle": paddle.__version__,
            "fingerprint": source_fingerprint(model_dir) if model_dir is not None else None}
    (out / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    log.info("exported %s to %s (%s)", model_dir, out, format)
    return out


def is_export_dir(path: str | Path) -> bool:
    return (Path(path) / META_FILE).is_file()


def read_export_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise ConfigError(f"{path}: not an export directory (no {META_FILE}); run `paddle-electra export` first")
    return json.loads(meta_path.read_text(encoding="utf-8"))


def paddle_inference_config(model_file: Path, params_file: Path, threads: int, device: str = "cpu",
                            onednn: bool = True, ir_optim: bool = True, trt_fp16: bool = True):
    """A Paddle Inference ``Config`` tuned as benchmarked: IR passes + oneDNN on CPU; TensorRT fp16 on GPU."""
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
    return config


class FastPredictor:
    """Run an exported model on numpy inputs; ``backend`` "paddle" (Paddle Inference) or "onnx" (ONNX Runtime).

    Inputs missing from a call are filled as the eager model would (segment 0, mask from ``input_ids != 0``).
    """

    def __init__(self, export_dir: str | Path, backend: str | None = None, threads: int | None = None,
                 device: str = "cpu", onednn: bool = True, ir_optim: bool = True):
        from .perf import default_threads

        self.dir = Path(export_dir)
        self.meta = read_export_meta(self.dir)
        self.backend = backend or ("onnx" if self.meta["format"] == "onnx" else "paddle")
        self.threads = threads or default_threads()
        if self.backend == "onnx":
            ort = _optional("onnxruntime")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = ort.InferenceSession(str(self.dir / ONNX_FILE), options,
                                                 providers=["CPUExecutionProvider"])
            self._inputs = [i.name for i in self._session.get_inputs()]
        elif self.backend == "paddle":
            import paddle.inference as pi

            from .perf import tune_cpu

            tune_cpu()  # AVX2 MKL kernels on AMD for the ops oneDNN does not take

            model_file, params_file = _paddle_files(self.dir)
            config = paddle_inference_config(model_file, params_file, self.threads, device, onednn, ir_optim)
            self._predictor = pi.create_predictor(config)
            self._inputs = list(self._predictor.get_input_names())
            self._handles = {n: self._predictor.get_input_handle(n) for n in self._inputs}
            self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])
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
        feed = self._feed(input_ids, token_type_ids, attention_mask)
        if self.backend == "onnx":
            return self._session.run(None, feed)[0]
        for name, value in feed.items():
            self._handles[name].reshape(value.shape)
            self._handles[name].copy_from_cpu(value)
        self._predictor.run()
        return self._output.copy_to_cpu()


def export_and_load(model_dir: str | Path, format: str = "paddle", head: str | None = None,
                    threads: int | None = None) -> FastPredictor:
    """A :class:`FastPredictor` for ``model_dir``, exporting to ``<model_dir>/export-<format>`` if not there yet."""
    return FastPredictor(_current_export(model_dir, format, head), threads=threads)


def _current_export(model_dir: str | Path, format: str, head: str | None) -> Path:
    """``model_dir`` if it is an export, else ``<model_dir>/export-<format>``, (re)exported when missing or stale."""
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if not Path(model_dir).is_dir():
        from .store import resolve

        model_dir = resolve(model_dir)
    model_dir = Path(model_dir)
    if is_export_dir(model_dir):
        return model_dir
    target = model_dir / f"export-{format}"
    if not is_export_dir(target) or read_export_meta(target).get("fingerprint") != source_fingerprint(model_dir):
        export_model(model_dir, target, format=format, head=head)  # first use, or the weights changed since
    return target


_PREDICTORS: dict[tuple, FastPredictor] = {}


def fast_predictor(model_dir: str | Path, format: str = "paddle", head: str | None = None,
                   threads: int | None = None) -> FastPredictor:
    """:func:`export_and_load`, kept per process: later calls reuse the predictor (no per-call set-up cost)."""
    target = _current_export(model_dir, format, head)
    key = (str(target.resolve()), read_export_meta(target).get("fingerprint"), format, threads)
    if key not in _PREDICTORS:
        _PREDICTORS[key] = FastPredictor(target, threads=threads)
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


class ModelExport:
    """Export an in-memory model on first use and keep its :class:`FastPredictor` until the weights change.

    Used by the hub module's ``predict(use_fast=True)``; files go to a private temporary directory.
    """

    def __init__(self, model, head: str | None = None, device: str = "cpu"):
        self.model, self.head, self.device = model, head, device
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._stamp: bytes | None = None
        self._predictor: FastPredictor | None = None

    def predictor(self) -> FastPredictor:
        stamp = model_stamp(self.model)
        if self._predictor is None or stamp != self._stamp:
            self._tmp = tempfile.TemporaryDirectory(prefix="electra-fast-")
            out = export_model(None, Path(self._tmp.name) / "export-paddle", model=self.model, head=self.head)
            self._predictor, self._stamp = FastPredictor(out, device=self.device), stamp
        return self._predictor
