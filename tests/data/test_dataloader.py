"""DataLoader: batching, shuffling, drop_last, collate, the TensorDataset fast path, errors."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import axonal.random as arandom
from axonal.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)


def npy(x):
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else np.asarray(x)


def make_ds(n=23, f=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, f)).astype(np.float32)
    y = rng.integers(0, 4, size=n).astype(np.int64)
    return TensorDataset(x, y), x, y


def slow_collate(batch):  # not `default_collate` itself: forces the per-example path
    return default_collate(batch)


def epoch_labels(loader):
    return np.concatenate([npy(b[1]) for b in loader])


@pytest.mark.parametrize("n", [1, 5, 23])
@pytest.mark.parametrize("bs", [1, 4, 5, 30])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_and_batch_shapes(n, bs, drop_last):
    ds, x, y = make_ds(n)
    loader = DataLoader(ds, batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    expected = n // bs if drop_last else -(-n // bs)
    assert len(loader) == len(batches) == expected
    for i, (xb, yb) in enumerate(batches):
        size = min(bs, n - i * bs)
        assert npy(xb).shape == (size, 3) and npy(yb).shape == (size,)
        assert npy(xb).dtype == np.float32 and npy(yb).dtype == np.int64
        np.testing.assert_array_equal(npy(xb), x[i * bs : i * bs + size])
    if drop_last:
        assert all(npy(b[0]).shape[0] == bs for b in batches)
    torch = pytest.importorskip("torch")
    assert len(loader) == len(torch.utils.data.DataLoader(range(n), bs, drop_last=drop_last))


def test_batch_size_one_is_plain_sgd_order():
    ds, x, y = make_ds(6)
    got = [(npy(xb), npy(yb)) for xb, yb in DataLoader(ds, batch_size=1)]
    assert len(got) == 6
    for i, (xb, yb) in enumerate(got):
        assert xb.shape == (1, 3)
        np.testing.assert_array_equal(xb[0], x[i])
        assert yb[0] == y[i]


def test_shuffle_reproducible_with_same_seed_and_different_with_another():
    ds, _, y = make_ds(40)

    def run(seed, epochs=2):
        loader = DataLoader(ds, batch_size=7, shuffle=True, generator=arandom.Generator(seed=seed))
        return [epoch_labels(loader) for _ in range(epochs)]

    a, b, c = run(0), run(0), run(1)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], a[1])  # each epoch draws a new order
    for e in a + c:  # every example exactly once per epoch
        np.testing.assert_array_equal(np.sort(e), np.sort(y))


def test_shuffle_uses_default_generator_seeded_by_manual_seed():
    ds, _, _ = make_ds(40, seed=1)
    xs = npy(ds._arrays[0])[:, 0]
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    arandom.manual_seed(123)
    first = np.concatenate([npy(b[0])[:, 0] for b in loader])
    arandom.manual_seed(123)
    again = np.concatenate([npy(b[0])[:, 0] for b in loader])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, xs)
    arandom.manual_seed(124)
    other = np.concatenate([npy(b[0])[:, 0] for b in loader])
    assert not np.array_equal(first, other)


def test_numpy_generator_accepted():
    ds, _, _ = make_ds(30)
    a = epoch_labels(DataLoader(ds, 4, shuffle=True, generator=np.random.default_rng(9)))
    b = epoch_labels(DataLoader(ds, 4, shuffle=True, generator=np.random.default_rng(9)))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_fast_path_equals_per_example_path(shuffle, drop_last):
    ds, _, _ = make_ds(29)
    kw = dict(batch_size=6, shuffle=shuffle, drop_last=drop_last)
    fast = list(DataLoader(ds, generator=arandom.Generator(seed=2), **kw))
    slow = list(DataLoader(ds, generator=arandom.Generator(seed=2), collate_fn=slow_collate, **kw))
    assert len(fast) == len(slow)
    for fb, sb in zip(fast, slow):
        assert isinstance(fb, list) and isinstance(sb, list)
        for f, s in zip(fb, sb):
            assert npy(f).dtype == npy(s).dtype
            np.testing.assert_array_equal(npy(f), npy(s))


def test_fast_path_through_subsets_from_random_split():
    ds, x, _ = make_ds(31)
    train, _ = random_split(ds, [20, 11], generator=np.random.default_rng(0))
    inner = train.indices[:15]
    from axonal.utils.data import Subset

    nested = Subset(train, list(range(15)))
    for d, idx in ((train, train.indices), (nested, inner)):
        got = np.concatenate([npy(b[0]) for b in DataLoader(d, batch_size=4)])
        np.testing.assert_array_equal(got, x[idx])


def test_fast_path_indexes_whole_batches():
    class Recorder(np.ndarray):
        keys: list = []

        def __getitem__(self, key):
            Recorder.keys.append(key)
            return np.asarray(self).__getitem__(key)

    base = np.arange(40, dtype=np.float32).reshape(20, 2)
    ds = TensorDataset(base.view(Recorder))
    Recorder.keys.clear()
    n_batches = len(list(DataLoader(ds, batch_size=8, shuffle=True, generator=1)))
    assert n_batches == 3
    assert len(Recorder.keys) == 3  # one fancy index per batch, not one per example
    assert all(isinstance(k, np.ndarray) and k.dtype == np.int64 for k in Recorder.keys)


def test_collate_tuples_dicts_namedtuples_numbers():
    Pair = collections.namedtuple("Pair", "a b")

    class DictDS(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {
                "x": np.full((2, 2), i, dtype=np.float32),
                "y": i,
                "w": 0.5 * i,
                "flag": i % 2 == 0,
                "name": f"s{i}",
                "pair": Pair(np.int32(i), (i, -i)),
            }

    (batch,) = list(DataLoader(DictDS(), batch_size=5))
    assert set(batch) == {"x", "y", "w", "flag", "name", "pair"}
    assert npy(batch["x"]).shape == (5, 2, 2) and npy(batch["x"]).dtype == np.float32
    np.testing.assert_array_equal(npy(batch["y"]), np.arange(5))
    assert npy(batch["y"]).dtype == np.int64
    assert npy(batch["w"]).dtype == np.float64  # Python floats -> float64, as in PyTorch
    assert npy(batch["flag"]).dtype == np.bool_
    assert batch["name"] == ["s0", "s1", "s2", "s3", "s4"]
    assert isinstance(batch["pair"], Pair)
    assert npy(batch["pair"].a).dtype == np.int32
    assert isinstance(batch["pair"].b, list)  # tuples collate to lists, as in PyTorch
    np.testing.assert_array_equal(npy(batch["pair"].b[1]), -np.arange(5))


def test_default_collate_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    samples = [
        (rng.standard_normal(3).astype(np.float32), int(rng.integers(9)), {"k": float(i)})
        for i in range(4)
    ]
    ours = default_collate(samples)
    ref = torch.utils.data.default_collate(samples)
    assert type(ours) is type(ref) and len(ours) == len(ref)
    for o, r in ((ours[0], ref[0]), (ours[1], ref[1]), (ours[2]["k"], ref[2]["k"])):
        assert npy(o).dtype == np.dtype(str(r.dtype).replace("torch.", ""))
        np.testing.assert_array_equal(npy(o), r.numpy())


def test_collate_errors():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])


def test_empty_dataset_raises_at_construction():
    empty = TensorDataset(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="empty"):
        DataLoader(empty, batch_size=4)


@pytest.mark.parametrize("bad", [0, -1])
def test_batch_size_below_one_raises(bad):
    ds, _, _ = make_ds(5)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        DataLoader(ds, batch_size=bad)


def test_argument_errors():
    ds, _, _ = make_ds(5)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(ds, batch_size=2.0)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    bs = BatchSampler(SequentialSampler(ds), 2, False)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_size=3, batch_sampler=bs)
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, shuffle=True, generator="seed")
    with pytest.warns(UserWarning, match="num_workers"):
        DataLoader(ds, num_workers=2)


def test_sampler_and_batch_sampler_arguments():
    ds, x, _ = make_ds(12)
    idx = [10, 2, 7, 3, 11]
    got = np.concatenate(
        [npy(b[0]) for b in DataLoader(ds, 2, sampler=SubsetRandomSampler(idx, generator=0))]
    )
    assert sorted(map(tuple, got)) == sorted(map(tuple, x[idx]))
    loader = DataLoader(ds, batch_sampler=[[0, 5], [11], [3, 4, 6]])
    shapes = [npy(b[0]).shape[0] for b in loader]
    assert shapes == [2, 1, 3] and len(loader) == 3
    np.testing.assert_array_equal(npy(list(loader)[2][0]), x[[3, 4, 6]])


def test_batch_size_none_yields_examples():
    ds, x, _ = make_ds(4)
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 4
    np.testing.assert_array_equal(npy(items[1][0]), x[1])


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            for i in range(7):
                yield np.float32(i), i

    batches = list(DataLoader(Stream(), batch_size=3))
    assert [npy(b[1]).tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(DataLoader(Stream(), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(), shuffle=True)
