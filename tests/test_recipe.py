"""The seed's fine-tuning recipe: layerwise multipliers, decay exclusions, schedule, and optimizer parity
against an independent numpy implementation of google-research/electra's AdamWeightDecayOptimizer driven by
PyTorch gradients (transformers' ELECTRA), from identical weights and batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
import pytest

from paddle_electra.catalog import get_variant
from paddle_electra.convert.names import param_specs
from paddle_electra.modeling.config import electra_config
from paddle_electra.modeling.heads import ElectraForSeedClassification
from paddle_electra.training.optim import (
    RecipeConfig,
    SeedAdamW,
    layer_depth,
    layerwise_multipliers,
    no_decay_names,
    seed_lr,
    warmup_steps_for,
)

HF = Path(__file__).parent / "fixtures" / "hf_tiny" / "discriminator"


def test_small_multipliers_follow_the_seed_depth_rule():
    sizes = get_variant("chinese-electra-small").sizes
    names = [s.paddle for s in param_specs(sizes, "discriminator")] + ["classifier.weight", "classifier.bias"]
    mult = layerwise_multipliers(names, 12, 0.8)
    assert mult["electra.embeddings.word_embeddings.weight"] == pytest.approx(0.8**14)
    assert mult["electra.embeddings_project.weight"] == pytest.approx(0.8**14)
    assert mult["electra.encoder.layers.0.self_attn.q_proj.weight"] == pytest.approx(0.8**13)
    assert mult["electra.encoder.layers.11.linear2.bias"] == pytest.approx(0.8**2)  # top layer: decay², not decay
    assert mult["classifier.weight"] == 1.0
    assert layer_depth("electra.encoder.layers.10.norm1.weight", 12) == 11


def test_decay_excludes_layer_norms_and_biases():
    model = ElectraForSeedClassification(electra_config(_tiny(), num_labels=2))
    excluded = no_decay_names(model)
    assert "electra.encoder.layers.0.norm1.weight" in excluded and "electra.embeddings.layer_norm.weight" in excluded
    assert "classifier.bias" in excluded and "electra.encoder.layers.1.linear1.bias" in excluded
    assert "electra.encoder.layers.0.linear1.weight" not in excluded and "classifier.weight" not in excluded


def test_schedule_is_warmup_times_linear_decay():
    total, warm = 1000, warmup_steps_for(1000, 0.1)
    assert warm == 100
    assert seed_lr(0, 3e-4, total, warm) == 0.0  # TF applies the first update at global_step 0
    assert seed_lr(50, 3e-4, total, warm) == pytest.approx(3e-4 * 0.95 * 0.5)
    assert seed_lr(100, 3e-4, total, warm) == pytest.approx(3e-4 * 0.9)
    assert seed_lr(600, 3e-4, total, warm) == pytest.approx(3e-4 * 0.4)
    assert seed_lr(1000, 3e-4, total, warm) == 0.0


def _tiny():
    from paddle_electra.catalog import Sizes

    return Sizes(16, 32, 2, 2, 64, 171, 64)


def _reference_step(params, grads, m, v, t, recipe, total, warm, mult, decay):
    """google-research/electra model/optimization.py, transcribed to numpy (no bias correction)."""
    norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
    clip = min(1.0, recipe.max_grad_norm / norm) if norm > 0 else 1.0
    lr = recipe.learning_rate * (1 - t / total) * min(1.0, t / warm)
    for name in params:
        g = grads[name] * clip
        m[name] = recipe.beta1 * m[name] + (1 - recipe.beta1) * g
        v[name] = recipe.beta2 * v[name] + (1 - recipe.beta2) * g * g
        update = m[name] / (np.sqrt(v[name]) + recipe.epsilon)
        if decay[name]:
            update = update + recipe.weight_decay * params[name]
        params[name] = params[name] - lr * mult[name] * update


def test_paddle_recipe_matches_numpy_reference_with_torch_gradients(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from paddle_electra.convert.hf import convert_hf

    paddle_dir = convert_hf(HF, output=tmp_path / "disc")
    paddle.seed(0)
    pd_model = ElectraForSeedClassification.from_pretrained(str(paddle_dir), num_labels=2, hidden_dropout_prob=0.0,
                                                            attention_probs_dropout_prob=0.0)
    pd_model.train()
    tm = transformers.ElectraModel.from_pretrained(HF, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    tm.train()
    head = torch.nn.Linear(32, 2)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(pd_model.classifier.weight.numpy().T))
        head.bias.copy_(torch.from_numpy(pd_model.classifier.bias.numpy()))

    # Map every Paddle parameter to its torch counterpart (transposing linear weights).
    specs = {s.paddle: s for s in param_specs(_tiny(), "model")}
    torch_params = dict(tm.named_parameters())
    pairs = {}
    for name, _ in pd_model.named_parameters():
        if name.startswith("classifier."):
            pairs[name] = (head.weight if name.endswith("weight") else head.bias, name.endswith("weight"))
        else:
            spec = specs[name]
            pairs[name] = (torch_params[spec.hf.removeprefix("electra.")], spec.transpose_hf)

    recipe = RecipeConfig(learning_rate=1e-3, layerwise_lr_decay=0.8)
    total = 10
    optimizer = SeedAdamW(pd_model, recipe, total, num_layers=2)
    ref_params = {n: pd_model.state_dict()[n].numpy().astype(np.float64) for n, _ in pd_model.named_parameters()}
    m = {n: np.zeros_like(p) for n, p in ref_params.items()}
    v = {n: np.zeros_like(p) for n, p in ref_params.items()}
    rng = np.random.default_rng(0)
    for step in range(6):
        ids = rng.integers(5, 171, size=(4, 10))
        ids[:, 0] = 2
        ids[2, 7:] = 0
        mask = (ids != 0).astype("int64")
        labels = rng.integers(0, 2, size=4)
        # Paddle
        logits = pd_model(paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask))
        loss = paddle.nn.functional.cross_entropy(logits, paddle.to_tensor(labels).reshape([-1, 1]))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        # Reference: torch computes the gradient at the reference parameters, numpy applies the seed's update
        with torch.no_grad():
            for name, (tp, transpose) in pairs.items():
                value = ref_params[name].T if transpose else ref_params[name]
                tp.copy_(torch.from_numpy(value.astype(np.float32)))
        for tp, _ in pairs.values():
            tp.grad = None
        hidden = tm(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
        t_loss = torch.nn.functional.cross_entropy(head(hidden[:, 0]), torch.from_numpy(labels))
        t_loss.backward()
        grads = {n: (tp.grad.numpy().T if tr else tp.grad.numpy()).astype(np.float64) for n, (tp, tr) in pairs.items()}
        _reference_step(ref_params, grads, m, v, step, recipe, total, warmup_steps_for(total, 0.1),
                        optimizer.multipliers, optimizer.decay)
        assert float(loss) == pytest.approx(float(t_loss), rel=1e-5)
    # each parameter moves by up to ~2e-2 over the 6 updates (lr 1e-3, Adam steps of ~3 early on); 5e-7 leaves room
    # for float32 rounding where Adam divides a near-zero gradient by a near-zero second moment (one such
    # embedding entry moves 2.6e-7 between the fused update and Paddle's ops), and none for a wrong formula
    for name, param in pd_model.named_parameters():
        np.testing.assert_allclose(param.numpy(), ref_params[name], rtol=1e-5, atol=5e-7, err_msg=name)
