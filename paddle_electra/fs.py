"""Writing outputs safely: the one rule for replacing a directory, atomic writes, modes, and disk-full errors.

Why one module: every command that writes a directory (convert, export, export-hf, fine-tuning, pretraining,
data prepare, hub-install) goes through :func:`atomic_dir` or :func:`guard_output`, so the rule below holds
everywhere or nowhere:

* an existing non-empty directory is replaced only when it is ours -- it carries :data:`MARKER_FILE` (written
  into every directory this package creates) or, for models written before the marker existed, our provenance
  key in ``config.json`` -- and only with ``force`` (or, for an identical re-run, the same ``fingerprint``);
* never, even with ``force``: ``/``, ``$HOME``, the working directory, any input of the command, or a parent of
  any of these;
* a full disk (``ENOSPC``) or any other ``OSError`` while writing becomes one line naming the path, and the
  previous output stays intact because it is only moved aside after the new one is complete;
* files and directories get the modes the user's umask asks for (``mkdtemp`` would leave them 0700).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import StoreError

MARKER_FILE = ".paddle-electra"
LOCK_FILE = ".lock"
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


# ------------------------------------------------------------------------------------------ small helpers
def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def apply_umask(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain ``mkdir``/``open`` would have given them."""
    mask = _umask()
    dir_mode, file_mode = 0o777 & ~mask, 0o666 & ~mask
    os.chmod(root, dir_mode)
    for base, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(base, name), dir_mode)
        for name in files:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                os.chmod(path, file_mode)


def describe_os_error(err: OSError, path: Path, action: str = "writing") -> str:
    """One line for an ``OSError`` while writing ``path``, with what to do."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device while {action} {path}; free some space or choose another output path"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied while {action} {path}; choose another output path or fix its permissions"
    return f"cannot finish {action} {path}: {err.strerror or err}; choose another output path"


# ------------------------------------------------------------------------------------ the replacement rule
def _resolved(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).resolve()


def _protected(inputs: Iterable[str | os.PathLike[str] | None]) -> list[tuple[Path, str]]:
    found = [(Path("/"), "the file-system root"), (_resolved(Path.home()), "your home directory"),
             (_resolved(os.getcwd()), "the current directory")]
    found += [(_resolved(p), "an input of this command") for p in inputs if p is not None]
    return found


def read_provenance(path: Path) -> dict[str, Any] | None:
    """Our provenance in ``path/config.json`` (the ``paddle_electra`` key), or None when there is none."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = config.get("paddle_electra") if isinstance(config, dict) else None
    return meta if isinstance(meta, dict) else None


def is_our_output(path: Path) -> bool:
    """True for a directory this package wrote (its marker, or our provenance key in config.json)."""
    return (path / MARKER_FILE).is_file() or read_provenance(path) is not None


def refuse_protected(target: Path, inputs: Iterable[str | os.PathLike[str] | None] = ()) -> None:
    """Refuse to write over ``/``, ``$HOME``, the cwd, an input, or a parent of any of them."""
    resolved = _resolved(target)
    for path, what in _protected(inputs):
        if resolved == path or resolved in path.parents:
            relation = "is" if resolved == path else "contains"
            raise StoreError(f"refusing to write {target}: it {relation} {what} ({path}); "
                             "choose a new, empty output directory")


def guard_output(target: Path, *, force: bool = False, inputs: Iterable[str | os.PathLike[str] | None] = (),
                 fingerprint: str | None = None, existing_fingerprint: str | None = None,
                 owned: bool = False) -> None:
    """Raise unless writing ``target`` may replace what is there (see the module docstring).

    ``owned``: the caller owns ``target`` by construction (a checkpoint inside its own locked run directory)."""
    inputs = list(inputs)
    if target.exists() and not target.is_dir():
        raise StoreError(f"{target} exists and is not a directory; choose another output path")
    if target.is_dir() and any(target.iterdir()):
        refuse_protected(target, inputs)
        if owned or (fingerprint is not None and existing_fingerprint == fingerprint and is_our_output(target)):
            return  # the caller's own output, or the same output again: harmless
        if not is_our_output(target):
            raise StoreError(f"{target} holds files paddle-electra did not write; it is never replaced, not even "
                             "with --force: choose a new, empty output directory")
        if not force:
            raise StoreError(f"{target} already holds {'a different model' if existing_fingerprint else 'an output'}"
                             "; pass --force to replace it, or choose another output path")
    else:
        refuse_protected(target, inputs)


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


def clean_stale(target: Path) -> None:
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
def atomic_dir(target: Path, *, force: bool = False, fingerprint: str | None = None,
               inputs: Iterable[str | os.PathLike[str] | None] = (), replace_own: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block finishes.

    ``replace_own`` is for outputs the caller owns by construction (a run's ``best_model/`` and checkpoints,
    inside its locked run directory): replaced without ``force``; the protection rules still apply.
    """
    target = Path(target).expanduser().absolute()
    if target.parent.is_dir():
        clean_stale(target)
    existing = (read_provenance(target) or {}).get("fingerprint") if target.is_dir() else None
    guard_output(target, force=force, inputs=inputs, fingerprint=fingerprint, existing_fingerprint=existing,
                 owned=replace_own)
    _check_writable(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))
    try:
        try:
            yield tmp
            (tmp / MARKER_FILE).write_text("written by paddle-electra; --force may replace this directory\n",
                                           encoding="utf-8")
            apply_umask(tmp)
        except OSError as err:
            raise StoreError(describe_os_error(err, target) + (
                f" (the previous output at {target} is untouched)" if target.exists() else "")) from None
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


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary sibling path to write ``target`` through (for writers that take a file name: safetensors, ONNX
    Runtime's quantizer, the TF bundle writer); renamed into place only if the block finishes, else removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle_fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent)
    os.close(handle_fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())
        except OSError as err:
            raise StoreError(describe_os_error(err, target)) from None
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_file(target: Path, mode: str = "w", **open_kwargs: Any) -> Iterator[Any]:
    """Write ``target`` through a temporary sibling renamed into place; a failure leaves the old file."""
    with atomic_path(target) as tmp, open(tmp, mode, **open_kwargs) as handle:
        yield handle  # an OSError here is atomic_path's to turn into one line


@contextlib.contextmanager
def locked(directory: Path, what: str = "this output") -> Iterator[None]:
    """An exclusive lock on ``directory`` (a :data:`LOCK_FILE`, ``flock``): a second writer fails at once."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_FILE, "a+")  # noqa: SIM115 - closed below
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreError(f"{directory} is in use by another paddle-electra process ({what}); wait for it "
                             "to finish or choose another output directory") from None
        yield
    finally:
        handle.close()
