"""Real HFL weights, when ../shared/models holds them (skipped otherwise; see ../shared/SOURCES.md).

Looks for an HFL TF release (a directory with ``electra_*.index``) or an HF upload (``config.json`` +
weights) of the small model, converts it, and checks the generator fills a mask with the obvious character
and, for HF uploads, that the discriminator's logits equal transformers' on a real sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_models
from helpers import max_abs, paddle_outputs

pytestmark = [pytest.mark.slow, pytest.mark.real_weights]
SENTENCE_MASKED = "中国的首都是北[MASK]。"


def _find(pattern: str) -> Path | None:
    root = shared_models()
    if root is None:
        return None
    hits = sorted(root.rglob(pattern))
    return hits[0] if hits else None


def test_tf_release_fill_mask_and_rtd(tmp_path):
    index = _find("electra_small.index")
    if index is None:
        pytest.skip("no HFL TF small checkpoint under ../shared/models")
    from paddle_electra.convert.tf import convert_tf_checkpoint
    from paddle_electra.inference import detect_replaced, fill_mask

    written = convert_tf_checkpoint(index.parent, name="chinese-electra-small")
    top = fill_mask(written["generator"], [SENTENCE_MASKED], top_k=3)[0][0].candidates
    assert top[0][0] == "京", top
    scores = detect_replaced(written["discriminator"], ["今天天气很好。", "今天天气很鸭。"])
    assert max(s.replaced_prob for s in scores[1]) > max(s.replaced_prob for s in scores[0])


def test_hf_upload_matches_transformers(tmp_path):
    config = _find("chinese-electra*small*discriminator*/config.json")
    if config is None:
        pytest.skip("no hfl/chinese-electra-*-small-discriminator upload under ../shared/models")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from paddle_electra.convert.hf import convert_hf
    from paddle_electra.modeling.load import load_model
    from paddle_electra.tokenizer import load_tokenizer

    out = convert_hf(config.parent, output=tmp_path / "d")
    model, _ = load_model(out)
    enc = load_tokenizer(out)(["今天天气很好，我们去公园散步吧。"], return_attention_mask=True)
    feed = {k: np.asarray(enc[k], dtype="int64") for k in ("input_ids", "token_type_ids", "attention_mask")}
    ref = transformers.ElectraForPreTraining.from_pretrained(config.parent).eval()
    with torch.no_grad():
        logits = ref(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.numpy()
    assert max_abs(paddle_outputs(model, feed).reshape(logits.shape), logits) <= 1e-4
