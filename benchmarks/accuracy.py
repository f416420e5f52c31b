#!/usr/bin/env python
"""Fine-tune and evaluate one of the seed's tasks with the seed's recipe; record the numbers in docs/results.md.

    python benchmarks/accuracy.py --task chnsenticorp --data-dir D --model chinese-electra-small
    python benchmarks/accuracy.py --task lcqmc --data-dir D --model M --protocol "train: LCQMC dev; scored: test"

With HFL's weights in the store this is the one command that reproduces a row of the seed's table. Every run is
appended to docs/results.json (task, model, dev/test metrics, wall time, hparams, and -- where an official split
is missing -- exactly what was trained on and what was scored); the table between the RESULTS markers of
docs/results.md is regenerated from it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "docs" / "results.json"
DOC = ROOT / "docs" / "results.md"
BEGIN, END = "<!-- RESULTS:BEGIN (benchmarks/accuracy.py) -->", "<!-- RESULTS:END -->"


def run(task: str, data_dir: str, model: str, output: str, hparams: str | None, protocol: str,
        **overrides) -> dict:
    from paddle_electra.finetune import run_finetuning

    started = time.time()
    metrics = run_finetuning(task, data_dir, model, output, hparams, **overrides)
    entry = {"task": task, "model": str(model), "data_dir": str(data_dir), "protocol": protocol,
             "metrics": metrics, "wall_s": round(time.time() - started, 1), "overrides": overrides,
             "when": time.strftime("%Y-%m-%d %H:%M")}
    record(entry)
    return entry


def record(entry: dict) -> None:
    runs = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else []
    runs.append(entry)
    RESULTS.write_text(json.dumps(runs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    render(runs)


def _fmt(metrics: dict) -> str:
    if not metrics:
        return "—"
    if "em" in metrics:
        return f"EM {metrics['em']:.1f} / F1 {metrics['f1']:.1f}"
    if "f1" in metrics and "accuracy" not in metrics:
        return f"F1 {100 * metrics['f1']:.1f}"
    return f"{100 * metrics['accuracy']:.1f}"


def render(runs: list[dict]) -> None:
    lines = [BEGIN, "", "| when | task | model | dev | test | wall | trained on / scored on |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        m = r["metrics"] or {}
        lines.append(f"| {r['when']} | {r['task']} | {Path(r['model']).name} | {_fmt(m.get('dev', {}))} | "
                     f"{_fmt(m.get('eval', {}))} | {r['wall_s']:.0f} s | {r['protocol'] or 'official splits'} |")
    lines += ["", END]
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else "# Fine-tuning results\n"
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n## Runs recorded by benchmarks/accuracy.py\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--output", help="run directory (default runs/accuracy-TASK-MODEL)")
    parser.add_argument("--hparams", help="seed-style hparams JSON (file or inline)")
    parser.add_argument("--protocol", default="", help="what was trained on and scored, when not the official splits")
    args = parser.parse_args(argv)
    output = args.output or f"runs/accuracy-{args.task}-{Path(args.model).name}"
    entry = run(args.task, args.data_dir, args.model, output, args.hparams, args.protocol)
    print(json.dumps(entry["metrics"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
