#!/usr/bin/env python
"""Speed and accuracy of every inference path, reduced precisions included, measured side by side in one run.

* **speed**: ELECTRA-small sizes (random weights, the seed's classification head), batch 1 and 32 × seq 128,
  every token real: eager Paddle, the default fast path (Paddle Inference + oneDNN, fp32), oneDNN bf16, ONNX
  Runtime fp32 on the same export (plain and with ORT's transformer fusions), ONNX Runtime int8 (dynamic
  quantization of the MatMul weights);
* **accuracy**: a fine-tuned classifier (``--model-dir``, by default the ChnSentiCorp model fine-tuned by
  ``benchmarks/pretraining_helps.py``) on the real ChnSentiCorp dev split (1200 reviews), through the same paths
  as ``predict_texts`` runs them (``fast=False``, the default, ``precision="bf16"``, ``precision="int8"``).

    .venv/bin/python benchmarks/bench_precision.py [--model-dir DIR] [--data ../shared/data/chnsenticorp/dev.tsv]

Writes docs/benchmarks-precision.md and .json. Needs the bench extra (paddle2onnx, onnxruntime, ml_dtypes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
DOC = ROOT / "docs" / "benchmarks-precision.md"


def _timed(fn, repeats: int, min_s: float) -> list[float]:
    fn()  # warm-up (oneDNN/ORT kernel selection)
    rates = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            if time.perf_counter() - start >= min_s:
                break
        rates.append(n / (time.perf_counter() - start))
    return rates


def speed(repeats: int, min_s: float) -> list[dict]:
    import paddle
    from bench_inference import _paddle_model

    from paddle_electra.inference.export import export_model
    from paddle_electra.inference.fast import FastPredictor, ShapeRouter, quantized_onnx
    from paddle_electra.runtime import tune_cpu

    tune_cpu()
    net = _paddle_model("small", stock=False)
    work = Path(tempfile.mkdtemp(prefix="bench-precision-"))
    paddle_dir = export_model(None, work / "paddle", format="paddle", model=net)
    onnx_dir = export_model(None, work / "onnx", format="onnx", model=net)
    quantized_onnx(onnx_dir)
    fused = _fused_onnx(onnx_dir)
    paddle_fp32, onnx_fp32 = FastPredictor(paddle_dir), FastPredictor(onnx_dir)
    ort_fused = _ort_session(fused)
    paths = {  # each takes the feed dict
        "eager Paddle (fast=False)": lambda feed: net(**{k: paddle.to_tensor(v) for k, v in feed.items()}),
        "default (predict / hub): ORT for batch <= 4, else Paddle Inference": ShapeRouter(paddle_fp32, onnx_fp32),
        "Paddle Inference + oneDNN fp32": paddle_fp32,
        "Paddle Inference + oneDNN bf16 (--precision bf16)": FastPredictor(paddle_dir, precision="bf16"),
        "ONNX Runtime fp32": onnx_fp32,
        "ONNX Runtime fp32 + transformer fusions": ort_fused,
        "ONNX Runtime int8 dynamic (--precision int8)": FastPredictor(onnx_dir, precision="int8"),
    }
    paths = {name: (run if name.startswith("eager") else (lambda feed, r=run: r(**feed)))
             for name, run in paths.items()}
    rows = []
    rng = np.random.default_rng(0)
    for batch in (1, 32):
        ids = rng.integers(106, 21128, size=(batch, 128)).astype("int64")
        feed = {"input_ids": ids, "token_type_ids": np.zeros_like(ids), "attention_mask": np.ones_like(ids)}
        reference = paddle_fp32(**feed)
        for name, run in paths.items():
            with paddle.no_grad():
                out = run(feed)
                out = out.numpy() if hasattr(out, "numpy") else out
                rates = _timed(lambda r=run, f=feed: r(f), repeats, min_s)
            rows.append({"path": name, "batch": batch, "ex_s": [r * batch for r in rates],
                         "max_abs_vs_fp32": float(np.abs(np.asarray(out, "float64") - reference).max())})
            print(f"batch {batch:2d}  {name:66s} {statistics.median(rows[-1]['ex_s']):7.1f} ex/s", flush=True)
    return rows


def _fused_onnx(onnx_dir: Path) -> Path:
    from onnxruntime.transformers.optimizer import optimize_model

    from paddle_electra.catalog import get_variant

    sizes = get_variant("chinese-electra-small").sizes
    model = optimize_model(str(onnx_dir / "model.onnx"), model_type="bert", num_heads=sizes.num_attention_heads,
                           hidden_size=sizes.hidden_size, opt_level=1)
    target = onnx_dir / "model.fused.onnx"
    model.save_model_to_file(str(target))
    return target


def _ort_session(path: Path):
    import onnxruntime as ort

    from paddle_electra.inference.fast import ort_session_options
    from paddle_electra.runtime import default_threads

    options = ort_session_options(default_threads())  # as FastPredictor's sessions
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return lambda **feed: session.run(None, {k: feed[k] for k in names})[0]


def accuracy(model_dir: Path, data: Path) -> list[dict]:
    from paddle_electra.inference import predict_texts
    from paddle_electra.tasks.readers import read_split
    from paddle_electra.tasks.registry import get_task

    rows = read_split(get_task("chnsenticorp"), data, "dev")[0]
    pairs = [(r.text_a, None) for r in rows]
    gold = [r.label for r in rows]
    out = []
    for name, options in (("eager Paddle (fast=False)", {"fast": False}), ("default (fast, fp32)", {}),
                          ("--precision bf16", {"precision": "bf16"}), ("--precision int8", {"precision": "int8"})):
        start = time.perf_counter()
        predictions = predict_texts(model_dir, pairs, max_seq_length=128, batch_size=32, **options)
        wall = time.perf_counter() - start
        acc = 100 * float(np.mean([p.label == g for p, g in zip(predictions, gold)]))
        out.append({"path": name, "accuracy": acc, "wall_s": round(wall, 1), "n": len(rows)})
        print(f"{name:30s} accuracy {acc:.2f} ({wall:.0f} s incl. first-use export)", flush=True)
    return out


def write(record: dict) -> None:
    lines = ["# Inference paths and reduced precision (speed and accuracy)", "",
             "Generated by `benchmarks/bench_precision.py`; ratios within one run are what to compare (other load "
             f"on the machine slows every row alike). Date: {record['date']}; CPU: {record['cpu']}, "
             f"{record['threads']} threads.", "",
             "## Speed: ELECTRA-small sizes, seq 128, examples/s (median of repeats [min–max])", "",
             "| path | batch 1 | vs best ORT fp32 | batch 32 | vs best ORT fp32 | max abs vs fp32 logits |",
             "|---|---|---|---|---|---|"]
    speed_rows = record["speed"]
    best = {b: max(statistics.median(r["ex_s"]) for r in speed_rows if r["batch"] == b
                   and r["path"].startswith("ONNX Runtime fp32")) for b in (1, 32)}
    for name in dict.fromkeys(r["path"] for r in speed_rows):
        cells = []
        for b in (1, 32):
            r = next(x for x in speed_rows if x["path"] == name and x["batch"] == b)
            med = statistics.median(r["ex_s"])
            cells += [f"{med:.1f} [{min(r['ex_s']):.1f}–{max(r['ex_s']):.1f}]", f"{med / best[b]:.2f}×"]
        diff = max(x["max_abs_vs_fp32"] for x in speed_rows if x["path"] == name)
        lines.append(f"| {name} | {' | '.join(cells)} | {diff:.1e} |")
    lines += ["", f"## Accuracy: ChnSentiCorp dev ({record['accuracy'][0]['n']} reviews), model `{record['model']}`",
              "", "| path | accuracy | change vs eager fp32 | wall (incl. first-use export) |", "|---|---|---|---|"]
    base = record["accuracy"][0]["accuracy"]
    for r in record["accuracy"]:
        lines.append(f"| {r['path']} | {r['accuracy']:.2f} | {r['accuracy'] - base:+.2f} | {r['wall_s']} s |")
    lines.append("")
    DOC.write_text("\n".join(lines) + "\n" + "\n".join(record.get("notes", [])) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="runs/pretraining-helps/ft-chnsenticorp-random-0/best_model")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "chnsenticorp" / "dev.tsv"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-repeat-s", type=float, default=0.5)
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args(argv)
    if args.render_only:
        write(json.loads(DOC.with_suffix(".json").read_text(encoding="utf-8")))
        return 0
    from paddle_electra.runtime import cpu_model, default_threads

    record = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model(), "threads": default_threads(),
              "model": args.model_dir, "speed": speed(args.repeats, args.min_repeat_s),
              "accuracy": accuracy(Path(args.model_dir), Path(args.data))}
    DOC.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    write(record)
    print(DOC.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
