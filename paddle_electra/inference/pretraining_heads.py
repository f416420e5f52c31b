"""Pretraining heads used directly: generator fill-mask and discriminator replaced-token detection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..numeric import sigmoid, softmax


@dataclass(frozen=True)
class MaskPrediction:
    position: int  # token index in the encoded sequence ([CLS] is 0)
    candidates: list[tuple[str, float]]  # (token, probability), best first


@dataclass(frozen=True)
class TokenScore:
    token: str
    replaced_prob: float


def _encode(tokenizer, texts: list[str], max_seq_len: int) -> dict[str, np.ndarray]:
    if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
        raise ConfigError("every input text must be a non-empty string")
    batch = tokenizer(texts, max_length=max_seq_len, truncation=True, padding=True, return_attention_mask=True)
    return {k: np.asarray(batch[k], dtype="int64") for k in ("input_ids", "token_type_ids", "attention_mask")}


def _forward(model, encoded: dict[str, np.ndarray], rtd: bool = False) -> np.ndarray:
    """The generator's logits [B, L, V], or (``rtd``) the discriminator's replaced-token logits [B, L]."""
    import paddle

    from ..compat import rtd_logits

    inputs = {k: paddle.to_tensor(encoded[k]) for k in ("input_ids", "token_type_ids", "attention_mask")}
    with paddle.no_grad():  # int64 attention mask: Paddle adds a float mask as-is, it converts only int/bool masks
        if rtd:
            hidden = model.electra(**inputs)
            out = rtd_logits(model.discriminator_predictions, hidden[0] if isinstance(hidden, (tuple, list))
                             else hidden)
        else:
            out = model(**inputs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.numpy()


def _require_role(model_dir: str | Path, role: str, job: str) -> None:
    """fill-mask needs the generator's MLM head, RTD the discriminator's: the other half has none to use."""
    from ..catalog import companion_dir_name
    from ..modeling.load import stored_head
    from ..store import read_meta, resolve

    path = resolve(model_dir)
    have = read_meta(path).get("role") or stored_head(path)
    if have != role:
        companion = companion_dir_name(path.name, role)
        hint = f" (e.g. {companion})" if have in ("discriminator", "generator") else ""
        raise ConfigError(f"{path} is a{'n' if have[0] in 'aeiou' else ''} {have} model; {job} needs the {role}"
                          f"{hint} — pass the {role} directory or name")


def _prepare(model_dir: str | Path, role: str, job: str, texts: list[str], max_seq_len: int, model, tokenizer):
    """The model (loaded as ``role`` after checking it is one), its tokenizer and the encoded texts."""
    from ..modeling.load import load_model
    from ..tokenizer import load_tokenizer

    if model is None:
        _require_role(model_dir, role, job)
        model, model_dir = load_model(model_dir, head=role)
    from ..modeling.config import fit_length

    tokenizer = tokenizer or load_tokenizer(model_dir)
    max_seq_len = fit_length(max_seq_len, int(model.config.max_position_embeddings), "max_seq_len")
    return model, tokenizer, _encode(tokenizer, texts, max_seq_len)


def fill_mask(model_dir: str | Path, texts: list[str], top_k: int = 5, max_seq_len: int = 128,
              model=None, tokenizer=None) -> list[list[MaskPrediction]]:
    """Top-k tokens for each ``[MASK]`` in each text, from a generator directory."""
    model, tokenizer, encoded = _prepare(model_dir, "generator", "fill-mask", texts, max_seq_len, model, tokenizer)
    mask_id = tokenizer.convert_tokens_to_ids("[MASK]")
    if not (encoded["input_ids"] == mask_id).any(axis=1).all():
        raise ConfigError("fill-mask needs at least one [MASK] in every text")
    logits = _forward(model, encoded)
    results = []
    for row, ids in enumerate(encoded["input_ids"]):
        predictions = []
        for pos in np.flatnonzero(ids == mask_id):
            probs = softmax(logits[row, pos])
            best = np.argsort(-probs)[:top_k]
            tokens = tokenizer.convert_ids_to_tokens([int(i) for i in best])
            predictions.append(MaskPrediction(int(pos), [(t, float(probs[i])) for t, i in zip(tokens, best)]))
        results.append(predictions)
    return results


def detect_replaced(model_dir: str | Path, texts: list[str], max_seq_len: int = 128,
                    model=None, tokenizer=None) -> list[list[TokenScore]]:
    """Per-token probability of having been replaced, from a discriminator directory (special tokens omitted)."""
    model, tokenizer, encoded = _prepare(model_dir, "discriminator", "replaced-token detection", texts, max_seq_len,
                                         model, tokenizer)
    logits = _forward(model, encoded, rtd=True)
    probs = sigmoid(logits)
    special = set(tokenizer.all_special_ids)
    results = []
    for row, ids in enumerate(encoded["input_ids"]):
        keep = [i for i, t in enumerate(ids) if encoded["attention_mask"][row, i] and int(t) not in special]
        tokens = tokenizer.convert_ids_to_tokens([int(ids[i]) for i in keep])
        results.append([TokenScore(tok, float(probs[row, i])) for tok, i in zip(tokens, keep)])
    return results
