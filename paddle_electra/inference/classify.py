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
                  batch_size: int = 32, fast: bool = False) -> list[Prediction]:
    """Label each ``(text_a, text_b)``; batches are length-bucketed, results come back in input order.

    ``fast``: run the exported Paddle Inference model (oneDNN on CPU), exporting it to
    ``<model_dir>/export-paddle`` on first use (and again when the weights change); same labels and
    probabilities as the eager model within 1e-4, several times faster on CPU (docs/benchmarks.md).
    """
    from ..runtime import tune_cpu
    from ..textio import is_blank
    from ..training.features import Encoded, encode_pair, eval_batches

    tune_cpu()  # before the first matmul of the process: all cores, AVX2 GEMM on AMD
    for i, (a, b) in enumerate(pairs, start=1):
        if is_blank(a) or (b is not None and is_blank(b)):
            raise ConfigError(f"input text {i} ({a!r}{f' ||| {b!r}' if b is not None else ''}) is empty or "
                              "whitespace only (zero-width characters count as whitespace); pass non-empty text")
    if fast:
        from ..tokenizer import load_tokenizer
        from .fast import fast_predictor

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
    max_seq_length = fit_length(max_seq_length, positions)
    rows = [Encoded(*encode_pair(tokenizer, a, b, max_seq_length)[:2], 0) for a, b in pairs]
    probs = np.zeros((len(rows), len(labels)), dtype="float32")
    for index, batch in eval_batches(rows, batch_size):
        probs[index] = softmax(run(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]))
    return [Prediction(labels[int(p.argmax())], {lab: float(x) for lab, x in zip(labels, p)}) for p in probs]
