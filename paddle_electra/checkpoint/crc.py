"""CRC-32C (Castagnoli) as TF and LevelDB store it (masked), through google-crc32c's C build.

A numpy crc once stood here for machines without that C build: measured on this CPU it takes 0.023 s/MB against
0.19 s/MB for google-crc32c's pure-Python fallback and 0.00016 s/MB for its C build. Every platform paddle-electra
supports has a C wheel, so the fallback only warns (once) that checking a large checkpoint will be slow.
"""

from __future__ import annotations

import logging
import warnings

with warnings.catch_warnings():  # google_crc32c warns at import when it falls back to pure Python
    warnings.simplefilter("ignore", RuntimeWarning)
    import google_crc32c

__all__ = ["crc32c", "mask_crc32c", "unmask_crc32c"]
log = logging.getLogger(__name__)
_U32 = 0xFFFFFFFF
_MASK_DELTA = 0xA282EAD8
_PIECE = 8 << 20  # google_crc32c takes bytes: copy bounded pieces of a large tensor, not the whole of it
_warned = False


def crc32c(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``crc``."""
    global _warned
    if google_crc32c.implementation != "c" and not _warned:
        _warned = True
        log.warning("google-crc32c has no C build here (pure Python, ~0.2 s per MB): checking checkpoint CRCs "
                    "will be slow; pip install --force-reinstall google-crc32c")
    if isinstance(data, bytes):
        return google_crc32c.extend(crc, data)
    view = memoryview(data).cast("B")
    for start in range(0, len(view), _PIECE):
        crc = google_crc32c.extend(crc, bytes(view[start : start + _PIECE]))
    return crc


def mask_crc32c(crc: int) -> int:
    """TF/LevelDB store ``rotr(crc, 15) + 0xa282ead8`` so that crcs of data containing crcs stay strong."""
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask_crc32c(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32
