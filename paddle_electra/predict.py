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


def load_finetuned(model_dir: str | Path):
    """``(model, tokenizer, labels)`` from a directory written by ``run_finetuning``."""
    from .modeling.heads import ElectraForSeedClassification
    from .tokenizer import load_tokenizer

    model_dir = Path(model_dir)
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


def predict_texts(model_dir: str | Path, pairs: list[tuple[str, str | None]], max_seq_length: int = 128,
                  batch_size: int = 32) -> list[Prediction]:
    """Label each ``(text_a, text_b)``; batches are length-bucketed, results come back in input order."""
    import paddle
    import paddle.nn.functional as F

    from .training.features import Encoded, encode_pair, eval_batches

    model, tokenizer, labels = load_finetuned(model_dir)
    for i, (a, b) in enumerate(pairs, start=1):
        if not a or not a.strip() or (b is not None and not b.strip()):
            raise ConfigError(f"input text {i} ({a!r}{f' ||| {b!r}' if b is not None else ''}) is empty or "
                              "whitespace only; pass non-empty text")
    positions = int(model.config.max_position_embeddings)
    if max_seq_length > positions:  # longer ids would index past the position table
        max_seq_length = positions
    rows = [Encoded(*encode_pair(tokenizer, a, b, max_seq_length)[:2], 0) for a, b in pairs]
    probs = np.zeros((len(rows), len(labels)), dtype="float32")
    with paddle.no_grad():
        for index, batch in eval_batches(rows, batch_size):
            logits = model(input_ids=paddle.to_tensor(batch["input_ids"]),
                           token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                           attention_mask=paddle.to_tensor(batch["attention_mask"]))
            probs[index] = F.softmax(logits, -1).numpy()
    return [Prediction(labels[int(p.argmax())], {lab: float(x) for lab, x in zip(labels, p)}) for p in probs]
