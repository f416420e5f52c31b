"""Load a converted model by store name or directory as the PaddleNLP class for the wanted head."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..convert.names import PADDLE_ARCH, Head
from ..errors import CheckpointError, ConfigError
from ..store import CONFIG_FILE, WEIGHTS_FILE, read_meta, resolve
from .config import read_config_json, sizes_from_dict

log = logging.getLogger("paddle_electra.modeling")


def model_class(head: Head):
    import paddlenlp.transformers as nlp

    try:
        return getattr(nlp, PADDLE_ARCH[head])
    except KeyError:
        raise ConfigError(f"unknown head {head!r}; choose one of {', '.join(PADDLE_ARCH)}") from None


def stored_head(model_dir: Path) -> Head:
    """The head the directory was written with (discriminator, generator, seq-cls, …)."""
    meta = read_meta(model_dir)
    if meta.get("head"):
        return meta["head"]
    arch = (read_config_json(model_dir / CONFIG_FILE).get("architectures") or ["ElectraModel"])[0]
    return next((h for h, a in PADDLE_ARCH.items() if a == arch), "model")


# Heads PaddleNLP's pretraining classes carry; a task model built from a pretrained directory drops them.
PRETRAINING_HEAD_PREFIXES = ("discriminator_predictions.", "generator_predictions.", "generator_lm_head")


def from_pretrained_checked(cls, model_dir: str | Path, **kwargs: Any):
    """``cls.from_pretrained(model_dir)``, strict and safe: our reader, every tensor accounted for.

    Why not PaddleNLP's ``from_pretrained``: it unpickles with ``paddle.load`` (code in the file would run) and
    initialises missing tensors randomly with only a warning. Here the config is validated first, the weights
    are read by :func:`~paddle_electra.checkpoint.pdparams.load_pdparams`, and loading fails with the tensors
    named when a backbone tensor is missing, a tensor is left over (a config with fewer layers than the
    weights), a shape differs or a value is NaN/Inf. A task head absent from a pretrained directory is the one
    thing initialised fresh (logged); dropping a pretraining head for a task model is the one thing skipped.
    """
    from ..checkpoint.pdparams import load_pdparams

    model_dir = Path(model_dir)
    config_path = model_dir / CONFIG_FILE
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights}: no such file; {model_dir} is not a complete model directory — "
                              "re-run the conversion or fine-tuning that wrote it")
    sizes = sizes_from_dict(read_config_json(config_path), str(config_path))
    vocab = model_dir / "vocab.txt"
    if vocab.is_file():
        from ..tokenizer import check_vocab

        check_vocab(vocab, sizes.vocab_size)  # a replaced vocab.txt would shift every token id silently
    state = load_pdparams(weights)
    try:
        config, model_kwargs = cls.config_class.from_pretrained(str(model_dir), return_unused_kwargs=True, **kwargs)
    except (ValueError, OSError, TypeError) as err:
        raise ConfigError(f"{config_path}: cannot be read as an ELECTRA config ({str(err).splitlines()[0]}); "
                          "re-run the conversion that wrote it") from None
    model = cls(config, **model_kwargs)
    model.set_state_dict(match_state(model, state, weights, stored_head(model_dir)))
    return model


def match_state(model, state: dict[str, Any], weights: Path, source_head: str) -> dict[str, Any]:
    """The subset of ``state`` ``model`` takes, after checking every tensor; raises naming what does not fit."""
    import numpy as np

    own = model.state_dict()
    wanted = {k: tuple(v.shape) for k, v in own.items()}
    bare = not any(k.startswith("electra.") for k in wanted)
    arrays = {(k[len("electra."):] if bare and k.startswith("electra.") else k): v
              for k, v in state.items() if isinstance(v, np.ndarray)}
    is_head = (lambda k: False) if bare else (lambda k: not k.startswith("electra."))
    dropped = [k for k in arrays if k not in wanted and (k.startswith(PRETRAINING_HEAD_PREFIXES) or
                                                        (bare and not k.startswith("embeddings") and
                                                         not k.startswith("encoder")))]
    unexpected = [k for k in arrays if k not in wanted and k not in dropped]
    missing = [k for k in wanted if k not in arrays]
    fresh = [k for k in missing if is_head(k) and not k.startswith(PRETRAINING_HEAD_PREFIXES)
             and source_head in ("discriminator", "generator", "model")]
    missing = [k for k in missing if k not in fresh]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s) the model needs ({', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} tensor(s) the model has no place for ({', '.join(unexpected[:3])})")
        raise ConfigError(f"{weights}: {' and '.join(parts)}; the weights and {weights.parent / CONFIG_FILE} "
                          "disagree (another model size, number of layers or head) — re-run the conversion that "
                          "wrote the directory")
    for key, shape in wanted.items():
        if key not in arrays:
            continue
        array = arrays[key]
        if tuple(array.shape) != shape:
            raise ConfigError(f"{weights} does not fit this model ({key}: the file has shape {list(array.shape)}, "
                              f"the model expected shape {list(shape)}); it was saved with another model size or "
                              "number of labels — use the labels/num_classes it was trained with")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise CheckpointError(f"{weights}: tensor {key} holds NaN or Inf values; the model is broken — "
                                  "re-convert it from the original checkpoint or restore it from a backup")
    if fresh:
        log.info("initialised a new %s head (%s) on the %s weights of %s", type(model).__name__,
                 ", ".join(sorted({k.split(".")[0] for k in fresh})), source_head, weights.parent)
    # a fresh head keeps its own initial values (given explicitly, so Paddle does not warn about them)
    return {k: arrays[k] if k in arrays else own[k] for k in wanted}


def load_model(name_or_dir: str | Path, head: Head | None = None, **kwargs: Any):
    """``(model, model_dir)`` in eval mode; ``head`` defaults to the one stored (discriminator for disc dirs).

    :func:`from_pretrained_checked` validates the config first, so a directory missing sizes fails with our
    message, not PaddleNLP's fallback to its own (wrong) default vocab size.
    """
    model_dir = resolve(name_or_dir)
    head = head or stored_head(model_dir)
    model = from_pretrained_checked(model_class(head), model_dir, **kwargs)
    model.eval()
    return model, model_dir
