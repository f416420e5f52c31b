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


# Encodings real Chinese task files and corpora come in, tried in this order (CAIL 2018's train is GB18030).
# GB18030 is a superset of GBK and GB2312, so one decoder covers all three.
CANDIDATE_ENCODINGS = ("utf-8", "gb18030")


def detect_encoding(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """``"utf-8"`` (a BOM allowed) or ``"gb18030"``: the first that decodes the whole file strictly.

    Why decode everything: a GB18030 file's first megabyte can be valid UTF-8 by chance only for ASCII, and a
    wrong guess would turn every character into U+FFFD silently. The error names file:line of the first byte
    no candidate decodes.
    """
    import codecs

    first_error: tuple[int, int] | None = None
    for encoding in CANDIDATE_ENCODINGS:
        decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding == "utf-8" else encoding)()
        line, offset = 1, 0
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(chunk), b""):
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        raise _BadByte(line + block.count(b"\n", 0, exc.start), offset + exc.start) from None
                    line += block.count(b"\n")
                    offset += len(block)
                decoder.decode(b"", final=True)
            return encoding
        except _BadByte as bad:
            first_error = first_error or (bad.line, bad.offset)
        except UnicodeDecodeError:
            first_error = first_error or (line, offset)
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    line, offset = first_error or (1, 0)
    raise DataError(f"{path}:{line}: not valid UTF-8 (nor GB18030/GBK): undecodable byte at offset {offset}; "
                    "re-save the file as UTF-8")


class _BadByte(Exception):
    def __init__(self, line: int, offset: int):
        super().__init__(line, offset)
        self.line, self.offset = line, offset


def visible(text: str) -> str:
    """``text`` without format characters (zero-width spaces/joiners, BOMs, bidi marks) and outer whitespace.

    Why: a text of only U+200B looks empty to a person and tokenizes to nothing, so it must be treated as
    empty (refused as training data, reported at predict time), never as a text.
    """
    import unicodedata

    if text.isascii():
        return text.strip()
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def is_blank(text: str | None) -> bool:
    return text is None or not visible(text)
