"""Load a converted model by store name or directory as the PaddleNLP class for the wanted head."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..convert.names import PADDLE_ARCH, Head
from ..errors import ConfigError
from ..store import CONFIG_FILE, read_meta, resolve
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


def load_model(name_or_dir: str | Path, head: Head | None = None, **kwargs: Any):
    """``(model, model_dir)`` in eval mode; ``head`` defaults to the one stored (discriminator for disc dirs).

    The config is validated first so a directory missing sizes fails with our message, not PaddleNLP's
    fallback to its own (wrong) default vocab size.
    """
    model_dir = resolve(name_or_dir)
    sizes_from_dict(read_config_json(model_dir / CONFIG_FILE), str(model_dir / CONFIG_FILE))
    head = head or stored_head(model_dir)
    model = model_class(head).from_pretrained(str(model_dir), **kwargs)
    model.eval()
    return model, model_dir
