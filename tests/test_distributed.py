"""Data-parallel fine-tuning under ``paddle.distributed.launch`` (two CPU processes, gloo).

Two ranks with one batch each per step must train exactly as one process accumulating the same two batches:
DataParallel averages the gradients, the accumulating loop averages the micro-batch losses. This proves the
batches are split across ranks (not duplicated), gradients are synchronised, and only rank 0 writes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).parent / "workers" / "data_parallel_worker.py"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tiny_disc(tmp_path_factory) -> Path:
    from paddle_electra.convert.tf import convert_tf_checkpoint

    return convert_tf_checkpoint(FIXTURES / "tf_tiny", output=tmp_path_factory.mktemp("tiny"))["discriminator"]


def _run(args: list[str], cwd: Path, attempts: int = 1, output: Path | None = None) -> None:
    for attempt in range(attempts):
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=cwd)
        if proc.returncode == 0:
            return
        # a rank that dies while gloo connects (SIGABRT on a loaded machine) is the launcher's, not ours: one
        # fresh attempt; the numbers are asserted afterwards either way
        if attempt + 1 < attempts and "Exit code -6" in proc.stdout + proc.stderr:
            import warnings

            warnings.warn("paddle.distributed.launch: a rank aborted while starting; retrying once", stacklevel=2)
            if output is not None:
                import shutil

                shutil.rmtree(output, ignore_errors=True)  # the retry starts from nothing, as the first run did
            continue
        break
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _free_ports(n: int) -> list[int]:
    """Ports nothing listens on now: Paddle's launcher defaults (6767 for gloo, 6070+) collide with another run
    on the same machine (a rank then aborts with exit code -6)."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_two_ranks_equal_one_process_accumulating_two_batches(tmp_path, tiny_disc):
    single, launched = tmp_path / "single", tmp_path / "launched"
    _run([sys.executable, str(WORKER), str(tiny_disc), str(single), "2"], tmp_path)
    gloo_port, start_port = _free_ports(2)
    _run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
          str(tmp_path / "logs"), "--gloo_port", str(gloo_port), "--start_port", str(start_port), str(WORKER),
          str(tiny_disc), str(launched), "1"], tmp_path, attempts=2, output=launched)
    reference = np.load(single / "params-rank0.npy")
    rank0, rank1 = np.load(launched / "params-rank0.npy"), np.load(launched / "params-rank1.npy")
    np.testing.assert_array_equal(rank0, rank1)  # gradients synchronised: the replicas never drift apart
    np.testing.assert_allclose(rank0, reference, rtol=1e-5, atol=1e-6)
    # 8 batches, 2 per step: 4 steps in both runs; only rank 0 wrote the curve and the checkpoint
    curve = (launched / "curve.jsonl").read_text().splitlines()
    assert [line for line in curve if '"loss"' in line] and len(list((launched / "checkpoints").iterdir())) == 1
    assert (single / "curve.jsonl").read_text().count('"loss"') == len([c for c in curve if '"loss"' in c]) == 4
