"""IDX files, MNIST/FashionMNIST loading, downloads with md5 checks (file:// mirrors only)."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from axonal.datasets import (
    MNIST,
    FashionMNIST,
    check_integrity,
    download_file,
    load_idx,
    md5sum,
    mnist_split,
    write_idx,
)
from axonal.utils.data import DataLoader, ToTensor, default_collate

MNIST_DIR = Path("/work/shared/data/mnist")
HAVE_MNIST = (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists() and (
    MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
).exists()


def npy(x):
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else np.asarray(x)


DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    for shape in [(7,), (3, 5), (2, 3, 4), (0, 4), (1, 1, 1, 2)]:
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            a = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
        else:
            a = rng.standard_normal(shape).astype(dtype)
        p = tmp_path / f"a{suffix}"
        write_idx(p, a)
        b = load_idx(p)
        assert b.dtype == np.dtype(dtype) and b.shape == a.shape
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable
    assert [f.name for f in tmp_path.iterdir()] == [f"a{suffix}"]  # no temp files left


def test_idx_header_bytes(tmp_path):
    a = np.array([[1, 2, 3], [4, 5, 258]], dtype=np.int16)
    write_idx(tmp_path / "x", a)
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0B, 2])
    assert raw[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert raw[12:] == a.astype(">i2").tobytes() and raw[-2:] == b"\x01\x02"
    write_idx(tmp_path / "x.gz", a)
    assert gzip.decompress((tmp_path / "x.gz").read_bytes()) == raw


def test_idx_errors(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(bytes([1, 0, 8, 1]) + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="bad magic"):
        load_idx(p)
    p.write_bytes(bytes([0, 0, 8, 2]) + (3).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"12345")
    with pytest.raises(ValueError, match=r"size mismatch.*\(3, 2\).*needs 6 data bytes.*has 5"):
        load_idx(p)
    p.write_bytes(bytes([0, 0, 0x42, 1]) + (1).to_bytes(4, "big") + b"a")
    with pytest.raises(ValueError, match="unknown IDX type code 0x42"):
        load_idx(p)
    p.write_bytes(bytes([0, 0, 8, 3]) + b"\x00\x00")
    with pytest.raises(ValueError, match="3 dimensions"):
        load_idx(p)
    p.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        load_idx(p)
    p.write_bytes(b"\x1f\x8b" + b"junkjunkjunk")
    with pytest.raises(ValueError, match="gzip"):
        load_idx(p)
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "y", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "y", np.uint8(3))


def make_mnist_folder(root, n_train=13, n_test=7, seed=0, gz=True):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        write_idx(root / f"{split}-images-idx3-ubyte{sfx}", images)
        write_idx(root / f"{split}-labels-idx1-ubyte{sfx}", labels)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_folder(tmp_path, gz):
    ref = make_mnist_folder(tmp_path, gz=gz)
    for train, split in ((True, "train"), (False, "t10k")):
        ds = MNIST(tmp_path, train=train)
        images, labels = ref[split]
        assert len(ds) == len(labels)
        np.testing.assert_array_equal(npy(ds.data), images)
        np.testing.assert_array_equal(npy(ds.targets), labels)
        assert npy(ds.targets).dtype == np.int64
        img, target = ds[3]
        assert isinstance(target, int) and target == labels[3]
        np.testing.assert_array_equal(npy(img), images[3])


def test_mnist_transform_and_loader(tmp_path):
    ref = make_mnist_folder(tmp_path, n_train=10)
    ds = MNIST(tmp_path, train=True, transform=ToTensor(), target_transform=lambda t: t + 100)
    img, target = ds[2]
    assert npy(img).shape == (1, 28, 28) and npy(img).dtype == np.float32
    np.testing.assert_allclose(npy(img)[0], ref["train"][0][2] / 255.0, rtol=1e-6)
    assert target == ref["train"][1][2] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert npy(xb).shape == (4, 1, 28, 28)
    np.testing.assert_array_equal(npy(yb), ref["train"][1][:4].astype(np.int64) + 100)
    # no transform: the fast path gives what collating examples one by one gives
    plain = MNIST(tmp_path, train=True)
    fast = list(DataLoader(plain, batch_size=4, shuffle=True, generator=1))
    slow = list(
        DataLoader(
            plain, batch_size=4, shuffle=True, generator=1, collate_fn=lambda b: default_collate(b)
        )
    )
    for f, s in zip(fast, slow):
        for a, b in zip(f, s):
            assert npy(a).dtype == npy(b).dtype
            np.testing.assert_array_equal(npy(a), npy(b))
    tds = plain.to_tensor_dataset(flatten=True)
    x0, y0 = tds[0]
    assert npy(x0).shape == (784,) and npy(x0).dtype == np.float32
    np.testing.assert_allclose(npy(x0), ref["train"][0][0].reshape(-1) / 255.0, rtol=1e-6)


def test_mnist_layout_and_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        MNIST(tmp_path, train=False)
    make_mnist_folder(tmp_path / "FashionMNIST" / "raw")  # torchvision's layout
    assert len(FashionMNIST(tmp_path, train=False)) == 7
    assert FashionMNIST.classes[9] == "Ankle boot"
    bad = tmp_path / "bad"
    make_mnist_folder(bad)
    write_idx(bad / "t10k-labels-idx1-ubyte.gz", np.zeros(6, dtype=np.uint8))
    with pytest.raises(ValueError, match="7 images but 6 labels"):
        MNIST(bad, train=False)
    write_idx(bad / "t10k-images-idx3-ubyte.gz", np.zeros((6, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"expected \(N, H, W\) uint8 images"):
        MNIST(bad, train=False)


def test_md5_helpers(tmp_path):
    p = tmp_path / "f.bin"
    data = np.random.default_rng(1).bytes(3 * (1 << 20) + 17)  # several read chunks
    p.write_bytes(data)
    digest = hashlib.md5(data).hexdigest()
    assert md5sum(p) == digest
    assert check_integrity(p, digest) and check_integrity(p, digest.upper())
    assert check_integrity(p) and not check_integrity(p, "0" * 32)
    assert not check_integrity(tmp_path / "missing", digest)


def test_download_tries_mirrors_and_verifies_md5(tmp_path):
    good, corrupt, dest = tmp_path / "good", tmp_path / "corrupt", tmp_path / "dest"
    for d in (good, corrupt):
        d.mkdir()
    payload = b"IDX payload " * 1000
    (good / "f.gz").write_bytes(payload)
    (corrupt / "f.gz").write_bytes(payload[:-1] + b"X")
    md5 = hashlib.md5(payload).hexdigest()
    mirrors = [(tmp_path / "nowhere").as_uri() + "/", corrupt.as_uri() + "/", good.as_uri()]
    path = download_file("f.gz", dest, mirrors, md5=md5)
    assert Path(path).read_bytes() == payload
    assert os.listdir(dest) == ["f.gz"]  # temp files are gone
    with pytest.raises(RuntimeError) as info:
        download_file("g.gz", dest, [corrupt.as_uri()], md5=md5)
    assert "g.gz" in str(info.value)
    (corrupt / "g.gz").write_bytes(b"not it")
    with pytest.raises(RuntimeError, match=r"md5 .* != expected"):
        download_file("g.gz", dest, [corrupt.as_uri()], md5=md5)
    assert os.listdir(dest) == ["f.gz"]  # no partial or corrupt file left behind


def test_mnist_download_from_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    ref = make_mnist_folder(mirror, n_test=5)
    resources = [
        (name, md5sum(mirror / name))
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    ]

    class LocalMNIST(MNIST):
        mirrors = [mirror.as_uri() + "/"]

    LocalMNIST.resources = resources + [("train-images-idx3-ubyte.gz", "0" * 32)]
    ds = LocalMNIST(tmp_path / "data", train=False, download=True)
    np.testing.assert_array_equal(npy(ds.targets), ref["t10k"][1])
    assert sorted(os.listdir(tmp_path / "data")) == [r[0] for r in resources]
    with pytest.raises(RuntimeError, match="md5"):
        LocalMNIST(tmp_path / "data", train=True, download=True)


@pytest.mark.skipif(not HAVE_MNIST, reason=f"the MNIST test set is not in {MNIST_DIR}")
def test_real_mnist_test_set(tmp_path):
    ds = MNIST(MNIST_DIR, train=False)
    assert len(ds) == 10000 and npy(ds.data).shape == (10000, 28, 28)
    labels = npy(ds.targets)
    assert set(np.unique(labels)) == set(range(10))
    # writing the parsed arrays back reproduces the original files byte for byte
    # (decompressed md5 values from the data folder's README)
    write_idx(tmp_path / "img", npy(ds.data))
    write_idx(tmp_path / "lab", labels.astype(np.uint8))
    assert md5sum(tmp_path / "img") == "2646ac647ad5339dbf082846283269ea"
    assert md5sum(tmp_path / "lab") == "27ae3e4e09519cfbb04c329615203637"


@pytest.mark.skipif(not HAVE_MNIST, reason=f"the MNIST test set is not in {MNIST_DIR}")
def test_mnist_split():
    (xtr, ytr), (xte, yte) = mnist_split(MNIST_DIR, n_train=800, n_test=200, seed=0)
    xtr, ytr, xte, yte = map(npy, (xtr, ytr, xte, yte))
    assert xtr.shape == (800, 1, 28, 28) and xte.shape == (200, 1, 28, 28)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0
    rows = {r.tobytes() for r in xtr.reshape(800, -1)}
    assert not any(r.tobytes() in rows for r in xte.reshape(200, -1))  # disjoint
    full = npy(MNIST(MNIST_DIR, train=False).targets)
    share = np.bincount(full, minlength=10) / len(full)
    np.testing.assert_allclose(np.bincount(yte, minlength=10) / 200, share, atol=0.006)
    (a, _), _ = mnist_split(MNIST_DIR, n_train=800, n_test=200, seed=0)
    (b, _), _ = mnist_split(MNIST_DIR, n_train=800, n_test=200, seed=1)
    np.testing.assert_array_equal(npy(a), xtr)
    assert not np.array_equal(npy(b), xtr)
    (f, _), _ = mnist_split(MNIST_DIR, n_train=10, n_test=10, flatten=True)
    assert npy(f).shape == (10, 784)
    with pytest.raises(ValueError, match="exceeds"):
        mnist_split(MNIST_DIR, n_train=9000, n_test=2000)
