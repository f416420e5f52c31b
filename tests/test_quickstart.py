"""The README's main job and the thin entry points, run as a user would."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from hub_helpers import point_hub_home

from paddle_electra.quickstart import TINY_CHECKPOINT, quickstart

ROOT = Path(__file__).resolve().parents[1]


def test_embedded_checkpoint_is_the_test_fixture():
    fixture = ROOT / "tests" / "fixtures" / "tf_tiny"
    for path in TINY_CHECKPOINT.iterdir():
        if path.suffix != ".md":
            assert filecmp.cmp(path, fixture / path.name, shallow=False), path.name


def test_quickstart_runs_every_stage(tmp_path, capsys, monkeypatch):
    point_hub_home(monkeypatch, tmp_path / "hub")
    results = quickstart(workdir=tmp_path, epochs=2)
    out = capsys.readouterr().out
    for stage in ("[1/4] converting", "[2/4] fill-mask", "replaced-token detection", "[3/4] installing",
                  "get_embedding: pooled 32 floats", "[4/4] fine-tuning"):
        assert stage in out
    assert set(results) == {"dev", "eval"} and 0.0 <= results["dev"]["accuracy"] <= 100.0
    assert "dev: chnsenticorp: accuracy:" in out
    assert (tmp_path / "hub" / "modules" / "chinese_electra_small" / "module.py").is_file()


def test_seed_entry_point_rejects_unknown_hparams(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "run_finetuning.py"), "--data-dir", str(tmp_path),
                           "--model-name", "chinese-electra-small", "--hparams", '{"task_names": ["lcqmc"], '
                           '"lerning_rate": 1}'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown hparam 'lerning_rate'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_converter_script_and_example_help():
    for script in ("converters/convert_tf_checkpoint.py", "examples/run_lcqmc.py"):
        proc = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True,
                              timeout=120, cwd=ROOT / script.split("/")[0])
        assert proc.returncode == 0 and "usage" in proc.stdout
