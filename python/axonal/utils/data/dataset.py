"""Datasets: the map-style ``Dataset`` protocol, ``TensorDataset``, ``Subset``, ``ConcatDataset``,
``IterableDataset`` and ``random_split`` (PyTorch names and semantics)."""

from __future__ import annotations

import bisect
import math
import warnings
from typing import Any, Generic, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np

from ._compat import is_tensor, resolve_generator, to_numpy, to_tensor

T_co = TypeVar("T_co", covariant=True)

__all__ = [
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "Subset",
    "TensorDataset",
    "random_split",
]


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A stream of examples: subclasses define ``__iter__``. The DataLoader batches the stream in
    order (no sampler, no shuffle)."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class TensorDataset(Dataset[Tuple[Any, ...]]):
    """Examples are rows of tensors (or arrays) that share their first dimension.

    ``ds[i]`` is the tuple ``(t0[i], t1[i], ...)``. NumPy arrays are wrapped without a copy.
    The DataLoader recognises this class and gathers a whole batch with one fancy-index per
    tensor instead of one ``__getitem__`` per example.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor or array")
        arrays = []
        for i, t in enumerate(tensors):
            a = to_numpy(t) if (is_tensor(t) or isinstance(t, np.ndarray)) else np.asarray(t)
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset: tensor {i} is 0-dimensional (shape ()); every tensor needs a "
                    "first dimension indexing the examples"
                )
            arrays.append(a)
        sizes = [a.shape[0] for a in arrays]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError(
                f"TensorDataset: size mismatch between tensors: first dimensions {sizes} "
                f"differ (shapes {shapes})"
            )
        self._arrays: Tuple[np.ndarray, ...] = tuple(arrays)
        self.tensors: Tuple[Any, ...] = tuple(
            t if is_tensor(t) else to_tensor(a) for t, a in zip(tensors, arrays)
        )

    def __getitem__(self, index: Any) -> Tuple[Any, ...]:
        return tuple(to_tensor(np.asarray(a[index])) for a in self._arrays)

    def __len__(self) -> int:
        return self._arrays[0].shape[0]

    def _fast_arrays(self) -> Optional[Tuple[np.ndarray, ...]]:
        # Only valid while __getitem__ is ours: a subclass may change what an example is.
        if type(self).__getitem__ is not TensorDataset.__getitem__:
            return None
        return self._arrays

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(a.shape)) for a in self._arrays)
        return f"TensorDataset({shapes})"


class Subset(Dataset[T_co]):
    """The examples of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, (list, tuple)):
            return [self.dataset[self.indices[i]] for i in idx]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def _index_array(self) -> np.ndarray:
        # rebuilt every epoch (cheap): ``indices`` may have been edited in place
        return np.asarray(self.indices, dtype=np.int64).reshape(-1)

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {type(self.dataset).__name__})"


class ConcatDataset(Dataset[T_co]):
    """Several datasets one after the other."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: the list of datasets is empty")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: cannot concatenate an IterableDataset")
        self.cumulative_sizes: List[int] = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise IndexError(f"ConcatDataset: index {idx} out of range for length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} out of range for length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[d - 1] if d > 0 else 0
        return self.datasets[d][idx - start]


def random_split(
    dataset: Dataset[T_co],
    lengths: Sequence[Union[int, float]],
    generator: Any = None,
) -> List[Subset[T_co]]:
    """Split ``dataset`` into non-overlapping random ``Subset``s.

    ``lengths`` are either counts summing to ``len(dataset)`` or fractions summing to 1; with
    fractions each part gets ``floor(n * f)`` and the remainder is handed out one by one from the
    first part (as PyTorch does). ``generator`` seeds the permutation (default: axonal's
    default generator).
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if any(isinstance(x, bool) for x in lengths):
        raise TypeError("random_split: lengths must be ints or floats, not bools")
    total = sum(lengths)
    all_int = all(isinstance(x, (int, np.integer)) for x in lengths)
    if not all_int and math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-6):
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is {frac}, not in [0, 1]")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        remainder = n - sum(counts)
        for i in range(remainder):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(
                    f"random_split: length of split at index {i} is 0", UserWarning, stacklevel=2
                )
        lengths = counts
    else:
        if not all_int:  # floats that do not sum to 1
            raise ValueError(
                f"random_split: lengths {lengths} are neither integers summing to the dataset "
                f"length {n} nor fractions summing to 1"
            )
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: negative length in {lengths}")
        if total != n:
            raise ValueError(
                f"random_split: sum of input lengths {total} does not equal the length of the "
                f"input dataset {n}"
            )
    rng = resolve_generator(generator, "random_split")
    perm = rng.permutation(n)
    out: List[Subset[T_co]] = []
    offset = 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset : offset + int(length)].tolist()))
        offset += int(length)
    return out
