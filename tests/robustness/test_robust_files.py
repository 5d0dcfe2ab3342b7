"""Checkpoint and dataset files: malformed safetensors headers and IDX files raise a ValueError
naming the loader; atomic writes keep the permissions a plain open() gives and are synced."""

from __future__ import annotations

import json
import os
import stat
import struct

import numpy as np
import pytest

import axonal
from axonal import serialization as ser
from axonal.datasets import load_idx, write_idx


def _file(header: dict, data: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def _entry(dtype="F32", shape=(2, 3), offsets=(0, 24)):
    return {"dtype": dtype, "shape": shape, "data_offsets": offsets}


@pytest.mark.parametrize(
    "entry, data",
    [
        (_entry(shape="23"), bytes(24)),  # loaded as shape (2, 3)
        (_entry(shape=[2.7, 3.2]), bytes(24)),  # loaded as shape (2, 3)
        (_entry(shape=[-2, -3]), bytes(24)),  # NumPy's "can only specify one unknown dimension"
        (_entry(shape=[True, 3], offsets=[0, 12]), bytes(12)),  # JSON true taken as 1
        (_entry("U8", [1], [False, True]), bytes(8)),  # offsets [0, 1]
        (_entry("U8", [1], "01"), bytes(8)),  # offsets [0, 1]
    ],
)
def test_malformed_header_entries(entry, data):
    with pytest.raises(ValueError, match=r"axonal\.load: <bytes>: malformed header entry 'a'"):
        ser.load_bytes(_file({"a": entry}, data))


@pytest.mark.parametrize("shape", [[2**32, 2**32], [2**62, 4, 1]])
def test_shapes_whose_size_wraps_int64(shape):
    # np.prod wrapped to 0 elements, which "fit" an empty buffer; NumPy's reshape then failed
    with pytest.raises(ValueError, match=r"axonal\.load: .*data_offsets \[0, 0\] that do not fit"):
        ser.load_bytes(_file({"a": _entry("U8", shape, [0, 0])}))


def test_overlapping_tensors():
    # both names were loaded from the same 8 bytes (the safetensors library rejects this)
    header = {"a": _entry("F32", [2], [0, 8]), "b": _entry("F32", [2], [4, 12])}
    with pytest.raises(ValueError, match=r"axonal\.load: .*'a' and 'b' overlap"):
        ser.load_bytes(_file(header, bytes(16)))


def test_bool_bytes_other_than_zero_and_one():
    # NumPy bools holding 2 and 255 came back (invalid values that compare unequal to True)
    with pytest.raises(ValueError, match=r"axonal\.load: .*BOOL tensor 'a'"):
        ser.load_bytes(_file({"a": _entry("BOOL", [2], [0, 2])}, b"\x02\xff"))


@pytest.mark.parametrize("meta", [[1, 2], "abc", {"k": 1}])
def test_metadata_must_map_str_to_str(tmp_path, meta):
    raw = _file({"__metadata__": meta})
    with pytest.raises(ValueError, match=r"axonal\.load: .*__metadata__ must map str to str"):
        ser.load_bytes(raw)
    path = tmp_path / "m.safetensors"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=r"__metadata__ must map str to str"):
        ser.load_metadata(path)  # "abc": dict("abc") -> "dictionary update sequence ..."


def test_valid_files_still_load():
    state = {"e": np.zeros((0, 3), np.float32), "m": np.array([True, False]), "w": np.ones(3)}
    out = ser.load_bytes(ser.save_bytes(state, {"k": "v"}))
    assert list(out) == ["e", "m", "w"]
    assert out["m"].tolist() == [True, False]


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(
    "write",
    [
        lambda p: axonal.save({"w": axonal.ones(3)}, p),
        lambda p: write_idx(p, np.zeros((2, 2), np.uint8)),
    ],
)
def test_atomic_writes_get_open_permissions(tmp_path, write):
    # tempfile.mkstemp's 0o600 went through os.replace: every checkpoint owner-only
    new = tmp_path / "new.bin"
    write(new)
    assert _mode(new) == 0o666 & ~_umask()
    old = tmp_path / "old.bin"
    old.write_bytes(b"old")
    os.chmod(old, 0o640)
    write(old)  # overwriting keeps the file's permissions, as open(path, "wb") does
    assert _mode(old) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["new.bin", "old.bin"]


def test_write_idx_syncs_before_the_rename(tmp_path, monkeypatch):
    # without fsync a crash soon after os.replace can leave an empty or partial file
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    write_idx(tmp_path / "t.idx", np.arange(6, dtype=np.uint8))
    assert "replace" in events and "fsync" in events[: events.index("replace")]
    assert load_idx(tmp_path / "t.idx").tolist() == list(range(6))


@pytest.mark.parametrize("dims", [(2**16,) * 4, (2**8, 2**28, 2**28)])
def test_idx_header_size_wrapping_int64(tmp_path, dims):
    # np.prod wrapped to 0: an empty data section "matched", then NumPy's reshape failed unnamed
    path = tmp_path / "big.idx"
    path.write_bytes(bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims))
    with pytest.raises(ValueError, match=r"load_idx: .*size mismatch"):
        load_idx(path)
