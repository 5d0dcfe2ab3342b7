"""Reductions: sum mean var std prod amax/amin max/min logsumexp norm cumsum, with backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ._util import expand_reduced, xp_of
from .elementwise import where_


class Sum(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, axes: Any, keepdim: bool) -> Any:
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keep = keepdim
        if a.dtype.kind == "b":
            a = a.astype(np.int64)
        return a.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        axes = ctx.axes
        if axes is None:
            axes = tuple(range(len(ctx.shape)))
        return expand_reduced(g, ctx.shape, axes, ctx.keep), None, None


class Mean(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, axes: Any, keepdim: bool) -> Any:
        shape = a.shape
        ctx.shape = shape
        axes = axes if axes is not None else tuple(range(a.ndim))
        ctx.axes = axes
        ctx.keep = keepdim
        n = 1
        for ax in axes:
            n *= shape[ax]
        ctx.n = n
        if n == 0:  # NaN like torch, without NumPy's "mean of empty slice" warning
            with np.errstate(invalid="ignore", divide="ignore"):
                return a.sum(axis=axes, keepdims=keepdim) / a.dtype.type(0)
        return a.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return expand_reduced(g / ctx.n if ctx.n else g, ctx.shape, ctx.axes, ctx.keep), None, None


def _count(shape: tuple, axes: tuple) -> int:
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


class Var(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, axes: tuple, correction: float, keepdim: bool) -> Any:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = a.mean(axis=axes, keepdims=True)
            out = ((a - mean) ** 2).sum(axis=axes, keepdims=keepdim) / max(
                _count(a.shape, axes) - correction, 0
            )
        ctx.shape, ctx.axes, ctx.keep = a.shape, axes, keepdim
        ctx.denom = _count(a.shape, axes) - correction
        ctx.save_for_backward(a)
        ctx.mean = mean
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        mean = ctx.mean
        if hasattr(a, "_data"):
            mean = a.mean(dim=ctx.axes, keepdim=True)
        ge = expand_reduced(g, ctx.shape, ctx.axes, ctx.keep)
        with np.errstate(invalid="ignore", divide="ignore"):
            return ge * (a - mean) * (2.0 / ctx.denom), None, None, None


class Std(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, axes: tuple, correction: float, keepdim: bool) -> Any:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = a.mean(axis=axes, keepdims=True)
            var = ((a - mean) ** 2).sum(axis=axes, keepdims=keepdim) / max(
                _count(a.shape, axes) - correction, 0
            )
        out = np.sqrt(var)
        ctx.shape, ctx.axes, ctx.keep = a.shape, axes, keepdim
        ctx.denom = _count(a.shape, axes) - correction
        ctx.save_for_backward(a, out)
        ctx.mean = mean
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, out = ctx.saved_tensors
        with np.errstate(invalid="ignore", divide="ignore"):
            gs = np.where(out == 0, 0.0, g / out).astype(g.dtype, copy=False)
            ge = expand_reduced(gs, ctx.shape, ctx.axes, ctx.keep)
            return ge * (a - ctx.mean) * (1.0 / ctx.denom), None, None, None


class Prod(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, axis: Any, keepdim: bool) -> Any:
        ctx.shape, ctx.axis, ctx.keep = a.shape, axis, keepdim
        ctx.save_for_backward(a)
        return a.prod(axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        if ctx.axis is None:
            others = _prod_others(a.reshape(-1), 0, xp).reshape(a.shape)
            return g * others, None, None
        others = _prod_others(a, ctx.axis, xp)
        return expand_reduced(g, ctx.shape, (ctx.axis,), ctx.keep) * others, None, None


def _prod_others(a: Any, axis: int, xp: Any) -> Any:
    """Product of all the other elements along ``axis`` (exact with zeros: no division)."""
    m = xp.moveaxis(a, axis, -1)
    n = m.shape[-1]
    if n == 0:
        return xp.moveaxis(m.copy(), -1, axis)
    ones = xp.ones(m.shape[:-1] + (1,), a.dtype)
    left = xp.concatenate([ones, xp.cumprod(m[..., :-1], axis=-1)], axis=-1)
    right = xp.cumprod(m[..., ::-1][..., :-1], axis=-1)[..., ::-1]
    right = xp.concatenate([right, ones], axis=-1)
    return xp.moveaxis(left * right, -1, axis)


class AMax(Function):
    """``amax``/``amin`` over ``axes`` (ties share the gradient evenly, like torch)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, axes: Any, keepdim: bool, is_min: bool) -> Any:
        if a.size == 0 and (axes is None or any(a.shape[ax] == 0 for ax in axes)):
            raise RuntimeError(
                f"{'amin' if is_min else 'amax'}: cannot reduce an empty tensor of shape "
                f"{a.shape} over dims {axes}"
            )
        out = a.min(axis=axes, keepdims=keepdim) if is_min else a.max(axis=axes, keepdims=keepdim)
        ctx.shape = a.shape
        ctx.axes = axes if axes is not None else tuple(range(a.ndim))
        ctx.keep = keepdim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, out = ctx.saved_tensors
        oe = expand_reduced(out, ctx.shape, ctx.axes, ctx.keep)
        mask = a == oe
        if hasattr(mask, "_data"):
            mask = mask._data
        mask = mask.astype(a.dtype if not hasattr(a, "_data") else a.dtype)
        cnt = mask.sum(axis=ctx.axes, keepdims=True)
        ge = expand_reduced(g, ctx.shape, ctx.axes, ctx.keep)
        return ge * (mask / cnt), None, None, None


class TakeAlongDim(Function):
    """Values at ``idx`` (one index per slice along ``dim``): max/min/sort/topk values."""

    @staticmethod
    def forward(ctx: Any, a: Any, idx: Any, dim: int, keepdim: bool) -> Any:
        xp = xp_of(a)
        ctx.shape, ctx.dim, ctx.keep, ctx.dtype = a.shape, dim, keepdim, a.dtype
        expand = idx.ndim != a.ndim
        ix = xp.expand_dims(idx, dim) if expand else idx
        ctx.idx = ix
        out = xp.take_along_axis(a, ix, axis=dim)
        return xp.squeeze(out, axis=dim) if expand and not keepdim else out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        xp = xp_of(g)
        out = xp.zeros(ctx.shape, ctx.dtype)
        gi = g if g.ndim == len(ctx.shape) else xp.expand_dims(g, ctx.dim)
        xp.put_along_axis(out, ctx.idx, gi, axis=ctx.dim)
        return out, None, None, None


class LogSumExp(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, axes: tuple, keepdim: bool) -> Any:
        xp = xp_of(a)
        m = a.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        with np.errstate(divide="ignore", over="ignore"):
            s = xp.exp(a - m).sum(axis=axes, keepdims=True)
            out_k = xp.log(s) + m
        ctx.save_for_backward(a)
        ctx.out_k = out_k
        ctx.shape, ctx.axes, ctx.keep = a.shape, axes, keepdim
        return out_k if keepdim else out_k.reshape(reduced_out(a.shape, axes))

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        ge = expand_reduced(g, ctx.shape, ctx.axes, ctx.keep)
        with np.errstate(invalid="ignore", over="ignore"):
            return ge * xp.exp(a - ctx.out_k), None, None


def reduced_out(shape: tuple, axes: tuple) -> tuple:
    return tuple(s for i, s in enumerate(shape) if i not in axes)


class Norm2(Function):
    """The 2-norm over ``axes`` (gradient 0 at a zero norm, like torch)."""

    @staticmethod
    def forward(ctx: Any, a: Any, axes: Any, keepdim: bool) -> Any:
        xp = xp_of(a)
        out = xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))
        ctx.save_for_backward(a, out)
        ctx.shape = a.shape
        ctx.axes = axes if axes is not None else tuple(range(a.ndim))
        ctx.keep = keepdim
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, out = ctx.saved_tensors
        xp = xp_of(a)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = xp.where(out == 0, 0, g / out).astype(g.dtype, copy=False)
        return a * expand_reduced(s, ctx.shape, ctx.axes, ctx.keep), None, None


class NormP(Function):
    """The p-norm ``(sum |a|^p)^(1/p)`` over ``axes`` for finite ``p`` > 0, p != 2."""

    @staticmethod
    def forward(ctx: Any, a: Any, p: float, axes: Any, keepdim: bool) -> Any:
        xp = xp_of(a)
        out = (xp.abs(a) ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        ctx.p = p
        ctx.shape = a.shape
        ctx.axes = axes if axes is not None else tuple(range(a.ndim))
        ctx.keep = keepdim
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, out = ctx.saved_tensors
        xp = xp_of(a)
        p = ctx.p
        with np.errstate(invalid="ignore", divide="ignore"):
            s = xp.where(out == 0, 0, g / out ** (p - 1)).astype(g.dtype, copy=False)
            ga = (
                xp.sign(a) * xp.abs(a) ** (p - 1) * expand_reduced(s, ctx.shape, ctx.axes, ctx.keep)
            )
        return ga, None, None, None


class Cumsum(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, dim: int) -> Any:
        ctx.dim = dim
        return xp_of(a).cumsum(a, axis=dim)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        d = ctx.dim
        if hasattr(g, "_data"):
            return g.flip(d).cumsum(d).flip(d), None
        xp = xp_of(g)
        return xp.flip(xp.cumsum(xp.flip(g, d), axis=d), d), None


__all__ = ["where_"]
