"""The local model store and the model-directory format every path out of the converter shares.

A model directory is what ``paddlenlp.transformers.Electra*.from_pretrained(dir)`` loads: ``config.json``,
``model_state.pdparams``, ``vocab.txt`` and the tokenizer files. Our own provenance lives under the
``paddle_electra`` key of config.json. Directories are written to a temporary sibling and renamed into place,
so an interrupted conversion never leaves half a model under the final name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .catalog import CATALOG, get_variant
from .errors import ConfigError, StoreError
from .fs import read_provenance, write_json

HOME_ENV = "PADDLE_ELECTRA_HOME"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model_state.pdparams"
VOCAB_FILE = "vocab.txt"
META_KEY = "paddle_electra"


def home() -> Path:
    """``$PADDLE_ELECTRA_HOME``, default ``~/.paddle_electra``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".paddle_electra").expanduser()


def models_dir() -> Path:
    return home() / "models"


def store_path(name: str) -> Path:
    """Where a catalog model lives in the store (whether or not it is there yet)."""
    return models_dir() / get_variant(name).name


def is_model_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def how_to_get(name: str) -> str:
    """The commands that put ``name`` into the store, for error messages."""
    variant = get_variant(name)
    disc = variant.half("discriminator").name
    return (
        f"convert HFL's TensorFlow release with `paddle-electra convert --tf-checkpoint DIR --name {disc}` "
        f"(writes {disc} and its generator), or a Hugging Face copy ({variant.hf_id}) with "
        f"`paddle-electra convert --hf DIR --name {variant.name}`; with network access, "
        f"`paddle-electra download {variant.name}`"
    )


def resolve(name_or_dir: str | os.PathLike[str]) -> Path:
    """A model directory for a path or a catalog name; the error says how to obtain a missing model."""
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        if not is_model_dir(path):
            raise StoreError(
                f"{path} is not a model directory (needs {CONFIG_FILE} and {WEIGHTS_FILE}); "
                "convert a checkpoint into it with `paddle-electra convert`"
            )
        return path
    try:
        variant = get_variant(str(name_or_dir))
    except ConfigError:
        raise StoreError(
            f"{name_or_dir!r} is neither a model directory nor a known model name "
            f"(known: {', '.join(n for n in CATALOG if not n.endswith('-generator'))}, …; see `paddle-electra list`)"
        ) from None
    stored = models_dir() / variant.name
    if is_model_dir(stored):
        return stored
    raise StoreError(f"{variant.name} is not in the local store ({stored}); {how_to_get(variant.name)}")


def installed() -> list[str]:
    root = models_dir()
    return sorted(p.name for p in root.iterdir() if is_model_dir(p)) if root.is_dir() else []


def read_meta(model_dir: Path) -> dict[str, Any]:
    return read_provenance(model_dir) or {}


def stamp_model_dir(directory: Path, **meta: Any) -> None:
    """Replace the provenance in ``directory/config.json`` (``save_pretrained`` copies the source model's, which
    would make a fine-tuned classifier claim to be the pretrained discriminator it came from)."""
    path = Path(directory) / CONFIG_FILE
    config = json.loads(path.read_text(encoding="utf-8"))
    config[META_KEY] = {k: v for k, v in meta.items() if v is not None}
    write_json(path, config)
