"""TF tensor-bundle writer: round trips through our reader, and byte identity with checkpoints TF wrote.

No TensorFlow here: TF compatibility is shown by rewriting committed TF-written fixtures and comparing bytes
(the writer's module docstring records the one-off check against TF 2.21 itself).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from paddle_electra.checkpoint import sstable as sst
from paddle_electra.checkpoint import tf_bundle as tb
from paddle_electra.checkpoint.tf_bundle import open_tf_checkpoint
from paddle_electra.checkpoint.tf_bundle_writer import (
    TensorRecord,
    _short_successor,
    _shortest_separator,
    tf_dtype_code,
    write_sstable,
    write_tf_checkpoint,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f16": rng.standard_normal((5,)).astype(np.float16),
        "f64": np.array([np.nan, -0.0, np.inf, -np.inf, 1e-300]),
        "i8": np.array([-128, 127, 0], np.int8),
        "i16": np.array([[-3, 300]], np.int16),
        "i32": np.arange(24, dtype=np.int32).reshape(2, 3, 4),
        "i64": np.array([-(2**62), 2**40], np.int64),
        "u8": np.array([0, 255], np.uint8),
        "u16": np.array([65535], np.uint16),
        "u32": np.array([2**32 - 1], np.uint32),
        "u64": np.array([2**64 - 1], np.uint64),
        "bool": np.array([True, False, True]),
        "c64": np.array([1 + 2j, -0.5j], np.complex64),
        "c128": np.array([[3 - 4j]], np.complex128),
        "scalar/f32": np.array(3.25, np.float32),
        "scalar/i64": np.array(7, np.int64),
        "scalar/bool": np.array(False),
        "empty": np.zeros((0, 3), np.float32),
        "empty/1d": np.zeros((0,), np.int32),
        "electra/层/名字": np.array([1.5], np.float32),
    }


def _files(prefix: Path) -> tuple[Path, Path]:
    return Path(f"{prefix}.index"), Path(f"{prefix}.data-00000-of-00001")


# ----------------------------------------------------------------------------------------- round trip
def test_round_trip_every_dtype_exact(tmp_path: Path) -> None:
    tensors = _tensors()
    records = write_tf_checkpoint(tmp_path / "model.ckpt", tensors.items())
    assert [r.name for r in records] == sorted(tensors, key=lambda k: k.encode("utf-8"))
    with open_tf_checkpoint(tmp_path / "model.ckpt") as r:
        assert r.keys() == sorted(tensors)
        for name, want in tensors.items():
            got = r.read(name)  # verify=True: the stored masked crc32c matches
            assert got.dtype == want.dtype and got.shape == want.shape, name
            assert got.tobytes() == want.tobytes(), name  # bit-exact: nan, -0.0, extremes
            assert r.tf_dtype(name) == want.dtype.name


def test_scalars_and_empty_tensors(tmp_path: Path) -> None:
    write_tf_checkpoint(tmp_path / "s", [("a", np.float32(2.5)), ("b", 3), ("c", np.empty((2, 0, 4)))])
    with open_tf_checkpoint(tmp_path / "s") as r:
        assert r.shape("a") == () and r.read("a") == np.float32(2.5)
        assert r.shape("b") == () and r.read("b").dtype == np.asarray(3).dtype and int(r.read("b")) == 3
        assert r.read("c").shape == (2, 0, 4) and r.read("c").dtype == np.float64
        assert r._entry("c").size == 0


def test_non_contiguous_and_big_endian_inputs_are_stored_little_endian(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    tensors = {
        "strided": base[:, ::2],
        "transposed": base.T,
        "fortran": np.asfortranarray(base),
        "big": np.arange(5, dtype=">f8"),
        "big_i32": np.array([[1, -2]], dtype=">i4"),
    }
    write_tf_checkpoint(tmp_path / "x", tensors.items())
    data = _files(tmp_path / "x")[1].read_bytes()
    with open_tf_checkpoint(tmp_path / "x") as r:
        for name, want in tensors.items():
            got = r.read(name)
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype.newbyteorder("=") and got.dtype.isnative
            e = r._entry(name)
            little = np.ascontiguousarray(want, want.dtype.newbyteorder("<"))
            assert data[e.offset : e.offset + e.size] == little.tobytes()


def test_many_names_span_several_index_blocks(tmp_path: Path) -> None:
    names = [f"electra/encoder/layer_{i:04d}/attention/self/query/kernel/adam_m" for i in range(6000)]
    rng = np.random.default_rng(1)
    order = rng.permutation(len(names))  # arrival order differs from key order
    values = {names[i]: np.array([i, -i], np.float32) for i in range(len(names))}
    write_tf_checkpoint(tmp_path / "many", ((names[i], values[names[i]]) for i in order))
    raw = _files(tmp_path / "many")[0].read_bytes()
    _meta, index_handle = sst.parse_footer(raw)
    handles = list(sst.block_entries(sst.read_block(raw, index_handle)))
    assert len(handles) >= 2
    offset, pos = sst.varint(handles[0][1], 0)
    first = sst.read_block(raw, (offset, sst.varint(handles[0][1], pos)[0]))
    assert struct.unpack_from("<I", first, len(first) - 4)[0] > 1  # restart points every 16 entries
    with open_tf_checkpoint(tmp_path / "many") as r:
        assert r.keys() == sorted(names)
        offsets = [r._entry(names[i]).offset for i in order]
        assert offsets == sorted(offsets) and offsets[0] == 0  # data keeps arrival order
        for name, value in r.items():
            np.testing.assert_array_equal(value, values[name])


def test_sstable_builder_small_blocks_and_separators(tmp_path: Path) -> None:
    pairs = [(f"k{i:05d}".encode(), bytes([i % 256]) * (i % 7)) for i in range(500)]
    for block_size, interval in ((64, 1), (200, 3), (1 << 20, 16)):
        path = tmp_path / f"t{block_size}"
        with open(path, "wb") as out:
            write_sstable(out, pairs, block_size=block_size, restart_interval=interval)
        raw = path.read_bytes()
        assert sst.read_table(raw) == pairs
        index = list(sst.block_entries(sst.read_block(raw, sst.parse_footer(raw)[1])))
        assert (len(index) > 10) == (block_size < 1024)
        index_keys = [k for k, _ in index]
        assert index_keys == sorted(index_keys)
    assert _shortest_separator(b"abcd", b"abzz") == b"abd"
    assert _shortest_separator(b"abc", b"abd") == b"abc"  # no room between c and d
    assert _shortest_separator(b"ab", b"abc") == b"ab"  # prefix: unchanged
    assert _short_successor(b"u8") == b"v" and _short_successor(b"\xff\xffa") == b"\xff\xffb"
    assert _short_successor(b"\xff") == b"\xff"
    with pytest.raises(ValueError, match="strictly increasing"):
        with open(tmp_path / "bad", "wb") as out:
            write_sstable(out, [(b"b", b""), (b"a", b"")])


# ----------------------------------------------------------------------------------------- TF bytes
def _rewrite(prefix: Path, out: Path) -> list[TensorRecord]:
    """Rewrite a TF-written checkpoint with our writer, feeding tensors in TF's data-file order."""
    with open_tf_checkpoint(prefix) as r:
        order = sorted(r.keys(), key=lambda n: r._entry(n).offset)
        return write_tf_checkpoint(out, [(n, r.read(n)) for n in order])


@pytest.mark.parametrize(
    "prefix",
    [
        "tf_bundle/many/model",  # 660 keys with long names: a 334 KiB index of two data blocks
        "tf_tiny/electra_tiny",  # HFL layout: both halves, Adam slots, int64 global_step
        "tf_tiny_eqhidden/electra_tiny",
    ],
)
def test_output_is_byte_identical_to_tensorflow(tmp_path: Path, prefix: str) -> None:
    source = FIXTURES / prefix
    records = _rewrite(source, tmp_path / source.name)
    for theirs, ours in zip(_files(source), _files(tmp_path / source.name)):
        assert ours.read_bytes() == theirs.read_bytes(), ours.name
    if (source.parent / "checkpoint").is_file():  # written by Saver(save_relative_paths=True)
        assert (tmp_path / "checkpoint").read_text() == (source.parent / "checkpoint").read_text()
    with open_tf_checkpoint(source) as r:
        for rec in records:
            e = r._entry(rec.name)
            assert (rec.dtype, rec.shape, rec.offset, rec.size, rec.crc32c) == (
                e.dtype, e.shape, e.offset, e.size, e.crc32c
            )


# ----------------------------------------------------------------------------------------- files
def test_file_sizes_and_checkpoint_file(tmp_path: Path) -> None:
    tensors = _tensors()
    write_tf_checkpoint(tmp_path / "model.ckpt-12", tensors.items())
    index, data = _files(tmp_path / "model.ckpt-12")
    assert data.stat().st_size == sum(v.nbytes for v in tensors.values())  # back to back, no padding
    assert 48 < index.stat().st_size < 100 * len(tensors) + 200
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint", "model.ckpt-12.data-00000-of-00001", "model.ckpt-12.index"
    ]
    text = (tmp_path / "checkpoint").read_text()
    assert text == 'model_checkpoint_path: "model.ckpt-12"\nall_model_checkpoint_paths: "model.ckpt-12"\n'
    assert open_tf_checkpoint(tmp_path).prefix == str(tmp_path / "model.ckpt-12")  # directory resolves

    write_tf_checkpoint(tmp_path / "other", [("w", np.ones(3, np.float32))], write_checkpoint_file=False)
    assert (tmp_path / "checkpoint").read_text() == text
    write_tf_checkpoint(tmp_path / 'we"ird\\名', [("w", np.ones(3, np.float32))])
    assert open_tf_checkpoint(tmp_path).prefix == str(tmp_path / 'we"ird\\名')  # C-escaped, read back


def test_tensors_are_streamed_one_at_a_time(tmp_path: Path) -> None:
    sizes = []

    def gen():
        for i in range(5):
            (tmp,) = tmp_path.glob(".s.data-00000-of-00001.partial-*")
            sizes.append(tmp.stat().st_size)  # everything before this tensor is already on disk
            yield f"t{i}", np.full((1 << 16,), i, np.float32)  # 256 KiB: past the file buffer

    write_tf_checkpoint(tmp_path / "s", gen())
    assert sizes == [(1 << 18) * i for i in range(5)]
    assert not list(tmp_path.glob("*.partial-*"))


def test_overwrites_an_existing_checkpoint(tmp_path: Path) -> None:
    write_tf_checkpoint(tmp_path / "m", [("a", np.zeros(100, np.float32))])
    write_tf_checkpoint(tmp_path / "m", [("b", np.ones(2, np.int64))])
    with open_tf_checkpoint(tmp_path / "m") as r:
        assert r.keys() == ["b"] and r.read("b").tolist() == [1, 1]


# ----------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("tensors", "error", "match"),
    [
        ([("a", np.zeros(2)), ("a", np.ones(2))], ValueError, "duplicate tensor name 'a'"),
        ([("", np.zeros(2))], ValueError, "non-empty"),
        ([("\x00slice", np.zeros(2))], ValueError, "NUL"),
        ([("ok", np.zeros(2)), ("s", np.array(["x"]))], TypeError, "cannot be written"),
        ([("o", np.array([object()], dtype=object))], TypeError, "cannot be written"),
    ],
)
def test_bad_input_leaves_nothing_behind(tmp_path: Path, tensors, error, match) -> None:
    with pytest.raises(error, match=match):
        write_tf_checkpoint(tmp_path / "bad", tensors)
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_stream_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    write_tf_checkpoint(tmp_path / "m", [("a", np.arange(3, dtype=np.int32))])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def gen():
        yield "a", np.zeros(10, np.float32)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        write_tf_checkpoint(tmp_path / "m", gen())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_missing_directory_and_dtype_codes(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_tf_checkpoint(tmp_path / "nowhere" / "m", [("a", np.zeros(1))])
    assert tf_dtype_code(np.float32) == 1 and tf_dtype_code("float16") == 19 and tf_dtype_code(np.int64) == 9
    assert tf_dtype_code(np.dtype(">i4")) == 3 and tf_dtype_code(bool) == 10


def test_bfloat16_from_ml_dtypes(tmp_path: Path) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    value = np.array([1.5, -2.0, 3.0e38], dtype=ml_dtypes.bfloat16)
    write_tf_checkpoint(tmp_path / "b", [("bf", value)])
    with open_tf_checkpoint(tmp_path / "b") as r:
        assert r.tf_dtype("bf") == "bfloat16"
        np.testing.assert_array_equal(r.read("bf"), value.astype(np.float32))


def test_index_offsets_and_crcs_match_the_data_file(tmp_path: Path) -> None:
    """Tensors arrive in reverse key order; each index entry still points at its own bytes."""
    tensors = _tensors()
    write_tf_checkpoint(tmp_path / "o", reversed(list(tensors.items())))
    data = _files(tmp_path / "o")[1].read_bytes()
    with open_tf_checkpoint(tmp_path / "o") as r:
        for name, want in tensors.items():
            e = r._entry(name)
            assert data[e.offset : e.offset + e.size] == want.tobytes()
            assert e.crc32c == tb.mask_crc32c(tb.crc32c(want.tobytes()))
    assert os.path.getsize(_files(tmp_path / "o")[0]) > 48
