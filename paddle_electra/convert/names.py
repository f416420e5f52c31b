"""The one name table: every ELECTRA weight's Paddle, Hugging Face and TensorFlow name and its shape.

Each row is a *module* (a Linear, LayerNorm, Embedding or a bare bias). Its kind fixes how parameter names
and layouts differ between frameworks:

=========  =====================  ==========================  =====================
kind       Paddle                 HF (PyTorch)                TF 1.x (google-research)
=========  =====================  ==========================  =====================
linear     .weight [in,out]/.bias .weight [out,in] (T) /.bias /kernel [in,out] /bias
norm       .weight / .bias        .weight / .bias             /gamma / /beta
embedding  .weight [n,dim]        .weight [n,dim]             (the variable itself)
bias       (the parameter)        (the parameter)             (the variable itself)
=========  =====================  ==========================  =====================

So TF→Paddle never transposes, HF↔Paddle transposes exactly the 2-D linear weights. Nothing else in the
package knows a TF or HF name. ``{n}`` stands for a layer index; TF names use ``{scope}`` (``electra`` for
the discriminator, ``generator`` for the generator) and ``{emb}`` (the embedding scope: ``electra`` because
HFL ties the generator's embeddings to the discriminator's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal

from ..catalog import Sizes

Kind = Literal["linear", "norm", "embedding", "bias"]
Head = Literal["discriminator", "generator", "model", "seq-cls", "token-cls", "qa"]
ShapeFn = Callable[[Sizes, int], tuple[int, ...]]  # (sizes, num_labels) -> Paddle shape of .weight (or bias)


@dataclass(frozen=True)
class ModuleRow:
    paddle: str
    hf: str
    tf: str | None  # None: the module has no TF-checkpoint counterpart (task heads fine-tuned elsewhere)
    kind: Kind
    shape: ShapeFn


def _hh(s: Sizes, _: int) -> tuple[int, ...]:
    return (s.hidden_size, s.hidden_size)


def _enc(name: str, hf: str, tf: str, kind: Kind, shape: ShapeFn) -> ModuleRow:
    return ModuleRow(
        f"electra.encoder.layers.{{n}}.{name}", f"electra.encoder.layer.{{n}}.{hf}",
        f"{{scope}}/encoder/layer_{{n}}/{tf}", kind, shape,
    )


BACKBONE: tuple[ModuleRow, ...] = (
    ModuleRow("electra.embeddings.word_embeddings", "electra.embeddings.word_embeddings",
              "{emb}/embeddings/word_embeddings", "embedding", lambda s, _: (s.vocab_size, s.embedding_size)),
    ModuleRow("electra.embeddings.position_embeddings", "electra.embeddings.position_embeddings",
              "{emb}/embeddings/position_embeddings", "embedding",
              lambda s, _: (s.max_position_embeddings, s.embedding_size)),
    ModuleRow("electra.embeddings.token_type_embeddings", "electra.embeddings.token_type_embeddings",
              "{emb}/embeddings/token_type_embeddings", "embedding",
              lambda s, _: (s.type_vocab_size, s.embedding_size)),
    ModuleRow("electra.embeddings.layer_norm", "electra.embeddings.LayerNorm", "{emb}/embeddings/LayerNorm",
              "norm", lambda s, _: (s.embedding_size,)),
    ModuleRow("electra.embeddings_project", "electra.embeddings_project", "{scope}/embeddings_project",
              "linear", lambda s, _: (s.embedding_size, s.hidden_size)),
    _enc("self_attn.q_proj", "attention.self.query", "attention/self/query", "linear", _hh),
    _enc("self_attn.k_proj", "attention.self.key", "attention/self/key", "linear", _hh),
    _enc("self_attn.v_proj", "attention.self.value", "attention/self/value", "linear", _hh),
    _enc("self_attn.out_proj", "attention.output.dense", "attention/output/dense", "linear", _hh),
    _enc("linear1", "intermediate.dense", "intermediate/dense", "linear",
         lambda s, _: (s.hidden_size, s.intermediate_size)),
    _enc("linear2", "output.dense", "output/dense", "linear", lambda s, _: (s.intermediate_size, s.hidden_size)),
    _enc("norm1", "attention.output.LayerNorm", "attention/output/LayerNorm", "norm",
         lambda s, _: (s.hidden_size,)),
    _enc("norm2", "output.LayerNorm", "output/LayerNorm", "norm", lambda s, _: (s.hidden_size,)),
)

HEADS: dict[Head, tuple[ModuleRow, ...]] = {
    "model": (),
    "discriminator": (
        ModuleRow("discriminator_predictions.dense", "discriminator_predictions.dense",
                  "discriminator_predictions/dense", "linear", _hh),
        ModuleRow("discriminator_predictions.dense_prediction", "discriminator_predictions.dense_prediction",
                  "discriminator_predictions/dense_1", "linear", lambda s, _: (s.hidden_size, 1)),
    ),
    "generator": (
        ModuleRow("generator_predictions.dense", "generator_predictions.dense", "generator_predictions/dense",
                  "linear", lambda s, _: (s.hidden_size, s.embedding_size)),
        ModuleRow("generator_predictions.layer_norm", "generator_predictions.LayerNorm",
                  "generator_predictions/LayerNorm", "norm", lambda s, _: (s.embedding_size,)),
        ModuleRow("generator_lm_head_bias", "generator_lm_head.bias", "generator_predictions/output_bias", "bias",
                  lambda s, _: (s.vocab_size,)),
    ),
    # PaddleNLP's task heads, which are HF's (the 2-layer classification head, a Linear(H,2) QA head).
    "seq-cls": (
        ModuleRow("classifier.dense", "classifier.dense", None, "linear", _hh),
        ModuleRow("classifier.out_proj", "classifier.out_proj", None, "linear", lambda s, k: (s.hidden_size, k)),
    ),
    "token-cls": (ModuleRow("classifier", "classifier", None, "linear", lambda s, k: (s.hidden_size, k)),),
    "qa": (ModuleRow("classifier", "qa_outputs", None, "linear", lambda s, _: (s.hidden_size, 2)),),
}

# PaddleNLP class (for config.json "architectures") and HF class per head.
PADDLE_ARCH: dict[Head, str] = {
    "model": "ElectraModel", "discriminator": "ElectraDiscriminator", "generator": "ElectraGenerator",
    "seq-cls": "ElectraForSequenceClassification", "token-cls": "ElectraForTokenClassification",
    "qa": "ElectraForQuestionAnswering",
}
HF_ARCH: dict[Head, str] = {
    "model": "ElectraModel", "discriminator": "ElectraForPreTraining", "generator": "ElectraForMaskedLM",
    "seq-cls": "ElectraForSequenceClassification", "token-cls": "ElectraForTokenClassification",
    "qa": "ElectraForQuestionAnswering",
}

_TF_SUFFIX = {"linear": {"weight": "kernel", "bias": "bias"}, "norm": {"weight": "gamma", "bias": "beta"}}


@dataclass(frozen=True)
class ParamSpec:
    """One Paddle parameter with its names elsewhere; ``transpose_hf`` marks PyTorch's [out,in] layout."""

    paddle: str
    hf: str
    tf: str | None
    shape: tuple[int, ...]
    transpose_hf: bool


def param_specs(sizes: Sizes, head: Head, num_labels: int = 2, scope: str = "electra",
                emb_scope: str = "electra") -> list[ParamSpec]:
    """Every parameter a Paddle model with this head has, in state-dict order, with its other names."""
    specs: list[ParamSpec] = []
    rows = BACKBONE + HEADS[head]
    per_layer = [r for r in rows if "{n}" in r.paddle]
    ordered = [(r, None) for r in rows if "{n}" not in r.paddle and r.paddle.startswith("electra.")]
    ordered += [(r, n) for n in range(sizes.num_hidden_layers) for r in per_layer]
    ordered += [(r, None) for r in rows if not r.paddle.startswith("electra.")]
    for row, n in ordered:
        if row.paddle.startswith("electra.embeddings_project") and sizes.embedding_size == sizes.hidden_size:
            continue  # PaddleNLP (like TF) only builds the projection when E != H
        fill = {"n": n, "scope": scope, "emb": emb_scope}
        paddle, hf = row.paddle.format(**fill), row.hf.format(**fill)
        tf = row.tf.format(**fill) if row.tf else None
        shape = row.shape(sizes, num_labels)
        if row.kind in ("embedding", "bias"):
            suffix = ".weight" if row.kind == "embedding" else ""
            specs.append(ParamSpec(paddle + suffix, hf + suffix, tf, shape, False))
            continue
        for param in ("weight", "bias"):
            tf_name = f"{tf}/{_TF_SUFFIX[row.kind][param]}" if tf else None
            param_shape = shape if param == "weight" else shape[-1:]
            transpose = row.kind == "linear" and param == "weight"
            specs.append(ParamSpec(f"{paddle}.{param}", f"{hf}.{param}", tf_name, param_shape, transpose))
    return specs


def strip_prefix(specs: list[ParamSpec]) -> list[ParamSpec]:
    """A bare ``ElectraModel`` state dict has no ``electra.`` prefix in either framework."""
    cut = len("electra.")
    return [ParamSpec(s.paddle[cut:], s.hf[cut:], s.tf, s.shape, s.transpose_hf) for s in specs]


# TF variables that are training state, never weights: skipped deliberately (and counted, not logged).
TF_SKIP_PATTERNS = (
    re.compile(r"(^|/)global_step$"),
    re.compile(r"/adam_[mv]$"),
    re.compile(r"(^|/)(Adam|Adam_1|Momentum|Adagrad|RMSProp|RMSProp_1)$"),
    re.compile(r"^(beta1_power|beta2_power)$"),
    re.compile(r"(^|/)temperature$"),
    re.compile(r"(^|/)ExponentialMovingAverage$"),
)


def is_tf_training_state(name: str) -> bool:
    return any(p.search(name) for p in TF_SKIP_PATTERNS)


@dataclass(frozen=True)
class Renamer:
    """Maps a source framework's tensor names onto Paddle names, before any size is known."""

    rules: tuple[tuple[re.Pattern[str], str, bool], ...]  # (source regex, Paddle template, transpose?)

    def __call__(self, name: str) -> tuple[str, bool] | None:
        for pattern, paddle, transpose in self.rules:
            match = pattern.fullmatch(name)
            if match:
                return paddle.format(**match.groupdict()), transpose
        return None


def renamer(framework: Literal["tf", "hf"], heads: tuple[Head, ...], scope: str = "electra",
            emb_scope: str = "electra", prefixed: bool = True) -> Renamer:
    """Build the name map for one model inside a checkpoint (TF holds two: ``electra`` and ``generator``)."""
    rules: list[tuple[re.Pattern[str], str, bool]] = []
    for head in heads:
        for row in BACKBONE + HEADS[head] if head == heads[0] else HEADS[head]:
            source = row.tf if framework == "tf" else row.hf
            if source is None:
                continue
            source = source.replace("{scope}", scope).replace("{emb}", emb_scope)
            paddle = row.paddle
            if not prefixed:
                source, paddle = source.removeprefix("electra."), paddle.removeprefix("electra.")
            params = [("", "")] if row.kind == "bias" else [(".weight", ".weight")] if row.kind == "embedding" else [
                (("/" if framework == "tf" else ".") + (_TF_SUFFIX[row.kind][p] if framework == "tf" else p),
                 "." + p) for p in ("weight", "bias")
            ]
            for src_suffix, paddle_suffix in params:
                if framework == "tf" and row.kind == "embedding":
                    src_suffix = ""
                regex = re.escape(source + src_suffix).replace(r"\{n\}", r"(?P<n>\d+)")
                transpose = framework == "hf" and row.kind == "linear" and paddle_suffix == ".weight"
                rules.append((re.compile(regex), paddle + paddle_suffix, transpose))
    return Renamer(tuple(rules))
