"""What a reader did with one file (kept, skipped and warned, by reason), and the codec it read the file with."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddle_electra.errors import DataError
from paddle_electra.textio import detect_encoding

logger = logging.getLogger("paddle_electra.tasks")
_MAX_LISTED = 10  # line numbers listed in one log line


@dataclass
class ReadReport:
    """What a reader did with one file: examples kept, lines/records skipped and warnings, by reason."""

    path: Path
    split: str
    n_examples: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    skipped_lines: dict[str, list[int]] = field(default_factory=dict)

    def skip(self, reason: str, line: int | None = None) -> None:
        self.skipped[reason] += 1
        if line is not None:
            self.skipped_lines.setdefault(reason, []).append(line)

    def summary(self) -> str:
        """One log line: ``path (split): N examples; skipped: reason n (lines …); warnings: …``."""
        noun = "example" if self.n_examples == 1 else "examples"
        parts = [f"{self.path} ({self.split}): {self.n_examples} {noun}"]
        if self.skipped:
            items = []
            for reason, n in self.skipped.items():
                lines = self.skipped_lines.get(reason, [])
                where = ""
                if lines:
                    shown = ", ".join(map(str, lines[:_MAX_LISTED]))
                    more = ", …" if len(lines) > _MAX_LISTED else ""
                    where = f" (line{'s' if len(lines) > 1 else ''} {shown}{more})"
                items.append(f"{reason} {n}{where}")
            parts.append("skipped: " + "; ".join(items))
        if self.warnings:
            parts.append("warnings: " + "; ".join(f"{k} {v}" for k, v in self.warnings.items()))
        return "; ".join(parts)

    def log(self) -> None:
        unusual = any(reason != "header" for reason in self.skipped) or bool(self.warnings)
        logger.log(logging.WARNING if unusual else logging.INFO, "%s", self.summary())


def text_encoding(path: Path, report: ReadReport | None = None) -> str:
    """The codec to read ``path`` with: ``utf-8-sig`` (a BOM is dropped) or ``gb18030``, noted in ``report``."""
    encoding = detect_encoding(path)
    if encoding == "utf-8":
        return "utf-8-sig"
    if report is not None:
        report.warnings[f"read as {encoding.upper()} (not UTF-8)"] += 1
    return encoding


def finish(examples: list[Any], report: ReadReport) -> tuple[list[Any], ReadReport]:
    """Count, log, and refuse an empty result (naming the file and what was skipped)."""
    report.n_examples = len(examples)
    report.log()
    if not examples:
        raise DataError(f"{report.path}: no examples ({report.summary()})")
    return examples, report
