"""Label texts with a fine-tuned classification directory, eagerly or through the exported fast runtime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..modeling.config import fit_length, read_config_json
from ..numeric import softmax
from .finetuned import load_finetuned, read_labels


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]


def predict_texts(model_dir: str | Path, pairs: list[tuple[str, str | None]], max_seq_length: int = 128,
                  batch_size: int = 32, fast: bool | None = None, precision: str = "fp32") -> list[Prediction]:
    """Label each ``(text_a, text_b)``; batches are length-bucketed, results come back in input order.

    ``fast`` None (the default): the exported Paddle Inference model (oneDNN on CPU), exported and checked
    against the eager model once per model (``<model_dir>/export-paddle``, or the store's export cache when the
    directory is read-only) and re-exported when the weights change; if it cannot be made or differs by more
    than 1e-4, eager Paddle, with one warning. ``True``: the export or an error; ``False``: eager Paddle.
    ``precision`` ``bf16`` / ``int8``: the fast runtime at reduced precision (docs/benchmarks-precision.md has
    their speed and accuracy); they imply ``fast=True``.
    """
    from ..textio import is_blank

    for i, (a, b) in enumerate(pairs, start=1):
        if is_blank(a) or (b is not None and is_blank(b)):
            raise ConfigError(f"input text {i} ({a!r}{f' ||| {b!r}' if b is not None else ''}) is empty or "
                              "whitespace only (zero-width characters count as whitespace); pass non-empty text")
    model_dir = Path(model_dir)
    if precision != "fp32" and fast is False:
        raise ConfigError(f"precision {precision} runs on the fast runtime; drop --no-fast (fast=False)")
    required = bool(fast) or precision != "fp32"
    runner = _fast_runner(model_dir, required, precision) if fast is not False else None
    tokenizer, labels, positions, run = runner if runner is not None else _eager_runner(model_dir)
    from ..training.features import Encoded, encode_pair, eval_batches

    max_seq_length = fit_length(max_seq_length, positions)
    rows = [Encoded(*encode_pair(tokenizer, a, b, max_seq_length)[:2], 0) for a, b in pairs]
    probs = np.zeros((len(rows), len(labels)), dtype="float32")
    for index, batch in eval_batches(rows, batch_size):
        probs[index] = softmax(run(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]))
    return [Prediction(labels[int(p.argmax())], {lab: float(x) for lab, x in zip(labels, p)}) for p in probs]


def _fast_runner(model_dir: Path, required: bool = False, precision: str = "fp32"):
    """(tokenizer, labels, positions, run) through the fast runtime, or None (with one warning) if it fails."""
    from ..tokenizer import load_tokenizer
    from .fast import fast_or_none, fast_predictor

    _, labels = read_labels(model_dir)
    run = fast_or_none(lambda: fast_predictor(model_dir, precision=precision), str(model_dir),
                       "predicting with eager Paddle (--no-fast to skip the attempt)", required)
    if run is None:
        return None
    positions = int(read_config_json(model_dir / "config.json").get("max_position_embeddings", 512))
    return load_tokenizer(model_dir), labels, positions, run


def _eager_runner(model_dir: Path):
    import paddle

    from ..runtime import tune_cpu

    tune_cpu()  # all cores for Paddle's BLAS (its default is one thread)
    model, tokenizer, labels = load_finetuned(model_dir)

    def run(input_ids, token_type_ids, attention_mask) -> np.ndarray:
        with paddle.no_grad():
            return model(input_ids=paddle.to_tensor(input_ids), token_type_ids=paddle.to_tensor(token_type_ids),
                         attention_mask=paddle.to_tensor(attention_mask)).numpy()

    return tokenizer, labels, int(model.config.max_position_embeddings), run
