"""Benchmark one ELECTRA pretraining step (generator + discriminator + optimizer): Paddle vs Hugging Face PyTorch.

Both sides run the *same* step on the same pre-masked batches, with HFL's small sizes (discriminator H=256 L=12,
generator H=64 L=12, tied E=128 embeddings, V=21128), randomly initialised:

* Paddle: :class:`paddle_electra.pretraining.ElectraPretrainingModel` + the seed's AdamWeightDecay
  (:class:`~paddle_electra.training.optim.SeedAdamW`, global-norm clip 1.0) -- what ``paddle-electra pretrain``
  runs, without the data pipeline: on the fused CPU kernels (``paddle_electra.ops``, the default) and on Paddle's
  own ops;
* HF: ``transformers`` ``ElectraForMaskedLM`` (generator) + ``ElectraForPreTraining`` (discriminator) with the
  generator's embeddings replaced by the discriminator's, the generator head applied to the masked positions
  only, Gumbel sampling, the same two losses (1 x MLM + 50 x RTD), ``clip_grad_norm_(1.0)`` and
  ``torch.optim.AdamW``.

Reported: median (min-max) seconds per step over ``--steps`` timed steps (after ``--warmup``) and tokens/s =
batch x max_seq_length / step time; the forward+backward part alone; and, separately, the text pipeline's
throughput (WordPiece tokenisation + packing + masking, one process). Run from the repository root::

    .venv/bin/python benchmarks/bench_pretrain.py                      # CPU, batch 16 x 128 (~3 min on 2 cores)
    .venv/bin/python benchmarks/bench_pretrain.py --device gpu --batch-size 128

The results replace the generated section of docs/pretraining.md (``--doc -`` prints it instead).
``--threads`` pins the math-library threads of both frameworks (default: all cores); the Paddle side runs with
:func:`paddle_electra.runtime.tune_cpu`, as ``paddle-electra pretrain`` does.
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
DOC = REPO / "docs" / "pretraining.md"
BEGIN, END = "<!-- bench_pretrain: begin (generated) -->", "<!-- bench_pretrain: end -->"


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
        elapsed = time.perf_counter() - start
        print(f"  {getattr(step, '__qualname__', 'step')} {i + 1}/{len(batches)}: {elapsed:.2f}s", file=sys.stderr,
              flush=True)
        if i >= warmup:
            times.append(elapsed)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": len(times)}


# ------------------------------------------------------------------------------------------ paddle
def bench_paddle(batches, warmup: int, device: str, fused: bool = True, bf16: bool = False) -> dict[str, float]:
    import paddle

    from paddle_electra.catalog import SIZE_TABLE
    from paddle_electra.pretraining import ElectraPretrainingModel
    from paddle_electra.training.optim import RecipeConfig, SeedAdamW

    paddle.set_device(device)
    if device == "cpu":
        from paddle_electra.runtime import tune_cpu

        tune_cpu(int(os.environ["OMP_NUM_THREADS"]))
    paddle.seed(0)
    disc, gen = SIZE_TABLE["small"]
    model = ElectraPretrainingModel(disc, gen)
    model.train()
    if fused and device == "cpu":  # what `paddle-electra pretrain` does on CPU (fused_kernels, the default)
        from paddle_electra.ops import fuse_encoder, unavailable_reason

        if not fuse_encoder(model, bf16_gemms=bf16):  # bf16: `paddle-electra pretrain --bf16`
            raise SystemExit(f"fused kernels unavailable: {unavailable_reason()}")
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

    return {"step": _summary(_timed(full, batches, warmup, sync)),
            "forward_backward": _summary(_timed(fwd_bwd_only, batches, warmup, sync))}


# ------------------------------------------------------------------------------------------ torch
def bench_torch(batches, warmup: int, device: str, bf16: bool = False) -> dict[str, float]:
    import contextlib

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
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = _torch_loss(batch)
        loss.backward()

    def _torch_loss(batch):
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
        return gen_loss + 50.0 * disc_loss

    def full(batch):
        forward_backward(batch)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def fwd_bwd_only(batch):
        forward_backward(batch)
        optimizer.zero_grad(set_to_none=True)

    return {"step": _summary(_timed(full, batches, warmup, sync)),
            "forward_backward": _summary(_timed(fwd_bwd_only, batches, warmup, sync))}


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


# ------------------------------------------------------------------------------------------ report
def _versions() -> str:
    import importlib.metadata as md

    parts = [f"Python {platform.python_version()}"]
    for dist in ("paddlepaddle", "paddlenlp", "torch", "transformers", "numpy"):
        try:
            parts.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    return ", ".join(parts)


def _cpu() -> str:
    try:
        from paddle_electra.runtime import cpu_model

        return cpu_model()
    except Exception:  # noqa: BLE001 - only a label
        return platform.processor() or platform.machine()


def markdown(results: dict, args: argparse.Namespace, tokens: int, total_s: float, given: list[str]) -> str:
    import datetime as dt
    import shlex

    def rate(t: dict[str, float]) -> str:
        return f"{tokens / t['median']:,.0f} ({tokens / t['max']:,.0f}–{tokens / t['min']:,.0f})"

    def secs(t: dict[str, float]) -> str:
        return f"{t['median']:.3f} ({t['min']:.3f}–{t['max']:.3f})"

    lines = [
        BEGIN,
        "",
        f"* Command: `{shlex.join(['.venv/bin/python', 'benchmarks/bench_pretrain.py', *given])}`",
        f"* Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; benchmark wall time "
        f"{total_s / 60:.1f} min",
        f"* Machine: {_cpu()} ({os.cpu_count()} logical cores), device `{args.device}`, {args.threads} threads for "
        "both frameworks",
        f"* Versions: {_versions()}",
        f"* Step: ELECTRA-small (disc H=256 L=12, gen H=64 L=12, tied E=128, V=21128), batch {args.batch_size} x "
        f"{args.max_seq_length} tokens, random weights; {args.steps} timed steps after {args.warmup} warm-up; "
        "median (min–max)",
        "",
        "| framework | step s | tokens/s (full step) | fwd+bwd s | tokens/s (fwd+bwd) |",
        "|---|--:|--:|--:|--:|",
    ]
    names = {"paddle": "paddle-electra (fused CPU kernels, the default)",
             "paddle_unfused": "paddle-electra on Paddle's own ops (`--no-fused-kernels`)",
             "hf_pytorch": "HF transformers (PyTorch eager)",
             "paddle_bf16": "paddle-electra, fused kernels with bf16 GEMMs (`--bf16`)",
             "hf_pytorch_bf16": "HF transformers (PyTorch eager) under bf16 autocast"}
    for key, label in names.items():
        if key in results:
            r = results[key]
            lines.append(f"| {label} | {secs(r['step'])} | {rate(r['step'])} | {secs(r['forward_backward'])} "
                         f"| {rate(r['forward_backward'])} |")
    if "paddle" in results and "hf_pytorch" in results:
        full = results["hf_pytorch"]["step"]["median"] / results["paddle"]["step"]["median"]
        fb = results["hf_pytorch"]["forward_backward"]["median"] / results["paddle"]["forward_backward"]["median"]
        lines += ["", f"Paddle / HF PyTorch tokens/s: **{full:.2f}x** for the full step (with the optimizer), "
                      f"{fb:.2f}x for forward+backward."]
    if "paddle_bf16" in results and "hf_pytorch_bf16" in results:
        full = results["hf_pytorch_bf16"]["step"]["median"] / results["paddle_bf16"]["step"]["median"]
        fb = (results["hf_pytorch_bf16"]["forward_backward"]["median"]
              / results["paddle_bf16"]["forward_backward"]["median"])
        lines += ["", f"bf16, paddle-electra `--bf16` / HF PyTorch bf16 autocast tokens/s: **{full:.2f}x** for the "
                      f"full step, {fb:.2f}x for forward+backward."]
    if "data_pipeline" in results:
        lines += ["", f"Text pipeline (WordPiece + packing + masking, one process): "
                      f"{results['data_pipeline']['tokens_per_s']:,.0f} tokens/s."]
    lines += ["", END]
    return "\n".join(lines)


def write_section(doc: Path, section: str) -> None:
    """Replace the text between the markers (or append the section when the file has none)."""
    text = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    doc.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--only", choices=["paddle", "paddle-unfused", "torch", "data", "paddle-bf16", "torch-bf16"],
                        action="append")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--doc", default=str(DOC), help="markdown file whose generated section is replaced, or -")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("GLOG_minloglevel", "2")
    tokens = args.batch_size * args.max_seq_length
    batches = _batches(args.steps + args.warmup, args.batch_size, args.max_seq_length, 21128)
    results: dict[str, dict[str, float]] = {}
    wanted = args.only or ["paddle", "paddle-unfused", "torch", "data", "paddle-bf16", "torch-bf16"]
    if "paddle-unfused" in wanted:  # first: loading the fused kernels changes the OpenMP pool's idle policy
        results["paddle_unfused"] = bench_paddle(batches, args.warmup, args.device, fused=False)
    if "paddle" in wanted:
        results["paddle"] = bench_paddle(batches, args.warmup, args.device)
    if "torch" in wanted:
        import torch

        torch.set_num_threads(args.threads)
        results["hf_pytorch"] = bench_torch(batches, args.warmup, args.device)
    if "paddle-bf16" in wanted and args.device == "cpu":
        results["paddle_bf16"] = bench_paddle(batches, args.warmup, args.device, bf16=True)
    if "torch-bf16" in wanted and args.device == "cpu":
        import torch

        torch.set_num_threads(args.threads)
        results["hf_pytorch_bf16"] = bench_torch(batches, args.warmup, args.device, bf16=True)
    if "data" in wanted:
        results["data_pipeline"] = {"tokens_per_s": bench_data(args.batch_size, args.max_seq_length)}
    given = argv if argv is not None else sys.argv[1:]
    section = markdown(results, args, tokens, time.perf_counter() - started, given)
    if args.doc == "-":
        print(section)
    else:
        write_section(Path(args.doc), section)
        print(section)
        print(f"wrote the generated section of {args.doc}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
