"""Safety: pickled code never runs, serving binds to localhost, data never chooses where files are written."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import record
from rbkit import FIXTURES, leftovers, run_cli

from paddle_electra.errors import CheckpointError


class _Touch:
    """Unpickling this (with a normal unpickler) creates ``path``: proof that code ran."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _malicious_pickle(marker: Path) -> bytes:
    return pickle.dumps({"electra.embeddings.word_embeddings.weight": _Touch(marker)}, protocol=2)


def _malicious_zip(marker: Path) -> bytes:
    """A torch.save-style zip archive whose data.pkl would create ``marker``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("archive/data.pkl", _malicious_pickle(marker))
        archive.writestr("archive/version", "3\n")
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["legacy-pickle", "zip"])
def test_bin_with_code_is_refused_and_never_executed(kind, tmp_path, monkeypatch):
    from paddle_electra.checkpoint.torch_pickle import load_torch_state_dict

    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    payload = _malicious_pickle(marker) if kind == "legacy-pickle" else _malicious_zip(marker)
    # the payload is live: a plain pickle.loads would run it (checked on a copy aimed elsewhere)
    decoy = tmp_path / "decoy"
    pickle.loads(_malicious_pickle(decoy))
    assert decoy.exists()
    decoy.unlink()

    bin_path = tmp_path / "pytorch_model.bin"
    bin_path.write_bytes(payload)
    with pytest.raises(CheckpointError) as err:
        load_torch_state_dict(bin_path)
    assert "refusing to load pickled global" in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()

    # and through the CLI: `convert --hf DIR` with that file as pytorch_model.bin
    hf = tmp_path / "hf"
    hf.mkdir()
    bin_path.rename(hf / "pytorch_model.bin")
    for name in ("config.json", "vocab.txt"):
        (hf / name).write_bytes((FIXTURES / "hf_tiny" / "discriminator" / name).read_bytes())
    result = run_cli(["convert", "--hf", hf, "-o", tmp_path / "out"])
    assert result.rc == 2 and "Traceback" not in result.err
    assert "refusing to load pickled global" in result.error_lines[0]
    assert not marker.exists() and leftovers(tmp_path / "out") == []
    record.row("safety", f"pickle_code_{kind}", f"pytorch_model.bin ({kind}) whose pickle would create a file",
               "CheckpointError / exit 2; marker file not created", result.error_lines[0].removeprefix("error: "))


def test_serving_binds_localhost_by_default(monkeypatch):
    from paddle_electra.cli import build_parser
    from paddle_electra.hub import serving

    assert serving.DEFAULT_HOST == "127.0.0.1"
    args = build_parser().parse_args(["serve", "-m", "chinese-electra-small"])
    assert args.host == "127.0.0.1"

    # what the patched PaddleHub server binds: capture the host given to Flask's run and to gunicorn
    import paddlehub.commands.serving as serving_command
    from paddlehub.server.server import CacheUpdater
    from paddlehub.serving import app_compat

    for obj, attr in ((app_compat, "run"), (app_compat, "create_app"), (app_compat, "config_with_file"),
                      (serving_command, "StandaloneApplication"), (CacheUpdater, "run")):
        monkeypatch.setattr(obj, attr, getattr(obj, attr))  # restored after the test
    bound = {}

    class FakeApp:
        def run(self, host, port, **kwargs):
            bound["flask"] = (host, port)

    monkeypatch.setattr(app_compat, "config_with_file", lambda configs: None)
    monkeypatch.setattr(app_compat, "create_app", lambda init_flag=True: FakeApp())
    from paddle_electra.compat import patch_paddlehub_serving

    patch_paddlehub_serving(serving.DEFAULT_HOST, serving.CONNECTION_TIMEOUT_S)
    app_compat.run({"m": {}}, port=8899)
    assert bound["flask"] == ("127.0.0.1", 8899)

    captured = {}
    monkeypatch.setattr(serving_command.StandaloneApplication.__mro__[1], "__init__",
                        lambda self, app, options=None: captured.update(options or {}))
    serving_command.StandaloneApplication(None, {"bind": "0.0.0.0:8866", "workers": 2})
    assert captured["bind"] == "127.0.0.1:8866"
    record.row("safety", "serving_default_host", "`paddle-electra serve` / `python -m paddle_electra.hub.serving`"
               " without --host", "binds 127.0.0.1 (Flask and gunicorn modes)", "")


def test_qa_ids_never_become_paths(tmp_path, request):
    """Question ids such as '../../x' or absolute paths stay JSON keys; every file lands under the run dir."""
    from paddle_electra.finetune import run_finetuning

    tiny = request.getfixturevalue("tiny")
    evil = ["../../escaped", "/tmp/absolute-escape", "..\\..\\win", "a/b/../../../c", "~/home-escape"]
    context = "北京是中国的首都，上海是中国的城市。"
    qas = [{"id": qid, "question": "首都是哪里？", "answers": [{"text": "北京", "answer_start": 0}]} for qid in evil]
    data = tmp_path / "data" / "finetuning_data" / "cmrc2018"
    data.mkdir(parents=True)
    squad = json.dumps({"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}, ensure_ascii=False)
    for split in ("train", "dev"):
        (data / f"{split}.json").write_text(squad, encoding="utf-8")
    sandbox = tmp_path / "sandbox"  # the run's cwd; ids resolved against it or the run dir would land in here
    run_dir = sandbox / "a" / "b" / "run"
    run_dir.mkdir(parents=True)
    before = set(tmp_path.rglob("*")) - set(run_dir.rglob("*"))
    cwd = os.getcwd()
    os.chdir(sandbox / "a" / "b")
    try:
        run_finetuning("cmrc2018", tmp_path / "data", tiny["discriminator"], run_dir, num_train_epochs=1,
                       train_batch_size=2, max_seq_length=48, doc_stride=16, beam_size=3, do_test=False)
    finally:
        os.chdir(cwd)
    after = set(tmp_path.rglob("*")) - set(run_dir.rglob("*"))
    assert after == before, sorted(map(str, after - before))
    assert not Path("/tmp/absolute-escape").exists()
    preds = json.loads((run_dir / "results" / "cmrc2018_qa" / "dev" / "predictions.json").read_text())
    assert set(preds) == set(evil)
    record.row("safety", "qa_ids_as_paths", "QA ids '../../escaped', '/tmp/absolute-escape', '~/…' in train/dev",
               "works; ids only JSON keys, no file outside the run directory", "")
