"""train_test_split and the scikit-learn bundled sets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import axonal
import axonal.random as arandom
from axonal.datasets import breast_cancer, diabetes, digits, iris, train_test_split


def npy(x):
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else np.asarray(x)


@pytest.mark.parametrize("n", [4, 10, 33])
@pytest.mark.parametrize("test_size", [0.25, 0.3, 1, 3])
def test_sizes_match_sklearn(n, test_size):
    ms = pytest.importorskip("sklearn.model_selection")
    x = np.arange(n * 2).reshape(n, 2)
    xtr, xte = train_test_split(x, test_size=test_size, seed=0)
    rtr, rte = ms.train_test_split(x, test_size=test_size, random_state=0)
    assert xtr.shape == rtr.shape and xte.shape == rte.shape
    both = np.concatenate([xtr, xte])
    np.testing.assert_array_equal(np.sort(both[:, 0]), x[:, 0])


def test_aligned_arrays_reproducible_and_types():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    y = np.arange(50)
    a = train_test_split(x, y, test_size=0.2, seed=7)
    b = train_test_split(x, y, test_size=0.2, seed=7)
    c = train_test_split(x, y, test_size=0.2, seed=8)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])
    xtr, xte, ytr, yte = a
    np.testing.assert_array_equal(xtr, x[ytr])  # rows stay aligned
    np.testing.assert_array_equal(xte, x[yte])
    arandom.manual_seed(3)
    d = train_test_split(y, train_size=0.5)
    arandom.manual_seed(3)
    e = train_test_split(y, train_size=0.5)
    np.testing.assert_array_equal(d[0], e[0])
    assert len(d[0]) == 25 and len(d[1]) == 25
    ordered = train_test_split(y, test_size=5, shuffle=False)
    np.testing.assert_array_equal(ordered[0], np.arange(45))
    if hasattr(axonal, "tensor"):
        t = train_test_split(axonal.tensor(x), test_size=0.2, seed=0)
        assert isinstance(t[0], axonal.Tensor)


def test_stratified_keeps_class_shares():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], [70, 20, 10])
    rng.shuffle(y)
    ytr, yte = train_test_split(y, test_size=0.2, stratify=y, seed=0)
    np.testing.assert_array_equal(np.bincount(yte), [14, 4, 2])
    np.testing.assert_array_equal(np.bincount(ytr), [56, 16, 8])
    # uneven shares: counts stay within one of the exact proportion
    y = np.repeat([0, 1, 2, 3], [13, 7, 5, 4])
    ytr, yte = train_test_split(y, test_size=10, stratify=y, seed=2)
    exact = np.bincount(y) * 10 / len(y)
    assert len(yte) == 10 and len(ytr) == 19
    assert np.all(np.abs(np.bincount(yte, minlength=4) - exact) < 1)


def test_split_errors():
    x = np.arange(10)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        train_test_split(x, test_size=1.5)
    with pytest.raises(ValueError, match="exceed"):
        train_test_split(x, test_size=6, train_size=6)
    with pytest.raises(ValueError, match="different first dimensions"):
        train_test_split(x, np.arange(9))
    with pytest.raises(ValueError, match="stratify requires shuffle"):
        train_test_split(x, stratify=x % 2, shuffle=False)
    with pytest.raises(ValueError, match="seed or generator"):
        train_test_split(x, seed=1, generator=np.random.default_rng(1))


def test_sklearn_sets_as_tensors():
    skd = pytest.importorskip("sklearn.datasets")
    x, y = map(npy, breast_cancer())
    ref = skd.load_breast_cancer()
    assert x.shape == (569, 30) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x, ref.data, rtol=1e-6)
    np.testing.assert_array_equal(y, ref.target)
    x, y = map(npy, diabetes())
    assert x.shape == (442, 10) and x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_allclose(y, skd.load_diabetes().target, rtol=1e-6)
    x, y = map(npy, digits(images=True))
    assert x.shape == (1797, 1, 8, 8) and y.dtype == np.int64 and set(y.tolist()) == set(range(10))
    ds = iris(as_dataset=True)
    assert len(ds) == 150 and npy(ds[0][0]).shape == (4,)


def test_missing_sklearn_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install axonal\[data\]"):
        breast_cancer()


def test_import_does_not_pull_in_sklearn():
    code = "import sys, axonal.datasets, axonal.utils.data; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


def _env():
    import os

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(axonal.__file__))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env
