"""What the user pointed at: the one answer for every command that takes "a model" (quickstart, pretrain, the
seed's ``run_finetuning.py`` layout).

A source is a converted pair directory (``discriminator/`` + ``generator/``), a converted model directory, a
TensorFlow checkpoint (directory, prefix or ``.ckpt``), a HuggingFace directory or weight file, or a catalog name
in the local store. :func:`identify` says which without converting; :func:`models_for` returns the Paddle
directories, converting once into the directory given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .catalog import get_variant
from .errors import ConfigError, StoreError
from .store import is_model_dir, resolve

log = logging.getLogger("paddle_electra.sources")
Kind = Literal["pair-dir", "model-dir", "tf-checkpoint", "hf", "name"]


@dataclass(frozen=True)
class Source:
    kind: Kind
    given: str
    path: Path | None  # None for a catalog name


def is_tf_checkpoint(path: Path) -> bool:
    if path.is_dir():
        return (path / "checkpoint").is_file() or any(path.glob("*.index"))
    return Path(f"{path}.index").is_file() or path.suffix == ".index" and path.is_file()


def is_hf_source(path: Path) -> bool:
    if path.is_file():
        return path.suffix in (".safetensors", ".bin")
    return (path / "config.json").is_file() and any(
        (path / name).is_file() for name in ("model.safetensors", "pytorch_model.bin"))


def identify(source: str | Path) -> Source:
    """Which kind of source ``source`` is; refuses a path that is none of them (naming what it holds)."""
    given = str(source)
    path = Path(given).expanduser()
    if path.is_dir() and is_model_dir(path / "discriminator"):
        return Source("pair-dir", given, path)
    if path.is_dir() and is_model_dir(path):
        return Source("model-dir", given, path)
    if path.exists() or Path(f"{path}.index").is_file():
        if is_hf_source(path):
            return Source("hf", given, path)
        if is_tf_checkpoint(path):
            return Source("tf-checkpoint", given, path)
        raise ConfigError(f"{path} holds neither a converted model (config.json + model_state.pdparams, or "
                          "discriminator/ and generator/), a TensorFlow checkpoint (*.index) nor a HuggingFace "
                          "model (config.json + model.safetensors/pytorch_model.bin)")
    return Source("name", given, None)  # resolve() names the store's models when it is not one


def models_for(source: str | Path, convert_into: Path, force: bool = True) -> tuple[Path, Path | None]:
    """(discriminator dir, generator dir or None) for ``source``; a checkpoint is converted into ``convert_into``
    (a HuggingFace upload holds one half, so its companion is None)."""
    found = identify(source)
    if found.kind == "pair-dir":
        gen = found.path / "generator"
        return found.path / "discriminator", gen if is_model_dir(gen) else None
    if found.kind == "model-dir":
        return found.path, None
    if found.kind == "hf":
        from .convert.hf import convert_hf

        return convert_hf(found.path, output=convert_into / "model", force=force), None
    if found.kind == "tf-checkpoint":
        from .convert.tf import convert_tf_checkpoint

        log.info("%s is a TensorFlow checkpoint: converting it into %s", found.path, convert_into)
        written = convert_tf_checkpoint(found.path, output=convert_into, force=force)
        return written["discriminator"], written.get("generator")
    return pair_from_store(found.given)


def pair_from_store(name: str) -> tuple[Path, Path | None]:
    """A catalog name's discriminator from the store, and its companion generator when that is stored too."""
    resolve(name)  # a name that is not in the catalog or not stored: the store's error, with how to get it
    disc_variant = get_variant(name).half("discriminator")
    disc = resolve(disc_variant.name)
    try:
        return disc, resolve(disc_variant.companion)
    except StoreError:
        return disc, None
