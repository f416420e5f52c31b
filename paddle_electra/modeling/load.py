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


def from_pretrained_checked(cls, model_dir: str | Path, **kwargs: Any):
    """``cls.from_pretrained(model_dir)`` with PaddleNLP's load failures turned into one-line typed errors.

    The config is validated first (our message, not PaddleNLP's fallback to its own default sizes); a weights
    file that is missing or unreadable is a :class:`CheckpointError`, a tensor whose shape differs from the
    model's (another size, another number of labels) a :class:`ConfigError` naming the tensor.
    """
    model_dir = Path(model_dir)
    config_path = model_dir / CONFIG_FILE
    sizes_from_dict(read_config_json(config_path), str(config_path))
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{weights}: no such file; {model_dir} is not a complete model directory — "
                              "re-run the conversion or fine-tuning that wrote it")
    try:
        return cls.from_pretrained(str(model_dir), **kwargs)
    except RuntimeError as err:
        text = str(err)
        if "expected shape" not in text:
            raise
        detail = next((line.strip() for line in text.splitlines() if "expected shape" in line), text)
        raise ConfigError(f"{weights} does not fit this model ({detail.rstrip('.')}); it was saved with another "
                          "model size or number of labels — use the labels/num_classes it was trained with") from None
    except (ValueError, OSError, EOFError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{weights}: cannot be read ({first}); the file is truncated or corrupt — re-run "
                              "the conversion or fine-tuning that wrote it") from None


def load_model(name_or_dir: str | Path, head: Head | None = None, **kwargs: Any):
    """``(model, model_dir)`` in eval mode; ``head`` defaults to the one stored (discriminator for disc dirs).

    The config is validated first so a directory missing sizes fails with our message, not PaddleNLP's
    fallback to its own (wrong) default vocab size.
    """
    model_dir = resolve(name_or_dir)
    sizes_from_dict(read_config_json(model_dir / CONFIG_FILE), str(model_dir / CONFIG_FILE))
    head = head or stored_head(model_dir)
    model = from_pretrained_checked(model_class(head), model_dir, **kwargs)
    model.eval()
    return model, model_dir
