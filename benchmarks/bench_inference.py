"""Benchmark ELECTRA inference and fine-tuning side by side: this project vs PaddleNLP, HF PyTorch and ONNX Runtime.

One run measures, on the same machine with the same thread count for every framework:

* **inference** of ELECTRA-small and -base (random weights, sequence-classification head) at batch 1/32 and
  sequence 128/512 through: this project's eager path (``predict_texts``), its Paddle Inference path
  (``predict_texts(fast=True)``: the ``export --format paddle`` model under oneDNN), stock PaddleNLP eager, HF
  transformers PyTorch eager, and ONNX Runtime (the HF model exported with ``torch.onnx.export``, as plain ORT
  and after ORT's transformer fusions ``onnxruntime.transformers.optimizer``, which is what Optimum ships);
* **one fine-tuning step** (forward + backward + AdamW) of this project's classifier vs HF PyTorch (and stock
  PaddleNLP);
* **eval on short pairs** (synthetic LCQMC-like sentence pairs) with batches padded to ``max_seq_length`` vs
  length-bucketed by :func:`paddle_electra.training.features.eval_batches`;
* the machine's **float32 GEMM peak** (2048² matmul in numpy, torch and Paddle), so every figure is also given
  as a fraction of it (FLOPs per example from the config: :func:`electra_flops_per_example` below).

Every framework runs in its own subprocess (so one's thread pools and MKL settings do not leak into another's)
with ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` and the framework's own thread setting equal to ``--threads``.
Each figure is the median of ``--repeats`` timed repeats (≥ 5) after warm-up, with min and max; a repeat of a
fast cell loops the call until it lasts ``--min-repeat-s``.

Run from the repository root (writes docs/benchmarks.md and docs/benchmarks.png, ~15 min on 2 cores)::

    .venv/bin/python benchmarks/bench_inference.py
    .venv/bin/python benchmarks/bench_inference.py --models small --cells 32x128 --parts inference --output -

ELECTRA-base at batch 32 × 512 (3 TFLOP per call) is left out of the default grid on small machines: add it with
``--cells 1x128,1x512,32x128,32x512``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

INFERENCE = ("ours-eager", "ours-default", "ours-inference", "paddlenlp-eager", "hf-torch", "onnxruntime",
             "onnxruntime-fused")
TRAINING = ("ours-train", "ours-fused-train", "hf-torch-train", "paddlenlp-train", "ours-bf16-train",
            "hf-torch-bf16-train")
# what each setting of the fast path is worth (ELECTRA-small only)
ABLATION = ("ours-inference", "ours-inference-mkl", "ours-inference-noir", "ours-eager", "ours-eager-notune")
LABELS = {
    "ours-eager": "paddle-electra eager",
    "ours-default": "paddle-electra default (ORT for batch ≤ 4 on our export, else Paddle Inference)",
    "ours-inference": "paddle-electra fast (Paddle Inference + oneDNN)",
    "paddlenlp-eager": "stock PaddleNLP eager",
    "hf-torch": "HF transformers PyTorch eager",
    "onnxruntime": "ONNX Runtime",
    "onnxruntime-fused": "ONNX Runtime + transformer fusions",
    "ours-inference-mkl": "Paddle Inference without oneDNN (MKL, AVX2 via tune_cpu)",
    "ours-inference-noir": "Paddle Inference + oneDNN, IR passes off",
    "ours-eager-notune": "paddle-electra eager without tune_cpu (stock threads, stock MKL dispatch)",
    "ours-train": "paddle-electra (Paddle eager, tuned)",
    "ours-fused-train": "paddle-electra fused CPU kernels (training default on CPU)",
    "hf-torch-train": "HF transformers PyTorch eager",
    "paddlenlp-train": "stock PaddleNLP eager",
    "ours-bf16-train": "paddle-electra, fused CPU kernels with bf16 GEMMs (`--bf16`)",
    "hf-torch-bf16-train": "HF transformers PyTorch eager under bf16 autocast",
}
DEFAULT_CELLS = {"small": "1x128,1x512,32x128,32x512", "base": "1x128,1x512,32x128"}
NUM_LABELS = 2


# =========================================================================================== worker side
def electra_flops_per_example(sizes, seq_len: int, with_embeddings_project: bool | None = None) -> float:
    """Forward FLOPs (2 per multiply-add) of the ELECTRA encoder for one example of ``seq_len`` tokens.

    Counts every matmul: the embedding projection (when E != H), Q/K/V/output projections, QKᵀ and PV, and
    the two FFN layers. Element-wise work (softmax, LayerNorm, GELU) is not counted. Heads are not counted.
    """
    e, h, layers, inter = sizes.embedding_size, sizes.hidden_size, sizes.num_hidden_layers, sizes.intermediate_size
    project = (e != h) if with_embeddings_project is None else with_embeddings_project
    n = seq_len
    per_layer = 2 * n * h * (4 * h + 2 * inter) + 2 * 2 * n * n * h
    return float(layers * per_layer + (2 * n * e * h if project else 0))


def _sizes(model: str):
    from paddle_electra.catalog import SIZE_TABLE

    return SIZE_TABLE[model][0]


def _config(model: str) -> dict:
    return {**_sizes(model).as_config_dict(), "num_labels": NUM_LABELS}


def _inputs(batch: int, seq: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(100, 21000, size=(batch, seq)).astype("int64")
    ids[:, 0] = 101
    types = np.zeros_like(ids)
    types[:, seq // 2:] = 1
    return ids, types, np.ones_like(ids)


def _time(fn, repeats: int, min_repeat_s: float, warmup: int = 1) -> list[float]:
    """Seconds per call for each repeat; a repeat loops ``fn`` until it lasts ``min_repeat_s``."""
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
    once = max((time.perf_counter() - start) / max(warmup, 1), 1e-6)
    loops = max(1, int(min_repeat_s / once + 0.5))
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        out.append((time.perf_counter() - start) / loops)
    return out


def _paddle_model(model: str, stock: bool, train: bool = False):
    import paddle
    from paddlenlp.transformers import ElectraConfig

    paddle.seed(0)
    config = ElectraConfig(**_config(model))
    if stock:
        from paddlenlp.transformers import ElectraForSequenceClassification

        net = ElectraForSequenceClassification(config)
    else:
        from paddle_electra.modeling.heads import ElectraForSeedClassification

        net = ElectraForSeedClassification(config)
    net.train() if train else net.eval()
    return net


def _hf_model(model: str, train: bool = False):
    import torch
    import transformers

    torch.manual_seed(0)
    net = transformers.ElectraForSequenceClassification(transformers.ElectraConfig(**_config(model)))
    net.train() if train else net.eval()
    return net


def _setup_threads(framework: str, threads: int) -> None:
    if framework == "ours-eager-notune":
        return  # Paddle's defaults: one BLAS thread, MKL's generic dispatch on AMD
    if framework.startswith(("ours", "paddlenlp", "gemm-paddle")):
        if framework.startswith("ours") or framework == "gemm-paddle":
            from paddle_electra.runtime import tune_cpu

            tune_cpu(threads)  # what predict/finetune do: all cores + AVX2 MKL on AMD
        else:  # stock Paddle, only its thread count pinned like the others
            from paddle.base import core

            core.set_num_threads(threads)
    if framework.startswith(("hf", "onnxruntime")) or framework == "gemm-torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)


def _inference_runner(framework: str, model: str, threads: int, workdir: Path):
    """``make(batch, seq) -> fn()`` running one forward pass of that shape."""
    if framework in ("ours-eager", "paddlenlp-eager", "ours-eager-notune"):
        import paddle

        net = _paddle_model(model, stock=framework == "paddlenlp-eager")

        def make(batch, seq):
            feed = [paddle.to_tensor(x) for x in _inputs(batch, seq)]

            def fn():
                with paddle.no_grad():
                    out = net(input_ids=feed[0], token_type_ids=feed[1], attention_mask=feed[2])
                return out.numpy()
            return fn
        return make
    if framework == "ours-default":  # what predict / the hub run by default: the ShapeRouter over both exports
        from paddle_electra.inference import FastPredictor, export_model
        from paddle_electra.inference.fast import ShapeRouter

        net = _paddle_model(model, stock=False)
        large = FastPredictor(export_model(None, workdir / "export-paddle", model=net), threads=threads)
        small = FastPredictor(export_model(None, workdir / "export-onnx", format="onnx", model=net), threads=threads)
        router = ShapeRouter(large, small)
        return lambda batch, seq: (lambda feed=_inputs(batch, seq): router(*feed))
    if framework.startswith("ours-inference"):
        from paddle_electra.inference import FastPredictor, export_model

        out = export_model(None, workdir / "export-paddle", model=_paddle_model(model, stock=False))
        predictor = FastPredictor(out, threads=threads, onednn=framework != "ours-inference-mkl",
                                  ir_optim=framework != "ours-inference-noir")
        return lambda batch, seq: (lambda feed=_inputs(batch, seq): predictor(*feed))
    if framework == "hf-torch":
        import torch

        net = _hf_model(model)

        def make(batch, seq):
            ids, types, mask = (torch.from_numpy(x) for x in _inputs(batch, seq))

            def fn():
                with torch.inference_mode():
                    return net(input_ids=ids, token_type_ids=types, attention_mask=mask).logits.numpy()
            return fn
        return make
    if framework in ("onnxruntime", "onnxruntime-fused"):
        import onnxruntime as ort
        import torch

        net = _hf_model(model)
        path = workdir / "hf.onnx"
        names = ["input_ids", "attention_mask", "token_type_ids"]
        example = tuple(torch.from_numpy(x) for x in _inputs(2, 16))
        with torch.no_grad():
            torch.onnx.export(net, (example[0], example[2], example[1]), str(path), input_names=names,
                              output_names=["logits"], dynamic_axes={n: {0: "batch", 1: "seq"} for n in names},
                              opset_version=17, dynamo=False)
        if framework == "onnxruntime-fused":
            from onnxruntime.transformers.optimizer import optimize_model

            sizes = _sizes(model)
            fused = optimize_model(str(path), model_type="bert", num_heads=sizes.num_attention_heads,
                                   hidden_size=sizes.hidden_size)
            path = workdir / "hf-fused.onnx"
            fused.save_model_to_file(str(path))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def make(batch, seq):
            ids, types, mask = _inputs(batch, seq)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            return lambda: session.run(None, feed)[0]
        return make
    raise SystemExit(f"unknown inference framework {framework}")


def _train_runner(framework: str, model: str):
    """``make(batch, seq) -> fn()`` running one fine-tuning step (forward, backward, AdamW)."""
    if framework in ("ours-train", "ours-fused-train", "paddlenlp-train", "ours-bf16-train"):
        import paddle
        import paddle.nn.functional as F

        net = _paddle_model(model, stock=framework == "paddlenlp-train", train=True)
        if framework in ("ours-fused-train", "ours-bf16-train"):
            from paddle_electra.ops import fuse_encoder, unavailable_reason

            if not fuse_encoder(net, bf16_gemms=framework == "ours-bf16-train"):
                raise SystemExit(f"fused kernels unavailable: {unavailable_reason()}")
        opt = paddle.optimizer.AdamW(learning_rate=1e-4, parameters=net.parameters(), weight_decay=0.01)

        def make(batch, seq):
            ids, types, mask = (paddle.to_tensor(x) for x in _inputs(batch, seq))
            labels = paddle.to_tensor((_inputs(batch, 1)[0][:, 0] % NUM_LABELS).astype("int64"))

            def fn():
                logits = net(input_ids=ids, token_type_ids=types, attention_mask=mask)
                loss = F.cross_entropy(logits, labels)
                loss.backward()
                opt.step()
                opt.clear_grad()
                return float(loss)
            return fn
        return make
    if framework in ("hf-torch-train", "hf-torch-bf16-train"):
        import contextlib

        import torch

        net = _hf_model(model, train=True)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01)
        bf16 = framework == "hf-torch-bf16-train"

        def make(batch, seq):
            ids, types, mask = (torch.from_numpy(x) for x in _inputs(batch, seq))
            labels = torch.from_numpy((_inputs(batch, 1)[0][:, 0] % NUM_LABELS).astype("int64"))

            def fn():
                with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
                    loss = net(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels).loss
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                return float(loss)
            return fn
        return make
    raise SystemExit(f"unknown training framework {framework}")


def _gemm(framework: str, repeats: int, n: int = 2048) -> list[float]:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n)).astype("float32")
    if framework == "gemm-numpy":
        fn = lambda: a @ a  # noqa: E731
    elif framework == "gemm-torch":
        import torch

        t = torch.from_numpy(a)
        fn = lambda: torch.matmul(t, t)  # noqa: E731
    else:
        import paddle

        t = paddle.to_tensor(a)
        fn = lambda: paddle.matmul(t, t).numpy()  # noqa: E731
    return [2.0 * n ** 3 / s / 1e9 for s in _time(fn, repeats, 0.5, warmup=3)]


def _bucket(framework: str, threads: int, repeats: int, pairs: int, max_seq: int) -> list[dict]:
    """Eval of synthetic short sentence pairs: padded to max_seq vs bucketed by eval_batches (ex/s)."""
    import random

    import numpy as np
    import paddle

    from paddle_electra.training.features import Encoded, eval_batches, pad_batch

    rng = random.Random(0)
    rows = []
    for _ in range(pairs):  # LCQMC dev: two questions of 5-20 characters each, ~30 tokens per pair
        a, b = rng.randint(5, 20), rng.randint(5, 20)
        ids = [101] + [rng.randint(670, 7000) for _ in range(a)] + [102] + [rng.randint(670, 7000) for _ in range(b)]
        rows.append(Encoded(ids + [102], [0] * (a + 2) + [1] * (b + 1), 0))
    lengths = [len(r.input_ids) for r in rows]
    if framework == "ours-inference":
        from paddle_electra.inference import FastPredictor, export_model

        workdir = Path(tempfile.mkdtemp(prefix="bench-bucket-"))
        predictor = FastPredictor(export_model(None, workdir / "e", model=_paddle_model("small", False)),
                                  threads=threads)
        run = lambda b: predictor(b["input_ids"], b["token_type_ids"], b["attention_mask"])  # noqa: E731
    else:
        net = _paddle_model("small", stock=False)

        def run(b):
            with paddle.no_grad():
                return net(**{k: paddle.to_tensor(b[k]) for k in ("input_ids", "token_type_ids",
                                                                     "attention_mask")}).numpy()

    def padded_batches():
        for start in range(0, len(rows), 32):
            batch = pad_batch(rows[start:start + 32])
            for key in ("input_ids", "token_type_ids", "attention_mask"):
                wide = np.zeros((len(batch[key]), max_seq), dtype="int64")
                wide[:, :batch[key].shape[1]] = batch[key]
                batch[key] = wide
            yield batch

    results = []
    for mode, batches in (("padded", padded_batches), ("bucketed", lambda: (b for _, b in eval_batches(rows, 32)))):
        times = _time(lambda batches=batches: [run(b) for b in batches()], repeats, 0.0, warmup=1)
        results.append({"part": "bucket", "framework": framework, "mode": mode, "pairs": pairs, "max_seq": max_seq,
                        "mean_tokens": float(np.mean(lengths)), "ex_s": [pairs / t for t in times]})
    return results


def worker(args: argparse.Namespace) -> int:
    framework, threads = args.worker, args.threads
    _setup_threads(framework, threads)
    emit = lambda row: print("RESULT " + json.dumps(row), flush=True)  # noqa: E731
    if framework.startswith("gemm-"):
        emit({"part": "gemm", "framework": framework, "gflops": _gemm(framework, args.repeats)})
        return 0
    if args.part == "bucket":
        for row in _bucket(framework, threads, args.repeats, args.pairs, args.max_seq):
            emit(row)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench-electra-"))
    make = (_train_runner(framework, args.model) if args.part == "train"
            else _inference_runner(framework, args.model, threads, workdir))
    for cell in args.cells.split(","):
        batch, seq = (int(x) for x in cell.split("x"))
        fn = make(batch, seq)
        times = _time(fn, args.repeats, args.min_repeat_s, warmup=2 if batch == 1 else 1)
        emit({"part": args.part, "framework": framework, "model": args.model, "batch": batch, "seq": seq,
              "ex_s": [batch / t for t in times]})
    return 0


# =========================================================================================== driver side
def _env(threads: int) -> dict:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PADDLE_ELECTRA_THREADS"):
        env[key] = str(threads)
    env.update(GLOG_minloglevel="3", GLOG_v="0", PYTHONWARNINGS="ignore", TRANSFORMERS_VERBOSITY="error",
               PADDLE_ELECTRA_NO_TUNE="")
    env.pop("MKL_DEBUG_CPU_TYPE", None)  # only the project's own tune_cpu may set it
    return env


def _spawn(args: argparse.Namespace, framework: str, extra: list[str], log) -> list[dict]:
    cmd = [sys.executable, __file__, "--worker", framework, "--threads", str(args.threads), "--repeats",
           str(args.repeats), "--min-repeat-s", str(args.min_repeat_s), *extra]
    start = time.time()
    proc = subprocess.run(cmd, env=_env(args.threads), cwd=REPO, capture_output=True, text=True)
    rows = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    log(f"  {framework} {' '.join(extra)}: {len(rows)} results in {time.time() - start:.0f}s")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        log(f"  !! {framework} failed (rc {proc.returncode}): " + " | ".join(tail))
        return rows + [{"part": "error", "framework": framework, "args": extra, "error": " | ".join(tail)}]
    return rows


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("paddlepaddle", "paddlenlp", "paddle2onnx", "onnxruntime", "onnx", "torch", "transformers", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _flops(model: str, seq: int) -> float:

    return electra_flops_per_example(_sizes(model), seq)


def render(rows: list[dict], meta: dict, image: str | None = "benchmarks.png") -> str:
    peak_rows = {r["framework"]: _stats(r["gflops"]) for r in rows if r["part"] == "gemm"}
    peak = max((m for m, _, _ in peak_rows.values()), default=float("nan"))
    lines = [
        "# Benchmarks: inference and fine-tuning speed",
        "",
        "Generated by `benchmarks/bench_inference.py`; do not edit by hand — rerun it. Ratios within one run are",
        "what to compare; absolute numbers depend on the machine (and on other load on it).",
        "",
        f"* Command: `{meta['command']}`",
        f"* Date: {meta['date']}; wall time {meta['wall_s'] / 60:.1f} min",
        f"* CPU: {meta['cpu']} ({meta['cores']} logical cores visible); threads for every framework: "
        f"{meta['threads']} (`OMP_NUM_THREADS`, `MKL_NUM_THREADS`, `torch.set_num_threads`, Paddle's "
        "`set_num_threads`, ORT `intra_op_num_threads`)",
        "* Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"* Each figure: median of {meta['repeats']} timed repeats after warm-up (min–max in brackets); a repeat "
        f"of a fast cell loops the call for ≥ {meta['min_repeat_s']} s. Random weights, sequence-classification "
        "head, every token real (no padding) unless said otherwise.",
        "* FLOPs per example are counted from the config (every matmul of the encoder, 2 per multiply-add; "
        "`benchmarks/bench_inference.py:electra_flops_per_example`); *% peak* = achieved FLOP/s ÷ the float32 GEMM "
        "peak below.",
        "",
        "## Float32 GEMM peak (2048² matmul)",
        "",
        "| library | GFLOP/s median [min–max] |",
        "|---|---|",
    ]
    names = {"gemm-numpy": "numpy", "gemm-torch": "torch", "gemm-paddle": "Paddle eager (after `tune_cpu`)",
             "gemm-paddle-stock": "Paddle eager (stock)"}
    for fw, (m, lo, hi) in peak_rows.items():
        lines.append(f"| {names.get(fw, fw)} | {m:.0f} [{lo:.0f}–{hi:.0f}] |")
    lines += ["", f"Peak used for *% peak*: **{peak:.0f} GFLOP/s** (the best median above).", ""]

    inf = [r for r in rows if r["part"] == "inference"]
    targets = []
    if inf:
        lines += ["## Inference (examples/s)", "",
                  "*vs ORT* = this row ÷ the better of the two ONNX Runtime rows of the same cell; *vs HF* = ÷ HF "
                  "PyTorch eager.", ""]
        cells = sorted({(r["model"], r["batch"], r["seq"]) for r in inf}, key=lambda c: (c[0] != "small", c[2], c[1]))
        for model, batch, seq in cells:
            flops = _flops(model, seq)
            group = {r["framework"]: _stats(r["ex_s"]) for r in inf
                     if (r["model"], r["batch"], r["seq"]) == (model, batch, seq)}
            ort = max((group[f][0] for f in ("onnxruntime", "onnxruntime-fused") if f in group), default=None)
            hf = group.get("hf-torch", (None,))[0]
            lines += [f"### ELECTRA-{model}, batch {batch}, seq {seq} ({flops / 1e9:.2f} GFLOP/example)", "",
                      "| framework | ex/s median [min–max] | % peak | vs ORT | vs HF |", "|---|---|---|---|---|"]
            for fw in INFERENCE:
                if fw not in group:
                    continue
                m, lo, hi = group[fw]
                vs_ort = f"{m / ort:.2f}×" if ort else "–"
                vs_hf = f"{m / hf:.2f}×" if hf else "–"
                lines.append(f"| {LABELS[fw]} | {m:.1f} [{lo:.1f}–{hi:.1f}] | {100 * m * flops / 1e9 / peak:.0f}% | "
                             f"{vs_ort} | {vs_hf} |")
            lines.append("")
            for fw, what in (("ours-default", "default predict"), ("ours-inference", "Paddle Inference alone")):
                if fw in group and ort:
                    ratio = group[fw][0] / ort
                    targets.append((f"{what} ≥ 1.0× the best ORT row, {model} b{batch} s{seq}", f"{ratio:.2f}×",
                                    ratio >= 1.0))
    ablation = [r for r in rows if r["part"] == "ablation"]
    if ablation:
        lines += ["## What each setting is worth (ELECTRA-small, ex/s)", "",
                  "Separate processes from the tables above (so the same row can differ by run-to-run noise).", "",
                  "| variant | b1 s128 | b32 s128 |", "|---|---|---|"]
        for fw in ABLATION:
            got = {(r["batch"], r["seq"]): _stats(r["ex_s"]) for r in ablation if r["framework"] == fw}
            if got:
                cells = [got.get(c) for c in ((1, 128), (32, 128))]
                lines.append(f"| {LABELS[fw]} | " + " | ".join(f"{c[0]:.1f} [{c[1]:.1f}–{c[2]:.1f}]" if c else "–"
                                                              for c in cells) + " |")
        lines.append("")
    train = [r for r in rows if r["part"] == "train"]
    if train:
        lines += ["## Fine-tuning step (forward + backward + AdamW), examples/s", "",
                  "Training mode (dropout on), cross-entropy on the classification head; % peak counts 3× the "
                  "forward FLOPs.", ""]
        for model, batch, seq in sorted({(r["model"], r["batch"], r["seq"]) for r in train}):
            flops = 3 * _flops(model, seq)
            group = {r["framework"]: _stats(r["ex_s"]) for r in train
                     if (r["model"], r["batch"], r["seq"]) == (model, batch, seq)}
            hf = group.get("hf-torch-train", (None,))[0]
            lines += [f"### ELECTRA-{model}, batch {batch}, seq {seq}", "",
                      "| framework | ex/s median [min–max] | % peak | vs HF |", "|---|---|---|---|"]
            for fw in TRAINING:
                if fw in group:
                    m, lo, hi = group[fw]
                    lines.append(f"| {LABELS[fw]} | {m:.2f} [{lo:.2f}–{hi:.2f}] | "
                                 f"{100 * m * flops / 1e9 / peak:.0f}% | {m / hf:.2f}× |" if hf else
                                 f"| {LABELS[fw]} | {m:.2f} [{lo:.2f}–{hi:.2f}] | – | – |")
            lines.append("")
            ours = "ours-fused-train" if "ours-fused-train" in group else "ours-train"
            if ours in group and hf:
                ratio = group[ours][0] / hf
                targets.append((f"fine-tuning step ≥ 1.0× HF PyTorch, {model} b{batch} s{seq}", f"{ratio:.2f}×",
                                ratio >= 1.0))
    bucket = [r for r in rows if r["part"] == "bucket"]
    if bucket:
        first = bucket[0]
        lines += ["## Eval on short pairs: padded to max_seq_length vs length-bucketed", "",
                  f"{first['pairs']} synthetic LCQMC-like pairs (two 5–20 character questions, mean "
                  f"{first['mean_tokens']:.1f} tokens), ELECTRA-small, batch 32; *padded* pads every batch to "
                  f"{first['max_seq']} tokens, *bucketed* is `training.features.eval_batches` (sorted by length, "
                  "each batch padded to its longest row).", "",
                  "| path | padded ex/s | bucketed ex/s | speed-up |", "|---|---|---|---|"]
        for fw in sorted({r["framework"] for r in bucket}):
            got = {r["mode"]: _stats(r["ex_s"]) for r in bucket if r["framework"] == fw}
            if {"padded", "bucketed"} <= got.keys():
                p, b = got["padded"], got["bucketed"]
                lines.append(f"| {LABELS[fw]} | {p[0]:.1f} [{p[1]:.1f}–{p[2]:.1f}] | "
                             f"{b[0]:.1f} [{b[1]:.1f}–{b[2]:.1f}] | {b[0] / p[0]:.1f}× |")
                targets.append((f"bucketed eval ≥ 3× padded ({LABELS[fw]})", f"{b[0] / p[0]:.1f}×", b[0] / p[0] >= 3))
        lines.append("")
    errors = [r for r in rows if r["part"] == "error"]
    if errors:
        lines += ["## Failed runs", ""] + [f"* {r['framework']} {' '.join(r['args'])}: {r['error']}" for r in errors]
        lines.append("")
    if targets:
        lines += ["## Targets (issue 6)", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in targets]
        lines.append("")
    notes = REPO / "benchmarks" / "NOTES.md"
    if notes.is_file():
        lines += [notes.read_text(encoding="utf-8").strip(), ""]
    if image:  # only a plot written beside the document
        lines += [f"![throughput per framework]({image})", ""]
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inf = [r for r in rows if r["part"] == "inference"]
    train = [r for r in rows if r["part"] == "train"]
    models = sorted({r["model"] for r in inf}, key=lambda m: m != "small")
    panels = len(models) + (1 if train else 0)
    fig, axes = plt.subplots(1, max(panels, 1), figsize=(6.5 * max(panels, 1), 5), squeeze=False)
    colors = dict(zip(INFERENCE + TRAINING, plt.get_cmap("tab10").colors * 2))
    for ax, model in zip(axes[0], models):
        cells = sorted({(r["batch"], r["seq"]) for r in inf if r["model"] == model}, key=lambda c: (c[1], c[0]))
        fws = [f for f in INFERENCE if any(r["framework"] == f and r["model"] == model for r in inf)]
        width = 0.8 / max(len(fws), 1)
        for k, fw in enumerate(fws):
            xs, ys, errs = [], [], [[], []]
            for i, cell in enumerate(cells):
                got = [r for r in inf if (r["framework"], r["model"], r["batch"], r["seq"]) == (fw, model, *cell)]
                if got:
                    m, lo, hi = _stats(got[0]["ex_s"])
                    xs.append(i + (k - (len(fws) - 1) / 2) * width)
                    ys.append(m)
                    errs[0].append(m - lo)
                    errs[1].append(hi - m)
            ax.bar(xs, ys, width, yerr=errs, label=LABELS[fw], color=colors[fw], capsize=2)
        ax.set_xticks(range(len(cells)), [f"b{b} s{s}" for b, s in cells])
        ax.set_yscale("log")
        ax.set_ylabel("examples / s (log)")
        ax.set_title(f"ELECTRA-{model} inference")
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=7)
    if train:
        ax = axes[0][len(models)]
        fws = [f for f in TRAINING if any(r["framework"] == f for r in train)]
        for k, fw in enumerate(fws):
            m, lo, hi = _stats(next(r for r in train if r["framework"] == fw)["ex_s"])
            ax.bar([k], [m], yerr=[[m - lo], [hi - m]], color=colors[fw], capsize=3)
        ax.set_xticks(range(len(fws)), [LABELS[f].replace(" (", "\n(") for f in fws], fontsize=7)
        first = train[0]
        ax.set_title(f"fine-tuning step, ELECTRA-{first['model']} b{first['batch']} s{first['seq']}")
        ax.set_ylabel("examples / s")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="small,base")
    parser.add_argument("--cells", help="BxS list for every model (default: small full grid, base without 32x512)")
    parser.add_argument("--frameworks", default=",".join(INFERENCE), help="inference frameworks to run")
    parser.add_argument("--train-frameworks", default=",".join(TRAINING))
    parser.add_argument("--train-cells", default="small:32x128", help="MODEL:BxS list for the fine-tuning step")
    parser.add_argument("--parts", default="gemm,inference,ablation,train,bucket")
    parser.add_argument("--threads", type=int, default=None, help="threads for every framework (default: all cores)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-repeat-s", type=float, default=0.3)
    parser.add_argument("--pairs", type=int, default=320, help="short pairs for the padded-vs-bucketed eval")
    parser.add_argument("--max-seq", type=int, default=128)
    parser.add_argument("--output", default=str(REPO / "docs" / "benchmarks.md"), help="markdown file, or - for stdout")
    parser.add_argument("--plot", default=str(REPO / "docs" / "benchmarks.png"))
    parser.add_argument("--json", default=str(REPO / "docs" / "benchmarks.json"),
                        help="raw results (default docs/benchmarks.json; - for none)")
    parser.add_argument("--render", metavar="JSON", help="only re-render the markdown and plot from saved results")
    # worker mode (internal)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--part", default="inference", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="small", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is None:
        from paddle_electra.runtime import default_threads

        args.threads = default_threads()
    if args.repeats < 5 and not args.worker:
        print("note: the issue asks for ≥ 5 repeats", file=sys.stderr)
    if args.worker:
        return worker(args)
    if args.render:
        saved = json.loads(Path(args.render).read_text(encoding="utf-8"))
        _write(saved["rows"], saved["meta"], args)
        return 0

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    start = time.time()
    parts = args.parts.split(",")
    rows: list[dict] = []
    if "gemm" in parts:
        log("GEMM peak")
        for fw in ("gemm-numpy", "gemm-torch", "gemm-paddle"):
            rows += _spawn(args, fw, [], log)
        stock = _spawn(args, "gemm-paddle-stock", [], log)
        rows += stock
    if "inference" in parts:
        log("inference")
        for model in args.models.split(","):
            cells = args.cells or DEFAULT_CELLS.get(model, "1x128,32x128")
            for fw in args.frameworks.split(","):
                rows += _spawn(args, fw, ["--part", "inference", "--model", model, "--cells", cells], log)
    if "ablation" in parts:
        log("ablation (ELECTRA-small)")
        for fw in ABLATION:
            rows += [dict(r, part="ablation") if r["part"] == "inference" else r for r in
                     _spawn(args, fw, ["--part", "inference", "--model", "small", "--cells", "1x128,32x128"], log)]
    if "train" in parts:
        log("fine-tuning step")
        for spec in args.train_cells.split(","):
            model, cell = spec.split(":")
            for fw in args.train_frameworks.split(","):
                rows += _spawn(args, fw, ["--part", "train", "--model", model, "--cells", cell], log)
    if "bucket" in parts:
        log("padded vs bucketed eval")
        for fw in ("ours-eager", "ours-inference"):
            rows += _spawn(args, fw, ["--part", "bucket", "--pairs", str(args.pairs), "--max-seq",
                                      str(args.max_seq)], log)
    from paddle_electra.runtime import cpu_model

    meta = {"command": " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/bench_inference.py",
                                                          *(argv if argv is not None else sys.argv[1:])]),
            "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model(), "cores": os.cpu_count(),
            "threads": args.threads, "versions": _versions(), "repeats": args.repeats,
            "min_repeat_s": args.min_repeat_s, "wall_s": time.time() - start}
    if args.json and args.json != "-":
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1), encoding="utf-8")
    _write(rows, meta, args)
    return 0


def _write(rows: list[dict], meta: dict, args: argparse.Namespace) -> None:
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    beside = (args.plot and args.plot != "-" and args.output != "-"
              and Path(args.plot).resolve().parent == Path(args.output).resolve().parent)
    text = render(rows, meta, Path(args.plot).name if beside else None)
    if args.output == "-":
        print(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        log(f"wrote {args.output}")
    if args.plot and args.plot != "-":
        plot(rows, Path(args.plot))
        log(f"wrote {args.plot}")


if __name__ == "__main__":
    sys.exit(main())
