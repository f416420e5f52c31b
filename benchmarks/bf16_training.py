#!/usr/bin/env python
"""bf16 fine-tuning on CPU, paddle-electra beside PyTorch: loss curves against float32 and step speed.

Each framework trains a randomly initialised ELECTRA-small classifier (the same seed for all of its runs) on the
same fixed batches: PyTorch in float32 and under ``torch.autocast("cpu", bfloat16)``; paddle-electra on its fused
CPU kernels in float32 and with bf16 GEMMs (``--bf16``), and Paddle's own ``auto_cast`` O1 for the record. The loss
curves say whether bf16 trains the same model; the step times say what it is worth.

    python benchmarks/bf16_training.py --steps 30 --batch 32 --seq 128

Writes docs/benchmarks-bf16-training.md. Dropout is off so that the curves differ only by precision.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "benchmarks-bf16-training.md"
SIZES = dict(vocab_size=21128, embedding_size=128, hidden_size=256, num_hidden_layers=12, num_attention_heads=4,
             intermediate_size=1024, max_position_embeddings=512)  # HFL's ELECTRA-small


def batches(steps: int, batch: int, seq: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(106, SIZES["vocab_size"], (batch, seq)).astype("int64"),
             rng.integers(0, 2, batch).astype("int64")) for _ in range(steps)]


def hf_model():
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.ElectraConfig(**SIZES, num_labels=2, hidden_dropout_prob=0.0,
                                        attention_probs_dropout_prob=0.0)
    return transformers.ElectraForSequenceClassification(config)


def run_torch(data, bf16: bool) -> tuple[list[float], list[float]]:
    import torch

    net = hf_model()
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01)
    losses, times = [], []
    for ids, labels in data:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = net(input_ids=torch.from_numpy(ids), labels=torch.from_numpy(labels)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)  # HF Trainer's default; the seed's AdamW clips too
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss))
        times.append(time.perf_counter() - start)
    return losses, times


def paddle_model(fused: bool):
    import paddle
    from paddlenlp.transformers import ElectraForSequenceClassification

    from paddle_electra.catalog import Sizes
    from paddle_electra.modeling.config import electra_config

    paddle.seed(0)
    config = electra_config(Sizes(type_vocab_size=2, **SIZES), "ElectraForSequenceClassification",
                            num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    net = ElectraForSequenceClassification(config)
    if fused:
        from paddle_electra.ops import fuse_encoder

        fuse_encoder(net)
    return net


PADDLE_RUNS = {"fp32": "fused CPU kernels, float32", "bf16": "fused CPU kernels, bf16 GEMMs (`--bf16`)",
               "autocast": "Paddle's own ops under auto_cast(bfloat16) O1"}


def run_paddle(data, mode: str) -> tuple[list[float], list[float]]:
    import paddle
    import paddle.nn.functional as F

    from paddle_electra.ops import fuse_encoder
    from paddle_electra.training.optim import RecipeConfig, SeedAdamW

    net = paddle_model(fused=False)
    if mode != "autocast":
        fuse_encoder(net, bf16_gemms=mode == "bf16")
    net.train()
    # the seed's AdamW as `paddle-electra finetune` runs it (constant rate here: no warmup, no decay)
    opt = SeedAdamW(net, RecipeConfig(learning_rate=1e-4, layerwise_lr_decay=1.0, warmup_proportion=0.0,
                                      weight_decay=0.01), total_steps=10**9, num_layers=SIZES["num_hidden_layers"])
    losses, times = [], []
    for ids, labels in data:
        start = time.perf_counter()
        autocast = mode == "autocast"
        with paddle.amp.auto_cast(dtype="bfloat16", level="O1") if autocast else contextlib.nullcontext():
            logits = net(input_ids=paddle.to_tensor(ids))
        loss = F.cross_entropy(logits.astype("float32"), paddle.to_tensor(labels))
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(float(loss))
        times.append(time.perf_counter() - start)
    return losses, times


def autocast_dtypes() -> dict[str, str]:
    """What a Linear computes in under each framework's bf16 autocast on this CPU."""
    import paddle
    import torch

    with paddle.amp.auto_cast(dtype="bfloat16", level="O1"):
        ours = paddle.nn.Linear(8, 8)(paddle.randn([4, 8])).dtype
    with torch.autocast("cpu", dtype=torch.bfloat16):
        theirs = torch.nn.Linear(8, 8)(torch.randn(4, 8)).dtype
    return {"Paddle": str(ours).replace("paddle.", ""), "PyTorch": str(theirs).replace("torch.", "")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="times each arm runs, in turn (not Paddle's autocast)")
    parser.add_argument("--doc", default=str(DOC))
    args = parser.parse_args(argv)
    from paddle_electra.runtime import default_threads, tune_cpu

    tune_cpu()
    import torch

    torch.set_num_threads(default_threads())
    data = batches(args.steps, args.batch, args.seq)
    arms = {("PyTorch", "fp32"): lambda: run_torch(data, False), ("PyTorch", "bf16"): lambda: run_torch(data, True),
            **{("Paddle", mode): (lambda mode=mode: run_paddle(data, mode)) for mode in PADDLE_RUNS}}
    # the arms in turn, `rounds` times: a slow minute on a shared machine lands in one round of every arm, not in
    # all the steps of one; Paddle's autocast (float32 ops, for the record) runs once
    runs, medians = {}, {key: [] for key in arms}
    for round_index in range(args.rounds):
        for key, arm in arms.items():
            if key == ("Paddle", "autocast") and round_index:
                continue
            losses, times = arm()
            runs.setdefault(key, (losses, times))
            medians[key].append(statistics.median(times[3:]))
    step = {key: statistics.median(values) for key, values in medians.items()}
    spread = {key: f"{min(values):.3f}–{max(values):.3f}" if len(values) > 1 else "" for key, values in medians.items()}
    dtypes = autocast_dtypes()
    lines = ["# bf16 fine-tuning on CPU", "",
             f"Generated by `benchmarks/bf16_training.py` (ELECTRA-small classifier, random weights, the same in a "
             f"framework's runs, dropout off, AdamW lr 1e-4 and global-norm clipping at 1.0 (Paddle: the "
             f"seed's AdamW, as `finetune` runs it; PyTorch: torch.optim's with clip_grad_norm_), {args.steps} "
             f"steps of {args.batch} × {args.seq} "
             f"random ids, {default_threads()} threads, one process). *Step*: median seconds over the steps after "
             f"the first 3, the median of {args.rounds} rounds in which every arm runs in turn (the rounds' range "
             "beside it); *loss gap*: the largest |run − float32 run| loss of the same framework over the steps, "
             "relative to the float32 loss.", "",
             f"Under its bf16 autocast a Linear returns {dtypes['PyTorch']} in PyTorch and {dtypes['Paddle']} in "
             "Paddle (Paddle 3.3.1 has no CPU bf16 matmul: its autocast runs float32 ops plus casts).", "",
             "| run | step (s) [rounds] | vs PyTorch float32 | vs PyTorch bf16 autocast | final loss | loss gap |",
             "|---|---|---|---|---|---|"]
    labels = {("PyTorch", "fp32"): "PyTorch eager, float32", ("PyTorch", "bf16"): "PyTorch eager, bf16 autocast",
              **{("Paddle", mode): f"paddle-electra: {text}" for mode, text in PADDLE_RUNS.items()}}
    for key, label in labels.items():
        losses = runs[key][0]
        reference = runs[(key[0], "fp32")][0]
        gap = max(abs(b - f) / abs(f) for f, b in zip(reference, losses))
        lines.append(f"| {label} | {step[key]:.3f} {f'[{spread[key]}]' if spread[key] else ''} | "
                     f"{step[('PyTorch', 'fp32')] / step[key]:.2f}× | "
                     f"{step[('PyTorch', 'bf16')] / step[key]:.2f}× | {losses[-1]:.4f} | {100 * gap:.2f} % |")
    Path(args.doc).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(Path(args.doc).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
