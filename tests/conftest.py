"""Shared fixtures: committed tiny checkpoints, a private model store, and the real-weights locator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def private_store(tmp_path_factory, monkeypatch):
    """Every test gets its own empty PADDLE_ELECTRA_HOME, so nothing leaks between tests or from the user."""
    home = tmp_path_factory.mktemp("electra_home")
    monkeypatch.setenv("PADDLE_ELECTRA_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tf_tiny() -> Path:
    return FIXTURES / "tf_tiny"


@pytest.fixture(scope="session")
def tf_tiny_eqhidden() -> Path:
    return FIXTURES / "tf_tiny_eqhidden"


@pytest.fixture(scope="session")
def tf_hfl_style() -> Path:
    """tf_tiny's weights as HFL released theirs: snappy-compressed index, ``.ckpt`` prefix (see its script)."""
    return FIXTURES / "tf_hfl_style"


def shared_data() -> Path | None:
    """../shared/data (real released task files and HFL's index), or None when absent."""
    path = SHARED / "data"
    return path if path.is_dir() else None


def shared_models() -> Path | None:
    path = SHARED / "models"
    return path if path.is_dir() and any(path.iterdir()) else None
