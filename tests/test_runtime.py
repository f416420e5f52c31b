"""CPU tuning: the thread count the user asked for, not the one ``import paddle`` writes into the environment."""

from __future__ import annotations

import os
import subprocess
import sys

from paddle_electra import runtime

PROBE = "import paddle; from paddle_electra.runtime import default_threads; print(default_threads())"


def _threads_in_fresh_process(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", runtime.THREADS_ENV)}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env={**clean, **env},
                          timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
    return int(done.stdout.split()[-1])


def test_import_paddle_does_not_make_us_single_threaded():
    # Paddle sets OMP_NUM_THREADS=1 at import when it is unset; that is not the user's choice
    assert _threads_in_fresh_process() == len(os.sched_getaffinity(0))


def test_the_users_thread_settings_win():
    assert _threads_in_fresh_process(OMP_NUM_THREADS="1") == 1
    assert _threads_in_fresh_process(OMP_NUM_THREADS="1", PADDLE_ELECTRA_THREADS="3") == 3


def test_initial_environ_reads_the_start_environment(monkeypatch):
    monkeypatch.setenv("PADDLE_ELECTRA_TEST_ONLY_SET_LATER", "x")
    assert runtime.initial_environ("PADDLE_ELECTRA_TEST_ONLY_SET_LATER") is None
    assert runtime.initial_environ("PATH") == os.environ["PATH"]
