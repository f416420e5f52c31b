"""A run directory remembers what it was made from, so a re-run resumes only the same run.

Why: resuming is automatic (a killed run continues where it stopped), so re-running into an existing output
with other data, another model or other hyperparameters would otherwise continue the old run and report the
old model. ``run.json`` holds the identity; a different identity is refused with the choices spelled out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..fs import LOCK_FILE, MARKER_FILE, atomic_file, is_our_output

log = logging.getLogger("paddle_electra.training")
RUN_FILE = "run.json"
BOOKKEEPING = frozenset({LOCK_FILE, MARKER_FILE, RUN_FILE})  # what claiming a run directory writes


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}")
    return found


def claim_run_dir(out: Path, identity: dict[str, Any], resume: bool) -> None:
    """Make ``out`` this run's directory, or refuse: another run's files are never resumed or mixed in."""
    check_run_dir(out, identity, resume)
    if not resume:
        _discard_previous(out)
    (out / MARKER_FILE).write_text("a paddle-electra fine-tuning run\n", encoding="utf-8")
    with atomic_file(out / RUN_FILE, encoding="utf-8") as handle:
        json.dump(identity, handle, indent=1, sort_keys=True)


def check_run_dir(out: Path, identity: dict[str, Any], resume: bool) -> None:
    """Raise unless ``out`` is empty, absent, or this same run (writes nothing: safe before taking the lock)."""
    entries = [p for p in out.iterdir() if p.name != LOCK_FILE] if out.is_dir() else []
    run_file = out / RUN_FILE
    if entries and not is_our_output(out) and not run_file.is_file():
        raise StoreError(f"{out} holds files paddle-electra did not write; choose a new, empty --output")
    if run_file.is_file():
        try:
            old = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        changed = _differences(old, identity)
        has_checkpoints = any((out / "checkpoints").glob("step-*")) if (out / "checkpoints").is_dir() else False
        if changed and resume and (has_checkpoints or (out / "best_model").is_dir()):
            raise StoreError(
                f"{out} holds another run (different {', '.join(changed[:4])}); resuming it would continue that run — "
                "choose another --output, or pass --no-resume to start over in it (its checkpoints and best_model/ "
                "are replaced)")
    elif entries and resume and any(p.name in ("checkpoints", "best_model") for p in entries):
        raise StoreError(f"{out} holds a run without {RUN_FILE} (written by an older paddle-electra), so it cannot be "
                         "checked to match; choose another --output, or pass --no-resume to start over in it")


def _discard_previous(out: Path) -> None:
    """--no-resume: the user asked for a fresh run here, so the previous run's own outputs go (nothing else)."""
    import shutil

    for name in ("checkpoints", "best_model"):
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    for name in ("curve.jsonl", "results.txt", "results.json"):
        if (out / name).is_file():
            (out / name).unlink()
    log.info("--no-resume: previous run in %s discarded", out)
