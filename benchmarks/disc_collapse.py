#!/usr/bin/env python
"""A from-scratch discriminator's first plateau: the same collapse to the prior in Paddle and in HF PyTorch, and when
each leaves it, on the easiest replaced-token task there is.

A randomly initialised 4-layer ELECTRA discriminator (hidden 128, HFL's vocab) is trained alone to find tokens
replaced by *uniformly random* vocabulary ids (15 %; most are never-seen tokens, so a bag-of-embeddings could
spot them) in real ChnSentiCorp training reviews. Both frameworks first learn the prior ("original" everywhere)
by making every position's output alike: the spread of the last hidden state over positions falls from ~0.8 to
~0.2, the gradient reaching the word embeddings vanishes, and accuracy stays at the prior — for ~150-250 steps
at lr 1e-4 (fewer at 5e-4), after which both learn the task (~98 %).

    python benchmarks/disc_collapse.py --data ../shared/data --steps 600 --fused

Writes docs/disc-collapse.md. Same sizes, data, batches (seeded), loss and optimizer (AdamW, no warmup) in both.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "disc-collapse.md"
SIZES = dict(vocab_size=21128, embedding_size=128, hidden_size=128, num_hidden_layers=4, num_attention_heads=2,
             intermediate_size=512, max_position_embeddings=128)


REPLACEMENTS = {
    "uniform": "uniformly random vocabulary ids",
    "unigram": "ids drawn from the reviews' own token frequencies (what a generator learns first; a draw equal to "
               "the original counts as original, as in ELECTRA)",
}


def batches(data: Path, steps: int, size: int = 32, length: int = 64, replacements: str = "uniform"):
    from paddle_electra.tasks.readers import read_split
    from paddle_electra.tasks.registry import get_task
    from paddle_electra.tokenizer import load_tokenizer

    rows = read_split(get_task("chnsenticorp"), data / "chnsenticorp" / "train.tsv", "train")[0]
    tokenizer = load_tokenizer(data / "hfl" / "chinese_electra_small")  # HFL's released vocab.txt
    encoded = [tokenizer(r.text_a, max_length=length, truncation=True)["input_ids"] for r in rows[:5000]]
    rng = np.random.default_rng(0)
    if replacements == "unigram":
        counts = np.bincount([t for e in encoded for t in e[1:-1]], minlength=SIZES["vocab_size"]).astype(float)
        frequencies = counts / counts.sum()
    for _ in range(steps):
        ids, labels, mask = (np.zeros((size, length), t) for t in ("int64", "float32", "int64"))
        for r in range(size):
            e = np.array(encoded[rng.integers(len(encoded))])
            ids[r, :len(e)], mask[r, :len(e)] = e, 1
            for p in range(1, len(e) - 1):
                if rng.random() < 0.15:
                    if replacements == "unigram":
                        ids[r, p] = int(rng.choice(SIZES["vocab_size"], p=frequencies))
                        labels[r, p] = float(ids[r, p] != e[p])
                    else:
                        ids[r, p], labels[r, p] = int(rng.integers(106, SIZES["vocab_size"])), 1
        yield ids, labels, mask


def run_paddle(data: Path, steps: int, lr: float, fused: bool = False, replacements: str = "uniform") -> list[dict]:
    import paddle
    import paddle.nn.functional as F
    from paddlenlp.transformers import ElectraDiscriminator

    from paddle_electra.catalog import Sizes
    from paddle_electra.compat import rtd_logits
    from paddle_electra.modeling.config import electra_config

    paddle.seed(0)
    model = ElectraDiscriminator(electra_config(Sizes(type_vocab_size=2, **SIZES), "ElectraDiscriminator"))
    model.train()
    if fused:  # paddle_electra.ops, as `paddle-electra pretrain` trains on CPU
        from paddle_electra.ops import fuse_encoder

        fuse_encoder(model)
    opt = paddle.optimizer.AdamW(lr, parameters=model.parameters())
    rows = []
    for step, (ids, labels, mask) in enumerate(batches(data, steps, replacements=replacements)):
        hidden = model.electra(paddle.to_tensor(ids), paddle.zeros([len(ids), ids.shape[1]], "int64"), None,
                               paddle.to_tensor(mask))
        logits = rtd_logits(model.discriminator_predictions, hidden)
        weight = paddle.to_tensor(mask.astype("float32"))
        loss = (F.binary_cross_entropy_with_logits(logits, paddle.to_tensor(labels), reduction="none")
                * weight).sum() / weight.sum()
        loss.backward()
        grad = model.electra.embeddings.word_embeddings.weight.grad
        rows.append(_row(step, float(loss), logits.numpy(), labels, mask, hidden.numpy(),
                         float(grad.abs().mean()) if grad is not None else 0.0))
        opt.step()
        opt.clear_grad()
    return rows


def run_torch(data: Path, steps: int, lr: float, replacements: str = "uniform") -> list[dict]:
    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.ElectraForPreTraining(transformers.ElectraConfig(**SIZES))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    rows = []
    for step, (ids, labels, mask) in enumerate(batches(data, steps, replacements=replacements)):
        out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), output_hidden_states=True)
        weight = torch.from_numpy(mask.astype("float32"))
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(out.logits, torch.from_numpy(labels),
                                                                     reduction="none") * weight).sum() / weight.sum()
        loss.backward()
        grad = model.electra.embeddings.word_embeddings.weight.grad
        rows.append(_row(step, float(loss), out.logits.detach().numpy(), labels, mask,
                         out.hidden_states[-1].detach().numpy(), float(grad.abs().mean())))
        opt.step()
        opt.zero_grad()
    return rows


def _escape_step(rows: list[dict], window: int = 20, margin: float = 0.05) -> int | None:
    for end in range(window, len(rows) + 1):
        chunk = rows[end - window:end]
        if np.mean([r["accuracy"] - r["prior"] for r in chunk]) > margin:
            return chunk[0]["step"]
    return None


def _tail(rows: list[dict], key: str, count: int = 50) -> float:
    return float(np.mean([r[key] for r in rows[-count:]]))


def _row(step, loss, logits, labels, mask, hidden, grad) -> dict:
    real = mask.astype(bool)
    return {"step": step, "loss": loss, "accuracy": float(((logits > 0) == labels)[real].mean()),
            "prior": float(1 - labels[real].mean()), "hidden_spread": float(hidden.std(axis=1).mean()),
            "embedding_grad": grad}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--frameworks", default="paddle,torch", help="paddle, torch or both")
    parser.add_argument("--fused", action="store_true", help="Paddle on the fused CPU kernels (paddle_electra.ops)")
    parser.add_argument("--replacements", choices=sorted(REPLACEMENTS), default="uniform")
    parser.add_argument("--doc", default=str(DOC))
    args = parser.parse_args(argv)
    from paddle_electra.runtime import tune_cpu

    tune_cpu()
    wanted = args.frameworks.split(",")
    results = {}
    if "paddle" in wanted:
        name = "Paddle (PaddleNLP ElectraDiscriminator" + (", fused CPU kernels)" if args.fused else ")")
        results[name] = run_paddle(Path(args.data), args.steps, args.lr, args.fused,
                                   args.replacements)
    if "torch" in wanted:
        results["HF transformers PyTorch (ElectraForPreTraining)"] = run_torch(Path(args.data), args.steps, args.lr,
                                                                                    args.replacements)
    shown = sorted(({0, 10, 25, 50, 100} | set(range(0, args.steps, max(1, args.steps // 10))) | {args.steps - 1})
                   & set(range(args.steps)))
    title = {"uniform": "A from-scratch discriminator collapses to the prior, in Paddle and in PyTorch alike",
             "unigram": "A from-scratch discriminator against frequency-drawn replacements"}[args.replacements]
    lines = [f"# {title}", "",
             "Generated by `benchmarks/disc_collapse.py` " + f"(steps {args.steps}, lr {args.lr:g}, batch 32 x 64, "
             f"15 % of tokens replaced by {REPLACEMENTS[args.replacements]}, real ChnSentiCorp train reviews). "
             "*spread*: std of the last hidden state over positions (mean over features); *emb grad*: mean |grad| "
             "of the word embeddings.", ""]
    for name, rows in results.items():
        lines += [f"## {name}", "", "| step | loss | accuracy | prior | spread | emb grad |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['step']} | {r['loss']:.4f} | {100 * r['accuracy']:.1f} % | {100 * r['prior']:.1f} % | "
                  f"{r['hidden_spread']:.3f} | {r['embedding_grad']:.1e} |" for r in rows if r["step"] in shown]
        lines += ["", f"Last 50 steps: accuracy {100 * _tail(rows, 'accuracy'):.1f} % against a prior of "
                      f"{100 * _tail(rows, 'prior'):.1f} %.", ""]
    escapes = {name: _escape_step(rows) for name, rows in results.items()}
    subject = "Both frameworks first collapse the same way" if len(results) > 1 else "The discriminator first collapses"
    lines += [subject + ": the loss falls to the prior's by making every "
              "position's output alike (spread ~0.8 → ~0.2), almost no gradient reaches the token embeddings and "
              "accuracy sits at the prior. "
              + ("The plateau is a transient on this task: " if all(v is not None for v in escapes.values())
                 else f"Within {args.steps} steps: ")
              + "; ".join(f"{name} leaves it at step {step}" if step is not None else f"{name} stays on it"
                          for name, step in escapes.items())
              + " (first step whose 20-step mean accuracy is 5 points above the prior). A discriminator that "
              "learns next to a generator faces harder replacements than uniform ones as soon as the generator "
              "learns (docs/pretraining-helps.md).", ""]
    Path(args.doc).write_text("\n".join(lines), encoding="utf-8")
    print(Path(args.doc).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
