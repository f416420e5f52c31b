"""Small helpers shared by tests: run a Paddle model on reference inputs and compare."""

from __future__ import annotations

import numpy as np


def paddle_outputs(model, feed: dict[str, np.ndarray], mask_key: str = "attention_mask"):
    """Run a PaddleNLP Electra* model in eval mode on numpy inputs (int64 mask, as notes §3.7 require)."""
    import paddle

    model.eval()
    with paddle.no_grad():
        out = model(
            input_ids=paddle.to_tensor(feed["input_ids"]),
            token_type_ids=paddle.to_tensor(feed["token_type_ids"]),
            attention_mask=paddle.to_tensor(feed[mask_key].astype("int64")),
        )
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.numpy()


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
