"""Dataset, TensorDataset, Subset, ConcatDataset, random_split."""

from __future__ import annotations

import numpy as np
import pytest

import axonal
import axonal.random as arandom
from axonal.utils.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split


def npy(x):
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else np.asarray(x)


def test_tensor_dataset_rows_and_len():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3)).astype(np.float32)
    y = rng.integers(0, 5, size=7)
    ds = TensorDataset(x, y)
    assert len(ds) == 7
    for i in (0, 3, 6, -1):
        xi, yi = ds[i]
        np.testing.assert_array_equal(npy(xi), x[i])
        assert int(npy(yi)) == y[i]
    # arrays are wrapped, not copied
    assert np.shares_memory(ds._arrays[0], x)


def test_tensor_dataset_accepts_tensors_when_available():
    if not hasattr(axonal, "tensor"):
        pytest.skip("axonal.tensor is not available yet")
    x = axonal.tensor(np.arange(12.0).reshape(4, 3))
    ds = TensorDataset(x, np.arange(4))
    assert ds.tensors[0] is x
    np.testing.assert_array_equal(npy(ds[2][0]), [6.0, 7.0, 8.0])


def test_tensor_dataset_size_mismatch_raises():
    with pytest.raises(ValueError, match=r"size mismatch.*\[5, 4\]"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(np.float32(3.0))


def test_subset_and_concat():
    a = TensorDataset(np.arange(5))
    b = TensorDataset(np.arange(100, 103))
    cat = ConcatDataset([a, b])
    assert len(cat) == 8
    got = [int(npy(cat[i][0])) for i in range(8)]
    assert got == [0, 1, 2, 3, 4, 100, 101, 102]
    assert int(npy(cat[-1][0])) == 102 and int(npy(cat[-8][0])) == 0
    with pytest.raises(IndexError):
        cat[8]
    with pytest.raises(IndexError):
        cat[-9]
    assert len(a + b) == 8
    sub = Subset(cat, [7, 0, 5])
    assert len(sub) == 3
    assert [int(npy(sub[i][0])) for i in range(3)] == [102, 0, 100]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_base_dataset_is_abstract():
    with pytest.raises(NotImplementedError):
        Dataset()[0]


@pytest.mark.parametrize("n", [1, 10, 11, 97])
def test_random_split_int_lengths_partition(n):
    ds = TensorDataset(np.arange(n))
    k = n // 3
    parts = random_split(ds, [k, n - k], generator=np.random.default_rng(n))
    assert [len(p) for p in parts] == [k, n - k]
    seen = sorted(int(npy(p[i][0])) for p in parts for i in range(len(p)))
    assert seen == list(range(n))


@pytest.mark.parametrize("n", [10, 11, 13, 100])
def test_random_split_fractions_sum_and_match_torch(n):
    fracs = [0.7, 0.2, 0.1]
    parts = random_split(TensorDataset(np.arange(n)), fracs, generator=np.random.default_rng(0))
    lengths = [len(p) for p in parts]
    assert sum(lengths) == n
    torch = pytest.importorskip("torch")
    tparts = torch.utils.data.random_split(range(n), fracs)
    assert lengths == [len(p) for p in tparts]


def test_random_split_reproducible_and_seed_dependent():
    ds = TensorDataset(np.arange(50))

    def split(seed):
        return [
            p.indices for p in random_split(ds, [0.5, 0.5], generator=arandom.Generator(seed=seed))
        ]

    assert split(1) == split(1)
    assert split(1) != split(2)
    arandom.manual_seed(5)
    a = [p.indices for p in random_split(ds, [25, 25])]
    arandom.manual_seed(5)
    b = [p.indices for p in random_split(ds, [25, 25])]
    assert a == b


def test_random_split_errors():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match="does not equal"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="neither"):
        random_split(ds, [0.3, 0.3])
    with pytest.raises(TypeError, match="generator"):
        random_split(ds, [5, 5], generator="seed")
    with pytest.warns(UserWarning, match="length of split at index 1 is 0"):
        parts = random_split(TensorDataset(np.arange(2)), [0.99, 0.01])
    assert sum(len(p) for p in parts) == 2
