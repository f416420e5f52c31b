"""The name table against the real PaddleNLP classes: same parameter names, same shapes, same order."""

import pytest
from paddlenlp import transformers as nlp

from paddle_electra.catalog import Sizes
from paddle_electra.convert.names import PADDLE_ARCH, param_specs, renamer, strip_prefix
from paddle_electra.modeling.config import electra_config

TINY = {"proj": Sizes(16, 32, 2, 2, 64, 50, 64), "eq": Sizes(24, 24, 2, 2, 48, 50, 64)}


@pytest.mark.parametrize("sizes", TINY.values(), ids=TINY.keys())
@pytest.mark.parametrize("head", ["model", "discriminator", "generator", "seq-cls", "token-cls", "qa"])
def test_specs_equal_paddlenlp_state_dict(sizes, head):
    model = getattr(nlp, PADDLE_ARCH[head])(electra_config(sizes, num_labels=3))
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    specs = param_specs(sizes, head, num_labels=3)
    if head == "model":
        specs = strip_prefix(specs)
    assert sorted(s.paddle for s in specs) == sorted(state)
    assert {s.paddle: s.shape for s in specs} == state


def test_tf_and_hf_names_round_trip():
    specs = param_specs(TINY["proj"], "discriminator")
    tf = renamer("tf", ("discriminator",))
    hf = renamer("hf", ("model", "discriminator"))
    for spec in specs:
        assert tf(spec.tf) == (spec.paddle, False)
        assert hf(spec.hf) == (spec.paddle, spec.transpose_hf)
    assert tf("generator/encoder/layer_0/output/dense/kernel") is None  # another scope: not the discriminator's


def test_transpose_only_linear_weights():
    transposed = {s.hf for s in param_specs(TINY["proj"], "generator") if s.transpose_hf}
    assert "electra.encoder.layer.0.attention.self.query.weight" in transposed
    assert "generator_predictions.dense.weight" in transposed
    assert not any("LayerNorm" in n or "embeddings.word" in n or n.endswith(".bias") for n in transposed)
