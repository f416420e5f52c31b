"""Using a model: fine-tuned classification (eager or fast), export to Paddle Inference / ONNX, the fast runtime,
and the pretraining heads (fill-mask, replaced-token detection). Imports point down:
finetuned -> export -> fast -> classify; pretraining_heads stands alone.
"""

from .classify import Prediction, predict_texts
from .export import export_model, is_export_dir, read_export_meta
from .fast import FastPredictor, ModelExport, fast_predictor
from .finetuned import load_finetuned, read_labels
from .pretraining_heads import MaskPrediction, TokenScore, detect_replaced, fill_mask

__all__ = ["FastPredictor", "MaskPrediction", "ModelExport", "Prediction", "TokenScore", "detect_replaced",
           "export_model", "fast_predictor", "fill_mask", "is_export_dir", "load_finetuned", "predict_texts",
           "read_export_meta", "read_labels"]
