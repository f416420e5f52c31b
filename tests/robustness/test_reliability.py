"""Issue 11: never delete what the user did not ask to delete, never run code from a weight file, never train or
load something silently wrong. One test per situation; each checks the message AND that nothing was harmed."""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import record
from rbkit import FIXTURES, PY, ROOT, run_cli, write_classification

from paddle_electra.errors import CheckpointError, ConfigError, DataError, StoreError

HF_TINY = FIXTURES / "hf_tiny" / "discriminator"
TF_TINY = FIXTURES / "tf_tiny"


@pytest.fixture(autouse=True)
def _listed_in_the_doc(request):
    """Every situation here is a row of docs/robustness.md (written only when the whole suite passes)."""
    name = request.node.name
    area = name.split("[")[0].removeprefix("test_")
    record.row("reliability", name.removeprefix("test_"), area.replace("_", " "), "as asserted", "")
    yield


def _user_files(directory: Path) -> dict[str, bytes]:
    """A directory as a user has it: a file, a nested folder, a dot folder."""
    (directory / "Documents").mkdir(parents=True, exist_ok=True)
    (directory / "Documents" / "thesis.txt").write_text("five years of work")
    (directory / ".ssh").mkdir(exist_ok=True)
    (directory / ".ssh" / "id_ed25519").write_text("secret")
    (directory / "notes.md").write_text("mine")
    return _snapshot(directory)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _one_line(result, *needles: str) -> str:
    assert result.rc == 2, (result.rc, result.err[-2000:])
    assert "Traceback" not in result.err, result.err[-2000:]
    lines = result.error_lines
    assert len(lines) == 1, result.err[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _hf_copy(tmp: Path, name: str = "hf") -> Path:
    dst = tmp / name
    shutil.copytree(HF_TINY, dst)
    return dst


# ------------------------------------------------------------------------------------------- data loss
@pytest.mark.parametrize("where", ["cwd", "home"])
def test_force_never_replaces_the_cwd_or_home(where, tmp_path, monkeypatch):
    user = tmp_path / "user"
    user.mkdir()
    before = _user_files(user)
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.chdir(user)
    hf = _hf_copy(tmp_path)
    out = "." if where == "cwd" else str(user)
    result = run_cli(["convert", "--hf", hf, "--output", out, "--force"])
    _one_line(result, "refusing to write", "your home directory" if where == "home" else "")
    assert _snapshot(user) == before
    record.row("safety", f"force_{where}", f"convert --output {'.' if where == 'cwd' else '~'} --force", "refused",
               result.error_lines[0])


def test_force_never_replaces_a_users_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    before = _user_files(mine)
    result = run_cli(["convert", "--hf", _hf_copy(tmp_path), "--output", mine, "--force"])
    _one_line(result, "did not write", "not even with --force")
    assert _snapshot(mine) == before


def test_force_never_replaces_the_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hf = _hf_copy(tmp_path)
    before = _snapshot(hf)
    for out in (hf, tmp_path):  # the input itself, and a parent of it
        result = run_cli(["convert", "--hf", hf, "--output", out, "--force"])
        _one_line(result, "refusing to write")
    assert _snapshot(hf) == before


def test_force_replaces_our_own_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hf = _hf_copy(tmp_path)
    assert run_cli(["convert", "--hf", hf, "--output", tmp_path / "out"]).rc == 0
    assert (tmp_path / "out" / ".paddle-electra").is_file()
    tf = run_cli(["convert", "--tf-checkpoint", TF_TINY, "--output", tmp_path / "tf"])
    assert tf.rc == 0, tf.err[-2000:]
    again = run_cli(["convert", "--hf", hf, "--output", tmp_path / "tf" / "discriminator", "--force"])
    assert again.rc == 0, again.err[-2000:]


def test_every_directory_writer_refuses_a_users_directory(tmp_path, monkeypatch, tiny, finetuned):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    before = _user_files(mine)
    data = write_classification(tmp_path / "data")
    text = tmp_path / "corpus.txt"
    text.write_text("今天天气很好。我们去北京。\n他不想去那个地方了。\n" * 20, encoding="utf-8")
    attempts = {
        "export-hf": ["export-hf", tiny["discriminator"], "--output", mine, "--force"],
        "export": ["export", finetuned, "--output", mine],
        "finetune": ["finetune", "chnsenticorp", "--data-dir", data, "--model", tiny["discriminator"], "--output",
                     mine, "--epochs", "1"],
        "pretrain": ["pretrain", "--model", tiny["discriminator"].parent, "--text", text, "--steps", "1",
                     "--output", mine, "--force", "--max-seq-length", "32", "--batch-size", "2"],
    }
    for name, argv in attempts.items():
        result = run_cli(argv)
        _one_line(result, str(mine))
        assert _snapshot(mine) == before, name


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_during_convert_force_keeps_the_previous_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hf = _hf_copy(tmp_path)
    out = tmp_path / "out"
    assert run_cli(["convert", "--hf", hf, "--output", out]).rc == 0
    before = _snapshot(out)
    import paddle_electra.checkpoint.pdparams as pdparams

    monkeypatch.setattr(pdparams.PdparamsWriter, "add", _enospc)
    result = run_cli(["convert", "--hf", hf, "--output", out, "--force"])
    _one_line(result, "no space left", "untouched")
    assert _snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_disk_full_during_export_hf_keeps_the_previous_output(tmp_path, monkeypatch, tiny):
    out = tmp_path / "hf_out"
    assert run_cli(["export-hf", tiny["discriminator"], "--output", out]).rc == 0
    before = _snapshot(out)
    import paddle_electra.checkpoint.safetensors_io as st

    monkeypatch.setattr(st, "save_safetensors", _enospc)
    result = run_cli(["export-hf", tiny["discriminator"], "--output", out, "--force"])
    _one_line(result, "no space left")
    assert _snapshot(out) == before


def test_disk_full_during_a_checkpoint_keeps_the_previous_checkpoint(tmp_path, tiny, monkeypatch):
    from paddle_electra.finetune import run_finetuning
    from paddle_electra.training import loop

    data = write_classification(tmp_path / "data", n=8)
    run = tmp_path / "run"
    calls = []
    original = loop._seal

    def seal_then_fill_the_disk(directory):
        calls.append(directory)
        if len(calls) == 1:
            return original(directory)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(loop, "_seal", seal_then_fill_the_disk)
    with pytest.raises(StoreError, match="no space left"):
        run_finetuning("chnsenticorp", data, tiny["discriminator"], run, num_train_epochs=1, train_batch_size=4,
                       do_test=False, save_every_steps=1)
    checkpoints = sorted((run / "checkpoints").glob("step-*"))
    assert [c.name for c in checkpoints] == ["step-00000001"]
    assert loop.is_complete(checkpoints[0])  # the previous checkpoint is intact and verifies
    assert not list((run / "checkpoints").glob(".step-*"))


# ------------------------------------------------------------------------------------------- pickled code
class _Touch:
    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _poison(path: Path, marker: Path) -> None:
    """A .pdparams whose unpickling would create ``marker`` (checked live on a decoy first)."""
    decoy = marker.with_name("decoy")
    pickle.loads(pickle.dumps(_Touch(decoy)))
    assert decoy.exists()
    decoy.unlink()
    path.write_bytes(pickle.dumps({"electra.embeddings.word_embeddings.weight": _Touch(marker)}, protocol=4))


def test_pdparams_with_code_never_runs_anywhere(tmp_path, monkeypatch, tiny, finetuned, clone_model):
    from paddle_electra.checkpoint.pdparams import load_pdparams
    from paddle_electra.modeling.load import load_model

    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    model = clone_model(tiny["discriminator"], "disc")
    best = clone_model(finetuned, "best")
    for directory in (model, best):
        _poison(directory / "model_state.pdparams", marker)
    attempts = [
        lambda: load_model(model),
        lambda: run_cli(["predict", best, "很好"]),
        lambda: run_cli(["export-hf", model, "--output", tmp_path / "hf"]),
        lambda: run_cli(["rtd", model, "很好"]),
        lambda: load_pdparams(best / "model_state.pdparams"),
    ]
    for attempt in attempts:
        try:
            result = attempt()
        except CheckpointError as err:
            assert "refusing to load pickled global" in str(err)
        else:
            _one_line(result, "refusing to load pickled global")
        assert not marker.exists()


def test_hub_checkpoint_and_resume_with_code_never_run(tmp_path, tiny):
    from paddle_electra.finetune import run_finetuning

    marker = tmp_path / "PWNED"
    data = write_classification(tmp_path / "data", n=8)
    run = tmp_path / "run"
    run_finetuning("chnsenticorp", data, tiny["discriminator"], run, num_train_epochs=1, train_batch_size=4,
                   do_test=False, save_every_steps=1)
    newest = sorted((run / "checkpoints").glob("step-*"))[-1]
    _poison(newest / "optimizer.pkl", marker)
    sums = json.loads((newest / "COMPLETE").read_text())  # re-seal: integrity is not authenticity
    from paddle_electra.fs import sha256_file

    sums["optimizer.pkl"] = sha256_file(newest / "optimizer.pkl")
    (newest / "COMPLETE").write_text(json.dumps(sums))
    with pytest.raises(CheckpointError, match="refusing to load pickled global"):
        run_finetuning("chnsenticorp", data, tiny["discriminator"], run, num_train_epochs=1, train_batch_size=4,
                       do_test=False, save_every_steps=1)
    assert not marker.exists()


# ------------------------------------------------------------------------------------- strict loading
def _rewrite_state(directory: Path, edit) -> None:
    from paddle_electra.checkpoint.pdparams import load_pdparams, save_pdparams

    state = load_pdparams(directory / "model_state.pdparams")
    edit(state)
    save_pdparams(state, directory / "model_state.pdparams")


def test_missing_tensor_is_named_not_randomly_initialised(tiny, clone_model):
    from paddle_electra.modeling.load import load_model

    model = clone_model(tiny["discriminator"])
    _rewrite_state(model, lambda s: s.pop("electra.encoder.layers.1.linear1.weight"))
    with pytest.raises(ConfigError, match=r"missing 1 tensor.*electra\.encoder\.layers\.1\.linear1\.weight"):
        load_model(model)


def test_config_with_fewer_layers_than_the_weights_is_refused(tiny, clone_model):
    from paddle_electra.modeling.load import load_model

    model = clone_model(tiny["discriminator"])
    config = json.loads((model / "config.json").read_text())
    config["num_hidden_layers"] -= 1
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"no place for.*encoder\.layers\.1\."):
        load_model(model)


def test_nan_weights_are_refused_at_load_and_at_convert(tmp_path, tiny, clone_model):
    from paddle_electra.checkpoint.safetensors_io import load_safetensors, save_safetensors
    from paddle_electra.convert.hf import convert_hf
    from paddle_electra.errors import ConversionError
    from paddle_electra.modeling.load import load_model

    model = clone_model(tiny["discriminator"])

    def poison(state):
        state["electra.embeddings.word_embeddings.weight"][3, 1] = np.nan

    _rewrite_state(model, poison)
    with pytest.raises(CheckpointError, match="word_embeddings.weight holds NaN or Inf"):
        load_model(model)
    hf = _hf_copy(tmp_path)
    (hf / "pytorch_model.bin").unlink(missing_ok=True)
    tensors = dict(load_safetensors(HF_TINY / "model.safetensors"))
    name = next(k for k in tensors if k.endswith("encoder.layer.0.output.dense.weight"))
    tensors[name] = tensors[name].copy()
    tensors[name][0, 0] = np.inf
    save_safetensors(tensors, hf / "model.safetensors")
    with pytest.raises(ConversionError, match="NaN/Inf"):
        convert_hf(hf, output=tmp_path / "out")


@pytest.mark.parametrize("flaw", ["bom", "duplicate"])
def test_vocab_that_would_shift_or_remap_ids_is_refused(flaw, tmp_path):
    from paddle_electra.convert.hf import convert_hf

    hf = _hf_copy(tmp_path)
    vocab = (hf / "vocab.txt").read_bytes()
    if flaw == "bom":
        (hf / "vocab.txt").write_bytes(b"\xef\xbb\xbf" + vocab)
        pattern = "byte-order mark"
    else:
        lines = vocab.split(b"\n")
        lines[10] = lines[5]
        (hf / "vocab.txt").write_bytes(b"\n".join(lines))
        pattern = r"vocab\.txt:11: token .* repeats line 6"
    with pytest.raises(ConfigError, match=pattern):
        convert_hf(hf, output=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_head_count_that_does_not_divide_hidden_is_refused():
    from paddle_electra.catalog import Sizes

    with pytest.raises(ConfigError, match="num_attention_heads=5 does not divide hidden_size=32"):
        Sizes(32, 32, 2, 5, 64)


# ------------------------------------------------------------------------------------------ fine-tuning
def test_rerun_with_other_data_refuses_to_resume_then_no_resume_starts_over(tmp_path, tiny):
    from paddle_electra.finetune import run_finetuning

    data = write_classification(tmp_path / "data", n=8)
    run = tmp_path / "run"
    args = dict(num_train_epochs=1, train_batch_size=4, do_test=False)
    run_finetuning("chnsenticorp", data, tiny["discriminator"], run, **args)
    other = write_classification(tmp_path / "other", n=12)
    with pytest.raises(StoreError, match=r"holds another run \(different data\.dev, data\.train.*--no-resume"):
        run_finetuning("chnsenticorp", other, tiny["discriminator"], run, **args)
    with pytest.raises(StoreError, match=r"different hparams\.learning_rate"):
        run_finetuning("chnsenticorp", data, tiny["discriminator"], run, learning_rate=1e-3, **args)
    again = run_finetuning("chnsenticorp", data, tiny["discriminator"], run, **args)  # the same run: resumes
    assert "dev" in again
    fresh = run_finetuning("chnsenticorp", other, tiny["discriminator"], run, resume=False, **args)
    assert json.loads((run / "run.json").read_text())["data"]["train"] != ""
    assert "dev" in fresh


def test_two_runs_into_one_output_at_once_are_refused(tmp_path, tiny):
    from paddle_electra.finetune import run_finetuning
    from paddle_electra.fs import locked

    data = write_classification(tmp_path / "data", n=8)
    run = tmp_path / "run"
    with locked(run, "a fine-tuning run"):  # another process holds the run
        with pytest.raises(StoreError, match="in use by another paddle-electra process"):
            run_finetuning("chnsenticorp", data, tiny["discriminator"], run, num_train_epochs=1, train_batch_size=4)


@pytest.mark.parametrize("flag,value,pattern", [
    ("--epochs", "-1", r"num_train_epochs=-1\.0 is out of range"),
    ("--learning-rate", "nan", r"learning_rate=nan must be a finite number"),
    ("--batch-size", "0", r"train_batch_size=0 is out of range"),
    ("--max-seq-length", "1", r"max_seq_length=1 is out of range"),
    ("--hparams", '{"learning_rate": "3e-4"}', r"learning_rate='3e-4' is a str; it must be a float"),
    ("--hparams", '{"do_train": 1}', r"do_train=1 is a int; it must be a bool"),
])
def test_every_hparam_is_validated_up_front(flag, value, pattern, tmp_path, tiny):
    data = write_classification(tmp_path / "data")
    result = run_cli(["finetune", "chnsenticorp", "--data-dir", data, "--model", tiny["discriminator"],
                      "--output", tmp_path / "run", flag, value])
    message = _one_line(result)
    assert __import__("re").search(pattern, message), message
    assert not (tmp_path / "run").exists()


def test_meaningless_jobs_are_refused(tmp_path, tiny):
    data = write_classification(tmp_path / "data")
    cases = [
        (["finetune", "chnsenticorp", "--data-dir", data, "--model", tiny["generator"], "--output", tmp_path / "g"],
         "is an ELECTRA generator"),
        (["evaluate", "chnsenticorp", "--data-dir", data, "--model", tiny["discriminator"], "--output",
          tmp_path / "e"], "never fine-tuned"),
        (["fill-mask", tiny["discriminator"], "北京是[MASK]国的首都"], "fill-mask needs the generator"),
        (["rtd", tiny["generator"], "北京是中国的首都"], "replaced-token detection needs the discriminator"),
    ]
    for argv, needle in cases:
        _one_line(run_cli(argv), needle)


def test_zero_width_only_text_is_empty(tmp_path, finetuned):
    from paddle_electra.tasks import get_task, load_split

    d = tmp_path / "finetuning_data" / "chnsenticorp"
    d.mkdir(parents=True)
    (d / "train.tsv").write_text("label\ttext_a\n1\t很好\n0\t\u200b\u200d\ufeff\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.tsv:3: empty text_a"):
        load_split(get_task("chnsenticorp"), tmp_path, "train")
    _one_line(run_cli(["predict", finetuned, "\u200b\u200c"]), "empty or whitespace only")


def test_gbk_corpus_is_read_as_gbk_not_replacement_characters(tmp_path):
    from paddle_electra.pretraining.data import TextStream
    from paddle_electra.pretraining.masking import SpecialIds
    from paddle_electra.textio import detect_encoding

    corpus = tmp_path / "gbk.txt"
    corpus.write_bytes("今天天气很好。\n我们去北京大学。\n".encode("gbk"))
    assert detect_encoding(corpus) == "gb18030"
    seen: list[str] = []

    def encode(text: str) -> list[int]:
        seen.append(text)
        return [5] * len(text)

    special = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    stream = TextStream([corpus], encode, special, max_seq_length=16, doc_format="line")
    stream.next_example()
    assert seen[:2] == ["今天天气很好。", "我们去北京大学。"] and "\ufffd" not in "".join(seen)
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\xfe\xfd\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: not valid UTF-8 \(nor GB18030"):
        detect_encoding(tmp_path / "bad.txt")


# ------------------------------------------------------------------------------------ service and signals
def test_device_gpu_on_a_cpu_build_is_one_line(tmp_path, tiny):
    import paddle

    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        pytest.skip("this machine has a GPU")
    data = write_classification(tmp_path / "data")
    _one_line(run_cli(["finetune", "chnsenticorp", "--data-dir", data, "--model", tiny["discriminator"],
                       "--output", tmp_path / "run", "--device", "gpu"]), "--device gpu", "--device cpu")


def test_serving_a_module_that_is_not_installed_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub"))
    _one_line(run_cli(["serve", "-m", "chinese-electra-small"]), "not installed",
              "paddle-electra hub-install chinese-electra-small")


def test_output_modes_follow_the_umask(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    try:
        assert run_cli(["convert", "--hf", _hf_copy(tmp_path), "--output", tmp_path / "out"]).rc == 0
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "model_state.pdparams").stat().st_mode & 0o777 == 0o644


def test_sigterm_during_convert_leaves_a_clean_state(tmp_path):
    from hub_helpers import subprocess_env

    out = tmp_path / "out"
    env = subprocess_env(PADDLE_ELECTRA_TEST_PAUSE="model-dir-write")
    proc = subprocess.Popen([PY, "-m", "paddle_electra", "convert", "--tf-checkpoint", TF_TINY, "--output", out],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "paused at model-dir-write" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "interrupted" in err
    leftovers = [p.name for p in (out.iterdir() if out.exists() else []) if ".partial-" in p.name or
                 p.name == "discriminator"]
    assert leftovers == []
    again = subprocess.run([PY, "-m", "paddle_electra", "convert", "--tf-checkpoint", TF_TINY, "--output", out],
                           env=subprocess_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]


def test_a_stalled_client_does_not_block_serving(tmp_path, tiny, private_store):
    from hub_helpers import free_port, post_json, subprocess_env, wait_http

    small = "chinese-electra-small"
    shutil.copytree(tiny["discriminator"], private_store / "models" / small)
    home = tmp_path / "hub"
    env = subprocess_env(HUB_HOME=str(home), PADDLE_ELECTRA_HOME=str(private_store))
    installed = subprocess.run([PY, "-m", "paddle_electra", "hub-install", small, "--hub-home", str(home)], env=env,
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    port = free_port()
    server = subprocess.Popen([PY, "-m", "paddle_electra.hub.serving", "start", "-m", small, "-p", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stalled = []
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=120, alive=lambda: server.poll() is None)
        for _ in range(3):  # clients that send half a request and then go silent
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /predict/" + small.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
            stalled.append(sock)
        answers: list[dict] = []

        def good() -> None:
            answers.append(post_json(f"http://127.0.0.1:{port}/predict/{small}", {"data": [["今天天气很好"]]}))

        workers = [threading.Thread(target=good) for _ in range(4)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 120  # generous under load; the old server never answered at all
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        assert len(answers) == 4 and all(a["status"] == "000" for a in answers), answers
    finally:
        for sock in stalled:
            sock.close()
        server.kill()
        server.wait(timeout=30)


def test_a_loss_that_becomes_nan_stops_training_before_the_weights_are_corrupted(tmp_path, tiny):
    data = write_classification(tmp_path / "data", n=8)
    with pytest.raises(ConfigError, match=r"training loss became (nan|inf) at step 1"):
        _nan_run(tmp_path, data, tiny)
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained, nothing saved


def _nan_run(tmp_path, data, tiny):
    """A head initialised with huge values makes the first loss inf: the loop must refuse to step."""
    from paddle_electra.finetune import run_finetuning

    head = {"classifier.weight": np.full((32, 2), 3e38, np.float32), "classifier.bias": np.zeros(2, np.float32)}
    head["classifier.weight"][:, 1] = -3e38
    np.savez(tmp_path / "head.npz", **head)
    return run_finetuning("chnsenticorp", data, tiny["discriminator"], tmp_path / "run", num_train_epochs=1,
                          train_batch_size=4, do_test=False, head_init=str(tmp_path / "head.npz"), dropout=0.0)


def test_model_directory_with_a_replaced_vocab_or_a_bad_size_is_refused(tiny, clone_model):
    from paddle_electra.modeling.load import load_model

    model = clone_model(tiny["discriminator"])
    lines = (model / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (model / "vocab.txt").write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"vocab\.txt has \d+ tokens but the model's word embeddings have"):
        load_model(model)
    other = clone_model(tiny["discriminator"], "other")
    config = json.loads((other / "config.json").read_text())
    config["hidden_size"] = "thirty-two"
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"hidden_size='thirty-two' is not a whole number"):
        load_model(other)
