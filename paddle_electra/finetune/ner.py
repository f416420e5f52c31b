"""Token classification (NER) fine-tuning with the seed's recipe: PaddleNLP's token head, entity-level F1.

The seed trains no tagging task, so the head is PaddleNLP's ``ElectraForTokenClassification`` (dropout + one
Linear per token); the optimizer, schedule, layerwise decay and checkpointing are the classification recipe's.
A token's tag is predicted on its first word piece; [CLS], [SEP], padding and later pieces carry no label
(-100), so padding can never count as an entity.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .settings import model_overrides
from .shared import eval_splits, init_head, train_and_report

log = logging.getLogger("paddle_electra.finetune")
IGNORE = -100


@dataclass(frozen=True)
class TaggedRow:
    input_ids: list[int]
    token_type_ids: list[int]
    labels: list[int]  # per word piece; IGNORE where no tag is predicted
    n_tokens: int  # tokens kept after truncation (their tags are predicted)


def encode_tokens(tokenizer, tokens: tuple[str, ...] | list[str], tags: tuple[str, ...] | None,
                  tag_ids: dict[str, int], max_seq_length: int) -> TaggedRow:
    """[CLS] pieces... [SEP]; each token's first piece carries its tag. Tokens past the length are dropped."""
    ids, labels, kept = [tokenizer.convert_tokens_to_ids("[CLS]")], [IGNORE], 0
    unk = tokenizer.convert_tokens_to_ids("[UNK]")
    for index, token in enumerate(tokens):
        pieces = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(token)) or [unk]
        if len(ids) + len(pieces) > max_seq_length - 1:
            break
        ids += pieces
        labels += [tag_ids[tags[index]] if tags is not None else 0] + [IGNORE] * (len(pieces) - 1)
        kept += 1
    ids.append(tokenizer.convert_tokens_to_ids("[SEP]"))
    labels.append(IGNORE)
    return TaggedRow(ids, [0] * len(ids), labels, kept)


def encode_tagged(examples, tokenizer, tags: tuple[str, ...], max_seq_length: int) -> list[TaggedRow]:
    tag_ids = {t: i for i, t in enumerate(tags)}
    rows = []
    for example in examples:
        unknown = [t for t in example.tags if t not in tag_ids]
        if unknown:
            raise DataError(f"example {example.guid}: tag {unknown[0]!r} does not occur in the training data "
                            f"({', '.join(tags[:8])}…); add it to train or fix the tag")
        rows.append(encode_tokens(tokenizer, example.tokens, example.tags, tag_ids, max_seq_length))
    cut = sum(r.n_tokens < len(e.tokens) for r, e in zip(rows, examples))
    if cut:
        log.warning("%d of %d sentences longer than max_seq_length %d: their last tokens are scored as 'O'", cut,
                    len(rows), max_seq_length)
    return rows


def pad_tagged(rows: list[TaggedRow]) -> dict[str, np.ndarray]:
    width = max(len(r.input_ids) for r in rows)
    ids = np.zeros((len(rows), width), dtype="int64")
    mask, labels = np.zeros_like(ids), np.full_like(ids, IGNORE)
    for i, row in enumerate(rows):
        n = len(row.input_ids)
        ids[i, :n], mask[i, :n], labels[i, :n] = row.input_ids, 1, row.labels
    return {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": mask, "labels": labels}


def predict_tags(model, rows: list[TaggedRow], tags: tuple[str, ...], batch_size: int,
                 lengths: list[int]) -> list[tuple[str, ...]]:
    """The predicted tag of every token (first piece); tokens cut by truncation are 'O'."""
    import paddle

    model.eval()
    out: list[tuple[str, ...]] = [()] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].input_ids))
    with paddle.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = pad_tagged([rows[i] for i in chunk])
            logits = model(input_ids=paddle.to_tensor(batch["input_ids"]),
                           token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                           attention_mask=paddle.to_tensor(batch["attention_mask"]))
            best = (logits[0] if isinstance(logits, (tuple, list)) else logits).numpy().argmax(-1)
            for row_index, i in enumerate(chunk):
                # first pieces carry a label (prediction rows: a 0 placeholder); the rest are IGNORE
                first_pieces = [k for k, label in enumerate(rows[i].labels) if label != IGNORE]
                predicted = [tags[int(best[row_index, k])] for k in first_pieces]
                out[i] = tuple(predicted + ["O"] * (lengths[i] - len(predicted)))
    return out


def _loss(model, batch) -> Any:
    import paddle
    import paddle.nn.functional as F

    logits = model(input_ids=paddle.to_tensor(batch["input_ids"]),
                   token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                   attention_mask=paddle.to_tensor(batch["attention_mask"]))
    logits = logits[0] if isinstance(logits, (tuple, list)) else logits
    return F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), paddle.to_tensor(batch["labels"]).reshape([-1]),
                           ignore_index=IGNORE)


def run_ner(spec, data_dir, model_dir: Path, out: Path, settings) -> dict[str, dict[str, float]]:
    import paddle
    from paddlenlp.transformers import ElectraForTokenClassification

    from ..modeling.load import from_pretrained_checked
    from ..store import stamp_model_dir
    from ..tasks import load_split
    from ..tasks.ner import chunk_f1
    from ..tokenizer import load_tokenizer
    from ..training.features import train_batches

    tokenizer = load_tokenizer(model_dir)
    if settings.do_train:
        train = load_split(spec, data_dir, "train")
        tags = train.labels
    else:
        from ..inference.finetuned import read_labels

        tags = read_labels(model_dir)[1]
    splits = {s: load_split(spec, data_dir, s).examples for s in eval_splits(spec, data_dir, settings)}
    encoded = {s: encode_tagged(ex, tokenizer, tags, settings.max_seq_length) for s, ex in splits.items()}
    paddle.seed(settings.seed)
    model = from_pretrained_checked(ElectraForTokenClassification, model_dir, num_labels=len(tags),
                                    **model_overrides(settings))
    init_head(model, settings)

    def score(split: str) -> dict[str, float]:
        gold = [e.tags for e in splits[split]]
        predicted = predict_tags(model, encoded[split], tags, settings.eval_batch_size, [len(g) for g in gold])
        metrics = chunk_f1(gold, predicted)
        return {**metrics, "score": metrics["f1"]}

    def save(model_, directory: Path) -> None:
        model_.save_pretrained(str(directory))
        tokenizer.save_pretrained(str(directory))
        stamp_model_dir(directory, head="token-cls", task=spec.name, model_head="paddlenlp", num_labels=len(tags))
        (directory / "labels.json").write_text(json.dumps({"task": spec.name, "labels": list(tags),
                                                           "head": "token-cls"}, ensure_ascii=False))

    if settings.do_train:
        rows = encode_tagged(train.examples, tokenizer, tags, settings.max_seq_length)

        def batches_for_epoch(epoch: int):
            return [pad_tagged([rows[i] for i in idx])
                    for idx in train_batches(rows, settings.train_batch_size, epoch, settings.seed,
                                             shuffle=settings.shuffle)]

    def line_for(m: dict[str, float]) -> str:
        return f"{spec.name}: precision: {m['precision']:.4f} - recall: {m['recall']:.4f} - f1: {m['f1']:.4f}"

    return train_and_report(model, out, settings, list(splits), score, line_for,
                            (batches_for_epoch, _loss, save) if settings.do_train else None)


def tag_texts(model_dir: str | Path, texts: list[str], max_seq_length: int = 128) -> list[list[tuple[str, str]]]:
    """``[(character, tag), ...]`` per text from a fine-tuned NER directory (characters are the tokens)."""
    from paddlenlp.transformers import ElectraForTokenClassification

    from ..inference.finetuned import read_labels
    from ..modeling.load import from_pretrained_checked
    from ..tokenizer import load_tokenizer

    model_dir = Path(model_dir)
    _, tags = read_labels(model_dir)
    tokenizer = load_tokenizer(model_dir)
    model = from_pretrained_checked(ElectraForTokenClassification, model_dir)
    tokens = [[ch for ch in text if not ch.isspace()] for text in texts]
    rows = [encode_tokens(tokenizer, t, None, {}, max_seq_length) for t in tokens]
    predicted = predict_tags(model, rows, tags, 32, [len(t) for t in tokens])
    return [list(zip(t, p)) for t, p in zip(tokens, predicted)]
