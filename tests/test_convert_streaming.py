"""Conversion streams: the pdparams written tensor by tensor is what ``paddle.save`` writes, and converting
never holds the whole model in memory."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest

from paddle_electra.catalog import Sizes
from paddle_electra.checkpoint.pdparams import PdparamsWriter, save_pdparams
from paddle_electra.checkpoint.tf_bundle_writer import write_tf_checkpoint
from paddle_electra.convert.core import iter_paddle_state
from paddle_electra.convert.names import param_specs
from paddle_electra.convert.tf import convert_tf_checkpoint, plan_tf_checkpoint
from paddle_electra.errors import CheckpointError


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "electra.embeddings.word_embeddings.weight": rng.standard_normal((7, 5)).astype(np.float32),
        "t": rng.standard_normal((4, 6)).astype(np.float32).T,  # not contiguous
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros((0, 3), np.float32),
        "big": rng.standard_normal(70_000).astype(np.float32),  # > 64 KiB: BINBYTES with a 4-byte length
        "ids": np.arange(300, dtype=np.int64),
        "half": np.ones(3, np.float16),
        "x" * 300: np.zeros(2, np.float32),  # a name too long for SHORT_BINUNICODE
    }


def test_streamed_file_unpickles_like_paddle_save(tmp_path):
    import paddle

    arrays = _arrays()
    save_pdparams(arrays, tmp_path / "ours.pdparams")
    paddle.save(arrays, str(tmp_path / "ref.pdparams"))
    with open(tmp_path / "ours.pdparams", "rb") as f:
        ours = pickle.load(f)
    with open(tmp_path / "ref.pdparams", "rb") as f:
        ref = pickle.load(f)
    assert list(ours) == list(ref) == list(arrays)
    for name, value in ref.items():
        assert ours[name].dtype == value.dtype and ours[name].shape == value.shape
        np.testing.assert_array_equal(ours[name], value)
    for return_numpy in (True, False):
        loaded = paddle.load(str(tmp_path / "ours.pdparams"), return_numpy=return_numpy)
        assert list(loaded) == list(arrays)
        for name, value in arrays.items():
            got = loaded[name] if return_numpy else loaded[name].numpy()
            np.testing.assert_array_equal(got, value)


def test_writer_refuses_duplicates_and_leaves_unfinished_file_unloadable(tmp_path):
    path = tmp_path / "m.pdparams"
    with pytest.raises(RuntimeError), PdparamsWriter(path) as writer:
        writer.add("a", np.zeros(2, np.float32))
        with pytest.raises(CheckpointError, match="written twice"):
            writer.add("a", np.zeros(2, np.float32))
        raise RuntimeError("interrupted")
    with pytest.raises(Exception), open(path, "rb") as f:  # noqa: B017 - pickle's own error types
        pickle.load(f)


def test_converted_weights_equal_paddle_save_of_the_state(tmp_path, tf_tiny):
    import paddle

    written = convert_tf_checkpoint(tf_tiny, output=tmp_path / "out")
    conversion = plan_tf_checkpoint(tf_tiny)
    for role, plan in conversion.plans.items():
        old = tmp_path / f"{role}.pdparams"
        paddle.save(dict(iter_paddle_state(plan, conversion.source)), str(old))  # the former write path
        new = paddle.load(str(written[role] / "model_state.pdparams"), return_numpy=True)
        ref = paddle.load(str(old), return_numpy=True)
        assert list(new) == list(ref) and len(new) == len(plan.specs)
        for name in ref:
            assert new[name].dtype == ref[name].dtype == np.float32
            np.testing.assert_array_equal(new[name], ref[name])


# a deep, narrow model: the total (~39 MB over ~200 tensors) dwarfs its largest tensor (1 MB)
_DEEP = Sizes(embedding_size=256, hidden_size=256, num_hidden_layers=12, num_attention_heads=4,
              intermediate_size=1024, vocab_size=512, max_position_embeddings=64)


def test_conversion_peak_memory_is_one_tensor_not_the_model(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    specs = param_specs(_DEEP, "discriminator", scope="electra", emb_scope="electra")
    rng = np.random.default_rng(0)
    tensors = [(s.tf, rng.standard_normal(s.shape, dtype=np.float32)) for s in specs]
    write_tf_checkpoint(ckpt / "model", iter(tensors))
    total = sum(a.nbytes for _, a in tensors)
    largest = max(a.nbytes for _, a in tensors)
    del tensors
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (ckpt / "vocab.txt").write_text("\n".join(special + [f"t{i}" for i in range(_DEEP.vocab_size - 5)]) + "\n")
    convert_tf_checkpoint(ckpt, output=tmp_path / "warm")  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        convert_tf_checkpoint(ckpt, output=tmp_path / "out")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    written = (tmp_path / "out" / "discriminator" / "model_state.pdparams").stat().st_size
    assert written >= total
    # read buffer + transposed copy of the largest tensor, plus bookkeeping; the old path held ~2x total
    assert peak < 4 * largest + (2 << 20), (peak, largest, total)
    assert peak < total / 4
