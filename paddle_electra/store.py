"""The local model store and the model-directory format every path out of the converter shares.

A model directory is what ``paddlenlp.transformers.Electra*.from_pretrained(dir)`` loads: ``config.json``,
``model_state.pdparams``, ``vocab.txt`` and the tokenizer files. Our own provenance lives under the
``paddle_electra`` key of config.json. Directories are written to a temporary sibling and renamed into place,
so an interrupted conversion never leaves half a model under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .catalog import CATALOG, get_variant
from .errors import ConfigError, StoreError

HOME_ENV = "PADDLE_ELECTRA_HOME"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model_state.pdparams"
VOCAB_FILE = "vocab.txt"
META_KEY = "paddle_electra"


PAUSE_ENV = "PADDLE_ELECTRA_TEST_PAUSE"
_pause_hits: dict[str, int] = {}


def pause_point(point: str) -> None:
    """Test hook (tests/robustness), inert unless ``$PADDLE_ELECTRA_TEST_PAUSE`` is ``POINT`` or ``POINT@N``.

    The N-th time (default: first) this process reaches ``point`` it prints ``paused at POINT`` to stderr and
    sleeps, so a test can kill -9 it exactly there. Points: ``model-dir-write`` (files written, directory not yet
    renamed into place), ``checkpoint-write`` (weights written, checkpoint not yet sealed) and ``train-step``.
    """
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted or wanted.split("@")[0] != point:
        return
    _pause_hits[point] = _pause_hits.get(point, 0) + 1
    if _pause_hits[point] == int(wanted.partition("@")[2] or 1):
        print(f"paused at {point}", file=sys.stderr, flush=True)
        time.sleep(3600)


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
    disc = variant.name if variant.role == "discriminator" else variant.companion
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
    try:
        return json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8")).get(META_KEY, {})
    except (OSError, json.JSONDecodeError):
        return {}


def _check_writable(parent: Path) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create {parent}: {err.strerror}; choose another output path") from None
    if not os.access(parent, os.W_OK):
        raise StoreError(f"{parent} is not writable; choose another output path or fix its permissions")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _clean_stale(target: Path) -> None:
    """Remove what a killed writer of ``target`` left: half-written ``.partial-PID-*`` directories, and put
    back a ``.old-PID`` directory moved aside just before the kill (the previous complete output)."""
    for leftover in target.parent.glob(f".{target.name}.*-*"):
        kind, _, rest = leftover.name[len(target.name) + 2:].partition("-")
        pid = rest.split("-", 1)[0]
        if kind not in ("partial", "old") or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        if kind == "old" and not target.exists():
            os.replace(leftover, target)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(target: Path, *, force: bool = False, fingerprint: str | None = None) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block finishes.

    An existing non-empty ``target`` is replaced only with ``force`` or when it already holds the output of
    the same source (same ``fingerprint``): re-running a conversion is harmless, overwriting another model is
    refused.
    """
    target = Path(target).expanduser().absolute()
    if target.parent.is_dir():
        _clean_stale(target)
    if target.exists() and not target.is_dir():
        raise StoreError(f"{target} exists and is not a directory; choose another output path")
    if target.is_dir() and any(target.iterdir()) and not force:
        existing = read_meta(target).get("fingerprint")
        if fingerprint is None or existing != fingerprint:
            raise StoreError(
                f"{target} already holds {'a different model' if existing else 'other files'}; "
                "pass --force to replace it, or choose another output path"
            )
    _check_writable(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
        pause_point("model-dir-write")
        backup = None
        if target.exists():
            backup = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, backup)
        os.replace(tmp, target)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
