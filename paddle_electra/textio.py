"""Reading user JSON files with errors that give file:line, what the file is, and the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import DataError


def read_json(path: str | os.PathLike[str], what: str = "") -> tuple[Any, str]:
    """(parsed JSON, its text) of a UTF-8 file (a BOM is allowed); ``what`` names the file in messages."""
    subject = f"{what} " if what else ""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read {subject}({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: {subject}{'is ' if what else ''}not valid UTF-8 "
                        f"(byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8") from None
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON{' in ' + what if what else ''} at column {exc.colno} "
                        f"(char {exc.pos}): {exc.msg}") from None
