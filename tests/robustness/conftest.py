"""Fixtures of the robustness suite: tiny converted models, a fine-tuned classifier, the doc writer."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (str(HERE.parent), str(HERE)):  # tests/ (hub_helpers) and this directory (rbkit, record)
    if path not in sys.path:
        sys.path.insert(0, path)

import rbkit  # noqa: E402
import record  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Discriminator and generator directories converted from tests/fixtures/tf_tiny (V=171, H=32, 64 positions)."""
    from paddle_electra.convert.tf import convert_tf_checkpoint

    return convert_tf_checkpoint(rbkit.FIXTURES / "tf_tiny", output=tmp_path_factory.mktemp("robust_tiny"))


@pytest.fixture(scope="session")
def finetuned(tmp_path_factory, tiny) -> Path:
    """best_model/ of a one-epoch chnsenticorp run on the tiny discriminator (2 labels)."""
    from paddle_electra.finetune import run_finetuning

    root = tmp_path_factory.mktemp("robust_ft")
    rbkit.write_classification(root / "data")
    run_finetuning("chnsenticorp", root / "data", tiny["discriminator"], root / "run", num_train_epochs=1,
                   train_batch_size=4, do_test=False)
    best = root / "run" / "best_model"
    assert json.loads((best / "labels.json").read_text())["labels"] == ["0", "1"]
    return best


@pytest.fixture
def clone_model(tmp_path):
    """Copy a model directory into this test's tmp dir (to break it)."""

    def clone(src: Path, name: str = "model") -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst)
        return dst

    return clone


def pytest_sessionfinish(session, exitstatus):
    if record.wanted() and record.ROWS and exitstatus == 0:
        factory = getattr(session.config, "_tmp_path_factory", None)
        roots = [str(factory.getbasetemp())] if factory is not None else []
        print(f"\nwrote {record.write_doc(roots)}", file=sys.stderr)
