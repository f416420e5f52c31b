"""ElectraConfig built from catalog sizes, never from PaddleNLP's defaults (whose vocab is ERNIE-Health's)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..catalog import Sizes
from ..errors import ConfigError

SIZE_FIELDS = tuple(Sizes.__dataclass_fields__)


def electra_config(sizes: Sizes, architecture: str | None = None, **extra: Any):
    """A PaddleNLP ``ElectraConfig`` with every size explicit (vocab 21128 unless the checkpoint says otherwise)."""
    from paddlenlp.transformers import ElectraConfig

    fields = sizes.as_config_dict()
    if architecture:
        fields["architectures"] = [architecture]
    fields.update(extra)
    return ElectraConfig(**fields)


def sizes_from_dict(config: dict[str, Any], source: str) -> Sizes:
    """Read sizes from a config dict, refusing to guess any of them (a missing vocab_size is an error)."""
    missing = [f for f in SIZE_FIELDS if f not in config and f not in ("max_position_embeddings", "type_vocab_size")]
    if "embedding_size" in missing and "hidden_size" in config:
        missing.remove("embedding_size")  # BERT-style configs omit it when E == H
    if missing:
        raise ConfigError(f"{source}: config lacks {', '.join(missing)}; add them (see `paddle-electra info NAME`)")
    values = {}
    for name in (f for f in SIZE_FIELDS if f in config):
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
                isinstance(value, float) and not value.is_integer()) or (
                isinstance(value, str) and not value.strip().isdigit()):
            raise ConfigError(f"{source}: {name}={value!r} is not a whole number; fix it (see `paddle-electra info "
                              "NAME` for the released sizes)")
        values[name] = int(value)
    values.setdefault("embedding_size", values["hidden_size"])
    return Sizes(**values)


def read_config_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; check the path, or re-run the conversion that writes "
                          "the model directory") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}); restore the file or re-run the conversion") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object with model sizes, got {type(data).__name__}")
    if "init_args" in data:  # PaddleNLP's legacy model_config.json
        data = {**data["init_args"][0], **{k: v for k, v in data.items() if k != "init_args"}}
    return data


def fit_length(requested: int, positions: int, name: str = "max_seq_length") -> int:
    """``requested`` capped at the model's position table (longer ids would index past it), said once per call.

    Every user-facing path (fine-tuning, predict, hub predict, fill-mask/RTD) caps the same way; pretraining
    refuses instead, since it would silently train on shorter sequences than asked."""
    if requested > positions:
        logging.getLogger("paddle_electra").warning("%s %d > the model's %d positions; using %d", name, requested,
                                                    positions, positions)
        return positions
    return requested
