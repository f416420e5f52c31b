"""kill -9 a fine-tuning run mid-epoch and mid-checkpoint-write, and a conversion mid-write; then re-run.

The kill lands at an exact place through the test hook ``PADDLE_ELECTRA_TEST_PAUSE=POINT[@N]``
(:func:`paddle_electra.fs.pause_point`): the process prints ``paused at POINT`` and sleeps until killed.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import record
from hub_helpers import subprocess_env
from rbkit import FIXTURES, PY, ROOT, flip_byte, write_classification

from paddle_electra.fs import PAUSE_ENV
from paddle_electra.store import is_model_dir
from paddle_electra.training.loop import FineTuner, is_complete

# 16 examples, batch 2: 8 steps an epoch, 16 in all; a checkpoint every 3 steps (3, 6, 9, 12, 15) + epoch ends
FINETUNE = ["--epochs", "2", "--batch-size", "2", "--save-every-steps", "3", "--learning-rate", "1e-3"]


def _cmd(data: Path, model: Path, out: Path) -> list[str]:
    return [PY, "-m", "paddle_electra", "finetune", "chnsenticorp", "--data-dir", str(data), "--model", str(model),
            "-o", str(out), *FINETUNE]


def kill_at(cmd: list[str], point: str, timeout: float = 120) -> str:
    """Run ``cmd`` with the pause hook at ``point``; SIGKILL it once it reports the pause. Returns its stderr."""
    proc = subprocess.Popen(cmd, env=subprocess_env(**{PAUSE_ENV: point}), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    seen, deadline = b"", time.monotonic() + timeout
    try:
        while b"paused at " + point.split("@")[0].encode() not in seen:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(f"never paused at {point}: {seen.decode(errors='replace')[-3000:]}")
            if sel.select(timeout=1):
                seen += os.read(proc.stderr.fileno(), 65536)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        sel.close()
        proc.stderr.close()
    return seen.decode(errors="replace")


def _losses(out: Path) -> dict[int, float]:
    curve = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    return {c["step"]: c["loss"] for c in curve if "loss" in c}  # a re-run step overwrites the killed run's


def _steps(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "checkpoints").iterdir())


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny):
    """The same run, never interrupted: the reference the resumed runs must reproduce."""
    root = tmp_path_factory.mktemp("straight")
    data = write_classification(root / "data", n=16)
    out = root / "run"
    done = subprocess.run(_cmd(data, tiny["discriminator"], out), env=subprocess_env(), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return data, _losses(out), (out / "results.txt").read_text()


def _resume(data: Path, model: Path, out: Path) -> str:
    done = subprocess.run(_cmd(data, model, out), env=subprocess_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_kill_mid_epoch_resumes_from_last_checkpoint(tmp_path, tiny, straight):
    data, reference, results = straight
    out = tmp_path / "run"
    kill_at(_cmd(data, tiny["discriminator"], out), "train-step@7")  # step 7 of epoch 1 (8 steps)
    assert _steps(out) == ["step-00000003", "step-00000006"]
    log = _resume(data, tiny["discriminator"], out)
    assert re.search(r"resumed from \S+step-00000006 \(step 6 of 16\)", log), log[-3000:]
    losses = _losses(out)
    assert sorted(losses) == sorted(reference)
    for step in reference:  # steps 7.. are re-run exactly as in the uninterrupted run
        assert losses[step] == pytest.approx(reference[step], rel=1e-5), step
    assert (out / "results.txt").read_text() == results
    record.row("interruption", "kill_mid_epoch", "fine-tuning killed (SIGKILL) at step 7 of 16, checkpoints at 3, 6",
               "re-run resumed from step 6 (lost 1 step); losses and results equal the uninterrupted run", "")


def test_kill_mid_checkpoint_write_never_loads_half_written(tmp_path, tiny, straight):
    data, reference, results = straight
    out = tmp_path / "run"
    kill_at(_cmd(data, tiny["discriminator"], out), "checkpoint-write@2")  # writing step-6: weights, no optimizer
    names = _steps(out)
    partial = [n for n in names if n.startswith(".step-00000006.partial-")]
    assert "step-00000003" in names and partial and "step-00000006" not in names, names
    assert (out / "checkpoints" / partial[0] / "model.pdparams").is_file()
    assert not is_complete(out / "checkpoints" / partial[0])
    log = _resume(data, tiny["discriminator"], out)
    assert re.search(r"resumed from \S+step-00000003 \(step 3 of 16\)", log), log[-3000:]
    assert (out / "results.txt").read_text() == results
    assert not any(n.startswith(".step-") for n in _steps(out)), _steps(out)  # the stale partial was swept

    # a checkpoint renamed into place but damaged afterwards fails its checksum and is skipped
    newest, older = sorted(p for p in (out / "checkpoints").glob("step-*"))[::-1][:2]
    flip_byte(newest / "model.pdparams", (newest / "model.pdparams").stat().st_size // 2)
    assert FineTuner.latest_checkpoint(SimpleNamespace(checkpoint_root=out / "checkpoints")) == older
    record.row("interruption", "kill_mid_checkpoint_write",
               "fine-tuning killed while writing its 2nd checkpoint (weights written, optimizer not)",
               "half-written .step-00000006.partial-* ignored; resumed from step 3; results equal the "
               "uninterrupted run; a bit-flipped complete checkpoint fails its sha256 and the older one is used", "")


@pytest.mark.parametrize("at, half", [("model-dir-write@1", "discriminator"), ("model-dir-write@2", "generator")])
def test_kill_mid_conversion_leaves_no_partial_model(tmp_path, at, half):
    out = tmp_path / "out"
    cmd = [PY, "-m", "paddle_electra", "convert", "--tf-checkpoint", str(FIXTURES / "tf_tiny"), "-o", str(out)]
    kill_at(cmd, at)
    assert not (out / half).exists()  # the half being written is only a hidden .partial- directory
    assert [p.name for p in out.iterdir() if p.name.startswith(f".{half}.partial-")]
    if half == "generator":
        assert is_model_dir(out / "discriminator")  # the finished half is complete (renamed into place whole)
    done = subprocess.run(cmd, env=subprocess_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert is_model_dir(out / "discriminator") and is_model_dir(out / "generator")
    assert sorted(p.name for p in out.iterdir()) == ["discriminator", "generator"]  # the killed writer's leftovers
    record.row("interruption", f"kill_convert_{half}", f"`convert` killed (SIGKILL) while writing the {half}",
               f"no {half}/ directory (only a hidden .{half}.partial-*); re-run completes both halves and "
               "removes the dead writer's .partial-*", "")


def test_stale_leftovers_of_a_dead_writer_are_cleaned_or_restored(tmp_path):
    from paddle_electra.fs import atomic_dir

    dead = 2**22 + 12345  # above the default pid_max: no such process
    target = tmp_path / "model"
    (tmp_path / f".model.partial-{dead}-abc").mkdir()
    (tmp_path / f".model.old-{dead}").mkdir()
    (tmp_path / f".model.old-{dead}" / "model_state.pdparams").write_bytes(b"previous")
    (tmp_path / f".model.old-{dead}" / ".paddle-electra").write_text("ours")  # every directory we write has it
    (tmp_path / f".model.partial-{os.getpid()}-live").mkdir()  # a live writer's directory is left alone
    with atomic_dir(target, force=True) as tmp:
        (tmp / "model_state.pdparams").write_bytes(b"new")
    assert (target / "model_state.pdparams").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".model.partial-{os.getpid()}-live", "model"]
