"""Part of benchmarks/gpu_check.sh: eager vs Paddle Inference predictions on one device, parity and time."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paddle_electra.inference import predict_texts  # noqa: E402
from paddle_electra.runtime import select_device  # noqa: E402


def main(model: str, device: str) -> int:
    select_device(device)
    texts = [("这家店的菜很好吃" * (1 + i % 8), None) for i in range(256)]
    timings = {}
    for fast in (False, True):
        predict_texts(model, texts[:8], fast=fast)  # warm-up (and the one-time export)
        start = time.perf_counter()
        result = predict_texts(model, texts, fast=fast)
        timings[fast] = (time.perf_counter() - start, np.array([list(p.probabilities.values()) for p in result]))
    diff = float(np.abs(timings[True][1] - timings[False][1]).max())
    print(f"eager {timings[False][0]:.2f} s, Paddle Inference {timings[True][0]:.2f} s for 256 texts on {device}; "
          f"max |probability difference| {diff:.2e} (must be <= 1e-4)")
    return 0 if diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
