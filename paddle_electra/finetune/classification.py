"""Sequence classification on [CLS] (ChnSentiCorp, LCQMC, BQ, XNLI, CAIL, custom) with the seed's head."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..metrics.classification import accuracy, format_metrics
from ..tasks import load_split
from ..training.features import encode_classification, eval_batches, pad_batch, train_batches
from .settings import FinetuneSettings, model_overrides
from .shared import eval_splits, init_head, scoring_predictor, scoring_runtime, train_and_report


def _classifier(model_dir: Path, num_labels: int, head: str, overrides: dict[str, Any] | None = None):
    from ..modeling.heads import ElectraForSeedClassification

    if head == "paddlenlp":
        from paddlenlp.transformers import ElectraForSequenceClassification as cls
    else:
        cls = ElectraForSeedClassification
    from ..modeling.load import from_pretrained_checked

    return from_pretrained_checked(cls, model_dir, num_labels=num_labels, **(overrides or {}))


def _save_model_dir(model, tokenizer, labels: tuple[str, ...], settings: FinetuneSettings):
    def save(model_, directory: Path) -> None:
        from ..store import stamp_model_dir

        model_.save_pretrained(str(directory))
        tokenizer.save_pretrained(str(directory))
        stamp_model_dir(directory, head="seq-cls", task=settings.task, model_head=settings.head,
                        num_labels=len(labels))
        (directory / "labels.json").write_text(json.dumps({"task": settings.task, "labels": list(labels),
                                                           "head": settings.head}, ensure_ascii=False))
    return save


def evaluate_classification(model, rows, batch_size: int, fast=None) -> dict[str, float]:
    """Accuracy and mean loss over ``rows``; ``fast``: a :class:`~..inference.fast.ModelExport` of ``model``
    (its logits are the eager model's within 1e-4, checked at each export), else eager Paddle."""
    import paddle
    import paddle.nn.functional as F

    model.eval()
    run = scoring_predictor(fast) if fast is not None else None
    preds = np.zeros(len(rows), dtype="int64")
    losses = np.zeros(len(rows), dtype="float64")
    with paddle.no_grad():
        for index, batch in eval_batches(rows, batch_size):
            if run is not None:
                logits = run(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]).astype("float64")
                log_probs = logits - logits.max(-1, keepdims=True)
                log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
                losses[index] = -log_probs[np.arange(len(logits)), np.asarray(batch["labels"]).reshape(-1)]
                preds[index] = logits.argmax(-1)
                continue
            logits = model(input_ids=paddle.to_tensor(batch["input_ids"]),
                           token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                           attention_mask=paddle.to_tensor(batch["attention_mask"]))
            logits = logits[0] if isinstance(logits, (tuple, list)) else logits
            labels = paddle.to_tensor(batch["labels"]).reshape([-1, 1])
            losses[index] = F.cross_entropy(logits, labels, reduction="none").numpy().reshape(-1)
            preds[index] = logits.argmax(-1).numpy()
    gold = np.array([r.label for r in rows])
    acc = accuracy(preds, gold)
    return {"accuracy": acc, "loss": float(losses.mean()), "score": acc}


def run_classification(spec, data_dir, model_dir: Path, out: Path, settings: FinetuneSettings):
    import paddle

    from ..tokenizer import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    labels_path = out / "task_labels.json"
    train = load_split(spec, data_dir, "train", labels_path=labels_path) if settings.do_train else None
    labels = train.labels if train else load_split(spec, data_dir, "dev", labels_path=labels_path).labels
    eval_rows = {
        split: encode_classification(load_split(spec, data_dir, split, labels_path=labels_path).examples,
                                     tokenizer, labels, settings.max_seq_length)
        for split in eval_splits(spec, data_dir, settings)
    }
    paddle.seed(settings.seed)
    model = _classifier(model_dir, len(labels), settings.head, model_overrides(settings))
    init_head(model, settings)
    save = _save_model_dir(model, tokenizer, labels, settings)
    if train is not None:
        rows = encode_classification(train.examples, tokenizer, labels, settings.max_seq_length)
        cache: dict[int, list] = {}

        def batches_for_epoch(epoch: int):
            if epoch not in cache:
                cache.clear()
                cache[epoch] = [pad_batch([rows[i] for i in idx])
                                for idx in train_batches(rows, settings.train_batch_size, epoch, settings.seed,
                                                         shuffle=settings.shuffle)]
            return cache[epoch]

        def loss_fn(model_, batch):
            logits = model_(input_ids=paddle.to_tensor(batch["input_ids"]),
                            token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                            attention_mask=paddle.to_tensor(batch["attention_mask"]))
            logits = logits[0] if isinstance(logits, (tuple, list)) else logits
            return paddle.nn.functional.cross_entropy(logits, paddle.to_tensor(batch["labels"]).reshape([-1, 1]),
                                                      reduction=settings.loss_reduction)

    exporter = scoring_runtime(model, settings)

    def score(split: str) -> dict[str, float]:
        return evaluate_classification(model, eval_rows[split], settings.eval_batch_size, exporter)

    return train_and_report(model, out, settings, list(eval_rows), score,
                            lambda metrics: format_metrics(spec.name, metrics),
                            (batches_for_epoch, loss_fn, save) if train is not None else None)
