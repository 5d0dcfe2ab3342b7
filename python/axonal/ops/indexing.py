"""Indexing: ``t[idx]`` (basic, boolean, integer arrays), ``t[idx] = v``, gather, index_select."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ._util import shape_of, unbroadcast, xp_of

_BASIC = (int, slice, type(None), type(Ellipsis))


def index_arg(idx: Any) -> Any:
    """Turn Tensors inside an index into arrays (lists of ints/bools become arrays too)."""
    t = type(idx)
    if t is int or t is slice:
        return idx
    if t is tuple:
        return tuple(_one(i) for i in idx)
    return _one(idx)


def _one(i: Any) -> Any:
    if type(i) in _BASIC:
        return i
    d = getattr(i, "_data", None)
    if d is not None:
        return d if d.ndim or d.dtype.kind == "b" else int(d.item())
    if isinstance(i, (list, tuple)):
        return np.asarray(i)
    if isinstance(i, np.integer):
        return int(i)
    return i


def is_basic(idx: Any) -> bool:
    if type(idx) is tuple:
        return all(type(i) in _BASIC or isinstance(i, (int, np.integer)) for i in idx)
    return type(idx) in _BASIC or isinstance(idx, (int, np.integer))


def _only_bool(idx: Any) -> bool:
    """A boolean mask (possibly with basic parts): positions are distinct, no accumulation."""
    items = idx if type(idx) is tuple else (idx,)
    n_adv = 0
    for i in items:
        if type(i) in _BASIC or isinstance(i, (int, np.integer)):
            continue
        if getattr(i, "dtype", None) is not None and i.dtype.kind == "b":
            n_adv += 1
            continue
        return False
    return n_adv <= 1


class GetItem(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, idx: Any) -> Any:
        try:
            out = a[idx]
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {a.shape})") from None
        ctx.idx, ctx.shape, ctx.dtype = idx, a.shape, a.dtype
        ctx.unique = is_basic(idx) or _only_bool(idx)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if hasattr(g, "_data"):
            from .. import ops

            return ops.IndexAdd.apply(g, ctx.shape, ctx.idx, ctx.unique), None
        return _scatter(g, ctx.shape, ctx.idx, ctx.unique), None


def _scatter(g: Any, shape: tuple, idx: Any, unique: bool) -> Any:
    xp = xp_of(g)
    out = xp.zeros(shape, g.dtype)
    if unique:
        out[idx] = g
    elif xp is np:
        np.add.at(out, idx, g)
    else:  # CuPy: the scatter-add lives in cupyx
        import cupyx

        cupyx.scatter_add(out, idx, g)
    return out


class IndexAdd(Function):
    """Zeros of ``shape`` with ``g`` added at ``idx``: the backward of indexing (and its own
    gradient is indexing again)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, g: Any, shape: tuple, idx: Any, unique: bool) -> Any:
        ctx.idx = idx
        return _scatter(g, shape, idx, unique)

    @staticmethod
    def backward(ctx: Any, gg: Any) -> tuple:
        return gg[ctx.idx], None, None, None


class IndexPut(Function):
    """``a`` with ``a[idx] = v``: the autograd form of ``__setitem__``."""

    @staticmethod
    def forward(ctx: Any, a: Any, v: Any, idx: Any) -> Any:
        out = a.copy()
        try:
            out[idx] = v
        except ValueError:
            raise ValueError(
                f"setitem: value of shape {shape_of(v)} cannot broadcast to the indexed "
                f"shape {a[idx].shape}"
            ) from None
        ctx.idx, ctx.sv, ctx.dv = idx, shape_of(v), getattr(v, "dtype", None)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        p = ctx._parents
        ga = gv = None
        if p[0] is not None:
            ga = g.copy()
            ga[ctx.idx] = 0
        if p[1] is not None:
            gv = unbroadcast(g[ctx.idx], ctx.sv)
        return ga, gv, None


def _full_index(index: Any, dim: int, xp: Any) -> tuple:
    """Index arrays addressing ``out[..., index, ...]`` elementwise along ``dim``."""
    nd = index.ndim
    idx = []
    for d in range(nd):
        if d == dim:
            idx.append(index)
        else:
            shape = [1] * nd
            shape[d] = index.shape[d]
            idx.append(xp.arange(index.shape[d]).reshape(shape))
    return tuple(idx)


def _check_range(op: str, index: Any, dim: int, n: int) -> None:
    """PyTorch's rule for gather / index_select / embedding: every index in [0, n) (negative ones
    raise, they do not count from the end; CuPy's take would wrap them and any too large one
    silently). On a device array this reads two numbers back to the host."""
    if not index.size:
        return
    lo, hi = int(index.min()), int(index.max())
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {n}")


class Gather(Function):
    """``gather(a, dim, index)``: ``out[i][j] = a[index[i][j]][j]`` (dim 0), torch semantics."""

    @staticmethod
    def forward(ctx: Any, a: Any, dim: int, index: Any) -> Any:
        xp = xp_of(a)
        if index.ndim != a.ndim:
            raise RuntimeError(
                f"gather: index {index.shape} and input {a.shape} must have the same number of "
                "dimensions"
            )
        if index.dtype.kind not in "iu":
            raise RuntimeError(f"gather: index must be an integer tensor, got {index.dtype}")
        for d in range(a.ndim):
            if d != dim and index.shape[d] > a.shape[d]:
                raise RuntimeError(
                    f"gather: index {index.shape} is larger than input {a.shape} in dim {d}"
                )
        _check_range("gather", index, dim, a.shape[dim])
        full = _full_index(index, dim, xp)
        ctx.full, ctx.shape, ctx.dtype = full, a.shape, a.dtype
        return a[full]

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return _scatter(g, ctx.shape, ctx.full, False), None, None


class IndexSelect(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, dim: int, index: Any, in_range: bool = False) -> Any:
        # in_range: the caller knows every index is in [0, n) (no device read-back to check)
        if index.ndim > 1:
            raise RuntimeError(f"index_select: index must be 1-D, got shape {index.shape}")
        if index.dtype.kind not in "iu":
            raise RuntimeError(f"index_select: index must be an integer tensor, got {index.dtype}")
        if not in_range:
            _check_range("index_select", index, dim, a.shape[dim])
        ctx.dim, ctx.index, ctx.shape = dim, index, a.shape
        return xp_of(a).take(a, index, axis=dim)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        sl = (slice(None),) * ctx.dim + (ctx.index,)
        return _scatter(g, ctx.shape, sl, False), None, None, None
