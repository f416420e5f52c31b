"""A fine-tuned classification directory (``best_model/`` of a fine-tuning run): its labels and its model."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError


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
    from ..modeling.heads import ElectraForSeedClassification
    from ..tokenizer import load_tokenizer

    model_dir = Path(model_dir)
    meta_path = model_dir / "labels.json"
    meta, labels = read_labels(model_dir)
    if meta.get("head") == "paddlenlp":
        from paddlenlp.transformers import ElectraForSequenceClassification as cls
    else:
        cls = ElectraForSeedClassification
    from ..modeling.load import from_pretrained_checked

    model = from_pretrained_checked(cls, model_dir)
    outputs = int(getattr(model, "num_labels", model.config.num_labels))
    if outputs != len(labels):
        raise ConfigError(f"{meta_path} lists {len(labels)} labels but the classifier in {model_dir} has "
                          f"{outputs} outputs; use the labels.json written with this model")
    model.eval()
    return model, load_tokenizer(model_dir), labels
