"""Samplers: which example indices a DataLoader visits, and in which order.

Built-in samplers draw a whole epoch's order as one NumPy index array (``_index_array``) so the
DataLoader can slice batches out of it without a Python loop over examples.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Sequence, Sized

import numpy as np

from ._compat import resolve_generator, to_numpy

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


class Sampler:
    """Base class: ``__iter__`` yields dataset indices; ``__len__`` (optional) counts them."""

    def __init__(self, data_source: Optional[Sized] = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices, fresh each epoch.

    Without replacement: a permutation (``num_samples`` larger than the dataset chains several
    permutations). With replacement: ``num_samples`` uniform draws. ``generator`` is an
    ``axonal.Generator``, a ``numpy.random.Generator`` or None (axonal's default generator, so
    ``axonal.manual_seed`` makes the order repeatable).
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: Optional[int] = None,
        generator: Any = None,
    ) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        k = self.num_samples
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"RandomSampler: num_samples must be an int, got {num_samples!r}")
        if self.num_samples <= 0:
            raise ValueError(
                f"RandomSampler: num_samples must be a positive integer, got {self.num_samples} "
                f"(dataset length {len(data_source)})"
            )
        resolve_generator(generator, "RandomSampler")  # type check now, draw later

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self) -> np.ndarray:
        n = len(self.data_source)
        rng = resolve_generator(self.generator, "RandomSampler")
        k = self.num_samples
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        if k == n:
            return rng.permutation(n).astype(np.int64, copy=False)
        reps = -(-k // n)
        return np.concatenate([rng.permutation(n) for _ in range(reps)])[:k].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, fresh each epoch."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator
        resolve_generator(generator, "SubsetRandomSampler")

    def _index_array(self) -> np.ndarray:
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        rng = resolve_generator(self.generator, "SubsetRandomSampler")
        return idx[rng.permutation(len(idx))]

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (for class
    imbalance: weight each example by ``1 / count(its class)``)."""

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
            raise TypeError(
                f"WeightedRandomSampler: num_samples must be an int, got {num_samples!r}"
            )
        if num_samples <= 0:
            raise ValueError(
                f"WeightedRandomSampler: num_samples must be positive, got {num_samples}"
            )
        w = np.asarray(to_numpy(weights), dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(
                "WeightedRandomSampler: weights must be a 1-D sequence (one weight per sample), "
                f"got shape {w.shape}"
            )
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be a non-empty sequence of finite, "
                "non-negative numbers with a positive sum"
            )
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                f"from {np.count_nonzero(w)} non-zero weights"
            )
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator
        resolve_generator(generator, "WeightedRandomSampler")

    def _index_array(self) -> np.ndarray:
        rng = resolve_generator(self.generator, "WeightedRandomSampler")
        p = self.weights / self.weights.sum()
        return rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).astype(
            np.int64
        )

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


_ARRAY_SAMPLERS = (SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``)."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"BatchSampler: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be >= 1, got {batch_size}")
        if not isinstance(drop_last, bool):
            raise TypeError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def _iter_index_arrays(self) -> Iterator[np.ndarray]:
        """Batches as int64 arrays; one vectorised draw per epoch for the built-in samplers."""
        if type(self.sampler) in _ARRAY_SAMPLERS:
            idx = self.sampler._index_array()
            n, bs = len(idx), self.batch_size
            stop = n - n % bs if self.drop_last else n
            for start in range(0, stop, bs):
                yield idx[start : start + bs]
        else:
            for batch in self:
                yield np.asarray(batch, dtype=np.int64)

    def __iter__(self) -> Iterator[List[int]]:
        bs = self.batch_size
        if type(self.sampler) in _ARRAY_SAMPLERS:
            idx = self.sampler._index_array().tolist()
            n = len(idx)
            stop = n - n % bs if self.drop_last else n
            for start in range(0, stop, bs):
                yield idx[start : start + bs]
            return
        batch: List[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == bs:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size
