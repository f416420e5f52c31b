"""The fused CPU kernels (paddle_electra/ops) against Paddle's own ops: forward, backward, dropout, the layer."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddle_electra.ops import build, fused

pytestmark = pytest.mark.skipif(not fused.available(),
                                reason=f"fused kernels unavailable: {build.unavailable_reason()}")

TOL = 2e-5


@pytest.fixture(scope="module")
def ops():
    return build.load()


def _param(*shape, scale=1.0, offset=0.0):
    t = paddle.to_tensor((np.random.default_rng(len(shape) * 7 + shape[-1]).standard_normal(shape) * scale + offset)
                         .astype("float32"))
    t.stop_gradient = False
    return t


def _max_diff(a, b) -> float:
    return float((a - b).abs().max())


def _grads(out, inputs, cotangent):
    return paddle.grad([out], inputs, [cotangent])


@pytest.mark.parametrize("with_gelu", [False, True])
def test_linear_matches_paddle(ops, with_gelu):
    x, w, b = _param(3, 7, 24), _param(24, 40, scale=0.2), _param(40)
    fused_out = ops.pe_linear_gelu(x, w, b, False)[0] if with_gelu else ops.pe_linear(x, w, b, False)
    ref = F.linear(x, w, b)
    ref = F.gelu(ref) if with_gelu else ref
    assert fused_out.shape == [3, 7, 40]
    assert _max_diff(fused_out, ref) < TOL
    g = _param(3, 7, 40)
    for got, want in zip(_grads(fused_out, [x, w, b], g), _grads(ref, [x, w, b], g)):
        assert _max_diff(got, want) < TOL * 10


def test_add_norm_matches_paddle(ops):
    x, r = _param(4, 5, 32), _param(4, 5, 32)
    gamma, beta = _param(32, scale=0.3, offset=1.0), _param(32)
    out, _, _ = ops.pe_add_norm(x, r, gamma, beta, 1e-12, 0.0, 0)
    ref = F.layer_norm(x + r, [32], gamma, beta, 1e-12)
    assert _max_diff(out, ref) < TOL
    g = _param(4, 5, 32)
    for got, want in zip(_grads(out, [x, r, gamma, beta], g), _grads(ref, [x, r, gamma, beta], g)):
        assert _max_diff(got, want) < TOL * 10


def _reference_attention(q, k, v, mask, heads):
    batch, seq, width = q.shape
    dim = width // heads

    def split(t):
        return t.reshape([batch, seq, heads, dim]).transpose([0, 2, 1, 3])

    probs = F.softmax(paddle.matmul(split(q) * dim ** -0.5, split(k), transpose_y=True) + mask)
    return paddle.matmul(probs, split(v)).transpose([0, 2, 1, 3]).reshape([batch, seq, width])


@pytest.mark.parametrize("mask_shape", ["keys", "rows", "heads"])
def test_attention_matches_paddle(ops, mask_shape):
    batch, seq, heads, dim = 2, 9, 4, 8
    q, k, v = (_param(batch, seq, heads * dim) for _ in range(3))
    rng = np.random.default_rng(3)
    shape = {"keys": [batch, 1, 1, seq], "rows": [batch, 1, seq, seq], "heads": [batch, heads, seq, seq]}[mask_shape]
    mask = paddle.to_tensor(np.where(rng.random(shape) < 0.3, -1e4, 0.0).astype("float32"))
    ctx, probs = ops.pe_attention(paddle.concat([q, k, v], axis=-1), mask, heads, dim ** -0.5, 0.0, 0, False)
    ref = _reference_attention(q, k, v, mask, heads)
    assert probs.shape == [batch, heads, seq, seq]
    np.testing.assert_allclose(probs.numpy().sum(-1), 1.0, atol=1e-5)
    assert _max_diff(ctx, ref) < TOL
    g = _param(batch, seq, heads * dim)
    for got, want in zip(_grads(ctx, [q, k, v], g), _grads(ref, [q, k, v], g)):
        assert _max_diff(got, want) < TOL * 10


def test_add_norm_dropout_uses_one_mask_forward_and_backward(ops):
    p = 0.25
    x, r = _param(64, 48), _param(64, 48)
    gamma, beta = _param(48, scale=0.3, offset=1.0), _param(48)
    out, _, _ = ops.pe_add_norm(x, r, gamma, beta, 1e-12, p, 1234)
    g = _param(64, 48)
    gx, gr = _grads(out, [x, r], g)
    ratio = (gx / gr).numpy()
    keep = np.isclose(ratio, 1 / (1 - p), rtol=1e-4)
    assert np.all(keep | (gx.numpy() == 0))  # dX is dR scaled by the mask: 0 or 1/(1-p), nothing else
    assert abs(keep.mean() - (1 - p)) < 0.03  # 3072 draws: ~0.008 standard deviation
    # the forward dropped exactly the elements the backward did
    dropped_x = paddle.to_tensor(np.where(keep, x.numpy() / (1 - p), 0.0).astype("float32"))
    assert _max_diff(out, F.layer_norm(dropped_x + r, [48], gamma, beta, 1e-12)) < TOL
    again, _, _ = ops.pe_add_norm(x, r, gamma, beta, 1e-12, p, 1234)
    other, _, _ = ops.pe_add_norm(x, r, gamma, beta, 1e-12, p, 1235)
    assert _max_diff(out, again) == 0.0
    assert _max_diff(out, other) > 0.1


def test_attention_dropout_gradient_matches_its_forward(ops):
    """The op with dropout is a deterministic function of its seed: its gradient must match finite differences."""
    batch, seq, heads, dim = 1, 6, 2, 4
    q, k, v = (_param(batch, seq, heads * dim, scale=0.5) for _ in range(3))
    mask = paddle.zeros([batch, 1, 1, seq])
    g = _param(batch, seq, heads * dim)

    def loss(q_, k_, v_):
        ctx_ = ops.pe_attention(paddle.concat([q_, k_, v_], axis=-1), mask, heads, dim ** -0.5, 0.3, 99, False)[0]
        return float((ctx_ * g).sum())

    ctx = ops.pe_attention(paddle.concat([q, k, v], axis=-1), mask, heads, dim ** -0.5, 0.3, 99, False)[0]
    grads = _grads(ctx, [q, k, v], g)
    direction = paddle.to_tensor(np.random.default_rng(5).standard_normal(q.shape).astype("float32"))
    eps = 1e-2
    for index, grad in enumerate(grads):
        args_plus = [t.detach() + (eps * direction if i == index else 0) for i, t in enumerate((q, k, v))]
        args_minus = [t.detach() - (eps * direction if i == index else 0) for i, t in enumerate((q, k, v))]
        numeric = (loss(*args_plus) - loss(*args_minus)) / (2 * eps)
        analytic = float((grad * direction).sum())
        assert abs(numeric - analytic) < 2e-3 * max(1.0, abs(analytic)), (index, numeric, analytic)


def _tiny_classifier(dropout: float = 0.0):
    from paddlenlp.transformers import ElectraConfig

    from paddle_electra.modeling.heads import ElectraForSeedClassification

    paddle.seed(7)
    config = ElectraConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64, max_position_embeddings=32,
                           hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, num_labels=3)
    return ElectraForSeedClassification(config)


def _batch():
    rng = np.random.default_rng(11)
    ids = rng.integers(1, 60, size=(3, 12)).astype("int64")
    ids[1, 8:] = 0  # padding, masked out by the model's attention mask
    return paddle.to_tensor(ids), paddle.to_tensor(np.array([0, 2, 1], dtype="int64"))


def _loss_and_grads(model, ids, labels):
    loss = F.cross_entropy(model(input_ids=ids), labels)
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters() if p.grad is not None}
    model.clear_gradients()
    return float(loss), grads


def test_fused_model_matches_paddle_forward_and_every_gradient():
    model = _tiny_classifier()
    model.train()
    ids, labels = _batch()
    keys = list(model.state_dict())
    loss, grads = _loss_and_grads(model, ids, labels)
    assert fused.fuse_encoder(model) == 2
    assert fused.fuse_encoder(model) == 0  # already fused
    assert list(model.state_dict()) == keys  # checkpoints do not change
    fused_loss, fused_grads = _loss_and_grads(model, ids, labels)
    assert abs(fused_loss - loss) < 1e-5
    assert fused_grads.keys() == grads.keys()
    for name, grad in grads.items():
        scale = max(1.0, float(np.abs(grad).max()))
        assert np.abs(fused_grads[name] - grad).max() < 1e-4 * scale, name
    assert fused.unfuse_encoder(model) == 2
    assert abs(_loss_and_grads(model, ids, labels)[0] - loss) < 1e-7


def test_fused_dropout_follows_paddle_seed():
    model = _tiny_classifier(dropout=0.1)
    model.train()
    fused.fuse_encoder(model)
    ids, labels = _batch()
    paddle.seed(3)
    first = _loss_and_grads(model, ids, labels)[0]
    paddle.seed(3)
    assert _loss_and_grads(model, ids, labels)[0] == first
    paddle.seed(4)
    assert _loss_and_grads(model, ids, labels)[0] != first
    model.eval()  # no dropout in eval: fused and Paddle's ops agree again
    with paddle.no_grad():
        fused_logits = model(input_ids=ids)
        with fused.unfused(model):
            plain_logits = model(input_ids=ids)
    assert _max_diff(fused_logits, plain_logits) < 1e-5


def test_layers_the_kernels_do_not_cover_keep_paddle_ops():
    pre_ln = paddle.nn.TransformerEncoderLayer(32, 4, 64, normalize_before=True)
    relu = paddle.nn.TransformerEncoderLayer(32, 4, 64, activation="relu")
    assert fused.eligible_layer(pre_ln) == "pre-LayerNorm layer"
    assert "not GELU" in fused.eligible_layer(relu)
    assert fused.fuse_encoder(paddle.nn.LayerList([pre_ln, relu])) == 0


def test_export_of_a_fused_model_traces_paddle_ops(tmp_path):
    from paddle_electra.inference.export import _static_layer, _without_dropout

    model = _tiny_classifier()
    model.eval()
    fused.fuse_encoder(model)
    with _without_dropout(model), fused.unfused(model):
        paddle.jit.save(_static_layer(model, False, None), str(tmp_path / "model"))
    assert fused.unfuse_encoder(model) == 2  # fused again after the block
    program = (tmp_path / "model.json").read_text()
    assert "pe_attention" not in program and "pe_linear" not in program


def test_unavailable_kernels_leave_the_model_alone(monkeypatch):
    monkeypatch.setattr(build, "_loaded", None)
    monkeypatch.setattr(build, "_reason", None)
    monkeypatch.setenv(build.DISABLE_ENV, "0")
    model = _tiny_classifier()
    assert fused.fuse_for_training(model) == 0
    assert build.unavailable_reason() == f"{build.DISABLE_ENV}=0"
    assert not any(getattr(layer, "_paddle_electra_fused", False) for layer in model.sublayers())


def test_the_training_loop_fuses_on_cpu_unless_told_not_to(tmp_path):
    from paddle_electra.training.loop import FineTuner, LoopConfig

    paddle.set_device("cpu")
    batch = _batch()

    def loss_fn(model, b):
        return F.cross_entropy(model(input_ids=b[0]), b[1])

    fused_run = FineTuner(_tiny_classifier(), 2, tmp_path / "a", LoopConfig(), lambda epoch: [batch], loss_fn)
    plain_run = FineTuner(_tiny_classifier(), 2, tmp_path / "b", LoopConfig(fused_kernels=False),
                          lambda epoch: [batch], loss_fn)
    assert (fused_run.fused_layers, plain_run.fused_layers) == (2, 0)


def test_fused_kernels_hparam_reaches_the_loop_and_is_checked():
    from paddle_electra.errors import ConfigError
    from paddle_electra.finetune.settings import FinetuneSettings, loop_config, validate_settings

    settings = FinetuneSettings(task="chnsenticorp", learning_rate=1e-4, layerwise_lr_decay=0.8,
                                num_train_epochs=1, max_seq_length=32, fused_kernels=False)
    assert loop_config(settings).fused_kernels is False
    settings.fused_kernels = "no"
    with pytest.raises(ConfigError, match="fused_kernels"):
        validate_settings(settings)


def test_no_compiler_and_no_build_means_paddle_ops(monkeypatch, tmp_path):
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))  # nothing built here yet
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    assert build._why_not() == "no C++ compiler (c++/g++) on PATH"


def test_qa_beam_pair_scores_match_paddle():
    """The seed QA head's beam: the fused pair-score kernel gives Paddle's log-probabilities and indices."""
    from paddlenlp.transformers import ElectraConfig

    from paddle_electra.modeling.heads import ElectraForSeedQA

    paddle.seed(5)
    config = ElectraConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64, max_position_embeddings=32)
    model = ElectraForSeedQA(config, beam_size=5, qa_hidden=24)
    model.eval()
    ids, _ = _batch()
    types = paddle.to_tensor(np.tile((np.arange(12) >= 4).astype("int64"), (3, 1)))
    with paddle.no_grad():
        plain = [t.numpy() for t in model(input_ids=ids, token_type_ids=types)]
        fused.fuse_encoder(model)
        assert model.pair_scorer is fused.pair_scores
        got = [t.numpy() for t in model(input_ids=ids, token_type_ids=types)]
    for want, have in zip(plain, got):
        if np.issubdtype(want.dtype, np.integer):
            assert (want == have).all()
        else:
            assert np.abs(want - have).max() < 1e-5
    fused.unfuse_encoder(model)
    assert model.pair_scorer is None


def test_the_kernels_follow_the_tuned_thread_count(ops):
    """Not the OMP_NUM_THREADS=1 that import paddle writes, and a later tune_cpu(n) reaches them too."""
    from paddle_electra.runtime import default_threads, tune_cpu

    model = _tiny_classifier()
    model.eval()
    fused.fuse_encoder(model)
    ids, _ = _batch()
    try:
        for count in (1, default_threads()):
            tune_cpu(count)
            with paddle.no_grad():
                model(input_ids=ids)
            assert ops._library.pe_threads() == count
    finally:
        tune_cpu(default_threads())


# ------------------------------------------------------------------------------------------ bf16 GEMMs
needs_bf16 = pytest.mark.skipif(fused.available() and build.bf16_unavailable_reason() is not None,
                                reason=f"bf16 GEMMs unavailable: {build.bf16_unavailable_reason()}")


def _bf16(values) -> np.ndarray:
    """float32 -> the nearest bfloat16 (ties to even), as float32: what the kernels hand their GEMMs."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(values), np.float32("nan"), rounded).astype(np.float32)


@needs_bf16
def test_bf16_gemm_operands_round_to_nearest_even(ops):
    """x @ I in bf16 mode returns x rounded to bfloat16, ties to even (17 values: the vector loop and its tail)."""
    one_ulp = 2.0 ** -7  # bfloat16's spacing just above 1.0
    x = np.array([[1 + one_ulp / 2, 1 + 3 * one_ulp / 2, 1 + one_ulp / 4, -(1 + 3 * one_ulp / 4),
                   3.14159265, 1e-3, 65504.0, -0.0] * 2 + [1 + 3 * one_ulp / 2]], dtype="float32")
    out = ops.pe_linear(paddle.to_tensor(x), paddle.eye(17), paddle.zeros([17]), True).numpy()
    want = np.array([1.0, 1 + 2 * one_ulp, 1.0, -(1 + one_ulp), 3.140625, 0.00099945068359375, 65536.0, 0.0] * 2
                    + [1 + 2 * one_ulp], dtype="float32")
    np.testing.assert_array_equal(out[0], want)
    np.testing.assert_array_equal(_bf16(x), out)  # the test's own rounding agrees


@needs_bf16
def test_bf16_linear_is_float32_maths_on_rounded_operands(ops):
    x, w, b = _param(3, 7, 24), _param(24, 40, scale=0.2), _param(40)
    g = _param(3, 7, 40)
    out = ops.pe_linear(x, w, b, True)
    dx, dw, db = _grads(out, [x, w, b], g)
    rx, rw, rg = (paddle.to_tensor(_bf16(t.numpy())) for t in (x, w, g))
    assert _max_diff(out, F.linear(rx, rw, b)) < TOL
    assert _max_diff(dx, paddle.matmul(rg, rw, transpose_y=True)) < TOL
    assert _max_diff(dw, paddle.matmul(rx.reshape([-1, 24]), rg.reshape([-1, 40]), transpose_x=True)) < TOL * 10
    assert _max_diff(db, g.sum([0, 1])) < TOL  # the bias gradient is not rounded
    # and bf16's error against the float32 op is what 8 mantissa bits give, no more
    exact = F.linear(x, w, b)
    assert 1e-4 < _max_diff(out, exact) < 2e-2 * float(exact.abs().max())


@needs_bf16
def test_bf16_linear_gelu_and_attention_stay_within_bfloat16_error(ops):
    x, w, b = _param(4, 6, 32), _param(32, 48, scale=0.2), _param(48)
    g = _param(4, 6, 48)
    got = ops.pe_linear_gelu(x, w, b, True)[0]
    want = F.gelu(F.linear(x, w, b))
    assert _max_diff(got, want) < 2e-2 * float(want.abs().max())
    for have, exact in zip(_grads(got, [x, w, b], g), _grads(want, [x, w, b], g)):
        assert _max_diff(have, exact) < 2e-2 * float(exact.abs().max())

    batch, seq, heads, dim = 2, 9, 4, 8
    q, k, v = (_param(batch, seq, heads * dim) for _ in range(3))
    mask = paddle.to_tensor(np.where(np.random.default_rng(3).random([batch, 1, 1, seq]) < 0.3, -1e4, 0.0)
                            .astype("float32"))
    ctx = ops.pe_attention(paddle.concat([q, k, v], axis=-1), mask, heads, dim ** -0.5, 0.0, 0, True)[0]
    rounded = _reference_attention(*(paddle.to_tensor(_bf16(t.numpy())) for t in (q, k, v)), mask, heads)
    exact = _reference_attention(q, k, v, mask, heads)
    assert _max_diff(ctx, rounded) < 2e-2  # the softmax's probabilities are rounded too before P V
    assert _max_diff(ctx, exact) < 5e-2
    gc = _param(batch, seq, heads * dim)
    for have, want in zip(_grads(ctx, [q, k, v], gc), _grads(exact, [q, k, v], gc)):
        assert _max_diff(have, want) < 3e-2 * float(want.abs().max())


@needs_bf16
def test_bf16_model_trains_like_float32_and_survives_unfused():
    model = _tiny_classifier()
    model.train()
    ids, labels = _batch()
    loss, grads = _loss_and_grads(model, ids, labels)
    hidden = model.electra(input_ids=ids)
    fused.fuse_for_training(model, bf16=True)
    assert fused.bf16_gemms(model)
    # bfloat16 rounding shows in the encoder's output, at bfloat16's scale (8 mantissa bits)
    assert 1e-6 < _max_diff(model.electra(input_ids=ids), hidden) < 1e-2 * float(hidden.abs().max())
    bf16_loss, bf16_grads = _loss_and_grads(model, ids, labels)
    assert abs(bf16_loss - loss) < 1e-3 * abs(loss)
    for name, grad in grads.items():
        assert np.abs(bf16_grads[name] - grad).max() < 5e-2 * max(1e-3, float(np.abs(grad).max())), name
    with fused.unfused(model):
        assert not fused.bf16_gemms(model)
    assert fused.bf16_gemms(model)  # the export block restores the mode it found
    assert _loss_and_grads(model, ids, labels)[0] == bf16_loss


def test_bf16_is_refused_where_it_would_not_run(monkeypatch):
    from paddle_electra.errors import ConfigError

    with pytest.raises(ConfigError, match="drop --no-fused-kernels"):
        fused.fuse_for_training(_tiny_classifier(), enabled=False, bf16=True)
    with pytest.raises(ConfigError, match="without --amp"):
        fused.fuse_for_training(_tiny_classifier(), amp=True, bf16=True)
    monkeypatch.setattr("paddle_electra.runtime._cpuinfo", lambda field: "fpu sse2 avx2 avx512f")
    assert "no bfloat16 instructions" in build._load_onednn(build.load()._library)
    monkeypatch.setattr(build, "_bf16_reason", "this CPU has no bfloat16 instructions")
    model = _tiny_classifier()
    with pytest.raises(ConfigError, match="bf16 GEMMs are unavailable: this CPU has no bfloat16"):
        fused.fuse_for_training(model, bf16=True)
    assert not fused.bf16_gemms(model)


def test_bf16_hparam_reaches_the_loop():
    from paddle_electra.finetune.settings import FinetuneSettings, loop_config

    settings = FinetuneSettings(task="chnsenticorp", learning_rate=1e-4, layerwise_lr_decay=0.8,
                                num_train_epochs=1, max_seq_length=32, bf16=True)
    assert loop_config(settings).bf16 is True


def test_fused_adamw_update_is_the_seed_update_in_place():
    from paddle_electra.ops.optimizer import seed_adamw_update

    rng = np.random.default_rng(2)
    param, grad, m = (rng.standard_normal((70, 530)).astype("float32") for _ in range(3))  # > one thread's share
    v = rng.random((70, 530)).astype("float32")
    tensors = [paddle.to_tensor(a) for a in (param, grad, m, v)]
    lr, b1, b2, eps, decay, scale = 3e-4, 0.9, 0.999, 1e-6, 0.01, 0.37
    assert seed_adamw_update(*tensors, lr, b1, b2, eps, decay, scale)
    g = grad.astype(np.float64) * scale
    m_new = b1 * m + (1 - b1) * g
    v_new = b2 * v + (1 - b2) * g * g
    want = param - lr * (m_new / (np.sqrt(v_new) + eps) + decay * param)
    for got, expected in zip((tensors[0], tensors[2], tensors[3]), (want, m_new, v_new)):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(tensors[1].numpy(), grad)  # the gradient is read, not rewritten
    # where the kernel does not apply, nothing changes and the caller is told
    as_f64 = paddle.to_tensor(param.astype("float64"))
    assert not seed_adamw_update(as_f64, *tensors[1:], lr, b1, b2, eps, decay, scale)
    np.testing.assert_array_equal(as_f64.numpy(), param.astype("float64"))


def test_the_loop_freezes_the_gc_only_while_it_trains(tmp_path):
    import gc

    from paddle_electra.training.loop import FineTuner, LoopConfig, frozen_gc

    batch = _batch()
    run = FineTuner(_tiny_classifier(), 2, tmp_path / "run", LoopConfig(epochs=1),
                    lambda epoch: [batch], lambda model, b: F.cross_entropy(model(input_ids=b[0]), b[1]))
    with frozen_gc():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    run.train()
    assert run.state.global_step == 1 and gc.get_freeze_count() == 0
