"""Export a model directory to a Paddle Inference model (or ONNX); :mod:`.fast` runs the result.

``export_model(dir, out)`` traces the eager PaddleNLP model (any head, or a fine-tuned ``best_model/``) with
``paddle.jit.to_static`` over dynamic ``[batch, seq]`` int64 inputs and saves ``model.json``/``model.pdiparams``
(PIR) plus ``export.json`` describing inputs, the head and the source directory. ``format="onnx"`` converts that
with paddle2onnx into ``model.onnx``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..compat import rtd_logits
from ..errors import ConfigError

log = logging.getLogger("paddle_electra.inference")

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
        from .finetuned import load_finetuned

        model, _tokenizer, _labels = load_finetuned(model_dir)
        return model, "seed-cls"
    from ..modeling.load import load_model, stored_head

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


def _export_layer(model, all_outputs: bool = False):
    """The eager layer with the fixed signature ``(input_ids, token_type_ids, attention_mask) -> first output``
    (every output with ``all_outputs``: the seed QA head's beam): what is traced, and the reference the export is
    checked against."""
    import paddle

    class _Export(paddle.nn.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, token_type_ids, attention_mask):
            if head is not None:  # not the head's forward: it squeezes away a batch of 1 (compat.rtd_logits)
                hidden = self.inner.electra(input_ids=input_ids, token_type_ids=token_type_ids,
                                            attention_mask=attention_mask)
                hidden = hidden[0] if isinstance(hidden, (tuple, list)) else hidden
                return rtd_logits(head, hidden)
            out = self.inner(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
            if all_outputs:
                return tuple(out) if isinstance(out, (tuple, list)) else out
            return out[0] if isinstance(out, (tuple, list)) else out

    head = getattr(model, "discriminator_predictions", None)
    wrapped = _Export(model)
    wrapped.eval()
    return wrapped


def _static_layer(model, all_outputs: bool = False, static_length: int | None = None):
    import paddle

    spec = [paddle.static.InputSpec([None, static_length], "int64", name) for name in INPUT_NAMES]
    return paddle.jit.to_static(_export_layer(model, all_outputs), input_spec=spec, full_graph=True)


PARITY_TOL = 1e-4  # max |eager - exported| on the probe batch for the export to be used by default


def probe_batch(vocab_size: int, length: int | None = None) -> dict[str, np.ndarray]:
    """Two rows of ordinary token ids, the second padded, the second segment of each typed 1 (a QA context): what
    every export is checked on (``length``: an export with a static length)."""
    n = length or 12
    rng = np.random.default_rng(0)
    ids = rng.integers(min(106, vocab_size - 1), vocab_size, size=(2, n)).astype("int64")  # past [unused]/special
    ids[:, 0], ids[:, -1] = 101 % vocab_size, 102 % vocab_size
    mask = np.ones_like(ids)
    cut = max(2, n * 2 // 3)
    ids[1, cut:], mask[1, cut:] = 0, 0
    types = np.zeros_like(ids)
    types[:, n // 3:] = 1
    types[1, cut:] = 0
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def eager_reference(model, batch: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Every output of the eager model on ``batch`` (an export's outputs are compared against the first ones)."""
    import paddle

    with _without_dropout(model), paddle.no_grad():
        out = _export_layer(model, all_outputs=True)(*(paddle.to_tensor(batch[n]) for n in INPUT_NAMES))
    return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to file descriptor 1 (Python and C++ alike) to stderr for the duration."""
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):  # Python-level prints (paddle2onnx's "ONNX model saved")
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def optional_module(module: str):
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


def paddle_files(out_dir: Path) -> tuple[Path, Path]:
    for suffix in (".json", ".pdmodel"):
        model_file = out_dir / f"{PADDLE_STEM}{suffix}"
        if model_file.is_file():
            return model_file, out_dir / f"{PADDLE_STEM}.pdiparams"
    raise ConfigError(f"{out_dir}: no exported Paddle model ({PADDLE_STEM}.json); run `paddle-electra export` first")


def export_model(model_dir: str | Path, out_dir: str | Path | None = None, format: str = "paddle",
                 head: str | None = None, model=None, opset: int = 17) -> Path:
    """Export ``model_dir`` (a store name or directory) and return the export directory.

    ``out_dir`` defaults to ``<model_dir>/export-<format>``. ``head`` picks the PaddleNLP head as
    ``load_model`` does (default: the stored one; a fine-tuned dir with labels.json exports its classifier).
    ``model``: an already-loaded eager model to export instead of loading one (its directory still supplies
    the tokenizer files). :func:`.fast.export_checked` also records how far the export is from the eager model.
    """
    return export_with_model(model_dir, out_dir, format, head, model, opset)[0]


def export_with_model(model_dir, out_dir, format: str = "paddle", head: str | None = None, model=None,
                      opset: int = 17, all_outputs: bool = False, static_length: int | None = None,
                      verbose: bool = True):
    """export_model, also returning the eager model it traced (the parity check runs it). ``all_outputs`` and
    ``static_length``: the seed QA head (its beam of 5 outputs needs a fixed sequence length)."""
    import paddle

    started = time.time()
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if model_dir is not None and not Path(model_dir).is_dir():
        from ..store import resolve

        model_dir = resolve(model_dir)
    model_dir = Path(model_dir) if model_dir is not None else None
    if model is None:
        if model_dir is None:
            raise ConfigError("export_model needs a model directory or a model")
        model, head = _load_eager(model_dir, head)
    out = Path(out_dir) if out_dir else model_dir / f"export-{format}"
    from ..fs import MARKER_FILE, guard_output

    guard_output(out, force=True, inputs=[model_dir])  # an export of ours is refreshed; anything else is refused
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER_FILE).write_text("a paddle-electra export\n", encoding="utf-8")
    except OSError as err:
        from ..errors import StoreError

        raise StoreError(f"cannot create the export directory {out}: {err.strerror}; choose another --output") from None
    from ..ops import unfused

    training = model.training
    model.eval()
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        try:
            with _without_dropout(model), unfused(model):
                paddle.jit.save(_static_layer(model, all_outputs, static_length), str(work / PADDLE_STEM))
        finally:
            if training:
                model.train()
        model_file, params_file = paddle_files(work)
        if format == "onnx":
            paddle2onnx = optional_module("paddle2onnx")
            try:  # optimize_tool "None": the default folds constants with Polygraphy, which pip-installs from the net
                with stdout_to_stderr():  # its progress lines would mix into a command's output
                    paddle2onnx.export(str(model_file), str(params_file), save_file=str(work / ONNX_FILE),
                                       opset_version=opset, enable_onnx_checker=True, verbose=False,
                                       optimize_tool="None")
            except SystemExit:  # paddle2onnx's logging.error() exits the interpreter
                raise ConfigError(f"paddle2onnx could not convert {model_dir}; see its log above") from None
            from .ort_fusion import write_ort_model

            config = getattr(model, "config", None) or model.electra.config
            write_ort_model(work / ONNX_FILE, config.num_attention_heads, config.hidden_size)
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
            "fingerprint": source_fingerprint(model_dir) if model_dir is not None else None,
            "outputs": "all" if all_outputs else "first", "static_length": static_length}
    (out / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    log.log(logging.INFO if verbose else logging.DEBUG, "exported %s to %s (%s) in %.1f s", model_dir or "the model",
            out, format, time.time() - started)
    return out, model


def is_export_dir(path: str | Path) -> bool:
    return (Path(path) / META_FILE).is_file()


def read_export_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise ConfigError(f"{path}: not an export directory (no {META_FILE}); run `paddle-electra export` first")
    from ..textio import read_json

    return read_json(meta_path, "export metadata")[0]
