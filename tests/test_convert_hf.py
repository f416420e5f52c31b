"""HF (PyTorch) -> Paddle conversion parity on tiny models built by tests/fixtures/make_hf_fixtures.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import max_abs, paddle_outputs

from paddle_electra.convert.hf import convert_hf, export_hf
from paddle_electra.errors import CheckpointError, ConfigError, ConversionError, StoreError
from paddle_electra.modeling.load import load_model

HF = Path(__file__).parent / "fixtures" / "hf_tiny"
TOL = 1e-5


@pytest.mark.parametrize("weights", ["model.safetensors", "pytorch_model.bin"])
@pytest.mark.parametrize("kind", ["discriminator", "generator", "seq_cls"])
def test_hf_to_paddle_matches_pytorch(tmp_path, kind, weights):
    ref = np.load(HF / kind / "reference.npz")
    out = convert_hf(HF / kind / weights, output=tmp_path / "m")
    model, _ = load_model(out)
    logits = paddle_outputs(model, ref)
    assert max_abs(logits.reshape(ref["logits"].shape), ref["logits"]) <= TOL
    backbone = paddle_outputs(model.electra, ref)
    assert max_abs(backbone, ref["sequence_output"]) <= TOL


def test_converted_dir_loads_in_plain_paddlenlp(tmp_path):
    from paddlenlp.transformers import ElectraDiscriminator, ElectraForSequenceClassification, ElectraTokenizer

    out = convert_hf(HF / "discriminator", output=tmp_path / "d")
    ref = np.load(HF / "discriminator" / "reference.npz")
    assert max_abs(paddle_outputs(ElectraDiscriminator.from_pretrained(str(out)), ref), ref["logits"]) <= TOL
    cls = ElectraForSequenceClassification.from_pretrained(str(out), num_labels=2)
    assert cls.config.vocab_size == 171
    tokens = ElectraTokenizer.from_pretrained(str(out))("今天天气很好")["input_ids"]
    assert tokens[0] == 2 and tokens[-1] == 3


@pytest.mark.parametrize("kind,cls_name", [("discriminator", "ElectraForPreTraining"),
                                           ("generator", "ElectraForMaskedLM"),
                                           ("seq_cls", "ElectraForSequenceClassification")])
def test_paddle_to_hf_round_trip_loads_in_transformers(tmp_path, kind, cls_name):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    ref = np.load(HF / kind / "reference.npz")
    paddle_dir = convert_hf(HF / kind, output=tmp_path / "paddle")
    hf_dir = export_hf(paddle_dir, tmp_path / "hf")
    model = getattr(transformers, cls_name).from_pretrained(hf_dir).eval()
    with torch.no_grad():
        logits = model(**{k: torch.from_numpy(ref[k]) for k in ("input_ids", "token_type_ids", "attention_mask")})
    assert max_abs(logits.logits.numpy(), ref["logits"]) <= TOL
    assert json.loads((hf_dir / "config.json").read_text())["architectures"] == [cls_name]


def test_named_variant_with_wrong_sizes_is_refused(tmp_path):
    with pytest.raises(ConversionError, match=r"word_embeddings\.weight' has shape \[171,16\] but "
                                              r"chinese-electra-small expects \[21128,128\]; the checkpoint "
                                              r"matches no HFL release .* --output DIR instead of --name"):
        convert_hf(HF / "discriminator", name="chinese-electra-small")


def test_bad_inputs(tmp_path):
    with pytest.raises(CheckpointError, match="no model.safetensors or pytorch_model.bin"):
        convert_hf(tmp_path, output=tmp_path / "o")
    no_vocab = tmp_path / "novocab"
    shutil.copytree(HF / "discriminator", no_vocab)
    (no_vocab / "vocab.txt").unlink()
    with pytest.raises(ConfigError, match="no vocab.txt; pass --vocab"):
        convert_hf(no_vocab, output=tmp_path / "o")
    assert not (tmp_path / "o").exists()
    short_vocab = tmp_path / "short.txt"
    short_vocab.write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="has 2 tokens but the model's word embeddings have 171 rows"):
        convert_hf(HF / "discriminator", output=tmp_path / "o", vocab=short_vocab)
    assert not (tmp_path / "o").exists()


def test_output_holding_another_model_is_refused(tmp_path):
    out = convert_hf(HF / "discriminator", output=tmp_path / "m")
    convert_hf(HF / "discriminator", output=out)  # same source again: fine (idempotent)
    with pytest.raises(StoreError, match="already holds a different model; pass --force"):
        convert_hf(HF / "generator", output=out)
    before = (out / "model_state.pdparams").read_bytes()
    assert convert_hf(HF / "generator", output=out, force=True) == out
    assert (out / "model_state.pdparams").read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial dirs left behind
