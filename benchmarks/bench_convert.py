"""Benchmark ``paddle-electra convert --tf-checkpoint``: wall time and peak RSS on HFL-shaped checkpoints.

For each model size (shapes from :data:`paddle_electra.catalog.SIZE_TABLE`) this writes a synthetic
checkpoint laid out like HFL's release -- every discriminator and generator variable (embeddings tied under
``electra/embeddings``), ``global_step`` and optionally ``adam_m``/``adam_v`` slots for every variable --
with random float32 values, using the TF-free :func:`write_tf_checkpoint`.  It then runs the real CLI in a
subprocess under ``/usr/bin/time -v`` (or a ``getrusage(RUSAGE_CHILDREN)`` wrapper when that is missing) and
reports the median wall time and peak resident set size, the latter as a multiple of the largest output
model (the discriminator's ``model_state.pdparams``) and of the checkpoint.  The issue's target: a
large-shaped conversion must not need more than ~1.5x its size in RAM.

Run from the repository root::

    .venv/bin/python benchmarks/bench_convert.py                # -> docs/benchmarks-convert.md (~5 min)
    .venv/bin/python benchmarks/bench_convert.py --sizes small --runs 1 --output -   # quick look, to stdout

``--sizes`` takes SIZE_TABLE keys, each optionally suffixed ``:slots`` or ``:noslots`` to override ``--slots``;
the default measures large both ways, since HFL's released zips (small 46M, base 383M, large 1G) are the size
of the weights alone while training checkpoints carry the slots.

Temporary checkpoints go to ``--workdir`` (default: the system temp dir) and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paddle_electra.catalog import SIZE_TABLE
from paddle_electra.checkpoint.tf_bundle_writer import write_tf_checkpoint
from paddle_electra.convert.names import param_specs

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks-convert.md"
TIME_BIN = "/usr/bin/time"
MB = 1 << 20
# Slots triple the checkpoint (large: 3.9 GiB, ~40 s to write) but the converter only lists them, never
# reads them; disk and time allow them everywhere, so they are on by default.
DEFAULT_SIZES = "small,base,large,large:noslots"
TARGET = 1.5  # the bound on peak RSS for a large-shaped conversion, as a multiple of its size


# ------------------------------------------------------------------------------------------ checkpoint
def tf_variables(size: str) -> list[tuple[str, tuple[int, ...]]]:
    """Every TF variable (name, shape) of an HFL pretraining checkpoint of this size, weights only."""
    disc, gen = SIZE_TABLE[size]
    seen: dict[str, tuple[int, ...]] = {}
    for sizes, role, scope in ((disc, "discriminator", "electra"), (gen, "generator", "generator")):
        for spec in param_specs(sizes, role, scope=scope, emb_scope="electra"):  # tied embeddings: once
            assert spec.tf is not None
            seen.setdefault(spec.tf, spec.shape)
    return list(seen.items())


def largest_tensor(size: str) -> int:
    """Bytes of the largest float32 variable of this size (the word embeddings)."""
    return max(4 * int(np.prod(shape)) for _, shape in tf_variables(size))


def checkpoint_tensors(size: str, slots: bool, seed: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """Random tensors, one at a time (the writer streams them, so memory stays near the largest one)."""
    rng = np.random.default_rng(seed)
    yield "global_step", np.array(1_000_000, dtype=np.int64)
    for name, shape in tf_variables(size):
        yield name, rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        if slots:
            yield f"{name}/adam_m", rng.standard_normal(shape, dtype=np.float32) * np.float32(1e-4)
            yield f"{name}/adam_v", rng.random(shape, dtype=np.float32) * np.float32(1e-6)


def write_vocab(path: Path, vocab_size: int) -> None:
    special = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens = special + [chr(0x4E00 + i) for i in range(vocab_size - len(special))]
    path.write_text("\n".join(tokens[:vocab_size]) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ measuring
@dataclass
class Run:
    wall_s: float
    peak_rss: int  # bytes


@dataclass
class Result:
    size: str
    slots: bool
    num_tensors: int
    weights_bytes: int
    checkpoint_bytes: int
    write_s: float
    disc_bytes: int = 0
    gen_bytes: int = 0
    runs: list[Run] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def rss(self) -> int:
        return int(statistics.median(r.peak_rss for r in self.runs))


def measured(cmd: list[str]) -> tuple[Run, str]:
    """Run ``cmd``; return its wall time, its peak RSS and its output (raises if it fails)."""
    env = {**os.environ, "GLOG_minloglevel": "2"}
    if Path(TIME_BIN).is_file():
        wrapped = [TIME_BIN, "-v", *cmd]
    else:  # a fresh parent per run, so RUSAGE_CHILDREN is this run's child alone
        probe = (
            "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print('Maximum resident set size (kbytes): %d' % resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"
        )
        wrapped = [sys.executable, "-c", probe, *cmd]
    start = time.perf_counter()
    proc = subprocess.run(wrapped, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{output[-4000:]}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if not match:
        raise RuntimeError(f"no peak RSS in the output of {shlex.join(wrapped)}:\n{proc.stderr[-2000:]}")
    return Run(wall, int(match.group(1)) * 1024), output


def cli() -> list[str]:
    script = Path(sys.executable).with_name("paddle-electra")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "paddle_electra"]


def import_floor() -> Run:
    """Peak RSS of a process that only imports what the conversion imports (paddle, paddlenlp tokenizer)."""
    code = "import paddle, numpy; import paddle_electra.convert.tf, paddle_electra.tokenizer; import paddlenlp"
    run, _ = measured([sys.executable, "-c", code])
    return run


def bench_size(size: str, slots: bool, runs: int, workdir: Path, log) -> Result:
    tag = f"{size}{'' if slots else ':noslots'}"
    tmp = Path(tempfile.mkdtemp(prefix=f"bench_convert_{size}_", dir=workdir))
    try:
        ckpt_dir = tmp / f"chinese_electra_{size}"
        ckpt_dir.mkdir()
        prefix = ckpt_dir / f"electra_{size}"
        write_vocab(ckpt_dir / "vocab.txt", SIZE_TABLE[size][0].vocab_size)
        start = time.perf_counter()
        records = write_tf_checkpoint(prefix, checkpoint_tensors(size, slots))
        write_s = time.perf_counter() - start
        checkpoint_bytes = sum(p.stat().st_size for p in ckpt_dir.glob(prefix.name + ".*"))
        weights = sum(r.size for r in records if not r.name.endswith(("/adam_m", "/adam_v")))
        result = Result(size, slots, len(records), weights, checkpoint_bytes, write_s)
        log(f"[{tag}] wrote {len(records)} tensors, {checkpoint_bytes / MB:.0f} MiB in {write_s:.1f}s")
        for i in range(runs):
            out = tmp / f"out{i}"
            cmd = [*cli(), "convert", "--tf-checkpoint", str(ckpt_dir), "--output", str(out)]
            run, output = measured(cmd)
            result.runs.append(run)
            result.disc_bytes = (out / "discriminator" / "model_state.pdparams").stat().st_size
            result.gen_bytes = (out / "generator" / "model_state.pdparams").stat().st_size
            log(f"[{tag}] run {i + 1}/{runs}: {run.wall_s:.1f}s, peak RSS {run.peak_rss / MB:.0f} MiB")
            shutil.rmtree(out)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------ report
def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def mem_total() -> str:
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        return f"{kb / (1 << 20):.1f} GiB"
    except (OSError, AttributeError):
        return "unknown"


def versions() -> str:
    import importlib.metadata as md

    parts = [f"Python {platform.python_version()}"]
    for dist in ("paddle-electra", "paddlepaddle", "paddlenlp", "numpy", "google-crc32c"):
        try:
            parts.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


def markdown(results: list[Result], floor: Run, command: str, total_s: float) -> str:
    def mb(n: int) -> str:
        return f"{n / MB:,.0f}"

    lines = [
        "# TF checkpoint conversion: time and peak memory",
        "",
        "Generated by `benchmarks/bench_convert.py`; do not edit by hand.",
        "",
        f"* Command: `{command}`",
        f"* Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"* CPU: {cpu_model()} ({os.cpu_count()} logical cores), RAM {mem_total()}, {platform.platform()}",
        f"* Versions: {versions()}",
        f"* Benchmark wall time: {total_s / 60:.1f} min",
        "",
        "Each row converts a synthetic HFL-layout checkpoint (random float32 values; every discriminator and "
        "generator variable, tied embeddings, `global_step`, Adam slots where marked) written by "
        "`paddle_electra.checkpoint.tf_bundle_writer`, with "
        "`paddle-electra convert --tf-checkpoint DIR --output OUT` in a fresh process under `/usr/bin/time -v`. "
        "Wall time and peak RSS are the median over the runs (the checkpoint is in the page cache: it was just "
        "written). *disc* is the discriminator's `model_state.pdparams`, the largest model written; "
        "*weights* is the checkpoint without slots.",
        "",
        "The converter streams: it plans both halves from the `.index` alone, then for each half reads one tensor "
        "(seek + read of its bytes in the `.data` shard, crc32c checked), transposes it and appends it to "
        "`model_state.pdparams` through `paddle_electra.checkpoint.pdparams.PdparamsWriter`, which writes the "
        "pickle `paddle.save` would write without building the state dict; the halves are written one after "
        "the other. So peak RSS is the import floor plus a few copies of the largest tensor (the word "
        "embeddings), whatever the model's total size; the last column compares the two.",
        "",
        "| size | Adam slots | tensors | checkpoint MiB | weights MiB | disc MiB | gen MiB | write s | runs "
        "| convert wall s | peak RSS MiB | RSS / disc | RSS / checkpoint | RSS / weights | (RSS − import) / disc "
        "| largest tensor MiB | (RSS − import) / largest |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        walls = sorted(run.wall_s for run in r.runs)
        spread = f" ({walls[0]:.1f}–{walls[-1]:.1f})" if len(walls) > 1 else ""
        rss_runs = sorted(run.peak_rss for run in r.runs)
        rss_spread = f" ({mb(rss_runs[0])}–{mb(rss_runs[-1])})" if len(rss_runs) > 1 else ""
        lines.append(
            f"| {r.size} | {'yes' if r.slots else 'no'} | {r.num_tensors} | {mb(r.checkpoint_bytes)} "
            f"| {mb(r.weights_bytes)} | {mb(r.disc_bytes)} | {mb(r.gen_bytes)} | {r.write_s:.1f} | {len(r.runs)} "
            f"| {r.wall:.1f}{spread} | {mb(r.rss)}{rss_spread} | {r.rss / r.disc_bytes:.2f}x "
            f"| {r.rss / r.checkpoint_bytes:.2f}x "
            f"| {r.rss / r.weights_bytes:.2f}x | {(r.rss - floor.peak_rss) / r.disc_bytes:.2f}x "
            f"| {mb(largest_tensor(r.size))} | {(r.rss - floor.peak_rss) / largest_tensor(r.size):.1f}x |"
        )
    lines += [
        "",
        f"Import floor: a process importing only what the conversion imports (paddle, paddlenlp, "
        f"paddle_electra.convert) peaks at {mb(floor.peak_rss)} MiB RSS; the two (RSS − import) columns subtract it.",
        "",
        f"Target (issue): converting a large-shaped checkpoint must not need more than ~{TARGET}x its size in RAM.",
        "",
    ]
    for r in results:
        if r.size == "large":
            worst = max(r.rss / r.disc_bytes, r.rss / r.weights_bytes)
            verdict = "meets" if worst <= TARGET else "EXCEEDS"
            lines.append(
                f"* large ({'with' if r.slots else 'without'} slots): peak RSS {mb(r.rss)} MiB = "
                f"{r.rss / r.disc_bytes:.2f}x the discriminator and {r.rss / r.weights_bytes:.2f}x the weights "
                f"-> {verdict} the {TARGET}x target."
            )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated SIZE[:slots|:noslots] (default {DEFAULT_SIZES})")
    parser.add_argument("--runs", type=int, default=3, help="conversions per size; the median is reported")
    parser.add_argument("--slots", choices=("on", "off"), default="on",
                        help="write adam_m/adam_v slots for sizes without a :slots/:noslots suffix")
    parser.add_argument("--workdir", type=Path, default=None, help="where temporary checkpoints go")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="markdown report path, or - for stdout")
    args = parser.parse_args(argv)
    plan: list[tuple[str, bool]] = []
    for item in (s.strip() for s in args.sizes.split(",") if s.strip()):
        size, _, mode = item.partition(":")
        if size not in SIZE_TABLE or mode not in ("", "slots", "noslots"):
            parser.error(f"bad size {item!r}; use SIZE[:slots|:noslots] with SIZE one of {', '.join(SIZE_TABLE)}")
        plan.append((size, mode == "slots" if mode else args.slots == "on"))
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    floor = import_floor()
    log(f"import floor: peak RSS {floor.peak_rss / MB:.0f} MiB")
    results = []
    for size, slots in plan:
        results.append(bench_size(size, slots, args.runs, args.workdir, log))
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join([".venv/bin/python", "benchmarks/bench_convert.py", *given])
    report = markdown(results, floor, command, time.perf_counter() - started)
    if args.output == "-":
        print(report)
    else:
        Path(args.output).write_text(report, encoding="utf-8")
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
