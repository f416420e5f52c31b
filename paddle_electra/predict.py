"""Predict with a fine-tuned classification directory (``best_model/`` of a fine-tuning run)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]


def read_labels(model_dir: Path) -> tuple[dict, tuple[str, ...]]:
    """``(labels.json contents, labels)`` of a fine-tuned directory, checked."""
    meta_path = model_dir / "labels.json"
    if not model_dir.is_dir():
        raise ConfigError(f"{model_dir}: no such directory; pass the best_model/ directory of a fine-tuning run")
    if not meta_path.is_file():
        raise ConfigError(f"{model_dir}: no labels.json; pass the best_model/ directory of a fine-tuning run")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        labels = tuple(meta["labels"])
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{meta_path}: not a label file written by fine-tuning ({err}); expected "
                          '{"task": ..., "labels": [...]} — restore it from the run directory') from None
    return meta, labels


def load_finetuned(model_dir: str | Path):
    """``(model, tokenizer, labels)`` from a directory written by ``run_finetuning``."""
    from .modeling.heads import ElectraForSeedClassification
    from .tokenizer import load_tokenizer

    model_dir = Path(model_dir)
    meta_path = model_dir / "labels.json"
    meta, labels = read_labels(model_dir)
    if meta.get("head") == "paddlenlp":
        from paddlenlp.transformers import ElectraForSequenceClassification as cls
    else:
        cls = ElectraForSeedClassification
    from .modeling.load import from_pretrained_checked

    model = from_pretrained_checked(cls, model_dir)
    outputs = int(getattr(model, "num_labels", model.config.num_labels))
    if outputs != len(labels):
        raise ConfigError(f"{meta_path} lists {len(labels)} labels but the classifier in {model_dir} has "
                          f"{outputs} outputs; use the labels.json written with this model")
    model.eval()
    return model, load_tokenizer(model_dir), labels


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def predict_texts(model_dir: str | Path, pairs: list[tuple[str, str | None]], max_seq_length: int = 128,
                  batch_size: int = 32, fast: bool = False) -> list[Prediction]:
    """Label each ``(text_a, text_b)``; batches are length-bucketed, results come back in input order.

    ``fast``: run the exported Paddle Inference model (oneDNN on CPU), exporting it to
    ``<model_dir>/export-paddle`` on first use (and again when the weights change); same labels and
    probabilities as the eager model within 1e-4, several times faster on CPU (docs/benchmarks.md).
    """
    from .perf import tune_cpu
    from .textio import is_blank
    from .training.features import Encoded, encode_pair, eval_batches

    tune_cpu()  # before the first matmul of the process: all cores, AVX2 GEMM on AMD
    for i, (a, b) in enumerate(pairs, start=1):
        if is_blank(a) or (b is not None and is_blank(b)):
            raise ConfigError(f"input text {i} ({a!r}{f' ||| {b!r}' if b is not None else ''}) is empty or "
                              "whitespace only (zero-width characters count as whitespace); pass non-empty text")
    if fast:
        from .export import fast_predictor
        from .modeling.config import read_config_json
        from .tokenizer import load_tokenizer

        model_dir = Path(model_dir)
        _, labels = read_labels(model_dir)
        run = fast_predictor(model_dir)
        tokenizer = load_tokenizer(model_dir)
        positions = int(read_config_json(model_dir / "config.json").get("max_position_embeddings", 512))
    else:
        import paddle

        model, tokenizer, labels = load_finetuned(model_dir)
        positions = int(model.config.max_position_embeddings)

        def run(input_ids, token_type_ids, attention_mask) -> np.ndarray:
            with paddle.no_grad():
                return model(input_ids=paddle.to_tensor(input_ids), token_type_ids=paddle.to_tensor(token_type_ids),
                             attention_mask=paddle.to_tensor(attention_mask)).numpy()
    if max_seq_length > positions:  # longer ids would index past the position table
        max_seq_length = positions
    rows = [Encoded(*encode_pair(tokenizer, a, b, max_seq_length)[:2], 0) for a, b in pairs]
    probs = np.zeros((len(rows), len(labels)), dtype="float32")
    for index, batch in eval_batches(rows, batch_size):
        probs[index] = _softmax(run(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]))
    return [Prediction(labels[int(p.argmax())], {lab: float(x) for lab, x in zip(labels, p)}) for p in probs]
