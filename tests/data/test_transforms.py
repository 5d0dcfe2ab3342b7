"""Fitted preprocessing: Standardize, MinMaxScale, Normalize, ToTensor, Compose."""

from __future__ import annotations

import numpy as np
import pytest

import axonal
from axonal.utils.data import Compose, Lambda, MinMaxScale, Normalize, Standardize, ToTensor


def npy(x):
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else np.asarray(x)


def split_data(seed=0, n_train=37, n_test=11, f=5):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 20, size=f)
    shift = rng.uniform(-50, 50, size=f)
    train = rng.standard_normal((n_train, f)) * scale + shift
    # the test split has clearly different statistics
    test = rng.standard_normal((n_test, f)) * scale * 3 + shift + 7
    return train, test


def test_standardize_uses_train_statistics_only():
    train, test = split_data()
    s = Standardize().fit(train)
    mu, sd = train.mean(axis=0), train.std(axis=0)
    np.testing.assert_allclose(s.mean, mu, rtol=1e-12)
    np.testing.assert_allclose(s.std, sd, rtol=1e-12)
    out = npy(s(test))
    np.testing.assert_allclose(out, (test - mu) / sd, rtol=1e-10)
    # ... and not the test split's own statistics
    assert not np.allclose(out.mean(axis=0), 0.0, atol=1e-3)
    tr = npy(s.transform(train))
    np.testing.assert_allclose(tr.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(tr.std(axis=0), 1.0, rtol=1e-10)
    np.testing.assert_allclose(npy(s.inverse_transform(out)), test, rtol=1e-10, atol=1e-10)


def test_standardize_matches_sklearn():
    sk = pytest.importorskip("sklearn.preprocessing")
    train, test = split_data(seed=3)
    ref = sk.StandardScaler().fit(train)
    np.testing.assert_allclose(npy(Standardize().fit(train)(test)), ref.transform(test), rtol=1e-9)


def test_standardize_constant_feature_and_dtypes():
    x = np.random.default_rng(1).standard_normal((10, 3)).astype(np.float32)
    x[:, 1] = 4.25
    s = Standardize().fit(x)
    out = npy(s(x))
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:, 1], 0.0)
    assert s.std[1] == 1.0
    ints = np.arange(12).reshape(6, 2)
    assert npy(Standardize().fit_transform(ints)).dtype == np.float32
    assert npy(Standardize().fit(x)(x.astype(np.float64))).dtype == np.float64


def test_standardize_per_channel_axis():
    x = np.random.default_rng(2).standard_normal((4, 3, 5, 6)) * [[[2]], [[5]], [[9]]] + 1
    s = Standardize(axis=(0, 2, 3)).fit(x)
    assert s.mean.shape == (3,)
    np.testing.assert_allclose(s.mean, x.mean(axis=(0, 2, 3)))
    out = npy(s(x[:2]))
    ref = (x[:2] - x.mean(axis=(0, 2, 3), keepdims=True)) / x.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, ref, rtol=1e-10)


def test_standardize_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardize().transform(np.zeros((2, 3)))
    s = Standardize().fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"input shape \(2, 4\) does not match"):
        s(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="empty"):
        Standardize().fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="axis 2 out of range"):
        Standardize(axis=2).fit(np.zeros((3, 3)))


def test_standardize_state_dict_round_trip():
    train, test = split_data(seed=4)
    s = Standardize().fit(train)
    state = s.state_dict()
    assert set(state) == {"mean", "std", "axis"}
    s2 = Standardize()
    s2.load_state_dict(state)
    np.testing.assert_array_equal(npy(s2(test)), npy(s(test)))
    with pytest.raises(KeyError):
        Standardize().load_state_dict({"mean": state["mean"]})


@pytest.mark.parametrize("fr", [(0.0, 1.0), (-1.0, 1.0)])
def test_minmax_matches_sklearn_and_inverts(fr):
    train, test = split_data(seed=5)
    m = MinMaxScale(feature_range=fr).fit(train)
    out = npy(m(train))
    np.testing.assert_allclose(out.min(axis=0), fr[0], atol=1e-12)
    np.testing.assert_allclose(out.max(axis=0), fr[1], atol=1e-12)
    lo, hi = train.min(axis=0), train.max(axis=0)
    ref = (test - lo) / (hi - lo) * (fr[1] - fr[0]) + fr[0]
    np.testing.assert_allclose(npy(m(test)), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npy(m.inverse_transform(m(test))), test, rtol=1e-10, atol=1e-10)
    sk = pytest.importorskip("sklearn.preprocessing")
    skm = sk.MinMaxScaler(feature_range=fr).fit(train)
    np.testing.assert_allclose(npy(m(test)), skm.transform(test), rtol=1e-9, atol=1e-12)


def test_minmax_constant_clip_state_and_errors():
    x = np.array([[1.0, 3.0], [2.0, 3.0], [4.0, 3.0]])
    m = MinMaxScale((-1, 1), clip=True).fit(x)
    out = npy(m(np.array([[10.0, 3.0], [-5.0, 3.0]])))
    np.testing.assert_array_equal(out, [[1.0, -1.0], [-1.0, -1.0]])
    m2 = MinMaxScale()
    m2.load_state_dict(m.state_dict())
    assert m2.feature_range == (-1.0, 1.0)
    np.testing.assert_array_equal(npy(m2(x)), npy(MinMaxScale((-1, 1)).fit(x)(x)))
    with pytest.raises(ValueError, match="low < high"):
        MinMaxScale((1, 0))


def test_normalize_channels():
    x = np.random.default_rng(6).random((2, 3, 4, 4)).astype(np.float32)
    n = Normalize([0.1, 0.2, 0.3], [0.5, 0.25, 2.0])
    out = npy(n(x))
    mean = np.array([0.1, 0.2, 0.3]).reshape(3, 1, 1)
    ref = (x - mean) / np.array([0.5, 0.25, 2.0]).reshape(3, 1, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(npy(n.inverse_transform(out)), x, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="channel"):
        n(np.zeros((2, 4, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="zero"):
        Normalize([0.0], [0.0])


def test_to_tensor_images():
    rng = np.random.default_rng(7)
    hwc = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    chw = npy(ToTensor()(hwc))
    assert chw.shape == (3, 5, 4) and chw.dtype == np.float32
    np.testing.assert_allclose(chw, np.transpose(hwc, (2, 0, 1)) / 255.0, rtol=1e-6)
    gray = rng.integers(0, 256, size=(6, 7), dtype=np.uint8)
    g = npy(ToTensor()(gray))
    assert g.shape == (1, 6, 7) and g.max() <= 1.0
    np.testing.assert_array_equal(ToTensor().inverse_transform(g), gray)
    np.testing.assert_array_equal(ToTensor().inverse_transform(chw), hwc)
    batch = rng.integers(0, 256, size=(3, 6, 7), dtype=np.uint8)
    b = npy(ToTensor(batched=True)(batch))
    assert b.shape == (3, 1, 6, 7)
    np.testing.assert_allclose(b[2, 0], batch[2] / 255.0, rtol=1e-6)
    f = npy(ToTensor()(np.full((2, 2), 3.5)))  # float data is not rescaled
    assert f.dtype == np.float64 and np.all(f == 3.5)
    with pytest.raises(ValueError, match="expected an image"):
        ToTensor()(np.zeros(5, dtype=np.uint8))


def test_to_tensor_matches_torchvision():
    tvt = pytest.importorskip("torchvision.transforms")
    img = np.random.default_rng(8).integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
    np.testing.assert_allclose(npy(ToTensor()(img)), tvt.ToTensor()(img).numpy(), rtol=1e-6)


def test_compose_fits_in_sequence_and_inverts():
    train, test = split_data(seed=9)
    pipe = Compose([Standardize(), MinMaxScale((-1, 1))]).fit(train)
    s = Standardize().fit(train)
    m = MinMaxScale((-1, 1)).fit(npy(s(train)))  # fitted on the standardized training data
    np.testing.assert_allclose(npy(pipe(test)), npy(m(s(test))), rtol=1e-12)
    np.testing.assert_allclose(npy(pipe.inverse_transform(pipe(test))), test, rtol=1e-9)
    state = pipe.state_dict()
    assert {"0.mean", "0.std", "1.data_min", "1.feature_range"} <= set(state)
    fresh = Compose([Standardize(), MinMaxScale()])
    fresh.load_state_dict(state)
    np.testing.assert_allclose(npy(fresh(test)), npy(pipe(test)))
    with pytest.raises(KeyError):
        fresh.load_state_dict({"5.mean": 0})
    with_fn = Compose([Lambda(lambda a: a * 2), Standardize()]).fit(train)
    np.testing.assert_allclose(npy(with_fn(train)).mean(axis=0), 0, atol=1e-10)
    with pytest.raises(NotImplementedError):
        with_fn.inverse_transform(train)


def test_tensor_in_tensor_out():
    if not hasattr(axonal, "tensor"):
        pytest.skip("axonal.tensor is not available yet")
    train, test = split_data(seed=10)
    t = axonal.tensor(train.astype(np.float32))
    s = Standardize().fit(t)
    out = s(axonal.tensor(test.astype(np.float32)))
    assert isinstance(out, axonal.Tensor) and out.dtype == np.float32
    assert isinstance(s(train), np.ndarray)
