"""TF checkpoint -> Paddle parity against activations computed by TensorFlow (tests/fixtures/make_tf_fixtures.py)."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from helpers import max_abs, paddle_outputs

from paddle_electra.cli import main as cli
from paddle_electra.convert.tf import convert_tf_checkpoint
from paddle_electra.errors import CheckpointError, ConfigError, ConversionError, StoreError
from paddle_electra.modeling.load import load_model

TOL = 1e-5


def _feed(ref):
    return {"input_ids": ref["input_ids"], "token_type_ids": ref["token_type_ids"], "attention_mask": ref["input_mask"]}


@pytest.mark.parametrize("fixture", ["tf_tiny", "tf_tiny_eqhidden", "tf_hfl_style"])
def test_both_halves_match_tensorflow(request, tmp_path, fixture):
    ckpt = request.getfixturevalue(fixture)
    ref = np.load(ckpt / "reference.npz")
    written = convert_tf_checkpoint(ckpt, output=tmp_path)
    assert written == {"discriminator": tmp_path / "discriminator", "generator": tmp_path / "generator"}
    disc, _ = load_model(written["discriminator"])
    gen, _ = load_model(written["generator"])
    feed = _feed(ref)
    assert max_abs(paddle_outputs(disc.electra, feed), ref["disc_sequence_output"]) <= TOL
    assert max_abs(paddle_outputs(disc, feed), ref["disc_logits"]) <= TOL
    assert max_abs(paddle_outputs(gen.electra, feed), ref["gen_sequence_output"]) <= TOL
    assert max_abs(paddle_outputs(gen, feed), ref["gen_logits"]) <= TOL
    # tied embeddings: the generator's table is the discriminator's
    np.testing.assert_array_equal(disc.electra.embeddings.word_embeddings.weight.numpy(),
                                  gen.electra.embeddings.word_embeddings.weight.numpy())


def test_prefix_index_file_and_directory_are_all_accepted(tmp_path, tf_tiny):
    for i, path in enumerate([tf_tiny, tf_tiny / "electra_tiny", tf_tiny / "electra_tiny.index"]):
        out = convert_tf_checkpoint(path, output=tmp_path / str(i))
        assert (out["generator"] / "model_state.pdparams").is_file()


def test_optimizer_slots_skipped_with_one_summary_line(tmp_path, tf_tiny, caplog):
    caplog.set_level(logging.INFO, logger="paddle_electra")
    convert_tf_checkpoint(tf_tiny, output=tmp_path)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("paddle_electra")]
    summary = [m for m in ours if "optimizer/training-state" in m]
    assert len(summary) == 1
    assert "247 tensors -> discriminator (" in summary[0] and "skipped 165 optimizer/training-state" in summary[0]
    assert not any("adam" in m for m in ours)


def test_store_by_name_writes_both_halves_and_resolves_offline(tf_tiny, private_store):
    # The tiny checkpoint is no HFL release, so naming one must be refused, naming the shapes...
    with pytest.raises(ConversionError, match=r"electra/embeddings/word_embeddings' has shape \[171,16\] but "
                                              r"chinese-electra-small expects \[21128,128\]"):
        convert_tf_checkpoint(tf_tiny, name="chinese-electra-small")
    assert not (private_store / "models").exists() or not any((private_store / "models").iterdir())


def test_cli_convert_list_info(tmp_path, tf_tiny, capsys):
    assert cli(["convert", "--tf-checkpoint", str(tf_tiny), "--output", str(tmp_path / "out")]) == 0
    assert cli(["info", str(tmp_path / "out" / "generator")]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 2)[-1])
    assert info["sizes"]["hidden_size"] == 8 and info["provenance"]["role"] == "generator"
    assert cli(["list"]) == 0
    assert "chinese-legal-electra-large-generator" in capsys.readouterr().out


@pytest.mark.parametrize("damage,error,message", [
    ("truncate", CheckpointError, "truncated|beyond the end|shorter"),
    ("drop_index", CheckpointError, r"electra_tiny\.index"),
    ("drop_data", CheckpointError, r"electra_tiny\.data-00000-of-00001"),
])
def test_damaged_checkpoints_give_clear_errors_and_no_output(tmp_path, tf_tiny, damage, error, message):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tf_tiny, ckpt)
    data = ckpt / "electra_tiny.data-00000-of-00001"
    if damage == "truncate":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif damage == "drop_index":
        (ckpt / "electra_tiny.index").unlink()
    else:
        data.unlink()
    with pytest.raises(error, match=message):
        convert_tf_checkpoint(ckpt / "electra_tiny", output=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_wrong_prefix_and_mismatched_config(tmp_path, tf_tiny):
    with pytest.raises(CheckpointError, match="electra_small"):
        convert_tf_checkpoint(tf_tiny / "electra_small", output=tmp_path / "o")
    with pytest.raises(ConversionError, match=r"chinese-electra-base expects \[21128,768\]"):
        convert_tf_checkpoint(tf_tiny, output=tmp_path / "o", config=None) if False else \
            convert_tf_checkpoint(tf_tiny, name="chinese-electra-base")
    with pytest.raises(ConfigError, match="exactly one of --output DIR or --name"):
        convert_tf_checkpoint(tf_tiny)


def test_output_dir_with_other_model_refused(tmp_path, tf_tiny, tf_tiny_eqhidden):
    convert_tf_checkpoint(tf_tiny, output=tmp_path)
    with pytest.raises(StoreError, match="already holds a different model; pass --force"):
        convert_tf_checkpoint(tf_tiny_eqhidden, output=tmp_path)
    convert_tf_checkpoint(tf_tiny, output=tmp_path)  # re-running the same conversion is harmless
    assert convert_tf_checkpoint(tf_tiny_eqhidden, output=tmp_path, force=True)["discriminator"].is_dir()


def test_non_electra_checkpoint_is_named(tmp_path):
    from paddle_electra.convert.core import TensorSource
    from paddle_electra.convert.tf import _not_electra

    err = _not_electra(TensorSource("x/bert_model.ckpt", {"bert/embeddings/word_embeddings": (10, 4)}, None))
    assert "a BERT checkpoint" in str(err) and "electra/embeddings/word_embeddings" in str(err)


def test_cli_error_is_one_line_without_traceback(tmp_path, capsys):
    code = cli(["convert", "--tf-checkpoint", str(tmp_path / "nothing"), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1


# ------------------------------------------------------------------- checkpoint paths as users have them
def _hfl_copy(tmp_path, tf_hfl_style, checkpoint_text=None):
    d = tmp_path / "release"
    shutil.copytree(tf_hfl_style, d)
    if checkpoint_text is not None:
        (d / "checkpoint").write_text(checkpoint_text)
    return d


def test_hfl_style_compressed_index_converts_by_every_spelling(tmp_path, tf_hfl_style):
    d = _hfl_copy(tmp_path, tf_hfl_style)
    spellings = [d, d / "electra_small.ckpt", d / "electra_small.ckpt.index", d / "electra_small",
                 d / "electra_small.ckpt.data-00000-of-00001", d / "checkpoint"]
    for i, path in enumerate(spellings):
        assert convert_tf_checkpoint(path, output=tmp_path / f"out{i}")["discriminator"].is_dir(), path


@pytest.mark.parametrize("target", ["/home/hfl/train/electra_small.ckpt", "gs://hfl-bucket/models/electra_small.ckpt",
                                    "electra_small.ckpt"])
def test_checkpoint_file_paths_from_the_training_machine(tmp_path, tf_hfl_style, target):
    d = _hfl_copy(tmp_path, tf_hfl_style, f'model_checkpoint_path: "{target}"\n')
    assert convert_tf_checkpoint(d, output=tmp_path / "out")["generator"].is_dir()


def test_checkpoint_file_pointing_at_another_existing_directory_prefers_the_named_one(tmp_path, tf_hfl_style,
                                                                                      tf_tiny, caplog):
    other = tmp_path / "other"
    shutil.copytree(tf_tiny, other)  # a different, existing checkpoint elsewhere on this machine
    (other / "electra_small.ckpt.index").write_bytes((other / "electra_tiny.index").read_bytes())
    (other / "electra_small.ckpt.data-00000-of-00001").write_bytes(b"not this one")
    d = _hfl_copy(tmp_path, tf_hfl_style, f'model_checkpoint_path: "{other / "electra_small.ckpt"}"\n')
    caplog.set_level(logging.WARNING, logger="paddle_electra")
    from paddle_electra.checkpoint.tf_bundle import open_tf_checkpoint

    assert open_tf_checkpoint(d).prefix == str(d / "electra_small.ckpt")
    assert any("in another directory" in r.getMessage() and "the copy in the directory you named" in r.getMessage()
               for r in caplog.records)


def test_inspect_plans_every_tensor_from_the_index_alone(tmp_path, tf_hfl_style, capsys):
    from paddle_electra.convert.inspect import inspect_path

    d = _hfl_copy(tmp_path, tf_hfl_style)
    (d / "electra_small.ckpt.data-00000-of-00001").unlink()  # a user checking a download before the shard
    report = inspect_path(d)
    assert len(report.rows) == 247 and report.kind == "tensorflow"
    counts = report.counts()
    assert counts["skipped"] == 165 and counts["discriminator"] + counts["generator"] == 247 - 165
    assert any("data shard missing: electra_small.ckpt.data-00000-of-00001" in n for n in report.notes)
    word = next(r for r in report.rows if r.name == "electra/embeddings/word_embeddings")
    assert "discriminator: electra.embeddings.word_embeddings.weight" in word.destination
    assert "generator: electra.embeddings.word_embeddings.weight" in word.destination  # tied
    assert cli(["inspect", str(d)]) == 0 and "skipped: optimizer/training state" in capsys.readouterr().out
    converted = convert_tf_checkpoint(tf_hfl_style, output=tmp_path / "out")["discriminator"]
    paddle_report = inspect_path(converted)
    assert paddle_report.kind == "paddle" and len(paddle_report.rows) == counts["discriminator"]
