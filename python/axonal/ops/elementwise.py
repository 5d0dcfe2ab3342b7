"""Elementwise arithmetic and math ops (NumPy broadcasting), each with its backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ._util import broadcast_error, shape_of, unbroadcast


def where_(cond: Any, x: Any, y: Any) -> Any:
    """``where`` on arrays, or on Tensors (double backward)."""
    if hasattr(x, "_data") or hasattr(y, "_data"):
        from .. import ops

        return ops.where(cond, x, y)
    return np.where(cond, x, y)


def _grads2(ctx: Any, ga: Any, gb: Any) -> tuple:
    p = ctx._parents
    return (
        unbroadcast(ga, ctx.sa) if p[0] is not None else None,
        unbroadcast(gb, ctx.sb) if p[1] is not None else None,
    )


# ----------------------------------------------------------------------------- binary
class Add(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        try:
            out = a + b
        except ValueError:
            raise broadcast_error("add", a, b) from None
        ctx.sa = a.shape
        ctx.sb = b.shape
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        p = ctx._parents
        return (
            unbroadcast(g, ctx.sa) if p[0] is not None else None,
            unbroadcast(g, ctx.sb) if p[1] is not None else None,
        )


class Sub(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        try:
            out = a - b
        except ValueError:
            raise broadcast_error("sub", a, b) from None
        ctx.sa = a.shape
        ctx.sb = b.shape
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        p = ctx._parents
        return (
            unbroadcast(g, ctx.sa) if p[0] is not None else None,
            unbroadcast(-g, ctx.sb) if p[1] is not None else None,
        )


class Mul(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        try:
            out = a * b
        except ValueError:
            raise broadcast_error("mul", a, b) from None
        ctx.sa = a.shape
        ctx.sb = b.shape
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        p = ctx._parents
        return (
            unbroadcast(g * b, ctx.sa) if p[0] is not None else None,
            unbroadcast(g * a, ctx.sb) if p[1] is not None else None,
        )


class Div(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        try:
            out = a / b
        except ValueError:
            raise broadcast_error("div", a, b) from None
        ctx.sa = a.shape
        ctx.sb = b.shape
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        p = ctx._parents
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g / b if p[0] is not None else None
            gb = -g * a / (b * b) if p[1] is not None else None
        return (
            unbroadcast(ga, ctx.sa) if ga is not None else None,
            unbroadcast(gb, ctx.sb) if gb is not None else None,
        )


class Pow(Function):
    """``a ** b`` with both operands Tensors."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = a**b
        except ValueError:
            raise broadcast_error("pow", a, b) from None
        ctx.sa = a.shape
        ctx.sb = b.shape
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, b, out = ctx.saved_tensors
        p = ctx._parents
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if p[0] is not None:
                ga = where_(b == 0, 0.0, g * b * a ** (b - 1))
            if p[1] is not None:
                gb = where_((a == 0) & (b >= 0), 0.0, g * out * np.log(a))
        return (
            unbroadcast(ga, ctx.sa) if ga is not None else None,
            unbroadcast(gb, ctx.sb) if gb is not None else None,
        )


# ------------------------------------------------------------------ tensor (op) scalar
class AddScalar(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, s: Any) -> Any:
        return a + s

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g, None


class RSubScalar(Function):
    """``s - a``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, s: Any) -> Any:
        return s - a

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return -g, None


class MulScalar(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, s: Any) -> Any:
        ctx.s = s
        return a * s

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g * ctx.s, None


class DivScalar(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, s: Any) -> Any:
        ctx.s = s
        return a / s

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g / ctx.s, None


class RDivScalar(Function):
    """``s / a``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, s: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = s / a
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, out = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return -g * out / a, None


class PowScalar(Function):
    """``a ** s`` for a Python number ``s``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, s: Any) -> Any:
        ctx.s = s
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return a**s

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        s = ctx.s
        if s == 0:
            return g * 0.0, None
        if s == 1:
            return g, None
        if s == 2:
            return g * (2.0 * a), None
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * (s * a ** (s - 1)), None


class RPowScalar(Function):
    """``s ** a`` for a Python number ``s``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, s: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = s**a
        if not hasattr(out, "dtype") or out.dtype != a.dtype and a.dtype.kind == "f":
            out = np.asarray(out, dtype=a.dtype)
        ctx.save_for_backward(out)
        ctx.logs = float(np.log(s)) if s > 0 else float("nan")
        ctx.s = s
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        if ctx.s == 0:
            return where_(out == 0, 0.0, g * out * ctx.logs), None
        return g * out * ctx.logs, None


# ----------------------------------------------------------------------------- unary
class Neg(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        return -a

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return -g


class Abs(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        return g * np.sign(a)


class Exp(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        return g * out


class Expm1(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        with np.errstate(over="ignore"):
            out = np.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        return g * (out + 1.0)


class Log(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / a


class Log2(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (a * np.log(2.0))


class Log10(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (a * np.log(10.0))


class Log1p(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (a + 1.0)


class Sqrt(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        with np.errstate(invalid="ignore"):
            out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2.0 * out)


class Rsqrt(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 / np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        return g * (-0.5 * out * out * out)


class Reciprocal(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 / a
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        return -g * out * out


class Sin(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        return g * np.cos(a)


class Cos(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        return -g * np.sin(a)


class Tan(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        out = np.tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        return g * (1.0 + out * out)


class ZeroGrad(Function):
    """Piecewise-constant functions (sign, floor, ceil, round, trunc): gradient zero."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, fn: Any) -> Any:
        return fn(a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g * 0.0, None


class Clamp(Function):
    """``clamp(a, lo, hi)`` with Python-number bounds (None: unbounded)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, lo: Any, hi: Any) -> Any:
        out = a
        if lo is not None:
            out = np.maximum(out, lo)
        if hi is not None:
            out = np.minimum(out, hi)
        if out is a:
            out = a.copy()
        ctx.lo = lo
        ctx.hi = hi
        ctx.save_for_backward(a)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        lo, hi = ctx.lo, ctx.hi
        if lo is not None and hi is not None:
            mask = (a >= lo) & (a <= hi)
        elif lo is not None:
            mask = a >= lo
        elif hi is not None:
            mask = a <= hi
        else:
            return g, None, None
        if type(g) is np.ndarray:
            return g * mask, None, None
        return where_(mask, g, 0.0), None, None


class Maximum(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        try:
            out = np.maximum(a, b)
        except ValueError:
            raise broadcast_error("maximum", a, b) from None
        ctx.sa, ctx.sb = a.shape, b.shape
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        half = (g * (a == b)) * 0.5  # ties split the gradient (like torch)
        return _grads2(ctx, g * (a > b) + half, g * (a < b) + half)


class Minimum(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        try:
            out = np.minimum(a, b)
        except ValueError:
            raise broadcast_error("minimum", a, b) from None
        ctx.sa, ctx.sb = a.shape, b.shape
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        half = (g * (a == b)) * 0.5
        return _grads2(ctx, g * (a < b) + half, g * (a > b) + half)


class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a bool array (no gradient)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, cond: Any, a: Any, b: Any) -> Any:
        try:
            out = np.where(cond, a, b)
        except ValueError:
            raise ValueError(
                f"where: condition {shape_of(cond)}, {shape_of(a)} and {shape_of(b)} "
                "cannot broadcast"
            ) from None
        ctx.sa, ctx.sb = shape_of(a), shape_of(b)
        ctx.cond = cond
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        p = ctx._parents
        c = ctx.cond
        return (
            None,
            unbroadcast(where_(c, g, 0.0), ctx.sa) if p[1] is not None else None,
            unbroadcast(where_(c, 0.0, g), ctx.sb) if p[2] is not None else None,
        )


class Clone(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        return a.copy()

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g


class Cast(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, dtype: Any) -> Any:
        ctx.dt = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if ctx.dt.kind not in "fc":
            return None, None
        return (g.to(ctx.dt) if hasattr(g, "_data") else g.astype(ctx.dt)), None


class Filled(Function):
    """A tensor of ``a``'s shape filled with ``value`` (``fill_`` under autograd)."""

    @staticmethod
    def forward(ctx: Any, a: Any, value: Any) -> Any:
        out = np.empty_like(a) if type(a) is np.ndarray else a.copy()
        out.fill(value.item() if hasattr(value, "item") else value)
        ctx.sv = shape_of(value)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        gv = g.sum() if ctx._parents[1] is not None else None
        if gv is not None:
            gv = gv.reshape(ctx.sv)
        return None, gv


class CopyFrom(Function):
    """``a``'s storage gets ``b`` (broadcast): the autograd form of ``copy_``."""

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        out = np.empty_like(a) if type(a) is np.ndarray else a.copy()
        try:
            out[...] = b
        except ValueError:
            raise broadcast_error("copy_", a, b) from None
        ctx.sb = shape_of(b)
        ctx.db = getattr(b, "dtype", None)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if ctx._parents[1] is None:
            return None, None
        gb = unbroadcast(g, ctx.sb)
        if ctx.db is not None and gb.dtype != ctx.db:
            gb = gb.astype(ctx.db)
        return None, gb
