"""Framework-neutral conversion: plan which source tensor fills which Paddle parameter, check, then write.

A plan is built from tensor *shapes* only (nothing is read), so a wrong model size, a missing tensor or an
unknown one is reported before any output exists. Writing streams one tensor at a time from the source.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import CATALOG, Sizes, Variant, match_sizes, size_name
from ..errors import ConversionError
from .names import PADDLE_ARCH, Head, ParamSpec, Renamer, param_specs, strip_prefix

log = logging.getLogger("paddle_electra.convert")


@dataclass
class TensorSource:
    """A checkpoint seen as names, shapes and a lazy reader; ``path`` is only for messages."""

    path: str
    shapes: dict[str, tuple[int, ...]]
    read: Callable[[str], np.ndarray]


@dataclass
class Plan:
    """One Paddle model to write: its sizes, head and, per Paddle parameter, the source tensor."""

    head: Head
    sizes: Sizes
    specs: list[ParamSpec]
    sources: dict[str, tuple[str, bool]]  # Paddle name -> (source name, transpose)
    num_labels: int = 2
    prefixed: bool = True
    ignored: list[str] = field(default_factory=list)  # source tensors deliberately not used (with reason logged)

    @property
    def architecture(self) -> str:
        return PADDLE_ARCH[self.head]

    def used_sources(self) -> set[str]:
        return {src for src, _ in self.sources.values()} | set(self.ignored)


def _fmt(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(map(str, shape)) + "]"


def map_names(source: TensorSource, rename: Renamer) -> dict[str, tuple[str, bool]]:
    """Paddle name -> (source name, transpose) for every source tensor ``rename`` recognises."""
    mapped: dict[str, tuple[str, bool]] = {}
    for name in source.shapes:
        target = rename(name)
        if target is None:
            continue
        paddle, transpose = target
        if paddle in mapped:
            raise ConversionError(
                f"{source.path}: tensors {mapped[paddle][0]!r} and {name!r} both map to {paddle!r}; "
                "the checkpoint holds two copies of one weight — remove one"
            )
        mapped[paddle] = (name, transpose)
    return mapped


def paddle_shape(source: TensorSource, name: str, transpose: bool) -> tuple[int, ...]:
    shape = tuple(source.shapes[name])
    return shape[::-1] if transpose else shape


def infer_sizes(source: TensorSource, mapped: dict[str, tuple[str, bool]], hint: Sizes | None = None,
                role: str | None = None, prefix: str = "electra.") -> Sizes:
    """Read every size off the tensor shapes; only the head count needs a config (or the catalog)."""

    def shape_of(paddle: str, what: str) -> tuple[int, ...]:
        if paddle not in mapped:
            raise ConversionError(
                f"{source.path}: no tensor for {prefix + paddle.removeprefix('electra.') if prefix else paddle} "
                f"({what}); is this an ELECTRA {role or 'model'} checkpoint?"
            )
        return paddle_shape(source, *mapped[paddle])

    vocab_size, embedding_size = shape_of(prefix + "embeddings.word_embeddings.weight", "word embeddings")
    max_positions = shape_of(prefix + "embeddings.position_embeddings.weight", "position embeddings")[0]
    type_vocab = shape_of(prefix + "embeddings.token_type_embeddings.weight", "token-type embeddings")[0]
    layer_re = re.compile(re.escape(prefix) + r"encoder\.layers\.(\d+)\.")
    layers = sorted({int(m.group(1)) for p in mapped if (m := layer_re.match(p))})
    if not layers:
        raise ConversionError(f"{source.path}: no encoder layers found for the {role or 'model'}")
    if layers != list(range(len(layers))):
        missing = sorted(set(range(layers[-1] + 1)) - set(layers))
        raise ConversionError(f"{source.path}: encoder layers {missing} are missing (found {len(layers)} layers)")
    hidden = shape_of(prefix + "encoder.layers.0.self_attn.q_proj.weight", "attention query")[1]
    intermediate = shape_of(prefix + "encoder.layers.0.linear1.weight", "feed-forward")[1]
    shape_only = Sizes(embedding_size, hidden, len(layers), 1, intermediate, vocab_size, max_positions, type_vocab)
    return Sizes(**{**shape_only.__dict__, "num_attention_heads": _heads(shape_only, hint, role)})


def _heads(sizes: Sizes, hint: Sizes | None, role: str | None) -> int:
    """Heads are invisible in the weights: take them from a matching config, the catalog, or ELECTRA's H/64."""
    if hint is not None and hint.hidden_size == sizes.hidden_size:
        return hint.num_attention_heads
    for variant in CATALOG.values():
        if _same_but_heads(variant.sizes, sizes):
            return variant.sizes.num_attention_heads
    heads = max(1, sizes.hidden_size // 64)
    log.warning("no config gives the head count for hidden size %d; using ELECTRA's rule H/64 = %d "
                "(pass --config to override)", sizes.hidden_size, heads)
    return heads


def _same_but_heads(a: Sizes, b: Sizes) -> bool:
    return {**a.__dict__, "num_attention_heads": 0} == {**b.__dict__, "num_attention_heads": 0}


def check_expected(source: TensorSource, mapped: dict[str, tuple[str, bool]], actual: Sizes,
                   expected: Variant, head: Head) -> None:
    """Refuse a user-named variant whose shapes differ, naming the tensor, both shapes and the real match."""
    if _same_but_heads(expected.sizes, actual):
        return
    matches = [v.name for v in match_sizes(actual, expected.role)]
    if matches:
        real = f"the checkpoint matches {matches[0]}"
        real += f" (same shapes: {', '.join(matches[1:])})" if len(matches) > 1 else ""
        real += " — name that model instead"
    else:
        real = (f"the checkpoint matches no HFL release (E={actual.embedding_size} H={actual.hidden_size} "
                f"L={actual.num_hidden_layers}) — convert it with --output DIR instead of --name")
    for spec in param_specs(expected.sizes, head):
        if spec.paddle not in mapped:
            continue
        got = paddle_shape(source, *mapped[spec.paddle])
        if got != spec.shape:
            src_name, transpose = mapped[spec.paddle]
            want = spec.shape[::-1] if transpose else spec.shape
            raise ConversionError(
                f"{source.path}: tensor {src_name!r} has shape {_fmt(tuple(source.shapes[src_name]))} but "
                f"{expected.name} expects {_fmt(want)}; {real}"
            )
    raise ConversionError(
        f"{source.path}: {expected.name} has {expected.sizes.num_hidden_layers} layers but the checkpoint has "
        f"{actual.num_hidden_layers}; {real}"
    )


def build_plan(source: TensorSource, mapped: dict[str, tuple[str, bool]], sizes: Sizes, head: Head,
               framework: str, num_labels: int = 2, prefixed: bool = True) -> Plan:
    """Pair every Paddle parameter with a source tensor of the right shape, or fail naming what is wrong."""
    specs = param_specs(sizes, head, num_labels)
    if not prefixed:
        specs = strip_prefix(specs)
    problems: list[str] = []
    sources: dict[str, tuple[str, bool]] = {}
    for spec in specs:
        if spec.paddle not in mapped:
            problems.append(f"missing {spec.tf if framework == 'tf' else spec.hf} (for {spec.paddle})")
            continue
        got = paddle_shape(source, *mapped[spec.paddle])
        if got != spec.shape:
            problems.append(f"{mapped[spec.paddle][0]} has shape {_fmt(got)}, expected {_fmt(spec.shape)}")
            continue
        sources[spec.paddle] = mapped[spec.paddle]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConversionError(
            f"{source.path}: cannot fill the {size_name(sizes)} {head} model: {'; '.join(problems[:3])}{more}. "
            "The checkpoint is incomplete or not an HFL ELECTRA release; nothing was written"
        )
    ignored = []
    wanted = {s.paddle for s in specs}
    for paddle, (name, _) in mapped.items():
        if paddle in wanted:
            continue
        if "embeddings_project" in paddle and sizes.embedding_size == sizes.hidden_size:
            log.warning("%s: ignoring stale %s (embedding size equals hidden size, so the model has no "
                        "projection)", source.path, name)
            ignored.append(name)
            continue
        raise ConversionError(f"{source.path}: tensor {name!r} has no place in the {head} model; "
                              "the checkpoint does not match the sizes inferred from it")
    return Plan(head, sizes, specs, sources, num_labels, prefixed, ignored)


def iter_paddle_state(plan: Plan, source: TensorSource) -> Any:
    """Yield ``(paddle_name, float32 array)`` one at a time in Paddle layout."""
    for spec in plan.specs:
        name, transpose = plan.sources[spec.paddle]
        array = source.read(name)
        if tuple(array.shape) != tuple(source.shapes[name]):
            raise ConversionError(f"{source.path}: tensor {name!r} read as {_fmt(array.shape)}, "
                                  f"index says {_fmt(tuple(source.shapes[name]))}; the file is corrupt")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(array.size - np.isfinite(array).sum())
            raise ConversionError(f"{source.path}: tensor {name!r} holds {bad} NaN/Inf value(s); a model converted "
                                  "from it would predict NaN — re-download the checkpoint or convert an earlier one")
        if transpose:
            array = array.T
        if array.dtype != np.float32:
            array = array.astype(np.float32)
        yield spec.paddle, np.ascontiguousarray(array)


def write_model_dir(plan: Plan, source: TensorSource, out: Path, vocab: Path, meta: dict[str, Any],
                    force: bool = False) -> Path:
    """Write one ``from_pretrained`` directory atomically; nothing appears at ``out`` unless all succeeded."""
    from ..checkpoint.pdparams import save_pdparams
    from ..fs import atomic_dir, write_json
    from ..modeling.config import electra_config
    from ..store import CONFIG_FILE, META_KEY, WEIGHTS_FILE
    from ..tokenizer import check_vocab, save_tokenizer

    check_vocab(vocab, plan.sizes.vocab_size)
    with atomic_dir(out, force=force, fingerprint=meta.get("fingerprint"), inputs=[source.path, vocab]) as tmp:
        # one tensor in memory at a time: read, transpose, append to the pickle paddle.save would write
        save_pdparams(iter_paddle_state(plan, source), tmp / WEIGHTS_FILE)
        extra: dict[str, Any] = {META_KEY: meta}
        if plan.head in ("seq-cls", "token-cls"):
            extra["num_labels"] = plan.num_labels
        config = electra_config(plan.sizes, plan.architecture, **extra).to_dict()
        write_json(tmp / CONFIG_FILE, config)
        save_tokenizer(vocab, tmp)
    log.info("wrote %s (%s %s, %d tensors)", out, size_name(plan.sizes), plan.head, len(plan.specs))
    return Path(out)
