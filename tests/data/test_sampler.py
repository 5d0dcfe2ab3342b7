"""Samplers: order, reproducibility, lengths; BatchSampler against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import axonal.random as arandom
from axonal.utils.data import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def test_sequential():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    assert len(SequentialSampler(range(5))) == 5


def test_random_sampler_is_permutation_and_reproducible():
    data = range(37)
    g1, g2 = arandom.Generator(seed=3), arandom.Generator(seed=3)
    a, b = list(RandomSampler(data, generator=g1)), list(RandomSampler(data, generator=g2))
    assert a == b and sorted(a) == list(range(37)) and a != list(range(37))
    other = list(RandomSampler(data, generator=arandom.Generator(seed=4)))
    assert other != a
    # a second epoch continues the stream: a new order
    s = RandomSampler(data, generator=arandom.Generator(seed=3))
    assert list(s) == a and list(s) != a


def test_random_sampler_default_generator_follows_manual_seed():
    s = RandomSampler(range(20))
    arandom.manual_seed(11)
    a = list(s)
    arandom.manual_seed(11)
    assert list(s) == a


def test_random_sampler_replacement_and_num_samples():
    g = np.random.default_rng(0)
    s = RandomSampler(range(4), replacement=True, num_samples=50, generator=g)
    idx = list(s)
    assert len(idx) == len(s) == 50 and set(idx) <= {0, 1, 2, 3}
    s = RandomSampler(range(4), num_samples=10, generator=g)
    idx = list(s)
    assert len(idx) == 10
    assert sorted(idx[:4]) == [0, 1, 2, 3] and sorted(idx[4:8]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="positive"):
        RandomSampler(range(0))
    with pytest.raises(TypeError, match="generator"):
        RandomSampler(range(3), generator=object())


def test_subset_random_sampler():
    idx = [3, 9, 4, 20]
    out = list(SubsetRandomSampler(idx, generator=np.random.default_rng(1)))
    assert sorted(out) == sorted(idx)


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0]
    s = WeightedRandomSampler(w, 4000, generator=np.random.default_rng(0))
    idx = np.array(list(s))
    assert 0 not in idx
    frac = np.mean(idx == 2)
    assert abs(frac - 0.75) < 0.04
    no_rep = list(WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False, generator=1))
    assert sorted(no_rep) == [0, 1, 2]
    with pytest.raises(ValueError):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1, 0], 2, replacement=False)


@pytest.mark.parametrize("n", [1, 7, 8, 9])
@pytest.mark.parametrize("bs", [1, 3, 8, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_matches_torch(n, bs, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    got = list(ours)
    assert len(got) == len(ours)
    flat = [i for b in got for i in b]
    assert flat == list(range(len(flat)))
    assert all(len(b) == bs for b in got[:-1])
    # arrays path agrees with the list path
    assert [a.tolist() for a in ours._iter_index_arrays()] == got
    # a generic (non built-in) sampler goes through the list path
    assert list(BatchSampler(list(range(n)), bs, drop_last)) == got
    torch = pytest.importorskip("torch")
    ref = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), bs, drop_last)
    assert got == list(ref) and len(ours) == len(ref)


def test_batch_sampler_errors():
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(TypeError):
        BatchSampler(range(3), 2, drop_last=None)
