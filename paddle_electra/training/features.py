"""Classification featurization as the seed does it, and length-bucketed batching.

``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]``, segment ids 0 then 1, the longer text truncated one token at
a time (ties: the second text), as BERT's ``_truncate_seq_pair``. Batches are padded to their own longest
row, not to ``max_seq_length``: with an int64 attention mask the logits are identical, and short-pair tasks
(LCQMC, BQ) run several times faster.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

log = logging.getLogger("paddle_electra.training")


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    token_type_ids: list[int]
    label: int


def truncate_pair(tokens_a: list[str], tokens_b: list[str], max_tokens: int) -> bool:
    """Trim in place, longest first; returns whether anything was cut."""
    cut = False
    while len(tokens_a) + len(tokens_b) > max_tokens:
        (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()
        cut = True
    return cut


def encode_pair(tokenizer, text_a: str, text_b: str | None, max_seq_length: int) -> tuple[list[int], list[int], bool]:
    tokens_a = tokenizer.tokenize(text_a)
    tokens_b = tokenizer.tokenize(text_b) if text_b else []
    cut = truncate_pair(tokens_a, tokens_b, max_seq_length - (3 if tokens_b else 2))
    tokens = ["[CLS]", *tokens_a, "[SEP]"]
    types = [0] * len(tokens)
    if tokens_b:
        tokens += [*tokens_b, "[SEP]"]
        types += [1] * (len(tokens_b) + 1)
    return tokenizer.convert_tokens_to_ids(tokens), types, cut


def encode_classification(examples: Sequence, tokenizer, labels: Sequence[str], max_seq_length: int) -> list[Encoded]:
    """Encode examples; labels outside ``labels`` are a DataError naming the example."""
    index = {label: i for i, label in enumerate(labels)}
    encoded, truncated = [], 0
    for example in examples:
        if example.label not in index:
            raise DataError(f"example {example.guid}: label {example.label!r} not in {list(labels)}")
        ids, types, cut = encode_pair(tokenizer, example.text_a, example.text_b, max_seq_length)
        truncated += cut
        encoded.append(Encoded(ids, types, index[example.label]))
    if truncated:
        log.info("%d of %d examples truncated to max_seq_length %d", truncated, len(encoded), max_seq_length)
    return encoded


def pad_batch(rows: Sequence[Encoded]) -> dict[str, np.ndarray]:
    width = max(len(r.input_ids) for r in rows)
    ids = np.zeros((len(rows), width), dtype="int64")
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for i, row in enumerate(rows):
        n = len(row.input_ids)
        ids[i, :n], types[i, :n], mask[i, :n] = row.input_ids, row.token_type_ids, 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
            "labels": np.array([r.label for r in rows], dtype="int64")}


def train_batches(rows: Sequence[Encoded], batch_size: int, epoch: int, seed: int,
                  shuffle: bool = True) -> list[list[int]]:
    """Shuffled index batches for one epoch, reproducible from (seed, epoch) so a resumed run sees the same order.

    Like the seed (``drop_remainder=True`` in training), the last partial batch is dropped. ``shuffle=False``:
    file order every epoch (for side-by-side runs against another implementation).
    """
    order = list(range(len(rows)))
    if shuffle:
        random.Random(seed * 1000003 + epoch).shuffle(order)
    if len(order) < batch_size:
        return [order] if order else []  # fewer examples than one batch: one smaller batch, not none
    return [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]


def eval_batches(rows: Sequence[Encoded], batch_size: int, bucket: bool = True) -> Iterator[tuple[list[int], dict]]:
    """Batches sorted by length (``bucket``) so padding is minimal; yields original indices with each batch."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].input_ids)) if bucket else list(range(len(rows)))
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        yield chunk, pad_batch([rows[i] for i in chunk])
