"""``train_test_split``: random (optionally stratified) train/test split of aligned arrays."""

from __future__ import annotations

import math
from typing import Any, List, Optional, Union

import numpy as np

from ..utils.data._compat import is_tensor, resolve_generator, to_numpy, to_tensor

__all__ = ["train_test_split"]

Size = Optional[Union[int, float]]


def _resolve_sizes(n: int, test_size: Size, train_size: Size) -> tuple:
    def check(name: str, v: Size) -> None:
        if v is None:
            return
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"train_test_split: {name} must be an int or a float, got {v!r}")
        if isinstance(v, (float, np.floating)) and not 0.0 < v < 1.0:
            raise ValueError(f"train_test_split: {name}={v} must be in (0, 1) as a fraction")
        if isinstance(v, (int, np.integer)) and not 0 < v <= n:
            raise ValueError(f"train_test_split: {name}={v} must be in [1, {n}] as a count")

    check("test_size", test_size)
    check("train_size", train_size)
    if test_size is None and train_size is None:
        test_size = 0.25
    n_test = None
    if test_size is not None:
        is_frac = isinstance(test_size, (float, np.floating))
        n_test = math.ceil(test_size * n) if is_frac else int(test_size)
    n_train = None
    if train_size is not None:
        is_frac = isinstance(train_size, (float, np.floating))
        n_train = math.floor(train_size * n) if is_frac else int(train_size)
    if n_train is None:
        n_train = n - n_test
    if n_test is None:
        n_test = n - n_train
    if n_train + n_test > n:
        raise ValueError(
            f"train_test_split: train ({n_train}) + test ({n_test}) examples exceed the {n} given"
        )
    if n_train <= 0 or n_test <= 0:
        raise ValueError(
            f"train_test_split: with n={n} the split gives {n_train} train and {n_test} test "
            "examples; both must be positive"
        )
    return n_train, n_test


def _allocate(counts: np.ndarray, total: int, cap: np.ndarray, rng: np.random.Generator) -> Any:
    """Split ``total`` across classes proportionally to ``counts``, never above ``cap``."""
    exact = counts * (total / counts.sum())
    take = np.minimum(np.floor(exact).astype(np.int64), cap)
    left = total - int(take.sum())
    frac = exact - np.floor(exact)
    # hand out the rest by largest fractional part, ties broken at random
    order = np.lexsort((rng.random(len(counts)), -frac))
    while left > 0:
        progressed = False
        for k in order:
            if left == 0:
                break
            if take[k] < cap[k]:
                take[k] += 1
                left -= 1
                progressed = True
        if not progressed:
            raise ValueError("train_test_split: not enough examples to allocate the split")
    return take


def train_test_split(
    *arrays: Any,
    test_size: Size = None,
    train_size: Size = None,
    shuffle: bool = True,
    stratify: Any = None,
    seed: Optional[int] = None,
    generator: Any = None,
) -> List[Any]:
    """Split aligned arrays/tensors into train and test parts, like scikit-learn's function.

    Returns ``[a_train, a_test, b_train, b_test, ...]``, each of the input's kind (a Tensor for a
    Tensor, a NumPy array otherwise). Sizes are fractions in (0, 1) or counts; the default test
    fraction is 0.25. ``stratify`` (labels) keeps the class proportions in both parts. The
    permutation comes from ``seed`` (a fresh NumPy generator) or ``generator`` (default:
    axonal's default generator, seeded by ``axonal.manual_seed``).
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array is required")
    if seed is not None and generator is not None:
        raise ValueError("train_test_split: pass seed or generator, not both")
    arrs = [to_numpy(a) for a in arrays]
    for i, a in enumerate(arrs):
        if a.ndim == 0:
            raise ValueError(f"train_test_split: array {i} is 0-dimensional")
    n = arrs[0].shape[0]
    if any(a.shape[0] != n for a in arrs):
        raise ValueError(
            f"train_test_split: arrays have different first dimensions {[a.shape[0] for a in arrs]}"
        )
    n_train, n_test = _resolve_sizes(n, test_size, train_size)
    rng = np.random.default_rng(seed) if seed is not None else resolve_generator(generator)

    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify requires shuffle=True")
        labels = to_numpy(stratify).reshape(-1) if is_tensor(stratify) else np.asarray(stratify)
        if labels.shape[0] != n:
            raise ValueError(
                f"train_test_split: stratify has {labels.shape[0]} labels for {n} examples"
            )
        classes, inverse = np.unique(
            labels, return_inverse=True, axis=0 if labels.ndim > 1 else None
        )
        inverse = inverse.reshape(-1)
        counts = np.bincount(inverse, minlength=len(classes))
        test_k = _allocate(counts, n_test, counts, rng)
        train_k = _allocate(counts, n_train, counts - test_k, rng)
        tr_parts, te_parts = [], []
        for k in range(len(classes)):
            members = np.flatnonzero(inverse == k)
            members = members[rng.permutation(len(members))]
            te_parts.append(members[: test_k[k]])
            tr_parts.append(members[test_k[k] : test_k[k] + train_k[k]])
        train_idx = np.concatenate(tr_parts)
        test_idx = np.concatenate(te_parts)
        train_idx = train_idx[rng.permutation(len(train_idx))]
        test_idx = test_idx[rng.permutation(len(test_idx))]
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        train_idx = order[:n_train]
        test_idx = order[n_train : n_train + n_test]

    out: List[Any] = []
    for orig, a in zip(arrays, arrs):
        for idx in (train_idx, test_idx):
            part = a[idx]
            out.append(to_tensor(part) if is_tensor(orig) else part)
    return out
