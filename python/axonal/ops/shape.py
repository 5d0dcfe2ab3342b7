"""Shape ops: reshape/view, transpose, permute, expand, repeat, cat, stack, split, pad, flip."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ._util import unbroadcast, xp_of


class Reshape(Function):
    """reshape / view / flatten / squeeze / unsqueeze: a new shape, same elements."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, shape: tuple) -> Any:
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"reshape: shape {tuple(shape)} is invalid for input of shape {a.shape} "
                f"(size {a.size})"
            ) from None

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g.reshape(ctx.shape), None


class Transpose(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, d0: int, d1: int) -> Any:
        ctx.d0, ctx.d1 = d0, d1
        return a.swapaxes(d0, d1)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if hasattr(g, "_data"):
            return g.transpose(ctx.d0, ctx.d1), None, None
        return g.swapaxes(ctx.d0, ctx.d1), None, None


class Permute(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, dims: tuple) -> Any:
        ctx.inv = tuple(int(i) for i in np.argsort(dims))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if hasattr(g, "_data"):
            return g.permute(*ctx.inv), None
        return g.transpose(ctx.inv), None


class Expand(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, shape: tuple) -> Any:
        ctx.shape = a.shape
        try:
            return xp_of(a).broadcast_to(a, shape)
        except ValueError:
            raise RuntimeError(
                f"expand: the expanded size {tuple(shape)} must match the existing size "
                f"{a.shape} at non-singleton dimensions"
            ) from None

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return unbroadcast(g, ctx.shape), None


class Repeat(Function):
    """``repeat(*reps)`` (torch semantics: like ``np.tile`` with len(reps) >= ndim)."""

    @staticmethod
    def forward(ctx: Any, a: Any, reps: tuple) -> Any:
        if len(reps) < a.ndim:
            raise RuntimeError(
                f"repeat: number of repeat dims {len(reps)} can not be smaller than the number "
                f"of dimensions of the tensor {a.ndim}"
            )
        shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.shape, ctx.full, ctx.reps = a.shape, shape, reps
        return xp_of(a).tile(a.reshape(shape), reps)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        inter = []
        for r, s in zip(ctx.reps, ctx.full):
            inter += [r, s]
        g = g.reshape(inter).sum(axis=tuple(range(0, len(inter), 2)))
        return g.reshape(ctx.shape), None


class Cat(Function):
    """``cat(tensors, dim)``: called as ``Cat.apply(dim, *tensors)``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, dim: int, *arrays: Any) -> Any:
        ref = arrays[0]
        for x in arrays[1:]:
            if x.ndim != ref.ndim or any(
                s != t for i, (s, t) in enumerate(zip(x.shape, ref.shape)) if i != dim
            ):
                raise RuntimeError(
                    f"cat: tensors must have the same shape except in dimension {dim}: "
                    f"got {ref.shape} and {x.shape}"
                )
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in arrays]
        return xp_of(ref).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        out: list = [None]
        start = 0
        dim = ctx.dim
        p = ctx._parents
        for i, n in enumerate(ctx.sizes):
            if p[i + 1] is not None:
                sl = (slice(None),) * dim + (slice(start, start + n),)
                out.append(g[sl])
            else:
                out.append(None)
            start += n
        return tuple(out)


class Stack(Function):
    """``stack(tensors, dim)``: called as ``Stack.apply(dim, *tensors)``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, dim: int, *arrays: Any) -> Any:
        ref = arrays[0]
        for x in arrays[1:]:
            if x.shape != ref.shape:
                raise RuntimeError(
                    f"stack: expects each tensor to be equal size, but got {ref.shape} and "
                    f"{x.shape}"
                )
        ctx.dim = dim
        ctx.n = len(arrays)
        return xp_of(ref).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        dim = ctx.dim
        p = ctx._parents
        out: list = [None]
        for i in range(ctx.n):
            out.append(g[(slice(None),) * dim + (i,)] if p[i + 1] is not None else None)
        return tuple(out)


class Split(Function):
    """Split along ``dim`` into pieces of the given sizes: several outputs (views)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, sizes: tuple, dim: int) -> tuple:
        ctx.dim = dim
        outs = []
        start = 0
        for n in sizes:
            outs.append(a[(slice(None),) * dim + (slice(start, start + n),)])
            start += n
        return tuple(outs)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> tuple:
        if hasattr(grads[0], "_data"):
            from .. import ops

            return ops.cat(list(grads), ctx.dim), None, None
        return xp_of(grads[0]).concatenate(grads, axis=ctx.dim), None, None


class Pad(Function):
    """Constant padding; ``pad`` = (last-dim left, last-dim right, next-to-last left, ...).
    Negative amounts crop."""

    @staticmethod
    def forward(ctx: Any, a: Any, pad: tuple, value: float) -> Any:
        if len(pad) % 2 or len(pad) // 2 > a.ndim:
            raise RuntimeError(
                f"pad: padding length {len(pad)} must be even and at most 2 * ndim "
                f"(input shape {a.shape})"
            )
        xp = xp_of(a)
        src, dst, shape = [], [], list(a.shape)
        for i in range(a.ndim):
            j = a.ndim - 1 - i
            lo, hi = (pad[2 * i], pad[2 * i + 1]) if 2 * i < len(pad) else (0, 0)
            n = a.shape[j]
            new = n + lo + hi
            if new < 0:
                raise RuntimeError(f"pad: the padded size of dim {j} would be {new} < 0")
            s0, s1 = max(-lo, 0), n - max(-hi, 0)
            length = max(s1 - s0, 0)
            d0 = max(lo, 0)
            src.append(slice(s0, s0 + length))
            dst.append(slice(d0, d0 + length))
            shape[j] = new
        src, dst = tuple(reversed(src)), tuple(reversed(dst))
        out = xp.full(tuple(shape), value, dtype=a.dtype)
        out[dst] = a[src]
        ctx.src, ctx.dst, ctx.shape, ctx.dtype = src, dst, a.shape, a.dtype
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        xp = xp_of(g)
        ga = xp.zeros(ctx.shape, g.dtype)
        ga[ctx.src] = g[ctx.dst]
        return ga, None, None


class Flip(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, dims: tuple) -> Any:
        ctx.dims = dims
        return xp_of(a).flip(a, dims)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if hasattr(g, "_data"):
            return g.flip(ctx.dims), None
        return xp_of(g).flip(g, ctx.dims), None
