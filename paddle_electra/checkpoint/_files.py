"""Checks shared by the checkpoint readers before they open a file."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError


def checked_file(path: str | os.PathLike[str], expected: str) -> tuple[Path, int]:
    """``(path, size)`` of an existing, non-empty regular file; ``expected`` names it in the error."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file; check the path or download the checkpoint first")
    if p.is_dir():
        raise CheckpointError(f"{p} is a directory; pass the {expected} file inside it")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(f"{p} is empty (0 bytes); the download was interrupted, download it again")
    return p, size
