"""The encoder layer on the fused CPU kernels: same parameters, same maths, fewer and multi-threaded ops.

:func:`fuse_encoder` swaps the forward of every post-LayerNorm ``nn.TransformerEncoderLayer`` in a model for
:func:`fused_layer_forward` (3 GEMM ops, Q, K and V as one; 1 attention op; 2 dropout+residual+LayerNorm ops;
instead of ~25 Paddle ops); state dicts, checkpoints and exports are unchanged. A call the kernels do not cover
(not float32 on CPU, a cache, attention weights asked for, an activation other than GELU/erf) runs the layer's own
forward.
Dropout draws its seed from Paddle's generator, so ``paddle.seed`` makes a run repeatable (the masks differ from
Paddle's own dropout, as two dropout implementations do).

``fuse_encoder(model, bf16_gemms=True)`` (training's ``--bf16``) runs the layers' GEMMs on bfloat16 copies of
their operands with float32 accumulation -- what torch's CPU bf16 autocast rounds -- while weights, gradients,
optimizer state and every element-wise op stay float32 (docs/benchmarks-bf16-training.md).
"""

from __future__ import annotations

import contextlib
import logging
import types
from collections.abc import Iterator
from typing import Any

import paddle

from . import build

log = logging.getLogger(__name__)

_FUSED_ATTR = "_paddle_electra_fused"
_BF16_ATTR = "_paddle_electra_bf16_gemms"


def available() -> bool:
    return build.load() is not None


def _seed() -> int:
    return int(paddle.randint(0, 2**31 - 1, [1]).item())


def _is_gelu(activation: Any) -> bool:
    import paddle.nn.functional as F

    return activation is F.gelu  # nn.TransformerEncoderLayer(activation="gelu"): exact (erf) GELU


def eligible_layer(layer: Any) -> str | None:
    """Why this layer cannot run fused (None when it can)."""
    import paddle.nn as nn

    if not isinstance(layer, nn.TransformerEncoderLayer):
        return "not an nn.TransformerEncoderLayer"
    if layer.normalize_before:
        return "pre-LayerNorm layer"
    attn = layer.self_attn
    if attn.kdim != attn.embed_dim or attn.vdim != attn.embed_dim:
        return "attention with different key/value sizes"
    if not _is_gelu(layer.activation):
        return f"activation {getattr(layer.activation, '__name__', layer.activation)!r} is not GELU"
    if any(sub.bias is None for sub in (attn.q_proj, attn.k_proj, attn.v_proj, attn.out_proj,
                                        layer.linear1, layer.linear2)):
        return "a Linear without bias"
    if layer.norm1.weight is None or layer.norm2.weight is None:
        return "LayerNorm without scale"
    return None


def _additive_mask(mask: Any, batch: int, seq: int, dtype: Any) -> Any:
    """The mask as float32 [batch, 1|heads, 1|seq, seq], with Paddle's own bool/int conversion."""
    from ..compat import convert_attention_mask

    if mask is None:
        return paddle.zeros([batch, 1, 1, seq], dtype="float32")
    mask = convert_attention_mask(mask, dtype)
    while mask.ndim < 4:
        mask = mask.unsqueeze(0)
    if mask.shape[0] != batch:
        mask = mask.expand([batch, *mask.shape[1:]])
    return mask.astype("float32").contiguous()


def _dropout_p(rate: float, training: bool) -> float:
    return float(rate) if training and rate else 0.0


@paddle.jit.not_to_static  # a program traced through this runs Paddle's own forward (see _fusable_input)
def fused_layer_forward(layer: Any, src: Any, src_mask: Any = None, cache: Any = None,
                        output_attentions: bool = False) -> Any:
    """``TransformerEncoderLayer.forward`` (post-LN, GELU) on the fused kernels."""
    ops = build.load()
    if ops is None or cache is not None or output_attentions or not _fusable_input(layer, src):
        return type(layer).forward(layer, src, src_mask, cache, output_attentions)
    build.sync_threads(ops)
    bf16 = bool(getattr(layer, _BF16_ATTR, False))
    attn = layer.self_attn
    training = layer.training
    batch, seq = src.shape[0], src.shape[1]
    mask = _additive_mask(src_mask, batch, seq, src.dtype)
    src = src.contiguous()
    projections = (attn.q_proj, attn.k_proj, attn.v_proj)  # one GEMM, read in place by the attention op
    qkv = ops.pe_linear(src, paddle.concat([proj.weight for proj in projections], axis=1),
                        paddle.concat([proj.bias for proj in projections]), bf16)
    attn_p = _dropout_p(attn.dropout, training)
    context, _ = ops.pe_attention(qkv, mask, attn.num_heads, attn.head_dim ** -0.5, attn_p,
                                  _seed() if attn_p else 0, bf16)
    out = ops.pe_linear(context, attn.out_proj.weight, attn.out_proj.bias, bf16)
    hidden_p = _dropout_p(layer.dropout1.p, training)
    hidden, _, _ = ops.pe_add_norm(out, src, layer.norm1.weight, layer.norm1.bias, layer.norm1._epsilon,
                                   hidden_p, _seed() if hidden_p else 0)
    inner, _ = ops.pe_linear_gelu(hidden, layer.linear1.weight, layer.linear1.bias, bf16)
    if _dropout_p(layer.dropout.p, training):
        inner = layer.dropout(inner)
    out = ops.pe_linear(inner, layer.linear2.weight, layer.linear2.bias, bf16)
    hidden_p = _dropout_p(layer.dropout2.p, training)
    result, _, _ = ops.pe_add_norm(out, hidden, layer.norm2.weight, layer.norm2.bias, layer.norm2._epsilon,
                                   hidden_p, _seed() if hidden_p else 0)
    return result


def _fusable_input(layer: Any, src: Any) -> bool:
    if not paddle.in_dynamic_mode():  # traced for export: Paddle's own ops, which Paddle Inference/ONNX know
        return False
    if src.dtype != paddle.float32 or not src.place.is_cpu_place() or src.ndim != 3:
        return False
    return layer.linear1.weight.dtype == paddle.float32


@paddle.jit.not_to_static
def pair_scores(start: Any, end: Any, weight: Any, bias: Any) -> Any:
    """``end_dense(GELU(start + end))`` over every (start, end) pair of the seed's QA beam, or None where the
    kernel does not apply (gradients wanted, traced for export, not float32 on CPU): the caller's ops then."""
    ops = build.load()
    if ops is None or paddle.is_grad_enabled() or not paddle.in_dynamic_mode():
        return None
    if start.dtype != paddle.float32 or not start.place.is_cpu_place():
        return None
    build.sync_threads(ops)
    return ops.pe_pair_score(start.contiguous(), end.contiguous(), weight.reshape([-1]), bias.reshape([-1]))


def fuse_encoder(model: Any, bf16_gemms: bool = False) -> int:
    """Run every eligible encoder layer of ``model`` on the fused kernels; returns how many (0 when unavailable).

    ``bf16_gemms``: the layers' GEMMs take bfloat16 copies of their operands and accumulate in float32 (~2x the
    GEMM rate on AVX-512 BF16); refused with the reason where this machine cannot run them."""
    if not available():
        return 0
    if bf16_gemms and build.bf16_unavailable_reason():
        from ..errors import ConfigError

        raise ConfigError(f"bf16 GEMMs are unavailable: {build.bf16_unavailable_reason()}; train in float32 "
                          "(drop bf16)")
    count = 0
    for layer in model.sublayers(include_self=True):
        if hasattr(layer, "pair_scorer") and layer.pair_scorer is None:  # the seed's QA head (modeling/heads.py)
            layer.pair_scorer = pair_scores
        if getattr(layer, _FUSED_ATTR, False) or eligible_layer(layer) is not None:
            if getattr(layer, _FUSED_ATTR, False):
                setattr(layer, _BF16_ATTR, bf16_gemms)
            continue
        layer.forward = types.MethodType(fused_layer_forward, layer)
        setattr(layer, _FUSED_ATTR, True)
        setattr(layer, _BF16_ATTR, bf16_gemms)
        count += 1
    if count:
        log.debug("fused CPU kernels: %d encoder layers%s", count, " (bf16 GEMMs)" if bf16_gemms else "")
    return count


def bf16_gemms(model: Any) -> bool:
    """Whether ``model``'s fused layers run their GEMMs in bfloat16."""
    return any(getattr(layer, _BF16_ATTR, False) for layer in model.sublayers(include_self=True))


def unfuse_encoder(model: Any) -> int:
    """Undo :func:`fuse_encoder` (the layers' own forward, the QA head's own pair scores); returns how many
    layers changed."""
    count = 0
    for layer in model.sublayers(include_self=True):
        if getattr(layer, "pair_scorer", None) is pair_scores:
            layer.pair_scorer = None
            count += 1
        if getattr(layer, _FUSED_ATTR, False):
            del layer.forward
            setattr(layer, _FUSED_ATTR, False)
            setattr(layer, _BF16_ATTR, False)
            count += 1
    return count


@contextlib.contextmanager
def unfused(model: Any) -> Iterator[Any]:
    """The model on Paddle's own ops for the block (export traces them), fused again afterwards."""
    bf16 = bf16_gemms(model)
    count = unfuse_encoder(model)
    try:
        yield model
    finally:
        if count:
            fuse_encoder(model, bf16)


def fuse_for_training(model: Any, enabled: bool = True, amp: bool = False, bf16: bool = False) -> int:
    """The training loops' call: fuse on CPU float32 runs (not AMP, not GPU), say once what was done and why.

    ``bf16`` (the kernels' bfloat16 GEMMs) is refused, naming the reason, wherever it would not run as asked."""
    on_cpu = paddle.get_device().startswith("cpu")
    if bf16:
        from ..errors import ConfigError

        if not on_cpu or amp:
            raise ConfigError("bf16 is the fused CPU kernels' mode: train on the CPU without --amp, or drop --bf16")
        if not enabled:
            raise ConfigError("bf16 runs on the fused CPU kernels: drop --no-fused-kernels (fused_kernels=false) "
                              "or --bf16")
        if not available():
            raise ConfigError(f"bf16 runs on the fused CPU kernels, which are unavailable here "
                              f"({build.unavailable_reason()}); drop --bf16")
    if not enabled or amp or not on_cpu:
        return 0
    count = fuse_encoder(model, bf16_gemms=bf16)
    if bf16 and not bf16_gemms(model):
        from ..errors import ConfigError

        raise ConfigError("bf16: no encoder layer of this model runs on the fused kernels (see eligible_layer); "
                          "drop --bf16")
    if count:
        log.info("training on paddle-electra's fused CPU kernels (%d encoder layers%s; fused_kernels=false or "
                 "PADDLE_ELECTRA_FUSED=0 for Paddle's own ops)", count,
                 ", bfloat16 GEMMs with float32 accumulation" if bf16 else "")
    elif build.unavailable_reason():
        log.info("training on Paddle's own ops: fused CPU kernels unavailable (%s)", build.unavailable_reason())
    return count
