"""More activations with PyTorch's names, arguments and semantics: one autograd Function each.

``relu6 hardtanh selu celu mish softsign logsigmoid hardswish hardsigmoid softmin tanhshrink
softshrink hardshrink threshold glu prelu``.

Every op is ONE node in the graph with a hand-written backward, works on NumPy ("cpu") and CuPy
("cuda") storage alike (array module from ``xp_of``) and keeps the input's floating dtype
(float32 stays float32). The gradients at the kinks are PyTorch's (e.g. ``relu6`` passes no
gradient at exactly 0 and 6, ``hardswish`` passes 0 at -3 and 1 at 3, ``prelu`` uses the weight
at 0). ``selu``, ``celu``, ``mish`` and ``logsigmoid`` never evaluate ``exp`` of a large positive
number (no overflow for large ``|x|``).

``inplace=True`` (where PyTorch has it) writes the result into ``input`` and returns it: under
autograd the input's graph moves to the result, and a leaf that requires grad is refused, like
every in-place op of the library. Bad arguments raise PyTorch's exception types with a message
that names the op.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from typing import Any, Optional

import numpy as np

from ..autograd.function import Function
from ..dtypes import get_default_dtype
from ..ops._util import norm_dim, xp_of
from ..ops.activation import _sigmoid
from ..tensor import Tensor, check_same_device

__all__ = [
    "relu6",
    "hardtanh",
    "selu",
    "celu",
    "mish",
    "softsign",
    "logsigmoid",
    "hardswish",
    "hardsigmoid",
    "softmin",
    "tanhshrink",
    "softshrink",
    "hardshrink",
    "threshold",
    "glu",
    "prelu",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------- argument checks


def _tensor_arg(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be an axonal.Tensor, got {type(x).__name__}")
    return x


def _real_arg(op: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {v!r}")
    return float(v)


def _float_input(op: str, x: Any) -> Tensor:
    """``x`` must be a floating-point Tensor (PyTorch raises NotImplementedError for others)."""
    _tensor_arg(op, "input", x)
    if x.dtype.kind != "f":
        raise NotImplementedError(
            f"{op}: not implemented for dtype {x.dtype}; it needs a floating-point tensor "
            "(convert with .float() or .double())"
        )
    return x


def _real_input(op: str, x: Any) -> Tensor:
    """``x`` must be a floating-point or integer Tensor (ops that PyTorch runs on integers)."""
    _tensor_arg(op, "input", x)
    if x.dtype.kind not in "fiu":
        raise NotImplementedError(
            f"{op}: not implemented for dtype {x.dtype}; it needs a floating-point or integer "
            "tensor"
        )
    return x


def _promote(op: str, x: Any) -> Tensor:
    """Integer and bool inputs as the default float dtype (PyTorch's promotion for ops that are
    plain arithmetic on the input, ``softsign`` and ``tanhshrink``)."""
    _tensor_arg(op, "input", x)
    k = x.dtype.kind
    if k in "biu":
        return x.to(get_default_dtype())
    if k != "f":
        raise NotImplementedError(f"{op}: not implemented for dtype {x.dtype}")
    return x


def _int_dim(op: str, dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return int(dim)


def _apply(fn: Any, input: Tensor, inplace: bool, *args: Any) -> Tensor:
    """``fn.apply(input, *args)``, or with ``inplace`` its result written into ``input``."""
    if not inplace:
        return fn.apply(input, *args)
    if input._check_inplace():  # recorded: the graph goes through a copy of the old values
        return input._commit(fn.apply(input.clone(), *args))
    res = fn.apply(input, *args)
    input._data[...] = res._data
    input._vc[0] += 1
    return input


# ---------------------------------------------------------------------------- clamps


class _Hardtanh(Function):
    """``min(max(x, lo), hi)``; the gradient is zero where ``x <= lo`` or ``x >= hi``."""

    @staticmethod
    def forward(ctx: Any, a: Any, lo: float, hi: float) -> Any:
        xp = xp_of(a)
        if a.dtype.kind in "iu":  # integers: the bounds truncated, the dtype kept (like torch)
            out = a.copy()
            if math.isfinite(lo):
                out = xp.maximum(out, int(lo))
            if math.isfinite(hi):
                out = xp.minimum(out, int(hi))
        else:  # torch's clamp: x itself unless strictly outside (keeps -0.0 and NaN)
            out = xp.where(a < lo, lo, xp.where(a > hi, hi, a))
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        return xp.where((a <= ctx.lo) | (a >= ctx.hi), 0.0, g), None, None


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``min(max(x, min_val), max_val)``: -1 below -1, 1 above 1 by default."""
    _real_input("hardtanh", input)
    lo = _real_arg("hardtanh", "min_val", min_val)
    hi = _real_arg("hardtanh", "max_val", max_val)
    if lo > hi:
        raise ValueError(
            f"hardtanh: min_val cannot be greater than max_val (got min_val={min_val}, "
            f"max_val={max_val})"
        )
    return _apply(_Hardtanh, input, inplace, lo, hi)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)`` (``hardtanh(x, 0, 6)``)."""
    _real_input("relu6", input)
    return _apply(_Hardtanh, input, inplace, 0.0, 6.0)


class _Threshold(Function):
    """``x if x > threshold else value``; the gradient passes where ``x > threshold``."""

    @staticmethod
    def forward(ctx: Any, a: Any, th: float, value: float) -> Any:
        xp = xp_of(a)
        v = int(value) if a.dtype.kind in "iu" else value
        ctx.save_for_backward(a)
        ctx.th = th
        return xp.where(a <= th, v, a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        return xp_of(a).where(a <= ctx.th, 0.0, g), None, None


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    _real_input("threshold", input)
    th = _real_arg("threshold", "threshold", threshold)
    v = _real_arg("threshold", "value", value)
    if input.dtype.kind in "iu" and not math.isfinite(v):
        raise RuntimeError(f"threshold: value {value} cannot be converted to dtype {input.dtype}")
    return _apply(_Threshold, input, inplace, th, v)


# ---------------------------------------------------------------------------- exponential units


class _EluLike(Function):
    """``scale * x`` for ``x > 0``, else ``scale * alpha * (exp(x * input_scale) - 1)``: SELU and
    CELU. ``exp`` only ever sees ``min(x, 0) * input_scale`` (no overflow for large ``x``)."""

    @staticmethod
    def forward(ctx: Any, a: Any, alpha: float, scale: float, input_scale: float) -> Any:
        xp = xp_of(a)
        with _neg_alpha_overflow(input_scale):
            neg = xp.expm1(xp.minimum(a, 0.0) * input_scale) * (alpha * scale)
        ctx.save_for_backward(a)
        ctx.coef = (alpha, scale, input_scale)
        return xp.where(a > 0, a * scale, neg)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        alpha, scale, input_scale = ctx.coef
        xp = xp_of(a)
        with _neg_alpha_overflow(input_scale):
            dneg = xp.exp(xp.minimum(a, 0.0) * input_scale) * (alpha * scale * input_scale)
            return xp.where(a <= 0, g * dneg, g * scale), None, None, None


def _neg_alpha_overflow(input_scale: float) -> Any:
    """A negative CELU alpha makes ``exp`` grow for negative x: overflow to inf is the true value
    there (as in torch), so it is not warned about. Otherwise nothing can overflow."""
    if input_scale < 0:
        return np.errstate(over="ignore", invalid="ignore")
    return contextlib.nullcontext()


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with PyTorch's alpha and scale."""
    _float_input("selu", input)
    return _apply(_EluLike, input, inplace, _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``; ``alpha`` must be non-zero."""
    _float_input("celu", input)
    al = _real_arg("celu", "alpha", alpha)
    if al == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return _apply(_EluLike, input, inplace, al, 1.0, 1.0 / al)


# ---------------------------------------------------------------------------- smooth units


def _softplus(a: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    xp = xp_of(a)
    return xp.maximum(a, 0.0) + xp.log1p(xp.exp(-xp.abs(a)))


class _Mish(Function):
    """``x * tanh(softplus(x))``; d/dx = ``t + x * sigmoid(x) * (1 - t^2)``, t = tanh(softplus)."""

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        xp = xp_of(a)
        t = xp.tanh(_softplus(a))
        ctx.save_for_backward(a)
        ctx.t = t
        with np.errstate(invalid="ignore"):  # -inf * 0: NaN, as torch
            return a * t

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        t = ctx.t
        with np.errstate(invalid="ignore"):
            return g * (t + a * _sigmoid(a) * (1.0 - t * t))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))`` (Misra, 2019)."""
    _float_input("mish", input)
    return _apply(_Mish, input, inplace)


class _LogSigmoid(Function):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``; d/dx = ``sigmoid(-x)``."""

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        xp = xp_of(a)
        ctx.save_for_backward(a)
        return xp.minimum(a, 0.0) - xp.log1p(xp.exp(-xp.abs(a)))

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        return g * _sigmoid(-a)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(1 / (1 + exp(-x)))``, stable for large ``|x|``."""
    _float_input("logsigmoid", input)
    return _LogSigmoid.apply(input)


class _Softsign(Function):
    """``x / (1 + |x|)``; d/dx = ``1 / (1 + |x|)^2``."""

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        d = 1.0 / (1.0 + xp_of(a).abs(a))
        ctx.d = d
        return a * d

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        d = ctx.d
        return g * d * d


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``; integer inputs are promoted to the default float dtype."""
    return _Softsign.apply(_promote("softsign", input))


class _Tanhshrink(Function):
    """``x - tanh(x)``; d/dx = ``tanh(x)^2``."""

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        t = xp_of(a).tanh(a)
        ctx.t = t
        return a - t

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        t = ctx.t
        return g * (t * t)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``; integer inputs are promoted to the default float dtype."""
    return _Tanhshrink.apply(_promote("tanhshrink", input))


# ---------------------------------------------------------------------------- hard units


class _Hardswish(Function):
    """``x * min(max(x + 3, 0), 6) / 6``; d/dx = 0 for x <= -3, x / 3 + 1/2 for -3 < x < 3, else
    1 (PyTorch's values at the kinks)."""

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        xp = xp_of(a)
        ctx.save_for_backward(a)
        return a * xp.minimum(xp.maximum(a + 3.0, 0.0), 6.0) / 6.0

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        mid = xp.where(a < 3.0, g * (a / 3.0 + 0.5), g)
        return xp.where(a <= -3.0, 0.0, mid)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``0`` for x <= -3, ``x`` for x >= 3, else ``x * (x + 3) / 6`` (MobileNetV3)."""
    _float_input("hardswish", input)
    return _apply(_Hardswish, input, inplace)


class _Hardsigmoid(Function):
    """``min(max(x + 3, 0), 6) / 6``; d/dx = 1/6 for -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx: Any, a: Any) -> Any:
        xp = xp_of(a)
        ctx.save_for_backward(a)
        return xp.minimum(xp.maximum(a + 3.0, 0.0), 6.0) / 6.0

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        return xp.where((a > -3.0) & (a < 3.0), g / 6.0, 0.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``0`` for x <= -3, ``1`` for x >= 3, else ``x / 6 + 1 / 2``."""
    _float_input("hardsigmoid", input)
    return _apply(_Hardsigmoid, input, inplace)


class _Softshrink(Function):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""

    @staticmethod
    def forward(ctx: Any, a: Any, lambd: float) -> Any:
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.lambd = lambd
        inner = xp.where(a < -lambd, a + lambd, a * 0.0)  # a * 0: -0.0 and NaN kept, as torch
        return xp.where(a > lambd, a - lambd, inner)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        lam = ctx.lambd
        return xp_of(a).where((a >= -lam) & (a <= lam), 0.0, g), None


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Soft shrinkage: ``sign(x) * max(|x| - lambd, 0)``; ``lambd`` must be >= 0."""
    _float_input("softshrink", input)
    lam = _real_arg("softshrink", "lambd", lambd)
    fmax = float(np.finfo(input.dtype).max)
    if not 0.0 <= lam <= fmax:  # NaN fails too
        raise RuntimeError(
            f"softshrink: lambda must be in range [0, {fmax:g}] for input dtype {input.dtype}, "
            f"but found {lambd}"
        )
    return _Softshrink.apply(input, lam)


class _Hardshrink(Function):
    """``0`` where ``-lambd <= x <= lambd``, else ``x`` (a negative lambd zeroes nothing)."""

    @staticmethod
    def forward(ctx: Any, a: Any, lambd: float) -> Any:
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.lambd = lambd
        return xp.where((a >= -lambd) & (a <= lambd), 0.0, a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        lam = ctx.lambd
        return xp_of(a).where((a >= -lam) & (a <= lam), 0.0, g), None


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Hard shrinkage: ``x`` where ``|x| > lambd``, else 0."""
    _float_input("hardshrink", input)
    return _Hardshrink.apply(input, _real_arg("hardshrink", "lambd", lambd))


# ---------------------------------------------------------------------------- softmin


class _Softmin(Function):
    """``softmax(-x)`` along ``dim``; dx = ``y * sum(g * y) - g * y``."""

    @staticmethod
    def forward(ctx: Any, a: Any, dim: int) -> Any:
        xp = xp_of(a)
        if a.size == 0:
            out = a.copy()
        else:
            n = -(a.reshape(1) if a.ndim == 0 else a)
            e = xp.exp(n - n.max(axis=dim, keepdims=True))
            out = (e / e.sum(axis=dim, keepdims=True)).reshape(a.shape)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        go = g * out
        if go.ndim == 0:  # one element: the output is constant 1
            return go - go, None
        return out * go.sum(axis=ctx.dim, keepdims=True) - go, None


def softmin(
    input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """``softmax(-input, dim)``: every slice along ``dim`` sums to 1, the smallest value gets the
    largest weight. ``dtype`` casts the input first. Without ``dim``, PyTorch's deprecated
    implicit choice (0 for 0-, 1- and 3-d inputs, else 1) is used, with a warning."""
    _tensor_arg("softmin", "input", input)
    if dim is None:
        warnings.warn(
            "Implicit dimension choice for softmin has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=max(_stacklevel - 1, 1),  # torch's count includes a helper frame
        )
        dim = 0 if input.ndim in (0, 1, 3) else 1
    d = norm_dim(_int_dim("softmin", dim), input.ndim, "softmin")
    if dtype is not None:
        input = input.to(dtype)
    _float_input("softmin", input)
    return _Softmin.apply(input, d)


# ---------------------------------------------------------------------------- gated / parametric


class _Glu(Function):
    """``a * sigmoid(b)`` with ``a, b`` the two halves of the input along ``dim``."""

    @staticmethod
    def forward(ctx: Any, x: Any, dim: int) -> Any:
        xp = xp_of(x)
        a, b = xp.split(x, 2, axis=dim)
        s = _sigmoid(b)
        ctx.save_for_backward(x)
        ctx.s, ctx.dim = s, dim
        return a * s

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (x,) = ctx.saved_tensors
        xp = xp_of(x)
        a = xp.split(x, 2, axis=ctx.dim)[0]
        s = ctx.s
        ga = g * s
        gb = ga * a * (1.0 - s)
        return xp.concatenate((ga, gb), axis=ctx.dim), None


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: the input halved along ``dim`` into ``a, b``; ``a * sigmoid(b)``."""
    _float_input("glu", input)
    if input.ndim == 0:
        raise RuntimeError("glu: glu does not support scalars because halving size must be even")
    d = norm_dim(_int_dim("glu", dim), input.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(
            f"glu: Halving dimension must be even, but dimension {d} is size {n} "
            f"(input shape {tuple(input.shape)})"
        )
    return _Glu.apply(input, d)


class _Prelu(Function):
    """``x if x > 0 else w * x``, ``w`` broadcast as ``wshape`` (a scalar, or per channel along
    dim 1). dx = ``g`` or ``w * g``; dw = ``sum(x * g)`` over ``x <= 0`` per channel."""

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, wshape: tuple) -> Any:
        xp = xp_of(x)
        wb = w.reshape(wshape)
        ctx.save_for_backward(x, w)
        ctx.wshape = wshape
        return xp.where(x > 0, x, wb * x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        x, w = ctx.saved_tensors
        xp = xp_of(x)
        need = ctx.needs_input_grad
        pos = x > 0
        gx = gw = None
        if need[0]:
            gx = xp.where(pos, g, w.reshape(ctx.wshape) * g)
        if need[1]:
            t = xp.where(pos, 0.0, x * g)
            if w.size == 1:
                gw = t.reshape(-1).sum(axis=0, keepdims=True).reshape(w.shape)
            else:
                axes = tuple(i for i in range(t.ndim) if i != 1)
                gw = t.sum(axis=axes).reshape(w.shape)
        return gx, gw, None


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``max(0, x) + weight * min(0, x)``. ``weight``: a scalar or 1-D tensor of one element
    (shared), or of ``C = input.shape[1]`` elements (one per channel along dim 1)."""
    _float_input("prelu", input)
    _tensor_arg("prelu", "weight", weight)
    if weight.ndim > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}"
        )
    if weight.dtype != input.dtype:
        raise RuntimeError(
            f"prelu: Type promoting not supported. Got input {input.dtype} and weight "
            f"{weight.dtype}"
        )
    check_same_device("prelu", input, weight)
    nw = int(weight.numel()) if weight.ndim else 1
    nd = input.ndim
    if nw == 1:
        wshape: tuple = ()
    else:
        if nd == 0:
            raise RuntimeError(
                f"prelu: Not allow zero-dim input tensor (with a weight of {nw} elements)."
            )
        channels = input.shape[1] if nd >= 2 else 1
        if nw != channels:
            raise RuntimeError(
                "prelu: Mismatch of parameter numbers and input channel size. Found parameter "
                f"numbers = {nw} and channel size = {channels}."
            )
        wshape = (1, nw) + (1,) * (nd - 2)
    return _Prelu.apply(input, weight, wshape)
