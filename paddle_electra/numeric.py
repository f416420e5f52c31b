"""Numpy numerics shared by every decoder (classification probabilities, QA n-best, fill-mask, RTD)."""

from __future__ import annotations

import numpy as np


def softmax(logits, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in the input's float precision (float64 for Python lists)."""
    values = np.asarray(logits, dtype=np.result_type(np.asarray(logits).dtype, np.float32))
    shifted = np.exp(values - values.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def sigmoid(logits) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits)))
