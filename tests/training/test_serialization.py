"""axonal.save / axonal.load (safetensors format) and the ModelCheckpoint callback."""

import io
import json
import os
import struct

import numpy as np
import pytest

import axonal
from axonal import nn, optim
from axonal import serialization as ser
from axonal.training import ModelCheckpoint, fit
from axonal.utils.data import DataLoader, TensorDataset


def _state(rng):
    return {
        "layer.weight": axonal.tensor(rng.standard_normal((3, 5)).astype(np.float32)),
        "layer.bias": axonal.tensor(rng.standard_normal(5)),  # float64
        "steps": axonal.tensor(rng.integers(-(2**40), 2**40, size=(2, 2))),  # int64
        "mask": axonal.tensor(rng.random(4) < 0.5),
        "half": rng.standard_normal((1, 3)).astype(np.float16),
        "small": rng.integers(0, 255, 6).astype(np.uint8),
        "i32": rng.integers(-9, 9, (2, 1, 3)).astype(np.int32),
        "scalar": axonal.tensor(np.float32(2.5)),
        "empty": np.zeros((0, 7), np.float32),
    }


def _arr(v):
    return np.asarray(getattr(v, "_data", v))


def test_round_trip_dtypes_shapes_order_and_metadata(tmp_path, rng):
    sd = _state(rng)
    path = tmp_path / "m.safetensors"
    axonal.save(sd, path, metadata={"epoch": "3", "note": "ünïcode"})
    back = axonal.load(path)
    assert list(back) == list(sd)  # the saved order
    for k, v in sd.items():
        assert isinstance(back[k], axonal.Tensor)
        a = _arr(v)
        assert back[k].dtype == a.dtype and back[k].shape == a.shape, k
        np.testing.assert_array_equal(back[k].numpy(), a)
    assert back["layer.weight"].numpy().flags.writeable
    assert ser.load_metadata(path) == {"epoch": "3", "note": "ünïcode"}
    # file objects work too
    buf = io.BytesIO()
    axonal.save(sd, buf)
    buf.seek(0)
    np.testing.assert_array_equal(axonal.load(buf)["steps"].numpy(), _arr(sd["steps"]))


def test_file_layout_is_safetensors(tmp_path, rng):
    """Parse the file by hand: 8-byte little-endian header size, JSON header, raw LE bytes."""
    sd = _state(rng)
    path = tmp_path / "m.safetensors"
    axonal.save(sd, path, metadata={"k": "v"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0  # data aligned
    header = json.loads(raw[8 : 8 + n])
    assert header.pop("__metadata__") == {"k": "v"}
    codes = {
        "float32": "F32",
        "float64": "F64",
        "int64": "I64",
        "bool": "BOOL",
        "float16": "F16",
        "uint8": "U8",
        "int32": "I32",
    }
    data = raw[8 + n :]
    end = 0
    for k, v in sd.items():
        a = _arr(v)
        info = header[k]
        assert info["dtype"] == codes[str(a.dtype)]
        assert info["shape"] == list(a.shape)
        b, e = info["data_offsets"]
        assert b == end  # contiguous, in order
        assert data[b:e] == a.astype(a.dtype.newbyteorder("<")).tobytes()
        end = e
    assert end == len(data)


def test_interop_with_safetensors_package(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    sd = _state(rng)
    ours = tmp_path / "ours.safetensors"
    axonal.save(sd, ours)
    got = st.load_file(str(ours))
    for k, v in sd.items():
        np.testing.assert_array_equal(got[k], _arr(v))
    theirs = tmp_path / "theirs.safetensors"
    st.save_file({k: _arr(v) for k, v in sd.items()}, str(theirs))
    back = axonal.load(theirs)
    for k, v in sd.items():
        np.testing.assert_array_equal(back[k].numpy(), _arr(v))


def test_model_state_dict_round_trip(tmp_path):
    axonal.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    axonal.manual_seed(1)
    b = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    assert not np.array_equal(a[0].weight.numpy(), b[0].weight.numpy())
    axonal.save(a.state_dict(), tmp_path / "a.safetensors")
    b.load_state_dict(axonal.load(tmp_path / "a.safetensors"))
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k].numpy(), v.numpy())


def test_atomic_write_keeps_old_file_on_failure(tmp_path, rng, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    old = {"w": np.arange(6, dtype=np.float32)}
    axonal.save(old, path)
    before = path.read_bytes()
    big = {"w": rng.standard_normal(50_000).astype(np.float32)}

    def half_then_crash(fh, payload):
        fh.write(payload[: len(payload) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(ser, "_write_all", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        axonal.save(big, path)
    monkeypatch.undo()

    def replace_fails(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(ser.os, "replace", replace_fails)
    with pytest.raises(KeyboardInterrupt):
        axonal.save(big, path)
    monkeypatch.undo()

    assert path.read_bytes() == before  # untouched
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]  # no temporary files left
    np.testing.assert_array_equal(axonal.load(path)["w"].numpy(), old["w"])
    axonal.save(big, path)  # a successful save replaces it
    np.testing.assert_array_equal(axonal.load(path)["w"].numpy(), big["w"])
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]


def test_errors_are_clear(tmp_path):
    with pytest.raises(TypeError, match="only axonal Tensors and NumPy arrays"):
        axonal.save({"x": [1, 2]}, tmp_path / "a")
    with pytest.raises(TypeError, match="complex128"):
        axonal.save({"x": np.zeros(2, complex)}, tmp_path / "a")
    with pytest.raises(TypeError, match="mapping"):
        axonal.save([np.zeros(2)], tmp_path / "a")
    with pytest.raises(TypeError, match="metadata must map str to str"):
        axonal.save({"x": np.zeros(2)}, tmp_path / "a", metadata={"epoch": 3})
    (tmp_path / "junk").write_bytes(b"\xff" * 20)
    with pytest.raises(ValueError, match="header length"):
        axonal.load(tmp_path / "junk")
    good = tmp_path / "good"
    axonal.save({"x": np.arange(10.0)}, good)
    (tmp_path / "cut").write_bytes(good.read_bytes()[:-8])
    with pytest.raises(ValueError, match="data_offsets"):
        axonal.load(tmp_path / "cut")
    hdr = json.dumps({"x": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}).encode()
    (tmp_path / "bf16").write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\0\0")
    with pytest.raises(ValueError, match="BF16"):
        axonal.load(tmp_path / "bf16")


def test_model_checkpoint_writes_best_weights(tmp_path, rng):
    axonal.manual_seed(0)
    n = 48
    y = (np.arange(n) % 2).astype(np.int64)
    x = (rng.standard_normal((n, 3)) + 2 * y[:, None]).astype(np.float32)
    train = DataLoader(TensorDataset(axonal.tensor(x), axonal.tensor(y)), batch_size=8)
    val = DataLoader(TensorDataset(axonal.tensor(x), axonal.tensor(1 - y)), batch_size=48)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    weights = {}

    class Keep(ModelCheckpoint):  # remember the weights at each epoch, then save as usual
        def on_epoch_end(self, trainer, epoch, logs):
            weights[epoch] = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}
            super().on_epoch_end(trainer, epoch, logs)

    best = Keep(tmp_path / "best.safetensors")
    every = ModelCheckpoint(
        tmp_path / "e{epoch:02d}-{val_loss:.3f}.safetensors", save_best_only=False, every=2
    )
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        train,
        val,
        epochs=5,
        callbacks=[best, every],
        verbose=False,
    )
    best_epoch = int(np.argmin(hist["val_loss"])) + 1
    assert best.best_epoch == best_epoch and best.best_path == str(tmp_path / "best.safetensors")
    loaded = axonal.load(best.best_path)
    for k, v in weights[best_epoch].items():
        np.testing.assert_array_equal(loaded[k].numpy(), v)
    meta = ser.load_metadata(best.best_path)
    assert meta["epoch"] == str(best_epoch)
    assert float(meta["val_loss"]) == pytest.approx(min(hist["val_loss"]))
    assert [os.path.basename(p)[:3] for p in every.saved] == ["e02", "e04"]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
