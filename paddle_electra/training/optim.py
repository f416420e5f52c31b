"""The seed's optimizer, exactly: BERT/ELECTRA ``AdamWeightDecayOptimizer`` with layerwise LR decay.

Why not ``paddle.optimizer.AdamW``: the seed's Adam has **no bias correction**, adds ε outside the square
root, and decays weights as ``update += wd * param`` scaled by the (layerwise) learning rate. Paddle's AdamW
bias-corrects, and its ``lr_ratio`` (the usual layerwise hook) is unimplemented on CPU builds. So the update
is written here in a few tensor ops per parameter; it runs on CPU and GPU, Paddle 2.6 and 3.x.

Formulas (google-research/electra ``model/optimization.py``), at update ``t`` (0-based, the value of TF's
``global_step`` while the update is applied):

* ``lr_t = lr0 * (1 - t/T) * min(1, t/W)``, ``W = max(warmup_steps, T * warmup_proportion)``
* per parameter: ``lr_p = lr_t * decay ** (L + 2 - depth(p))``; depth 0 for embeddings and the embedding
  projection, ``i + 1`` for encoder layer ``i``, ``L + 2`` for task heads
* gradients clipped to global norm 1.0 first; ``m = b1 m + (1-b1) g``; ``v = b2 v + (1-b2) g²``;
  ``u = m / (sqrt(v) + ε)`` (+ ``wd * p`` unless ``p`` is a LayerNorm parameter or a bias); ``p -= lr_p u``
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import paddle

from ..tasks.registry import SEED_LAYERWISE_DECAY, TaskDefaults

_LAYER = re.compile(r"(?:^|\.)encoder\.layers\.(\d+)\.")


def layer_depth(name: str, num_layers: int) -> int:
    """The seed's depth rule on Paddle parameter names (see module docstring)."""
    stripped = name.removeprefix("electra.")
    if stripped.startswith(("embeddings.", "embeddings_project.")):
        return 0
    match = _LAYER.search(name)
    return int(match.group(1)) + 1 if match else num_layers + 2


def layerwise_multipliers(names: list[str], num_layers: int, decay: float) -> dict[str, float]:
    """``decay ** (L + 2 - depth)`` per parameter; decay 1.0 switches layerwise decay off."""
    return {n: decay ** (num_layers + 2 - layer_depth(n, num_layers)) for n in names}


def no_decay_names(model: paddle.nn.Layer) -> set[str]:
    """LayerNorm parameters and every bias: the seed's exclusion list (``LayerNorm``, ``layer_norm``, ``bias``)."""
    excluded = set()
    for prefix, layer in model.named_sublayers(include_self=True):
        if isinstance(layer, paddle.nn.LayerNorm):
            excluded.update(f"{prefix}.{n}" if prefix else n for n, _ in layer.named_parameters())
    excluded.update(n for n, _ in model.named_parameters() if n.endswith("bias"))
    return excluded


def seed_lr(step: int, base_lr: float, total_steps: int, warmup_steps: float) -> float:
    """Linear decay to 0 times linear warmup, as in the seed (warmup multiplies the decayed rate)."""
    decay = max(0.0, 1.0 - step / total_steps) if total_steps > 0 else 1.0
    warm = min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0
    return base_lr * decay * warm


def warmup_steps_for(total_steps: int, warmup_proportion: float, warmup_steps: int = 0) -> float:
    """``max(warmup_steps, T * warmup_proportion)`` kept as a float, as the seed does (25 steps: 2.5, not 2)."""
    return float(max(warmup_steps, total_steps * warmup_proportion))


@dataclass
class RecipeConfig:
    learning_rate: float = 1e-4
    layerwise_lr_decay: float = SEED_LAYERWISE_DECAY  # the seed's values, from the task table
    weight_decay: float = TaskDefaults.weight_decay_rate
    warmup_proportion: float = TaskDefaults.warmup_proportion
    warmup_steps: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-6
    max_grad_norm: float = 1.0
    # "tpu": update t uses the rate at t (TPUEstimator's resource variables, and the published runs);
    # "gpu": the rate at t+1, as the seed's TF1 CPU/GPU path does (global_step's increment races the read,
    # google-research/bert#1050)
    schedule: str = "tpu"


def _global_norm(grads: list[paddle.Tensor]) -> float:
    """sqrt of the sum of squares of all gradients: one fused kernel per gradient and ONE host sync, summed in
    float64 (reading each partial back with ``float()`` cost ~0.18 s a step on CPU for ELECTRA-small)."""
    if not grads:
        return 0.0
    from ..compat import squared_l2_norm

    parts = []
    for g in grads:
        g32 = g if g.dtype == paddle.float32 else g.astype("float32")
        parts.append(squared_l2_norm(g32).reshape([1]))
    return math.sqrt(float(paddle.concat(parts).numpy().astype("float64").sum()))


class SeedAdamW:
    """AdamWeightDecay with layerwise multipliers and global-norm clipping; state is saveable for resume."""

    def __init__(self, model: paddle.nn.Layer, recipe: RecipeConfig, total_steps: int, num_layers: int):
        self.recipe = recipe
        self.total_steps = total_steps
        self.warmup = warmup_steps_for(total_steps, recipe.warmup_proportion, recipe.warmup_steps)
        named = [(n, p) for n, p in model.named_parameters() if not p.stop_gradient]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.multipliers = layerwise_multipliers(self.names, num_layers, recipe.layerwise_lr_decay)
        excluded = no_decay_names(model)
        self.decay = {n: (recipe.weight_decay if n not in excluded else 0.0) for n in self.names}
        self.m = [paddle.zeros(p.shape, "float32") for p in self.params]
        self.v = [paddle.zeros(p.shape, "float32") for p in self.params]
        self.step_count = 0  # TF's global_step: the index of the update about to be applied

    def get_lr(self) -> float:
        step = self.step_count + (1 if self.recipe.schedule == "gpu" else 0)
        return seed_lr(step, self.recipe.learning_rate, self.total_steps, self.warmup)

    @paddle.no_grad()
    def norm_and_factor(self, grad_scale: float = 1.0) -> tuple[float, float]:
        """The global norm of the unscaled gradients before clipping, and the one factor that unscales (AMP) and
        clips them to ``max_grad_norm``."""
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = _global_norm(grads) / grad_scale
        factor = 1.0 / grad_scale
        limit = self.recipe.max_grad_norm
        if limit and norm > limit and math.isfinite(norm):
            factor *= limit / norm
        return norm, factor

    @paddle.no_grad()
    def step(self, grad_scale: float = 1.0) -> float:
        """Apply one update; returns the global gradient norm (non-finite: update skipped, for AMP).

        Float32 CPU parameters take the fused kernel (ops/optimizer.py: one multi-threaded pass each); the rest
        Paddle's ops, with the same maths."""
        from ..ops.optimizer import seed_adamw_update

        norm, factor = self.norm_and_factor(grad_scale)
        if not math.isfinite(norm):
            return norm  # fp16 overflow: skip, as a loss scaler would
        lr = self.get_lr()
        b1, b2, eps = self.recipe.beta1, self.recipe.beta2, self.recipe.epsilon
        for i, (name, param) in enumerate(zip(self.names, self.params)):
            if param.grad is None:
                continue
            step_lr = lr * self.multipliers[name]
            if seed_adamw_update(param, param.grad, self.m[i], self.v[i], step_lr, b1, b2, eps, self.decay[name],
                                 factor):
                continue
            grad = param.grad.astype("float32")
            if factor != 1.0:
                grad = grad * factor
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grad
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grad * grad
            update = self.m[i] / (paddle.sqrt(self.v[i]) + eps)
            if self.decay[name]:
                update = update + self.decay[name] * param.astype("float32")
            param.set_value((param.astype("float32") - step_lr * update).astype(param.dtype))
        self.step_count += 1
        return norm

    def clear_grad(self) -> None:
        for p in self.params:
            p.clear_gradient(False)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step_count": self.step_count}
        for name, m, v in zip(self.names, self.m, self.v):
            state[f"{name}.m"] = m.numpy()
            state[f"{name}.v"] = v.numpy()
        return state

    def set_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step_count"])
        for i, name in enumerate(self.names):
            self.m[i] = paddle.to_tensor(state[f"{name}.m"])
            self.v[i] = paddle.to_tensor(state[f"{name}.v"])
