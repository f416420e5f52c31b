"""ELECTRA's dynamic masking, done in numpy on the host for each batch (google-research/electra
``pretrain/pretrain_helpers.py`` ``mask``), so the mask of step ``k`` depends only on the run's seed and ``k``.

The original's rules, kept as they are:

* **Candidates**: any real token (``input_mask`` 1) that is not ``[CLS]``, ``[SEP]``, ``[MASK]`` or ``[PAD]``.
* **How many**: ``n = max(1, min(N, round(mask_prob * num_real_tokens)))`` prediction slots per sequence, with
  ``N = max_predictions_per_seq = int((mask_prob + 0.005) * max_seq_length)`` (19 for 15 % of 128). ``round``
  rounds half to even, as ``tf.round`` does.
* **Where**: each slot draws a position uniformly from the candidates **with replacement** (``tf.random.categorical``),
  so a position can be drawn twice; the MLM loss then counts it twice, as in the original. The distinct masked
  share is therefore a little below ``mask_prob`` (about 13.9 % of a full 128-token sequence).
* **How**: 85 % of the slots put ``[MASK]`` at their position; the other 15 % leave the original token there (the
  generator still predicts it). There is no "random token" branch: replacement is the generator's job.
* Unused slots (``weight`` 0) point at position 0 with id 0, as in the original.

A sequence with no candidate at all (only ``[CLS] [SEP]``) gets no prediction slot; the original would divide
by zero there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASK_TOKEN_SHARE = 0.85  # share of prediction slots that show [MASK] to the generator (the rest keep the token)


@dataclass(frozen=True)
class SpecialIds:
    pad: int
    unk: int
    cls: int
    sep: int
    mask: int

    @classmethod
    def from_vocab(cls, vocab: dict[str, int]) -> SpecialIds:
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t not in vocab]
        if missing:
            from ..errors import ConfigError

            raise ConfigError(f"vocab.txt lacks {', '.join(missing)}; pretraining needs BERT's special tokens")
        return cls(vocab["[PAD]"], vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"])


def max_predictions_per_seq(mask_prob: float, max_seq_length: int) -> int:
    """The original's slot count: ``int((mask_prob + 0.005) * max_seq_length)``."""
    return int((mask_prob + 0.005) * max_seq_length)


def mask_batch(input_ids: np.ndarray, input_mask: np.ndarray, special: SpecialIds, mask_prob: float,
               max_predictions: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Mask one ``[B, L]`` batch; returns the generator's input and the prediction slots (all int64 but weights).

    Keys: ``masked_input_ids`` [B, L], ``masked_lm_positions`` / ``masked_lm_ids`` [B, N] int64,
    ``masked_lm_weights`` [B, N] float32, ``first_slot`` [B, N] bool (the first valid slot of each distinct
    position: the slot whose generator sample is written into the discriminator's input) and ``mask_shown``
    [B, N] bool (slots that put ``[MASK]`` into the generator's input).
    """
    input_ids = np.asarray(input_ids, dtype=np.int64)
    input_mask = np.asarray(input_mask, dtype=np.int64)
    batch, length = input_ids.shape
    n = int(max_predictions)
    candidates = input_mask.astype(bool)
    for token in (special.sep, special.cls, special.mask, special.pad):
        candidates &= input_ids != token
    num_tokens = input_mask.sum(-1).astype(np.float64)
    num_to_predict = np.maximum(1, np.minimum(n, np.rint(num_tokens * mask_prob).astype(np.int64)))
    num_to_predict[~candidates.any(-1)] = 0
    weights = np.arange(n)[None, :] < num_to_predict[:, None]

    positions = np.zeros((batch, n), dtype=np.int64)
    draws = rng.random((batch, n))
    for row in range(batch):
        allowed = np.flatnonzero(candidates[row])
        if allowed.size:
            positions[row] = allowed[np.minimum((draws[row] * allowed.size).astype(np.int64), allowed.size - 1)]
    positions *= weights
    masked_ids = np.take_along_axis(input_ids, positions, axis=1) * weights

    show_mask = (rng.random((batch, n)) < MASK_TOKEN_SHARE) & weights & (positions > 0)
    generator_input = input_ids.copy()
    rows = np.broadcast_to(np.arange(batch)[:, None], (batch, n))
    generator_input[rows[show_mask], positions[show_mask]] = special.mask

    first = np.zeros((batch, n), dtype=bool)
    for row in range(batch):
        valid = np.flatnonzero(weights[row] & (positions[row] > 0))
        _, first_index = np.unique(positions[row, valid], return_index=True)
        first[row, valid[first_index]] = True
    return {
        "masked_input_ids": generator_input,
        "masked_lm_positions": positions,
        "masked_lm_ids": masked_ids.astype(np.int64),
        "masked_lm_weights": weights.astype(np.float32),
        "first_slot": first,
        "mask_shown": show_mask,
    }


def masking_stats(batch: dict[str, np.ndarray], input_ids: np.ndarray, input_mask: np.ndarray,
                  special: SpecialIds) -> dict[str, float]:
    """Shares that describe a masked batch (used by tests and the docs' table)."""
    weights = batch["masked_lm_weights"] > 0
    positions = batch["masked_lm_positions"]
    real = input_mask.astype(bool)
    masked_positions = np.zeros_like(real)
    rows = np.broadcast_to(np.arange(real.shape[0])[:, None], positions.shape)
    masked_positions[rows[weights], positions[weights]] = True
    specials = np.isin(input_ids, [special.cls, special.sep, special.pad, special.mask])
    return {
        "slots_per_token": float(weights.sum() / real.sum()),
        "distinct_masked_per_token": float(masked_positions.sum() / real.sum()),
        "mask_token_share": float(batch["mask_shown"].sum() / max(1, weights.sum())),
        "specials_masked": float((masked_positions & specials).sum()),
        "padding_masked": float((masked_positions & ~real).sum()),
    }
