"""``DataLoader``: batches of examples from a dataset, plus ``default_collate``.

Fast path: when the dataset is a ``TensorDataset`` (or a ``Subset`` of one, e.g. from
``random_split``) and ``collate_fn`` is the default, each batch is gathered with one NumPy
fancy-index per tensor (``x[batch_indices]``) instead of one ``__getitem__`` per example and a
stack. The result is the same as the slow path, bit for bit.
"""

from __future__ import annotations

import collections.abc
import warnings
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ._compat import is_tensor, resolve_generator, to_numpy, to_tensor
from .dataset import Dataset, IterableDataset, Subset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _stack(arrays: Sequence[np.ndarray]) -> np.ndarray:
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({tuple(a.shape) for a in arrays})
        raise ValueError(
            f"default_collate: cannot stack examples of different shapes {shapes[:4]}; pad them "
            "or pass a collate_fn"
        ) from None


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of examples into a batch, like ``torch.utils.data.default_collate``.

    Tensors and NumPy arrays are stacked along a new first axis; Python ints become an int64
    tensor, floats a float64 tensor (as in PyTorch), bools a bool tensor, NumPy scalars keep
    their dtype; strings stay a list. Dicts are collated key by key, namedtuples field by field,
    and tuples/lists position by position (tuples and lists give a list, as in PyTorch).
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if is_tensor(elem):
        return to_tensor(_stack([to_numpy(b) for b in batch]))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            return list(batch)
        return to_tensor(_stack([np.asarray(b) for b in batch]))
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "USO":
            return list(batch)
        return to_tensor(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, bool):
        return to_tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return to_tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return to_tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError(
                "default_collate: each element in list of batch should be of equal size"
            )
        transposed = [list(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        try:
            return type(elem)([default_collate(s) for s in transposed])
        except TypeError:
            return [default_collate(s) for s in transposed]
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}"
    )


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays and scalars (also inside dicts/lists/tuples) into tensors; used when
    ``batch_size=None`` (no batching)."""
    if is_tensor(data):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        if data.dtype.kind in "USO":
            return data
        return to_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        try:
            return type(data)({k: default_convert(v) for k, v in data.items()})
        except TypeError:
            return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def _fast_source(dataset: Any) -> Tuple[Optional[Tuple[np.ndarray, ...]], Optional[np.ndarray]]:
    """(arrays, index_map) when batches can be gathered by fancy indexing, else (None, None).

    ``index_map`` composes any ``Subset`` layers (None when there are none).
    """
    base: Optional[np.ndarray] = None
    ds = dataset
    while isinstance(ds, Subset) and type(ds).__getitem__ is Subset.__getitem__:
        idx = ds._index_array()
        base = idx if base is None else idx[base]
        ds = ds.dataset
    hook = getattr(ds, "_fast_arrays", None)
    arrays = hook() if hook is not None else None
    if arrays is None:
        return None, None
    return arrays, base


def _check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"DataLoader: {name} must be an int, got {value!r}")


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Arguments follow ``torch.utils.data.DataLoader``: ``batch_size`` (``None`` yields single
    examples without batching), ``shuffle`` (a fresh order each epoch drawn from ``generator``, or
    from axonal's default generator seeded by ``axonal.manual_seed``), ``sampler``,
    ``batch_sampler``, ``collate_fn``, ``drop_last``. ``num_workers`` is accepted for
    compatibility; loading always happens in the calling process (with in-memory tensors and the
    vectorised fast path, workers would only add overhead). ``len(loader)`` is the number of
    batches per epoch. ``batch_size=1`` gives one example per step (plain SGD).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: Optional[int] = 1,
        shuffle: Optional[bool] = None,
        sampler: Optional[Any] = None,
        batch_sampler: Optional[Any] = None,
        num_workers: int = 0,
        collate_fn: Optional[Callable[[List[Any]], Any]] = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Optional[Callable[[int], None]] = None,
        generator: Any = None,
        *,
        prefetch_factor: Optional[int] = None,
        persistent_workers: bool = False,
    ) -> None:
        if batch_size is not None:
            _check_int("batch_size", batch_size)
            if batch_size < 1:
                raise ValueError(
                    f"DataLoader: batch_size must be a positive integer (or None for no "
                    f"batching), got {batch_size}"
                )
            batch_size = int(batch_size)
        _check_int("num_workers", num_workers)
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers}")
        if num_workers > 0:
            warnings.warn(
                f"DataLoader: num_workers={num_workers} is ignored; axonal loads batches in the "
                "main process",
                UserWarning,
                stacklevel=2,
            )
        if not isinstance(drop_last, bool):
            raise TypeError(f"DataLoader: drop_last must be a bool, got {drop_last!r}")
        if shuffle is not None and not isinstance(shuffle, bool):
            raise TypeError(f"DataLoader: shuffle must be a bool, got {shuffle!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable")
        resolve_generator(generator, "DataLoader")

        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)

        if not self._iterable:
            if not hasattr(dataset, "__getitem__"):
                raise TypeError(
                    f"DataLoader: dataset must define __getitem__ (map-style) or be an "
                    f"IterableDataset; got {type(dataset).__name__}"
                )
            if hasattr(dataset, "__len__") and len(dataset) == 0:
                raise ValueError(
                    f"DataLoader: the dataset ({type(dataset).__name__}) is empty "
                    "(len(dataset) == 0); there is nothing to load"
                )
        elif shuffle or sampler is not None or batch_sampler is not None:
            raise ValueError(
                "DataLoader: an IterableDataset is read in its own order; shuffle, sampler and "
                "batch_sampler are not supported"
            )

        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None option disables auto-batching and is mutually "
                "exclusive with drop_last"
            )

        if not self._iterable and sampler is None:
            if shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if not self._iterable and batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler: Optional[Sampler] = sampler
        self.batch_sampler: Optional[Any] = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size)
        self._default_collate = collate_fn is None or collate_fn is default_collate
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    # -- iteration -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            return self._iter_iterable()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        if self._default_collate:
            arrays, base = _fast_source(self.dataset)
            if arrays is not None:
                return self._iter_fast(arrays, base)
        return (self._fetch(batch) for batch in self.batch_sampler)

    def _fetch(self, indices: Sequence[int]) -> Any:
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return self.collate_fn(getitems(list(indices)))
        return self.collate_fn([self.dataset[i] for i in indices])

    def _iter_fast(
        self, arrays: Tuple[np.ndarray, ...], base: Optional[np.ndarray]
    ) -> Iterator[List[Any]]:
        bs = self.batch_sampler
        if type(bs) is BatchSampler:
            batches: Any = bs._iter_index_arrays()
        else:
            batches = (np.asarray(b, dtype=np.int64) for b in bs)
        for idx in batches:
            if base is not None:
                idx = base[idx]
            yield [to_tensor(a[idx]) for a in arrays]

    def _iter_iterable(self) -> Iterator[Any]:
        if self.batch_size is None:
            for item in self.dataset:
                yield self.collate_fn(item)
            return
        batch: List[Any] = []
        for item in self.dataset:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
            f"batches={len(self) if not self._iterable else '?'})"
        )
