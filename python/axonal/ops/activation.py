"""Activations: relu leaky_relu elu gelu silu softplus sigmoid tanh softmax log_softmax."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import cpu as _cpu_backend
from ..backend import kernels_for
from ._util import xp_of
from .elementwise import where_

try:  # SciPy's erf is vectorised and exact; fall back to math.erf element by element
    from scipy.special import erf as _scipy_erf
except Exception:  # pragma: no cover - SciPy is present wherever scikit-learn is
    _scipy_erf = None

_math_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x: Any) -> Any:
    """The error function, elementwise, keeping the dtype."""
    if type(x) is not np.ndarray:
        import sys

        sp = sys.modules.get("cupyx.scipy.special")
        if sp is None:
            import cupyx.scipy.special as sp  # type: ignore[no-redef]
        return sp.erf(x)
    if _scipy_erf is not None:
        return _scipy_erf(x)
    return _math_erf(x).astype(x.dtype)


class Relu(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        out = np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        if type(g) is np.ndarray:
            return g * (out > 0)  # 4x faster than np.where
        k = kernels_for(g)
        if k is not None:
            dx = k.relu_backward(g, out)  # one kernel instead of a compare and a where
            if dx is not None:
                return dx
        return where_(out > 0, g, 0.0)


class LeakyRelu(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, slope: float) -> Any:
        ctx.save_for_backward(a)
        ctx.slope = slope
        return np.where(a > 0, a, a * slope)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        return where_(a > 0, g, g * ctx.slope), None


class Elu(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, alpha: float) -> Any:
        xp = xp_of(a)
        with np.errstate(over="ignore"):
            out = xp.where(a > 0, a, alpha * xp.expm1(xp.minimum(a, 0)))
        ctx.save_for_backward(a, out)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, out = ctx.saved_tensors
        return xp_of(a).where(a > 0, g, g * (out + ctx.alpha)), None


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Gelu(Function):
    """GELU: exact ``x * Phi(x)`` (``approximate="none"``) or the tanh approximation."""

    @staticmethod
    def forward(ctx: Any, a: Any, approximate: str) -> Any:
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.approx = approximate
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)
            t = xp.tanh(inner)
            ctx.t = t
            return 0.5 * a * (1.0 + t)
        cdf = 0.5 * (1.0 + erf(a * _INV_SQRT2))
        ctx.cdf = cdf
        return a * cdf

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        if ctx.approx == "tanh":
            t = ctx.t
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * a * a)
            d = 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * d_inner
            return g * d, None
        pdf = _INV_SQRT_2PI * xp.exp(-0.5 * a * a)
        return g * (ctx.cdf + a * pdf), None


def _sigmoid(a: Any) -> Any:
    xp = xp_of(a)
    e = xp.exp(-xp.abs(a))
    r = 1.0 / (1.0 + e)
    return xp.where(a >= 0, r, e * r)


class Sigmoid(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        out = _sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        return g * (out * (1.0 - out))


class Tanh(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (out,) = ctx.saved_tensors
        return g * (1.0 - out * out)


class Silu(Function):
    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        s = _sigmoid(a)
        ctx.save_for_backward(a)
        ctx.s = s
        return a * s

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        s = ctx.s
        return g * (s * (1.0 + a * (1.0 - s)))


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold`` (like torch)."""

    @staticmethod
    def forward(ctx: Any, a: Any, beta: float, threshold: float) -> Any:
        xp = xp_of(a)
        z = a * beta
        with np.errstate(over="ignore"):
            soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        ctx.save_for_backward(a)
        ctx.beta, ctx.threshold = beta, threshold
        return xp.where(z > threshold, a, soft)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        z = a * ctx.beta
        return xp.where(z > ctx.threshold, g, g * _sigmoid(z)), None, None


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _softmax_kernels(a: Any) -> Any:
    """The hand-written kernels for a non-empty float32/float64 array: backend.cpu for a NumPy
    array, backend.cuda for a CuPy array with the CUDA build; else None (the generic code)."""
    if a.dtype not in (_F32, _F64) or a.size == 0:
        return None
    if type(a) is np.ndarray:
        return _cpu_backend if _cpu_backend.HAS_SOFTMAX else None
    return kernels_for(a)


class Softmax(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, dim: int) -> Any:
        k = ctx.k = _softmax_kernels(a)
        if k is not None:
            out = k.softmax_forward(a, dim)
        elif a.size == 0:  # an empty tensor (or an empty axis): nothing to normalise
            out = a.copy()
        else:
            xp = xp_of(a)
            m = a.max(axis=dim, keepdims=True)
            e = xp.exp(a - m)
            out = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        d = ctx.dim
        if ctx.k is not None and not hasattr(g, "_data") and g.dtype == out.dtype:
            return ctx.k.softmax_backward(g, out, d), None
        go = g * out
        if hasattr(go, "_data"):
            return go - out * go.sum(dim=d, keepdim=True), None
        return go - out * go.sum(axis=d, keepdims=True), None


class LogSoftmax(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, dim: int) -> Any:
        k = ctx.k = _softmax_kernels(a)
        if k is not None:
            out = k.log_softmax_forward(a, dim)
        elif a.size == 0:
            out = a.copy()
        else:
            xp = xp_of(a)
            m = a.max(axis=dim, keepdims=True)
            s = a - m
            out = s - xp.log(xp.exp(s).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        d = ctx.dim
        if ctx.k is not None and not hasattr(g, "_data") and g.dtype == out.dtype:
            return ctx.k.log_softmax_backward(g, out, d), None
        if hasattr(g, "_data"):
            return g - out.exp() * g.sum(dim=d, keepdim=True), None
        return g - np.exp(out) * g.sum(axis=d, keepdims=True), None
