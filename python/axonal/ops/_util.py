"""Helpers shared by the op implementations (array level; most also accept Tensors)."""

from __future__ import annotations

import operator
import sys
from typing import Any, Sequence, Tuple

import numpy as np

_ndarray = np.ndarray


def xp_of(a: Any) -> Any:
    """The array module of ``a``: ``numpy`` for NumPy arrays, ``cupy`` for CuPy arrays."""
    if type(a) is _ndarray:
        return np
    mod = type(a).__module__.split(".")[0]
    if mod == "axonal":  # a Tensor
        return xp_of(a._data)
    m = sys.modules.get(mod)
    return m if m is not None and hasattr(m, "ndarray") else np


def shape_of(a: Any) -> tuple:
    s = getattr(a, "shape", None)
    return () if s is None else tuple(s)


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` over the dimensions broadcasting added, so that it has ``shape``.

    Works on arrays and (for double backward) on Tensors.
    """
    gs = g.shape
    if gs == shape:
        return g
    nd = len(gs) - len(shape)
    if type(g) is not _ndarray and hasattr(g, "_data"):
        return _unbroadcast_tensor(g, shape, nd)
    if nd > 0:
        g = g.sum(axis=tuple(range(nd)))
    keep = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if keep:
        g = g.sum(axis=keep, keepdims=True)
    if g.shape != shape:  # e.g. a 0-d target
        g = g.reshape(shape)
    return g


def _unbroadcast_tensor(g: Any, shape: tuple, nd: int) -> Any:
    if nd > 0:
        g = g.sum(dim=tuple(range(nd)))
    keep = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if keep:
        g = g.sum(dim=keep, keepdim=True)
    if tuple(g.shape) != tuple(shape):
        g = g.reshape(shape)
    return g


def broadcast_error(op: str, a: Any, b: Any) -> ValueError:
    return ValueError(f"{op}: {shape_of(a)} and {shape_of(b)} cannot broadcast")


def norm_dim(dim: int, ndim: int, op: str = "op") -> int:
    """A dimension index in ``[0, ndim)`` (negative counts from the end); 0-d accepts 0 and -1."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {dim})"
        )
    return dim + n if dim < 0 else dim


def norm_dims(dim: Any, ndim: int, op: str = "op") -> Tuple[int, ...]:
    """``dim`` (None, int, or a sequence of ints) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        d = norm_dim(int(dim), ndim, op)
        return (d,) if ndim > 0 else ()
    dims = tuple(norm_dim(int(d), ndim, op) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
    if ndim == 0:
        return ()
    return tuple(sorted(dims))


def as_shape(args: Sequence[Any], op: str) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])`` -> ``(2, 3)``."""
    try:
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            a = args[0]
            if hasattr(a, "tolist") and not isinstance(a, (list, tuple)):
                a = a.tolist()
            if isinstance(a, (int, np.integer)):
                return (int(a),)
            args = tuple(a)
        # operator.index, not int(): a float size (2.5) is an error, not silently truncated
        return tuple(operator.index(s) for s in args)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: expected a shape of ints, got {args!r}") from None


def expand_reduced(g: Any, shape: tuple, axes: tuple, keepdim: bool) -> Any:
    """Broadcast a reduction's gradient ``g`` back to the input ``shape`` (read-only view)."""
    if not keepdim and axes:
        g = g.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))
    if hasattr(g, "_data"):
        return g.expand(shape)
    return xp_of(g).broadcast_to(g, shape)


def reduced_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))
