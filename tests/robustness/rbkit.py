"""Helpers of the robustness suite: toy data, running the CLI in-process, checking messages and outputs."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = HERE.parent / "fixtures"
POS, NEG = "今天天气很好我很开心", "他不想去那个地方了"


def write_classification(root: Path, task: str = "chnsenticorp", n: int = 8, splits=("train", "dev"),
                         newline: str = "\n") -> Path:
    """``root/finetuning_data/<task>/<split>.tsv`` with ``n`` rows of a 2-class toy problem; returns ``root``."""
    d = root / "finetuning_data" / task
    d.mkdir(parents=True, exist_ok=True)
    rows = [f"{i % 2}\t{(POS if i % 2 else NEG)[: 4 + i % 5]}" for i in range(n)]
    for split in splits:
        (d / f"{split}.tsv").write_bytes(newline.join(["label\ttext_a", *rows, ""]).encode("utf-8"))
    return root


@dataclass
class CliResult:
    rc: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


def run_cli(argv: list) -> CliResult:
    """``paddle-electra ARGV`` in this process (paddle_electra.cli.main), stdout and stderr captured."""
    from paddle_electra.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
    return CliResult(rc, out.getvalue(), err.getvalue())


def run_proc(args: list, timeout: float = 300, env: dict | None = None, cwd: Path | None = None) -> CliResult:
    """A subprocess with the repository on PYTHONPATH; returns its exit status and output."""
    from hub_helpers import subprocess_env

    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(**(env or {})), cwd=cwd or ROOT)
    return CliResult(done.returncode, done.stdout, done.stderr)


PY = sys.executable


def leftovers(path: Path) -> list[str]:
    """What a failed command left at ``path``: the path itself, or temporary ``.NAME.partial-*`` siblings."""
    found = []
    if path.exists() or path.is_symlink():
        found.append(str(path))
    parent = path.parent
    if parent.is_dir():
        found += [str(p) for p in parent.iterdir() if p.name.startswith(f".{path.name}.partial-")]
    return found


def flip_byte(path: Path, offset: int, mask: int = 0x10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}
