"""Install the repository's module directories into PaddleHub's ``$HUB_HOME/modules``, offline.

``hub install DIR`` and :func:`install_module` do the same thing (PaddleHub's ``LocalModuleManager`` copies
the directory to ``$HUB_HOME/modules/<dir>``); after that ``hub.Module(name=…)`` finds the module locally and
never asks the PaddleHub server. Nothing here needs the model weights: those are resolved when the module is
constructed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from ..catalog import get_variant
from ..errors import StoreError
from .generate import GENERATED_BY, dir_name, render

log = logging.getLogger("paddle_electra.hub")


def hub_modules_root() -> Path:
    """``hub_modules/`` of the source checkout this package was imported from."""
    return Path(__file__).resolve().parents[2] / "hub_modules"


def resolve_hub_home(hub_home: str | os.PathLike[str] | None = None) -> Path:
    """PaddleHub's home as PaddleHub computes it: the argument, else ``$HUB_HOME``, else ``~/.paddlehub``."""
    return Path(hub_home or os.environ.get("HUB_HOME") or Path.home() / ".paddlehub").expanduser()


def module_dir(name: str) -> Path:
    """The module directory in this checkout for a catalog name (``hub_modules/chinese_electra_small``)."""
    return hub_modules_root() / dir_name(name)


def install_module(name: str, hub_home: str | os.PathLike[str] | None = None) -> Path:
    """Install the module for ``name`` under ``$HUB_HOME/modules`` (no network) and return where it went.

    ``hub.Module(name=…)`` looks in the ``$HUB_HOME`` PaddleHub was imported with: pass that same home (or none).
    Without a source checkout (a wheel install has no ``hub_modules/``), the same files are rendered from the
    catalog into a temporary directory and installed from there.
    """
    variant = get_variant(name)
    source = module_dir(variant.name)
    home = resolve_hub_home(hub_home)
    modules = home / "modules"
    try:
        modules.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create {modules}: {err.strerror}; set HUB_HOME to a writable directory") from None
    if source.is_dir():
        if not (source / "module.py").is_file():
            raise StoreError(f"{source} has no module.py; regenerate the module directories with "
                             f"`python {GENERATED_BY}`")
        return _install_dir(source, modules)
    if hub_modules_root().is_dir():
        raise StoreError(f"module directory {source} for {variant.name} is missing; regenerate it with "
                         f"`python {GENERATED_BY}`")
    with tempfile.TemporaryDirectory(prefix="electra-hub-") as tmp:
        rendered = Path(tmp) / dir_name(variant.name)
        rendered.mkdir()
        for file_name, text in render(variant.name).items():
            (rendered / file_name).write_text(text, encoding="utf-8")
        return _install_dir(rendered, modules)


def _install_dir(source: Path, modules: Path) -> Path:
    from paddlehub.module.manager import LocalModuleManager

    installed = LocalModuleManager(home=str(modules)).install(directory=str(source))
    target = modules / installed.name.replace("-", "_")
    log.info("installed PaddleHub module %s %s into %s", installed.name, installed.version, target)
    return target
