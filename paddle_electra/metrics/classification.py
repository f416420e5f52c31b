"""Classification metrics with the seed's reporting format.

The seed (``finetune/classification/classification_metrics.py`` ``AccuracyScorer`` and ``finetune/scorer.py``)
reports accuracy as a percentage and the mean per-example loss, printed as
``"<task>: accuracy: 86.70 - loss: 0.33"`` (``"{:}: {:.2f}"`` joined by ``" - "``). The same line format is
used for ``results.txt``; mirroring it keeps logs diffable against the seed's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InputError

__all__ = ["accuracy", "format_metrics"]


def _as_list(values: Any) -> list[Any]:
    if hasattr(values, "tolist"):  # numpy arrays and paddle tensors
        values = values.tolist()
    return list(values)


def accuracy(preds: Sequence[Any] | Any, labels: Sequence[Any] | Any) -> float:
    """Percentage (0-100) of ``preds`` equal to ``labels``, as the seed's ``AccuracyScorer`` reports it."""
    p, y = _as_list(preds), _as_list(labels)
    if len(p) != len(y):
        raise InputError(f"accuracy: {len(p)} predictions but {len(y)} labels")
    if not p:
        raise InputError("accuracy: no examples to score; check that the split has rows")
    correct = sum(1 for a, b in zip(p, y) if a == b)
    return 100.0 * correct / len(p)


def format_metrics(task: str, metrics: Mapping[str, float]) -> str:
    """The seed's one-line summary: ``task: k1: v1 - k2: v2`` with two decimals, in mapping order."""
    return task + ": " + " - ".join(f"{k}: {v:.2f}" for k, v in metrics.items())

