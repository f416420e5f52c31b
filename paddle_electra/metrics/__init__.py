"""Evaluation metrics: the official CMRC 2018/DRCD EM/F1 and the seed's classification accuracy."""

from paddle_electra.metrics.classification import accuracy, format_metrics
from paddle_electra.metrics.qa_eval import QAScore, evaluate, mixed_segmentation, score

__all__ = [
    "QAScore",
    "accuracy",
    "evaluate",
    "format_metrics",
    "mixed_segmentation",
    "score",
]
