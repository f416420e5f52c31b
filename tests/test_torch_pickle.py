"""The torch-free PyTorch checkpoint reader and the safetensors helpers.

Everything except ``test_live_against_torch`` reads the committed fixtures under ``fixtures/torch_bin``
(regenerate with ``tests/fixtures/make_torch_fixtures.py``) or bytes crafted here, so it runs without torch.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from paddle_electra.checkpoint.safetensors_io import (
    iter_safetensors,
    load_safetensors,
    read_safetensors_metadata,
    save_safetensors,
)
from paddle_electra.checkpoint.torch_pickle import iter_torch_state_dict, load_torch_state_dict
from paddle_electra.errors import CheckpointError

FIX = Path(__file__).parent / "fixtures" / "torch_bin"
MARKER = "PWNED_BY_PICKLE"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def expected(name: str = "expected.npz") -> dict[str, np.ndarray]:
    with np.load(FIX / name) as z:
        return {k: z[k] for k in z.files}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert list(got) == list(want)
    for k, w in want.items():
        g = got[k]
        assert g.shape == w.shape, k
        assert g.flags.c_contiguous, k
        np.testing.assert_array_equal(g, w, err_msg=k, strict=False)
        assert np.array_equal(g.astype(w.dtype), w), k  # exact, not approximately


def rewrite_zip(src: Path, dst: Path, *, drop: str = "", rename_top: str = "", replace=None) -> Path:
    """Copy a torch zip, dropping/replacing records (by path below the top dir) or renaming the top dir."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            top, _, rest = info.filename.partition("/")
            if rest == drop:
                continue
            data = replace.get(rest, zin.read(info))
            zout.writestr(f"{rename_top or top}/{rest}", data)
    return dst


def make_zip(path: Path, pkl: bytes, records: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", b"little")
        for name, data in (records or {}).items():
            z.writestr(f"archive/data/{name}", data)
    return path


def p2(obj) -> bytes:
    """Protocol-2 opcodes for a plain object, without PROTO and STOP (to splice into a crafted pickle)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def tensor_dict_pkl(size, stride, offset=0, numel=4, name="w") -> bytes:
    """A zip-format data.pkl ``{name: _rebuild_tensor_v2(FloatStorage '0', offset, size, stride, ...)}``."""
    storage = b"(" + p2("storage") + b"ctorch\nFloatStorage\n" + p2("0") + p2("cpu") + p2(numel) + b"tQ"
    args = storage + p2(offset) + p2(tuple(size)) + p2(tuple(stride)) + b"\x89ccollections\nOrderedDict\n)R"
    rebuild = b"ctorch._utils\n_rebuild_tensor_v2\n(" + args + b"tR"
    return b"\x80\x02}" + p2(name) + rebuild + b"s."


def load_error(path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_torch_state_dict(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# ---------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fname", ["zip.bin", "legacy.bin"])
def test_values_equal_expected(fname):
    got = load_torch_state_dict(FIX / fname)
    assert_same(got, expected())
    assert got["f32"].dtype == np.float32 and got["f16"].dtype == np.float16
    assert got["i64"].dtype == np.int64 and got["i32"].dtype == np.int32 and got["mask"].dtype == np.bool_
    assert got["f64"].dtype == np.float64 and got["f64"][1] == -1e300
    assert got["scalar"].shape == () and got["scalar"] == 3.5
    assert got["empty"].shape == (0, 4)
    np.testing.assert_array_equal(got["position_ids"], [np.arange(8)])


@pytest.mark.parametrize("fname", ["zip.bin", "legacy.bin"])
def test_bfloat16_widened_exactly(fname):
    bf = load_torch_state_dict(FIX / fname)["bf16"]
    assert bf.dtype == np.float32
    np.testing.assert_array_equal(bf[0], [1.0, -2.5, 3.140625])
    assert bf[1, 1] == -65280.0 and np.isposinf(bf[1, 2])
    # 1e-3 rounded to bf16: only the top 16 bits of its float32 pattern survive
    assert bf[1, 0].view(np.uint32) & 0xFFFF == 0 and abs(bf[1, 0] - 1e-3) < 1e-5


@pytest.mark.parametrize("fname", ["zip.bin", "legacy.bin"])
def test_transposed_views_and_tied(fname):
    got = load_torch_state_dict(FIX / fname)
    base = got["base"]
    np.testing.assert_array_equal(got["view"], base[1:3, 2:5])
    np.testing.assert_array_equal(got["view_step"], base[::2, ::3])
    np.testing.assert_array_equal(got["tied_a"], got["tied_b"])
    assert got["tied_a"] is not got["tied_b"]  # independent copies
    t = got["transposed"]
    assert t.shape == (5, 3) and t.flags.c_contiguous and t.flags.writeable
    got["view"][0, 0] = 123.0  # owns its memory: writing does not touch the base
    assert base[1, 2] != 123.0


def test_legacy_storage_views():
    assert_same(load_torch_state_dict(FIX / "legacy_views.bin"), expected("expected_views.npz"))


def test_big_endian_zip():
    got = load_torch_state_dict(FIX / "zip_big_endian.bin")
    assert_same(got, expected("expected_big_endian.npz"))
    assert all(a.dtype.isnative for a in got.values())


def test_zip_top_dir_name_varies(tmp_path):
    dst = rewrite_zip(FIX / "zip.bin", tmp_path / "pytorch_model.bin", rename_top="pytorch_model")
    assert_same(load_torch_state_dict(dst), expected())


@pytest.mark.parametrize("fname", ["zip.bin", "legacy.bin"])
def test_iter_is_lazy_and_ordered(fname):
    it = iter_torch_state_dict(FIX / fname)
    first = next(it)
    assert first[0] == "f32"
    rest = dict(it)
    assert [first[0], *rest] == list(expected())


def test_reader_never_imports_torch():
    code = (
        "import sys; from paddle_electra.checkpoint.torch_pickle import load_torch_state_dict as L; "
        f"L({str(FIX / 'zip.bin')!r}); L({str(FIX / 'legacy.bin')!r}); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


# ---------------------------------------------------------------------------------------------------------
# Safety
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fname, global_name",
    [
        ("malicious.bin", "posix.system"),
        ("malicious_zip.bin", "io.open"),
        ("malicious_legacy.bin", "posix.system"),
    ],
)
def test_malicious_pickle_refused_and_not_run(fname, global_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = load_error(FIX / fname)
    assert f"refusing to load pickled global '{global_name}'" in msg
    assert "not a plain state dict" in msg
    with pytest.raises(CheckpointError):
        iter_torch_state_dict(FIX / fname)  # refused before the iterator is even returned
    assert not (tmp_path / MARKER).exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "module, name, words",
    [
        ("os", "system", "not a plain state dict"),
        ("builtins", "eval", "not a plain state dict"),
        ("torch.storage", "_load_from_bytes", "nested torch.save blob"),
        ("torch._utils", "_rebuild_qtensor", "quantized tensors are not supported"),
        ("transformers.models.electra.modeling_electra", "ElectraModel", "model.state_dict()"),
    ],
)
def test_refused_globals_in_zip(module, name, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pkl = f"\x80\x02c{module}\n{name}\n(X\x05\x00\x00\x00touchtR.".encode("latin-1")
    msg = load_error(make_zip(tmp_path / "evil.bin", pkl))
    assert f"refusing to load pickled global '{module}.{name}'" in msg and words in msg


def test_pickled_module_refused():
    msg = load_error(FIX / "module.bin")
    assert "'torch.nn.modules.linear.Linear'" in msg and "model.state_dict()" in msg and "safetensors" in msg


def test_pickled_list_refused():
    msg = load_error(FIX / "list.bin")
    assert "is a list, not a dict of tensors" in msg and "model.state_dict()" in msg


def test_dict_with_non_tensor_entry(tmp_path):
    msg = load_error(make_zip(tmp_path / "ckpt.bin", pickle.dumps({"epoch": 3}, protocol=2)))
    assert "entry 'epoch' holds a int, not a tensor" in msg
    msg = load_error(make_zip(tmp_path / "ckpt2.bin", pickle.dumps({"model": {}}, protocol=2)))
    assert "training checkpoint" in msg


def test_storage_too_small_is_caught_not_read_out_of_bounds(tmp_path):
    # zip.bin's first storage ("data/0") backs "f32" (12 floats); shrink it to 4 bytes
    dst = rewrite_zip(FIX / "zip.bin", tmp_path / "short.bin", replace={"data/0": b"\0\0\0\0"})
    msg = load_error(dst)
    assert "tensor 'f32'" in msg and "holds only 1" in msg and "download it again" in msg


def test_crafted_tensor_layouts(tmp_path):
    data = {"0": np.arange(4, dtype="<f4").tobytes()}
    ok = load_torch_state_dict(make_zip(tmp_path / "ok.bin", tensor_dict_pkl((3, 2), (0, 1), offset=2), data))
    np.testing.assert_array_equal(ok["w"], [[2, 3]] * 3)
    msg = load_error(make_zip(tmp_path / "oob.bin", tensor_dict_pkl((2, 2), (2, 1), offset=1), data))
    assert "reaches element 4 but its storage '0' holds only 4" in msg
    # stride 0 keeps every index in bounds, but copying would allocate 2**40 floats: refused up front
    msg = load_error(make_zip(tmp_path / "huge.bin", tensor_dict_pkl((2**40,), (0,)), data))
    assert "implausibly large" in msg
    with pytest.raises(CheckpointError, match="implausibly large"):
        iter_torch_state_dict(tmp_path / "huge.bin")
    msg = load_error(make_zip(tmp_path / "neg.bin", tensor_dict_pkl((2,), (-1,)), data))
    assert "corrupt or truncated data.pkl" in msg and "non-negative" in msg


# ---------------------------------------------------------------------------------------------------------
# Broken files
# ---------------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    msg = load_error(tmp_path / "nope.bin")
    assert "no such file" in msg


def test_directory(tmp_path):
    assert "is a directory" in load_error(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.bin").write_bytes(b"")
    assert "is empty (0 bytes)" in load_error(tmp_path / "e.bin")


def test_garbage(tmp_path):
    p = tmp_path / "g.bin"
    p.write_bytes(bytes(range(7, 250)) * 3)
    assert f"{p} is not a PyTorch checkpoint (expected zip or legacy pickle)" in load_error(p)


def test_html_error_page(tmp_path):
    p = tmp_path / "pytorch_model.bin"
    p.write_bytes(b"<!DOCTYPE html><html><body>Repository not found</body></html>")
    msg = load_error(p)
    assert "not a PyTorch checkpoint" in msg and "error page" in msg


def test_plain_pickle_is_not_a_torch_file(tmp_path):
    p = tmp_path / "plain.pkl"
    p.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    assert "is not a PyTorch checkpoint (expected zip or legacy pickle)" in load_error(p)


def test_safetensors_given_to_torch_reader():
    assert "load_safetensors" in load_error(FIX / "model.safetensors")


def test_truncated_zip(tmp_path):
    data = (FIX / "zip.bin").read_bytes()
    p = tmp_path / "t.bin"
    p.write_bytes(data[: len(data) // 2])
    msg = load_error(p)
    assert "truncated or corrupt zip archive" in msg and "download the file again" in msg


@pytest.mark.parametrize("frac", [0.2, 0.6, 0.95])
def test_truncated_legacy(tmp_path, frac):
    data = (FIX / "legacy.bin").read_bytes()
    p = tmp_path / "t.bin"
    p.write_bytes(data[: int(len(data) * frac)])
    msg = load_error(p)
    assert "truncated" in msg and "download" in msg


def test_missing_storage_record(tmp_path):
    dst = rewrite_zip(FIX / "zip.bin", tmp_path / "m.bin", drop="data/3")
    msg = load_error(dst)
    assert "storage record 'zip/data/3' is missing from the zip archive" in msg


def test_zip_without_data_pkl(tmp_path):
    p = tmp_path / "x.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")
    assert "not a torch.save checkpoint" in load_error(p)


def test_tar_format_refused(tmp_path):
    p = tmp_path / "old.bin"
    with tarfile.open(p, "w") as tar:
        for name in ("sys_info", "pickle", "storages", "tensors"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"\x80\x02N."))
    msg = load_error(p)
    assert "tar checkpoint format of torch < 0.4" in msg and "torch.save(model.state_dict()" in msg


def test_legacy_bad_protocol(tmp_path):
    p = tmp_path / "v.bin"
    p.write_bytes(pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(999, protocol=2))
    assert "unsupported legacy torch protocol version 999" in load_error(p)


# ---------------------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------------------


def test_safetensors_fixture_matches():
    got = load_safetensors(FIX / "model.safetensors")
    want = expected()
    assert sorted(got) == sorted(want)
    assert_same({k: got[k] for k in want}, want)
    assert got["bf16"].dtype == np.float32 and got["f16"].dtype == np.float16
    assert read_safetensors_metadata(FIX / "model.safetensors") == {"format": "pt"}


def test_safetensors_round_trip(tmp_path):
    arrays = load_torch_state_dict(FIX / "legacy.bin")
    arrays["big_endian"] = np.arange(6, dtype=">i4").reshape(2, 3).T  # non-native, non-contiguous
    p = tmp_path / "out.safetensors"
    p.write_bytes(b"old")  # replaced atomically
    assert save_safetensors(arrays, p, {"source": "legacy.bin"}) == p
    got = load_safetensors(p)
    assert sorted(got) == sorted(arrays)
    for k, v in arrays.items():
        assert got[k].shape == v.shape and got[k].dtype == v.dtype.newbyteorder("="), k
        np.testing.assert_array_equal(got[k], v)
    assert read_safetensors_metadata(p) == {"source": "legacy.bin"}
    assert [x.name for x in tmp_path.iterdir()] == ["out.safetensors"]  # no temp file left
    # yielded in data-offset order (the writer puts wider dtypes first), each name once
    names = [name for name, _ in iter_safetensors(p)]
    assert sorted(names) == sorted(arrays) and names[-1] == "mask"


def test_safetensors_save_errors(tmp_path):
    with pytest.raises(CheckpointError, match="metadata must map str to str"):
        save_safetensors({"a": np.zeros(2)}, tmp_path / "a.safetensors", {"n": 1})
    with pytest.raises(CheckpointError, match="no safetensors equivalent"):
        save_safetensors({"a": np.array(["x"])}, tmp_path / "a.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        save_safetensors({"a": np.zeros(2)}, tmp_path / "no" / "a.safetensors")
    assert list(tmp_path.iterdir()) == []


def _st_bytes(header: dict | bytes, data: bytes = b"") -> bytes:
    import json

    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "is empty (0 bytes)"),
        (b"\x05\x00", "too short"),
        (struct.pack("<Q", 10_000) + b"{}", "goes beyond the end of the file"),
        (_st_bytes(b"{not json"), "bad JSON"),
        (_st_bytes([1, 2]), "not an object"),
        (_st_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8), "truncated"),
        (_st_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 8), "corrupt file"),
        (_st_bytes({"w": {"dtype": "F32", "shape": "x"}}), "corrupt safetensors header entry for 'w'"),
        (_st_bytes({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "no numpy"),
    ],
)
def test_safetensors_errors(tmp_path, content, words):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_safetensors(p)
    assert words in str(info.value) and str(p) in str(info.value)


def test_safetensors_truncated_real_file(tmp_path):
    data = (FIX / "model.safetensors").read_bytes()
    p = tmp_path / "cut.safetensors"
    p.write_bytes(data[:-7])
    with pytest.raises(CheckpointError, match="truncated"):
        load_safetensors(p)
    with pytest.raises(CheckpointError, match="no such file"):
        load_safetensors(tmp_path / "missing.safetensors")


# ---------------------------------------------------------------------------------------------------------
# Live check against torch itself (skipped when torch is not installed)
# ---------------------------------------------------------------------------------------------------------


def test_live_against_torch(tmp_path):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(1)
    big = torch.randn(7, 9, generator=g)
    sd = {
        "w": torch.randn(16, 8, generator=g),
        "wt": torch.randn(8, 16, generator=g).t(),
        "half": torch.randn(5, generator=g).half(),
        "bf": torch.randn(3, 4, generator=g).bfloat16(),
        "ids": torch.randint(-(2**40), 2**40, (6,), generator=g),
        "slice": big[2:5, 1:8:3],
        "big": big,
        "param": torch.nn.Parameter(torch.randn(2, 2, generator=g)),
        "cplx": torch.randn(3, dtype=torch.complex64, generator=g),
        "expanded": torch.arange(5).expand((3, -1)),
    }
    for new_zip in (True, False):
        p = tmp_path / f"live_{new_zip}.bin"
        torch.save(sd, p, _use_new_zipfile_serialization=new_zip)
        got = load_torch_state_dict(p)
        ref = torch.load(p, weights_only=True)
        assert list(got) == list(ref)
        for k, t in ref.items():
            t = t.detach()
            want = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
            assert got[k].dtype == want.dtype and got[k].shape == want.shape, k
            np.testing.assert_array_equal(got[k], want, err_msg=k)
