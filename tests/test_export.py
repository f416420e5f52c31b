"""Export to Paddle Inference / ONNX (issue 6): parity with the eager model, the fast predict path, the CLI.

Runs on the tiny converted checkpoint (tests/fixtures/tf_tiny: V=171, H=32); ONNX cases skip when the
optional ``bench`` extra (paddle2onnx, onnxruntime) is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from paddle_electra.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
TOL = 1e-4
HAS_ONNX = all(importlib.util.find_spec(m) for m in ("paddle2onnx", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="paddle2onnx/onnxruntime not installed (pip install .[bench])")
TEXTS = [("今天天气很好", None), ("我", None), ("北京大学的学生", "你好"), ("他不想去那个地方了我很开心", "好")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from paddle_electra.convert.tf import convert_tf_checkpoint

    return convert_tf_checkpoint(FIXTURES / "tf_tiny", output=tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def finetuned(tiny, tmp_path_factory) -> Path:
    """A best_model/-style directory: the seed classifier (3 labels, random head) + tokenizer + labels.json."""
    import paddle

    from paddle_electra.modeling.heads import ElectraForSeedClassification
    from paddle_electra.tokenizer import load_tokenizer

    out = tmp_path_factory.mktemp("run") / "best_model"
    paddle.seed(3)
    model = ElectraForSeedClassification.from_pretrained(str(tiny["discriminator"]), num_labels=3)
    model.save_pretrained(str(out))
    load_tokenizer(tiny["discriminator"]).save_pretrained(str(out))
    (out / "labels.json").write_text(json.dumps({"task": "tnews", "labels": ["a", "b", "c"], "head": "seed"}))
    return out


def _batches():
    """Batch 1, and a padded batch of mixed lengths (token types and mask as the featurizer writes them)."""
    one = np.array([[2, 14, 10, 11, 3, 7, 3]], dtype="int64")
    ids = np.zeros((3, 9), dtype="int64")
    ids[0, :9], ids[1, :4], ids[2, :6] = [2, 14, 10, 11, 3, 7, 8, 9, 3], [2, 7, 4, 3], [2, 5, 3, 6, 6, 3]
    types = np.zeros_like(ids)
    types[2, 3:6] = 1
    for batch_ids, batch_types in ((one, np.zeros_like(one)), (ids, types)):
        yield batch_ids, batch_types, (batch_ids != 0).astype("int64")


def _eager(model, ids, types, mask) -> np.ndarray:
    import paddle

    model.eval()
    with paddle.no_grad():
        out = model(input_ids=paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types),
                    attention_mask=paddle.to_tensor(mask))
    return (out[0] if isinstance(out, (tuple, list)) else out).numpy()


def _check_parity(predictor, model, squeeze_disc: bool = False) -> None:
    for ids, types, mask in _batches():
        got = predictor(ids, types, mask)
        want = _eager(model, ids, types, mask)
        if squeeze_disc:  # PaddleNLP's discriminator squeezes a batch of 1 away; the export keeps [B, L]
            want = want.reshape(ids.shape)
        assert got.shape == want.shape, (got.shape, want.shape)
        if got.shape == ids.shape:  # per-token outputs: compare real tokens only
            got, want = got[mask.astype(bool)], want[mask.astype(bool)]
        assert np.abs(got - want).max() <= TOL


# ------------------------------------------------------------------------------------------------ parity
@pytest.mark.parametrize("fmt", ["paddle", pytest.param("onnx", marks=needs_onnx)])
def test_discriminator_export_matches_eager(tiny, tmp_path, fmt):
    from paddle_electra.inference import FastPredictor, export_model, read_export_meta
    from paddle_electra.modeling.load import load_model

    out = export_model(tiny["discriminator"], tmp_path / fmt, format=fmt)
    meta = read_export_meta(out)
    assert meta["format"] == fmt and meta["head"] == "discriminator" and meta["inputs"][0] == "input_ids"
    assert (out / "vocab.txt").is_file() and (out / "config.json").is_file()
    assert (out / ("model.onnx" if fmt == "onnx" else "model.json")).is_file()
    model, _ = load_model(tiny["discriminator"])
    _check_parity(FastPredictor(out, threads=1), model, squeeze_disc=True)


@pytest.mark.parametrize("fmt", ["paddle", pytest.param("onnx", marks=needs_onnx)])
def test_finetuned_classifier_export_matches_eager(finetuned, tmp_path, fmt):
    from paddle_electra.inference import FastPredictor, export_model, load_finetuned

    out = export_model(finetuned, tmp_path / fmt, format=fmt)
    assert json.loads((out / "labels.json").read_text())["labels"] == ["a", "b", "c"]
    model, _, _ = load_finetuned(finetuned)
    _check_parity(FastPredictor(out), model)
    # inputs left out are filled as the eager model does: segment 0, mask from the padding
    ids = next(_batches())[0]
    assert np.abs(FastPredictor(out)(ids) - _eager(model, ids, np.zeros_like(ids), np.ones_like(ids))).max() <= TOL


@needs_onnx
def test_onnx_export_fuses_the_encoder_for_onnx_runtime(finetuned, tmp_path):
    """model.ort.onnx: ORT's fused kernels (one Attention per layer, SkipLayerNorm, BiasGelu), checked."""
    import collections

    import onnx

    from paddle_electra.inference import FastPredictor, export_model, load_finetuned
    from paddle_electra.inference.ort_fusion import ORT_FILE

    out = export_model(finetuned, tmp_path / "onnx", format="onnx")
    model, _, _ = load_finetuned(finetuned)
    layers = model.config.num_hidden_layers
    ops = collections.Counter(node.op_type for node in onnx.load(str(out / ORT_FILE)).graph.node)
    assert ops["Attention"] == layers and ops["Softmax"] == 0
    assert ops["SkipLayerNormalization"] == 2 * layers and ops["BiasGelu"] == layers
    _check_parity(FastPredictor(out), model)  # runs model.ort.onnx (padded rows included)
    (out / ORT_FILE).unlink()
    _check_parity(FastPredictor(out), model)  # the plain export is the fallback


def test_export_keeps_dropout_of_a_training_model(finetuned, tmp_path):
    """Exporting a model in train mode exports the eval graph and leaves the caller's dropout rates alone."""
    from paddle_electra.inference import FastPredictor, export_model, load_finetuned

    model, _, _ = load_finetuned(finetuned)
    model.train()
    rates = [layer.p for layer in model.sublayers() if hasattr(layer, "p")]
    out = export_model(finetuned, tmp_path / "x", model=model)
    assert [layer.p for layer in model.sublayers() if hasattr(layer, "p")] == rates and rates
    _check_parity(FastPredictor(out), model)


# ------------------------------------------------------------------------------------------ fast predict
def test_predict_fast_equals_eager_and_exports_once(finetuned):
    from paddle_electra.inference import export as export_module
    from paddle_electra.inference import fast as fast_module
    from paddle_electra.inference import predict_texts

    eager = predict_texts(finetuned, TEXTS, max_seq_length=16, batch_size=3, fast=False)
    fast = predict_texts(finetuned, TEXTS, max_seq_length=16, batch_size=3, fast=True)
    assert [p.label for p in fast] == [p.label for p in eager]
    for f, e in zip(fast, eager):
        assert f.probabilities.keys() == e.probabilities.keys()
        assert max(abs(f.probabilities[k] - e.probabilities[k]) for k in e.probabilities) <= TOL
    target = finetuned / "export-paddle"
    assert export_module.is_export_dir(target)
    stamp = (target / "model.pdiparams").stat().st_mtime_ns
    again = predict_texts(finetuned, TEXTS[:1], max_seq_length=16, fast=True)
    assert again[0].label == eager[0].label
    assert (target / "model.pdiparams").stat().st_mtime_ns == stamp  # reused, not re-exported
    assert len({id(p) for p in fast_module._PREDICTORS.values()}) == len(fast_module._PREDICTORS)


def test_fast_path_re_exports_when_weights_change(finetuned, tmp_path):
    import paddle

    from paddle_electra.inference import predict_texts, read_export_meta

    run = tmp_path / "best_model"
    shutil.copytree(finetuned, run, ignore=shutil.ignore_patterns("export-*"))
    before = predict_texts(run, TEXTS, max_seq_length=16, fast=True)
    first = read_export_meta(run / "export-paddle")["fingerprint"]
    state = paddle.load(str(run / "model_state.pdparams"))
    key = next(k for k in state if k.endswith("classifier.bias"))
    state[key] = paddle.to_tensor(np.array([5.0, -5.0, 0.0], dtype="float32"))
    paddle.save(state, str(run / "model_state.pdparams"))
    after = predict_texts(run, TEXTS, max_seq_length=16, fast=True)
    assert read_export_meta(run / "export-paddle")["fingerprint"] != first
    assert all(p.label == "a" for p in after) and after != before
    eager = predict_texts(run, TEXTS, max_seq_length=16, fast=False)
    assert all(abs(f.probabilities["a"] - e.probabilities["a"]) <= TOL for f, e in zip(after, eager))


def test_default_predict_falls_back_to_eager_when_the_export_is_off(finetuned, tmp_path, caplog):
    import json

    from paddle_electra.errors import ExportError
    from paddle_electra.inference import predict_texts

    run = tmp_path / "best_model"
    shutil.copytree(finetuned, run, ignore=shutil.ignore_patterns("export-*"))
    predict_texts(run, TEXTS, max_seq_length=16)  # the default exports and checks once
    meta_path = run / "export-paddle" / "export.json"
    meta = json.loads(meta_path.read_text())
    assert 0 <= meta["parity_max_abs"] <= 1e-4
    meta["parity_max_abs"] = 0.5  # as if the export had drifted from the eager model
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level("WARNING", logger="paddle_electra.inference"):
        fallback = predict_texts(run, TEXTS, max_seq_length=16)
    assert "predicting with eager Paddle" in caplog.text
    eager = predict_texts(run, TEXTS, max_seq_length=16, fast=False)
    assert [p.probabilities for p in fallback] == [p.probabilities for p in eager]  # exactly the eager numbers
    with pytest.raises(ExportError, match="differs from the eager model"):
        predict_texts(run, TEXTS, max_seq_length=16, fast=True)


def test_read_only_model_dir_exports_into_the_cache(finetuned, tmp_path, monkeypatch):
    import os

    from paddle_electra.inference import fast, predict_texts
    from paddle_electra.store import HOME_ENV

    run = tmp_path / "best_model"
    shutil.copytree(finetuned, run, ignore=shutil.ignore_patterns("export-*"))
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    real_access = os.access
    monkeypatch.setattr(fast.os, "access", lambda path, mode: False if Path(path) == run else real_access(path, mode))
    got = predict_texts(run, TEXTS, max_seq_length=16, fast=True)
    assert not (run / "export-paddle").exists()
    # the Paddle Inference export, and the ONNX one small batches are routed to when ORT is installed
    assert len(list((tmp_path / "home" / "exports").glob("*/export.json"))) == (2 if HAS_ONNX else 1)
    eager = predict_texts(run, TEXTS, max_seq_length=16, fast=False)
    assert [p.label for p in got] == [p.label for p in eager]


def test_cli_export_and_predict_fast(finetuned, tmp_path, capsys):
    from paddle_electra.cli import main
    from paddle_electra.inference import read_export_meta

    assert main(["export", str(finetuned), "--format", "paddle", "-o", str(tmp_path / "exp")]) == 0
    assert capsys.readouterr().out.strip().endswith(str(tmp_path / "exp"))
    assert read_export_meta(tmp_path / "exp")["head"] == "seed-cls"
    assert main(["predict", "--no-fast", str(finetuned), "今天天气很好", "北京|||你好"]) == 0
    eager = capsys.readouterr().out.splitlines()
    assert main(["predict", "--fast", str(finetuned), "今天天气很好", "北京|||你好"]) == 0
    fast = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in fast] == [line.split("\t")[0] for line in eager] and len(fast) == 2


@pytest.mark.parametrize("task", ["seq-cls", "token-cls"])
def test_hub_predict_use_fast_equals_eager_and_follows_new_weights(tiny, task):
    import paddle

    from paddle_electra.hub.module import ElectraHubModule

    label_map = {0: "B-X", 1: "I-X", 2: "O"} if task == "token-cls" else {0: "a", 1: "b", 2: "c"}
    paddle.seed(1)
    module = ElectraHubModule(task=task, model_dir=tiny["discriminator"], label_map=label_map)
    data = [[a] if b is None else [a, b] for a, b in TEXTS] if task == "seq-cls" else [[a] for a, _ in TEXTS]
    eager, eager_probs = module.predict(data, max_seq_len=16, batch_size=3, return_prob=True)
    fast, fast_probs = module.predict(data, max_seq_len=16, batch_size=3, return_prob=True, use_fast=True)
    assert fast == eager
    for f, e in zip(fast_probs, eager_probs):
        assert np.abs(np.asarray(f) - np.asarray(e)).max() <= TOL
    bias = next(p for name, p in module.model.named_parameters() if name.endswith("classifier.bias"))
    bias.set_value(paddle.to_tensor(np.array([0.0, 0.0, 9.0], dtype="float32")))  # "trained" after the export
    _, again = module.predict(data, max_seq_len=16, batch_size=3, return_prob=True, use_fast=True)
    _, want = module.predict(data, max_seq_len=16, batch_size=3, return_prob=True)
    assert np.abs(np.asarray(again[0]) - np.asarray(want[0])).max() <= TOL
    assert np.abs(np.asarray(again[0]) - np.asarray(eager_probs[0])).max() > 0.1
    with pytest.raises(ConfigError, match="use_fast supports"):
        ElectraHubModule(task="qa", model_dir=tiny["discriminator"]).predict([["好", "很好"]], use_fast=True)


def test_hub_embeddings_fast_by_default_for_large_calls_equal_eager(tiny):
    from paddle_electra.hub.module import FAST_MIN_ITEMS, ElectraHubModule

    module = ElectraHubModule(model_dir=tiny["discriminator"])
    data = [[a] for a, _ in TEXTS] * (FAST_MIN_ITEMS // len(TEXTS) + 1)
    eager = module.predict(data, max_seq_len=16, batch_size=4, use_fast=False)
    assert not module._fast.cached() if getattr(module, "_fast", None) else True
    default = module.predict(data, max_seq_len=16, batch_size=4)  # large enough: exported, then used
    assert module._fast.cached()
    for (e_cls, e_tok), (d_cls, d_tok) in zip(eager, default):
        assert np.abs(np.asarray(e_cls) - np.asarray(d_cls)).max() <= TOL
        assert np.abs(np.asarray(e_tok) - np.asarray(d_tok)).max() <= TOL


# ------------------------------------------------------------------------------------------------ errors
def test_unknown_format_and_missing_export(tiny, tmp_path):
    from paddle_electra.inference import FastPredictor, export_model, fast_predictor

    with pytest.raises(ConfigError, match="unknown export format 'tflite'"):
        export_model(tiny["discriminator"], tmp_path / "x", format="tflite")
    with pytest.raises(ConfigError, match="unknown export format"):
        fast_predictor(tiny["discriminator"], format="tflite")
    with pytest.raises(ConfigError, match="not an export directory"):
        FastPredictor(tmp_path)
    with pytest.raises(ConfigError, match="needs a model directory or a model"):
        export_model(None, tmp_path / "y")


def test_onnx_without_the_extra_says_how_to_install(tiny, tmp_path, monkeypatch):
    import importlib

    from paddle_electra.inference import export_model

    real = importlib.import_module

    def without_paddle2onnx(name, *args):
        if name == "paddle2onnx":
            raise ImportError("no paddle2onnx")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_paddle2onnx)
    with pytest.raises(ConfigError, match=r"pip install 'paddle-electra\[bench\]'"):
        export_model(tiny["discriminator"], tmp_path / "o", format="onnx")


# ------------------------------------------------------------------------------------------ reduced precision
@pytest.mark.parametrize("precision", ["bf16", pytest.param("int8", marks=needs_onnx)])
def test_reduced_precision_predicts_close_to_fp32(finetuned, tmp_path, precision):
    from paddle_electra.inference import predict_texts

    run = tmp_path / "best_model"
    shutil.copytree(finetuned, run, ignore=shutil.ignore_patterns("export-*"))
    fp32 = predict_texts(run, TEXTS, max_seq_length=16, fast=False)
    reduced = predict_texts(run, TEXTS, max_seq_length=16, precision=precision)
    # bf16 keeps 8 mantissa bits, int8 quantizes every MatMul weight: close, not within the fp32 paths' 1e-4
    worst = max(abs(r.probabilities[k] - f.probabilities[k]) for r, f in zip(reduced, fp32) for k in f.probabilities)
    assert 0 < worst <= 0.05
    if precision == "int8":
        assert (run / "export-onnx" / "model.int8.onnx").is_file()


def test_reduced_precision_needs_the_fast_runtime(finetuned):
    from paddle_electra.inference import predict_texts

    with pytest.raises(ConfigError, match="runs on the fast runtime"):
        predict_texts(finetuned, TEXTS, max_seq_length=16, fast=False, precision="int8")
    with pytest.raises(ConfigError, match="unknown precision"):
        predict_texts(finetuned, TEXTS, max_seq_length=16, precision="fp8")


@needs_onnx
def test_small_batches_go_to_onnx_runtime_large_ones_to_paddle_inference(finetuned):
    from paddle_electra.inference import fast

    router = fast.fast_predictor(finetuned)
    assert isinstance(router, fast.ShapeRouter)
    assert (router.small.backend, router.large.backend) == ("onnx", "paddle")
    rng = np.random.default_rng(1)
    for rows in (1, fast.SMALL_BATCH, fast.SMALL_BATCH + 1, 32):
        ids = rng.integers(5, 100, size=(rows, 10)).astype("int64")
        got, want = router(ids), router.large(ids)
        assert got.shape == want.shape and np.abs(got - want).max() <= TOL
    assert not isinstance(fast.fast_predictor(finetuned, route=False), fast.ShapeRouter)
    # ORT spins between the ops of a run but stops when it returns, leaving the cores to Paddle's next batch
    options = router.small._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
