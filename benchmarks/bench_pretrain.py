"""Benchmark one ELECTRA pretraining step (generator + discriminator + optimizer): Paddle vs Hugging Face PyTorch.

Both sides run the *same* step on the same pre-masked batches, with HFL's small sizes (discriminator H=256 L=12,
generator H=64 L=12, tied E=128 embeddings, V=21128), randomly initialised:

* Paddle: :class:`paddle_electra.pretraining.ElectraPretrainingModel` + the seed's AdamWeightDecay
  (:class:`~paddle_electra.training.optim.SeedAdamW`, global-norm clip 1.0) -- what ``paddle-electra pretrain``
  runs, without the data pipeline;
* HF: ``transformers`` ``ElectraForMaskedLM`` (generator) + ``ElectraForPreTraining`` (discriminator) with the
  generator's embeddings replaced by the discriminator's, the generator head applied to the masked positions
  only, Gumbel sampling, the same two losses (1 x MLM + 50 x RTD), ``clip_grad_norm_(1.0)`` and
  ``torch.optim.AdamW``.

Reported: median seconds per step over ``--steps`` timed steps (after ``--warmup``) and tokens/s =
batch x max_seq_length / step time; the forward+backward part alone; and, separately, the text pipeline's
throughput (WordPiece tokenisation + packing + masking, one process). Run from the repository root::

    .venv/bin/python benchmarks/bench_pretrain.py                      # CPU, batch 16 x 128
    .venv/bin/python benchmarks/bench_pretrain.py --device gpu --batch-size 128

``--threads`` pins the math-library threads of both frameworks (default: all cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _batches(count: int, batch: int, length: int, vocab: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    from paddle_electra.pretraining.data import add_masking
    from paddle_electra.pretraining.masking import SpecialIds, max_predictions_per_seq

    special = SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)  # HFL's vocab.txt ids
    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        ids = rng.integers(670, vocab, size=(batch, length))
        ids[:, 0], ids[:, -1], ids[:, length // 2] = special.cls, special.sep, special.sep
        segments = np.zeros_like(ids)
        segments[:, length // 2 + 1:] = 1
        raw = {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": segments}
        out.append(add_masking(raw, special, 0.15, max_predictions_per_seq(0.15, length),
                               np.random.default_rng([seed, index])))
    return out


def _timed(step, batches, warmup: int, sync) -> list[float]:
    times = []
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        step(batch)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


# ------------------------------------------------------------------------------------------ paddle
def bench_paddle(batches, warmup: int, device: str) -> dict[str, float]:
    import paddle

    from paddle_electra.catalog import SIZE_TABLE
    from paddle_electra.pretraining import ElectraPretrainingModel
    from paddle_electra.training.optim import RecipeConfig, SeedAdamW

    paddle.set_device(device)
    paddle.seed(0)
    disc, gen = SIZE_TABLE["small"]
    model = ElectraPretrainingModel(disc, gen)
    model.train()
    optimizer = SeedAdamW(model, RecipeConfig(learning_rate=5e-4, layerwise_lr_decay=1.0, warmup_steps=10),
                          total_steps=1000, num_layers=disc.num_hidden_layers)
    sync = (lambda: paddle.device.cuda.synchronize()) if device == "gpu" else (lambda: None)

    def forward_backward(batch):
        out = model(**{k: paddle.to_tensor(v) for k, v in batch.items()})
        out["loss"].backward()
        return out

    def full(batch):
        forward_backward(batch)
        optimizer.step()
        optimizer.clear_grad()

    def fwd_bwd_only(batch):
        forward_backward(batch)
        model.clear_gradients()

    return {"step": statistics.median(_timed(full, batches, warmup, sync)),
            "forward_backward": statistics.median(_timed(fwd_bwd_only, batches, warmup, sync))}


# ------------------------------------------------------------------------------------------ torch
def bench_torch(batches, warmup: int, device: str) -> dict[str, float]:
    import torch
    import torch.nn.functional as F
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

    from paddle_electra.catalog import SIZE_TABLE

    torch.manual_seed(0)
    dev = torch.device("cuda" if device == "gpu" else "cpu")
    disc_sizes, gen_sizes = SIZE_TABLE["small"]
    disc = ElectraForPreTraining(ElectraConfig(**disc_sizes.as_config_dict())).to(dev)
    gen = ElectraForMaskedLM(ElectraConfig(**gen_sizes.as_config_dict())).to(dev)
    gen.electra.embeddings = disc.electra.embeddings  # tie, as the TF original
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    params = list({id(p): p for p in [*disc.parameters(), *gen.parameters()]}.values())
    optimizer = torch.optim.AdamW(params, lr=5e-4, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
    disc.train()
    gen.train()
    sync = torch.cuda.synchronize if device == "gpu" else (lambda: None)

    def forward_backward(batch):
        t = {k: torch.from_numpy(v).to(dev) for k, v in batch.items()}
        size, length = t["input_ids"].shape
        hidden = gen.electra(t["masked_input_ids"], attention_mask=t["input_mask"],
                             token_type_ids=t["segment_ids"]).last_hidden_state
        relevant = hidden.reshape(size * length, -1)[t["gather_index"]].reshape(size, -1, hidden.shape[-1])
        logits = gen.generator_lm_head(gen.generator_predictions(relevant)).float()
        weights = t["masked_lm_weights"]
        nll = -logits.log_softmax(-1).gather(-1, t["masked_lm_ids"].unsqueeze(-1)).squeeze(-1)
        gen_loss = (weights * nll).sum() / (weights.sum() + 1e-6)
        with torch.no_grad():
            uniform = torch.rand_like(logits)
            sampled = (logits - torch.log(-torch.log(uniform + 1e-9) + 1e-9)).argmax(-1)
            flat = torch.cat([t["input_ids"].reshape(-1), t["input_ids"].new_zeros(1)])
            flat[t["scatter_index"]] = sampled.reshape(-1)
            fake = flat[: size * length].reshape(size, length)
            labels = (fake != t["input_ids"]).float()
        disc_logits = disc(fake, attention_mask=t["input_mask"], token_type_ids=t["segment_ids"]).logits.float()
        mask = t["input_mask"].float()
        disc_loss = (F.binary_cross_entropy_with_logits(disc_logits, labels, reduction="none") * mask).sum() / (
            mask.sum() + 1e-6)
        (gen_loss + 50.0 * disc_loss).backward()

    def full(batch):
        forward_backward(batch)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def fwd_bwd_only(batch):
        forward_backward(batch)
        optimizer.zero_grad(set_to_none=True)

    return {"step": statistics.median(_timed(full, batches, warmup, sync)),
            "forward_backward": statistics.median(_timed(fwd_bwd_only, batches, warmup, sync))}


# ------------------------------------------------------------------------------------------ data
def bench_data(batch: int, length: int, seconds: float = 5.0) -> float:
    """Tokens/s of text -> WordPiece -> packed examples -> masked batch, on synthetic Chinese text."""
    import tempfile

    from paddlenlp.transformers import ElectraTokenizer

    from paddle_electra.pretraining.data import BatchSequence, TextStream
    from paddle_electra.pretraining.masking import SpecialIds

    vocab_file = next((p for p in (REPO / "tests/fixtures/tf_tiny/vocab.txt",) if p.is_file()), None)
    tokenizer = ElectraTokenizer(vocab_file=str(vocab_file), do_lower_case=True)
    chars = [t for t in tokenizer.vocab.token_to_idx if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "corpus.txt"
        lines = ["".join(rng.choice(chars, size=int(rng.integers(60, 400)))) + "。" for _ in range(2000)]
        text.write_text("\n".join(lines), encoding="utf-8")
        vocab = tokenizer.vocab.token_to_idx
        special = SpecialIds(vocab["[PAD]"], vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"])
        stream = TextStream([text], lambda s: tokenizer.convert_tokens_to_ids(tokenizer.tokenize(s)), special,
                            length, shuffle_buffer=1000)
        batches = BatchSequence(stream, batch, 10**9, 0.15, 19, 0)
        start, made = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            batches[made]
            made += 1
        return made * batch * length / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--only", choices=["paddle", "torch", "data"], action="append")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("GLOG_minloglevel", "2")
    tokens = args.batch_size * args.max_seq_length
    batches = _batches(args.steps + args.warmup, args.batch_size, args.max_seq_length, 21128)
    results: dict[str, dict[str, float]] = {}
    wanted = args.only or ["paddle", "torch", "data"]
    if "paddle" in wanted:
        results["paddle"] = bench_paddle(batches, args.warmup, args.device)
    if "torch" in wanted:
        import torch

        torch.set_num_threads(args.threads)
        results["hf_pytorch"] = bench_torch(batches, args.warmup, args.device)
    print(f"ELECTRA-small pretraining step, {args.device}, batch {args.batch_size} x {args.max_seq_length}, "
          f"{args.threads} threads, {platform.processor() or platform.machine()}, python {sys.version.split()[0]}")
    print("| framework | step s | tokens/s (full step) | fwd+bwd s | tokens/s (fwd+bwd) |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['step']:.3f} | {tokens / r['step']:,.0f} | {r['forward_backward']:.3f} | "
              f"{tokens / r['forward_backward']:,.0f} |")
    if "data" in wanted:
        rate = bench_data(args.batch_size, args.max_seq_length)
        results["data_pipeline"] = {"tokens_per_s": rate}
        print(f"text pipeline (tokenise + pack + mask, 1 process): {rate:,.0f} tokens/s")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
