"""TF-free tensor-bundle reader against checkpoints written by real TensorFlow (committed fixtures).

Fixtures come from ``tests/fixtures/make_tf_bundle_fixtures.py`` (needs TF; CI only reads the outputs).
Every failure case copies a fixture into ``tmp_path`` and damages the copy.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from paddle_electra.checkpoint import sstable as sst
from paddle_electra.checkpoint import tf_bundle as tb
from paddle_electra.checkpoint.tf_bundle import TFCheckpointReader, open_tf_checkpoint
from paddle_electra.checkpoint.tf_bundle_writer import _varint as _pb_varint
from paddle_electra.checkpoint.tf_bundle_writer import write_sstable
from paddle_electra.errors import CheckpointError

FIXTURES = Path(__file__).parent / "fixtures" / "tf_bundle"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["fixtures"]
EXPECTED = dict(np.load(FIXTURES / "expected.npz"))
NUMPY_NAMES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


def _copy(tmp_path: Path, sub: str) -> Path:
    return Path(shutil.copytree(FIXTURES / sub, tmp_path / sub))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def _many_keys() -> dict[str, np.ndarray]:
    m = MANIFEST["many"]
    out = {}
    for layer in range(m["layers"]):
        for i, leaf in enumerate(m["leaves"]):
            name = m["key"].format(layer=layer, scope=m["scope"], leaf=leaf)
            out[name] = np.array([layer, i, -layer - 0.5], dtype=np.float32)
    return out


# ----------------------------------------------------------------------------------------- values
@pytest.mark.parametrize("fixture", ["dtypes-7", "dtypes-3", "sharded", "tf2", "partitioned"])
def test_keys_shapes_dtypes_match_manifest(fixture: str) -> None:
    m = MANIFEST[fixture]
    with open_tf_checkpoint(FIXTURES / m["prefix"]) as r:
        assert r.keys() == m["keys"]
        assert len(r) == len(m["keys"]) and all(k in r for k in m["keys"])
        for key in m["keys"]:
            assert r.shape(key) == tuple(m["shapes"][key])
            assert r.tf_dtype(key) == m["dtypes"][key]
            if m["dtypes"][key] in NUMPY_NAMES:
                assert r.dtype(key) == np.dtype(m["dtypes"][key])


@pytest.mark.parametrize("fixture", ["dtypes-7", "dtypes-3", "sharded", "tf2", "partitioned"])
def test_values_equal_what_tensorflow_restored(fixture: str) -> None:
    expected = {k.split(":", 1)[1]: v for k, v in EXPECTED.items() if k.startswith(fixture + ":")}
    assert expected
    with open_tf_checkpoint(FIXTURES / MANIFEST[fixture]["prefix"]) as r:
        for name, want in expected.items():
            got = r.read(name)
            assert got.dtype == want.dtype, name
            assert got.shape == want.shape, name
            np.testing.assert_array_equal(got, want, err_msg=name)  # nan == nan, -0.0 vs 0.0 via bits below
            assert got.tobytes() == want.tobytes(), name
            assert got.flags.writeable
            got[...] = 0 if got.size else got  # writeable really means writeable


def test_every_dtype_is_covered_and_bfloat16_reads_as_float32() -> None:
    m = MANIFEST["dtypes-7"]
    assert set(m["dtypes"].values()) == NUMPY_NAMES | {"bfloat16", "string"}
    with open_tf_checkpoint(FIXTURES / m["prefix"]) as r:
        assert r.dtype("dtypes/bf16") == np.float32
        bf16 = r.read("dtypes/bf16")
        assert bf16.dtype == np.float32 and not (bf16.view(np.uint32) & 0xFFFF).any()
        assert r.read("dtypes/scalar").shape == () and r.read("dtypes/scalar") == np.float32(3.25 * 7)
        assert r.read("global_step").shape == () and int(r.read("global_step")) == 7
        assert r.read("dtypes/empty").shape == (0, 3)
        assert r.read("dtypes/bool").dtype == np.bool_


def test_many_variables_span_several_index_blocks() -> None:
    prefix = FIXTURES / MANIFEST["many"]["prefix"]
    raw = Path(str(prefix) + ".index").read_bytes()
    _meta, index_handle = sst.parse_footer(raw)
    handles = list(sst.block_entries(sst.read_block(raw, index_handle)))
    assert len(handles) >= 2  # two data blocks: the reader must follow the index block
    first_offset, pos = sst.varint(handles[0][1], 0)
    first_size, _ = sst.varint(handles[0][1], pos)
    block = sst.read_block(raw, (first_offset, first_size))
    assert struct.unpack_from("<I", block, len(block) - 4)[0] > 1  # several restart points
    expected = _many_keys()
    with open_tf_checkpoint(prefix) as r:
        assert r.keys() == sorted(expected)
        for name, value in r.items():
            np.testing.assert_array_equal(value, expected[name])


def test_sharded_checkpoint_reads_both_shards() -> None:
    with open_tf_checkpoint(FIXTURES / "sharded") as r:
        assert r.num_shards == 2
        assert {r._entry(k).shard_id for k in r.keys()} == {0, 1}
        got = dict(r.items())
    for key, want in EXPECTED.items():
        if key.startswith("sharded:"):
            np.testing.assert_array_equal(got[key.split(":", 1)[1]], want)


def test_stored_crc_is_masked_crc32c_of_the_tensor_bytes() -> None:
    with open_tf_checkpoint(FIXTURES / "dtypes") as r:
        data = Path(r.prefix + ".data-00000-of-00001").read_bytes()
        for name in r.keys():
            if not r.readable(name):
                continue  # string crcs cover lengths as uint32, not the stored varints
            e = r._entry(name)
            plain = tb.crc32c(data[e.offset : e.offset + e.size])
            assert e.crc32c == tb.mask_crc32c(plain) != plain, name
            assert tb.unmask_crc32c(e.crc32c) == plain


def test_crc32c_reference_values_and_continuation() -> None:
    assert tb.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    rng = np.random.default_rng(0)
    blob = rng.integers(0, 256, 70_001, dtype=np.uint8).tobytes()
    for n in (0, 1, 3, 16, 17, 255, 4097, 70_001):  # continuing from a prefix's crc, from bytes and from views
        assert tb.crc32c(blob[n:], tb.crc32c(blob[:n])) == tb.crc32c(blob), n
        assert tb.crc32c(memoryview(blob)[n:], tb.crc32c(memoryview(blob)[:n])) == tb.crc32c(blob), n
    for v in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert tb.unmask_crc32c(tb.mask_crc32c(v)) == v


# ----------------------------------------------------------------------------------------- paths
@pytest.mark.parametrize(
    "arg",
    [
        "dtypes",  # directory: `checkpoint` file says model.ckpt-7
        "dtypes/checkpoint",
        "dtypes/model.ckpt-7",
        "dtypes/model.ckpt-7.index",
        "dtypes/model.ckpt-7.data-00000-of-00001",
        "dtypes/model.ckpt-7.meta",  # not committed: only its name is used
    ],
)
def test_path_resolution(arg: str) -> None:
    with TFCheckpointReader(FIXTURES / arg) as r:
        assert r.prefix == str(FIXTURES / "dtypes" / "model.ckpt-7")
    assert open_tf_checkpoint(str(FIXTURES / arg)).prefix == r.prefix


def test_directory_with_single_index_and_no_checkpoint_file(tmp_path: Path) -> None:
    d = _copy(tmp_path, "sharded")
    (d / "checkpoint").unlink()
    assert open_tf_checkpoint(d).prefix == str(d / "model.ckpt")


def test_checkpoint_file_with_stale_absolute_path_falls_back_to_basename(tmp_path: Path) -> None:
    d = _copy(tmp_path, "dtypes")
    (d / "checkpoint").write_text('model_checkpoint_path: "/old/machine/run/model.ckpt-3"\n')
    with open_tf_checkpoint(d) as r:
        assert r.prefix == str(d / "model.ckpt-3") and int(r.read("global_step")) == 3


def test_directory_with_two_checkpoints_and_no_checkpoint_file(tmp_path: Path) -> None:
    d = _copy(tmp_path, "dtypes")
    (d / "checkpoint").unlink()
    with pytest.raises(CheckpointError) as err:
        open_tf_checkpoint(d)
    msg = str(err.value)
    assert str(d) in msg and "2 TensorFlow checkpoints" in msg
    assert str(d / "model.ckpt-3") in msg and str(d / "model.ckpt-7") in msg and "prefix" in msg


def test_checkpoint_file_naming_a_missing_checkpoint(tmp_path: Path) -> None:
    d = _copy(tmp_path, "dtypes")
    (d / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-9"\n')
    with pytest.raises(
        CheckpointError, match=r"names 'model\.ckpt-9' but .*model\.ckpt-9\.index does not exist"
    ):
        open_tf_checkpoint(d)


def test_wrong_prefix_lists_available_prefixes() -> None:
    with pytest.raises(CheckpointError) as err:
        open_tf_checkpoint(FIXTURES / "dtypes" / "model.ckpt-5")
    msg = str(err.value)
    assert f"looked for {FIXTURES / 'dtypes' / 'model.ckpt-5'}.index" in msg
    assert (
        str(FIXTURES / "dtypes" / "model.ckpt-3") in msg and str(FIXTURES / "dtypes" / "model.ckpt-7") in msg
    )
    assert "\n" not in msg


def test_directory_without_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(CheckpointError) as err:
        open_tf_checkpoint(tmp_path)
    msg = str(err.value)
    assert f"no TensorFlow checkpoint in directory {tmp_path}" in msg and "*.index" in msg


def test_directory_hint_points_into_subfolder(tmp_path: Path) -> None:
    _copy(tmp_path, "tf2")
    with pytest.raises(CheckpointError, match=r"found in subfolders: .*tf2[/\\]ckpt-1"):
        open_tf_checkpoint(tmp_path)


def test_missing_parent_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"directory .*nowhere does not exist"):
        open_tf_checkpoint(tmp_path / "nowhere" / "model.ckpt")


def test_missing_index(tmp_path: Path) -> None:
    d = _copy(tmp_path, "tf2")
    (d / "ckpt-1.index").unlink()
    with pytest.raises(CheckpointError) as err:
        open_tf_checkpoint(d / "ckpt-1")
    msg = str(err.value)
    assert f"missing index file {d / 'ckpt-1'}.index" in msg and "ckpt-1.data-00000-of-00001" in msg


def test_plain_file_is_not_a_v2_checkpoint(tmp_path: Path) -> None:
    f = tmp_path / "model.ckpt"
    f.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"model\.ckpt is not a TensorFlow V2 checkpoint .*V1"):
        open_tf_checkpoint(f)


# ----------------------------------------------------------------------------------------- damage
def test_missing_data_shard_is_named(tmp_path: Path) -> None:
    d = _copy(tmp_path, "sharded")
    (d / "model.ckpt.data-00001-of-00002").unlink()
    with open_tf_checkpoint(d) as r:
        on_shard = {0: [], 1: []}
        for k in r.keys():
            on_shard[r._entry(k).shard_id].append(k)
        for k in on_shard[0]:
            r.read(k)  # the surviving shard still reads
        with pytest.raises(CheckpointError) as err:
            r.read(on_shard[1][0])
    msg = str(err.value)
    assert f"missing data file {d / 'model.ckpt.data-00001-of-00002'}" in msg
    assert "shard 2 of 2" in msg and repr(on_shard[1][0]) in msg and "model.ckpt.data-00000-of-00002" in msg


def test_truncated_data_file(tmp_path: Path) -> None:
    d = _copy(tmp_path, "dtypes")
    data = d / "model.ckpt-7.data-00000-of-00001"
    with open_tf_checkpoint(d) as r:
        e = r._entry("global_step")
    with open(data, "r+b") as f:
        f.truncate(e.offset + 3)
    with open_tf_checkpoint(d) as r, pytest.raises(CheckpointError) as err:
        r.read("global_step")
    msg = str(err.value)
    assert f"truncated data file {data}" in msg and "'global_step'" in msg
    assert f"offset {e.offset} + size {e.size}" in msg and f"has {e.offset + 3} bytes" in msg


def test_bit_flip_in_tensor_is_caught_by_checksum(tmp_path: Path) -> None:
    d = _copy(tmp_path, "dtypes")
    data = d / "model.ckpt-7.data-00000-of-00001"
    with open_tf_checkpoint(d) as r:
        e = r._entry("dtypes/f64")
        good = r.read("dtypes/f64")
    _flip(data, e.offset + 2)
    with open_tf_checkpoint(d) as r:
        with pytest.raises(CheckpointError) as err:
            r.read("dtypes/f64")
        assert not np.array_equal(r.read("dtypes/f64", verify=False), good, equal_nan=True)
        r.read("dtypes/f32")  # neighbours are unaffected
    msg = str(err.value)
    assert "checksum mismatch for tensor 'dtypes/f64'" in msg and str(data) in msg and "re-download" in msg


def test_bit_flip_in_index_block(tmp_path: Path) -> None:
    d = _copy(tmp_path, "dtypes")
    _flip(d / "model.ckpt-7.index", 30)
    with pytest.raises(CheckpointError) as err:
        open_tf_checkpoint(d)
    msg = str(err.value)
    assert f"corrupt TensorFlow checkpoint index {d / 'model.ckpt-7.index'}" in msg and "CRC" in msg


def test_truncated_index(tmp_path: Path) -> None:
    d = _copy(tmp_path, "dtypes")
    index = d / "model.ckpt-7.index"
    index.write_bytes(index.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"model\.ckpt-7\.index: bad SSTable magic"):
        open_tf_checkpoint(d)
    index.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"shorter than the 48-byte SSTable footer"):
        open_tf_checkpoint(d)


def test_snappy_compressed_index_reads_like_the_uncompressed_one(tmp_path: Path) -> None:
    """HFL's releases were written by TF builds that snappy-compress index blocks (type byte 1)."""
    from paddle_electra.checkpoint.tf_bundle_writer import write_tf_checkpoint

    rng = np.random.default_rng(0)
    tensors = [(f"electra/encoder/layer_{i}/output/dense/kernel", rng.standard_normal((8, 4)).astype(np.float32))
               for i in range(40)]
    write_tf_checkpoint(tmp_path / "plain", tensors)
    write_tf_checkpoint(tmp_path / "packed", tensors, compression="snappy")
    plain, packed = (tmp_path / "plain.index").read_bytes(), (tmp_path / "packed.index").read_bytes()
    _meta, index_handle = sst.parse_footer(packed)
    first = list(sst.block_entries(sst.read_block(packed, index_handle)))[0][1]
    offset, pos = sst.varint(first, 0)
    size, _ = sst.varint(first, pos)
    assert packed[offset + size] == 1 and len(packed) < len(plain)  # the data block is stored compressed
    with open_tf_checkpoint(tmp_path / "plain") as a, open_tf_checkpoint(tmp_path / "packed") as b:
        assert a.keys() == b.keys()
        for name in a.keys():
            np.testing.assert_array_equal(a.read(name), b.read(name))


def test_snappy_block_that_does_not_decompress_is_corrupt(tmp_path: Path) -> None:
    d = _copy(tmp_path, "tf2")
    index = d / "ckpt-1.index"
    raw = bytearray(index.read_bytes())
    _meta, index_handle = sst.parse_footer(bytes(raw))
    handle = list(sst.block_entries(sst.read_block(bytes(raw), index_handle)))[0][1]
    offset, pos = sst.varint(handle, 0)
    size, _ = sst.varint(handle, pos)
    raw[offset + size] = 1  # type byte: snappy, with a valid crc, over bytes that are not snappy data
    struct.pack_into(
        "<I", raw, offset + size + 1, tb.mask_crc32c(tb.crc32c(bytes(raw[offset : offset + size + 1])))
    )
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"ckpt-1\.index: block at offset 0 is snappy-compressed but does not "
                       r"decompress.*re-download"):
        open_tf_checkpoint(d)


# ----------------------------------------------------------------------------------------- unsupported
def test_string_tensor_is_listed_but_not_readable() -> None:
    with open_tf_checkpoint(FIXTURES / "tf2") as r:
        assert "_CHECKPOINTABLE_OBJECT_GRAPH" in r.keys()
        assert (
            r.tf_dtype("_CHECKPOINTABLE_OBJECT_GRAPH") == "string"
            and r.shape("_CHECKPOINTABLE_OBJECT_GRAPH") == ()
        )
        assert not r.readable("_CHECKPOINTABLE_OBJECT_GRAPH")
        for call in (r.read, r.dtype):
            with pytest.raises(
                CheckpointError, match=r"'_CHECKPOINTABLE_OBJECT_GRAPH' in .*ckpt-1\.index is a string"
            ):
                call("_CHECKPOINTABLE_OBJECT_GRAPH")
        with pytest.raises(CheckpointError, match="string tensor"):
            dict(r.items())
        readable = dict(r.items(skip_unsupported=True))
        assert sorted(readable) == [k for k in r.keys() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]


def test_partitioned_variable_is_rejected_clearly() -> None:
    with open_tf_checkpoint(FIXTURES / "partitioned") as r:
        assert r.keys() == ["part/emb", "part/whole"]  # slice entries ("\x00part/emb...") are hidden
        assert r.shape("part/emb") == (6, 2) and r.dtype("part/emb") == np.float32
        with pytest.raises(
            CheckpointError, match=r"'part/emb' in .*model\.ckpt\.index is a partitioned .* 2 slices"
        ):
            r.read("part/emb")
        assert [k for k, _ in r.items(skip_unsupported=True)] == ["part/whole"]


def test_unknown_tensor_name_suggests_close_matches() -> None:
    with open_tf_checkpoint(FIXTURES / "dtypes") as r:
        with pytest.raises(
            CheckpointError, match=r"no tensor named 'dtypes/f33' in .*model\.ckpt-7\.index.*'dtypes/f32'"
        ):
            r.read("dtypes/f33")
        assert "dtypes/f33" not in r


def test_iteration_is_lazy_and_close_releases_files() -> None:
    r = open_tf_checkpoint(FIXTURES / "sharded")
    it = iter(r)
    assert not r._files
    name, _ = next(it)
    assert name == r.keys()[0] and len(r._files) == 1
    with r:
        dict(r.items())
    assert not r._files


# ----------------------------------------------------------------------------------------- synthetic
def _write_table(path: Path, pairs: list[tuple[bytes, bytes]]) -> None:
    """An SSTable holding exactly ``pairs`` (the writer module's builder), for indexes TF won't write here."""
    with open(path, "wb") as out:
        write_sstable(out, pairs)


def test_big_endian_bundle_is_byte_swapped(tmp_path: Path) -> None:
    value = np.array([1.5, -2.0, 3.25], dtype=">f4")
    (tmp_path / "be.data-00000-of-00001").write_bytes(value.tobytes())
    crc = tb.mask_crc32c(tb.crc32c(value.tobytes()))
    header = b"\x08\x01\x10\x01"  # num_shards=1, endianness=BIG
    shape = b"\x12\x02\x08\x03"  # dim { size: 3 }
    entry = b"\x08\x01\x12" + _pb_varint(len(shape)) + shape + b"\x28\x0c\x35" + struct.pack("<I", crc)
    _write_table(tmp_path / "be.index", [(b"", header), (b"w", entry)])
    with open_tf_checkpoint(tmp_path / "be") as r:
        got = r.read("w")
    assert got.dtype == np.float32 and got.dtype.isnative and got.tolist() == [1.5, -2.0, 3.25]


def test_index_entry_with_wrong_size_or_shard(tmp_path: Path) -> None:
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"\x00" * 16)
    good = b"\x08\x01\x12\x04\x12\x02\x08\x02\x28\x08"
    bad_size = b"\x08\x01\x12\x04\x12\x02\x08\x02\x20\x08\x28\x07"  # at offset 8: no overlap with 'a'
    bad_shard = b"\x08\x01\x12\x04\x12\x02\x08\x02\x18\x03\x28\x08"
    _write_table(
        tmp_path / "x.index", [(b"", b"\x08\x01"), (b"a", good), (b"b", bad_size), (b"c", bad_shard)]
    )
    with open_tf_checkpoint(tmp_path / "x") as r:
        np.testing.assert_array_equal(r.read("a", verify=False), np.zeros(2, np.float32))
        with pytest.raises(
            CheckpointError, match=r"x\.index: tensor 'b' .* should span 8 bytes but the index says 7"
        ):
            r.read("b", verify=False)
        with pytest.raises(CheckpointError, match=r"x\.index: tensor 'c' is in shard 3 .* 1 shard"):
            r.read("c", verify=False)
    assert os.path.getsize(tmp_path / "x.index") > 48


def test_overlapping_tensor_ranges_are_refused(tmp_path: Path) -> None:
    """Two entries over the same bytes would convert to duplicated weights."""
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"\x00" * 16)
    a = b"\x08\x01\x12\x04\x12\x02\x08\x02\x28\x08"  # float32[2] at offset 0
    b = b"\x08\x01\x12\x04\x12\x02\x08\x02\x20\x04\x28\x08"  # float32[2] at offset 4: overlaps a
    _write_table(tmp_path / "x.index", [(b"", b"\x08\x01"), (b"a", a), (b"b", b)])
    with pytest.raises(CheckpointError, match=r"x\.index: tensors 'a' and 'b' overlap in shard 0"):
        open_tf_checkpoint(tmp_path / "x")
