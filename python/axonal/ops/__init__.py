# ruff: noqa: F401  (re-exports: __all__ is computed below)
"""The op library: every differentiable op as a ``Function`` (forward + backward side by side)
and the functional API (``axonal.exp(x)``, ``axonal.cat([...])``) that the Tensor methods share.

Modules: elementwise, reduction, linalg (matmul on the C++ GEMM), shape, indexing, activation,
creation.
"""

from __future__ import annotations

import numbers
import operator
from collections import namedtuple
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .. import dtypes as _dt
from ..autograd import grad_mode as _gm
from ..autograd.function import Function
from ..tensor import Tensor, _const, _new, _scalar
from ._util import (
    as_shape,
    broadcast_error,
    norm_dim,
    norm_dims,
    unbroadcast,
    xp_of,
)
from .activation import (
    Elu,
    Gelu,
    LeakyRelu,
    LogSoftmax,
    Relu,
    Sigmoid,
    Silu,
    Softmax,
    Softplus,
    Tanh,
    erf,
)
from .creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    to_array,
    to_device_array,
    zeros,
    zeros_like,
)
from .elementwise import (
    Abs,
    Add,
    AddScalar,
    Cast,
    Clamp,
    Clone,
    CopyFrom,
    Cos,
    Div,
    DivScalar,
    Exp,
    Expm1,
    Filled,
    Log,
    Log1p,
    Log2,
    Log10,
    Maximum,
    Minimum,
    Mul,
    MulScalar,
    Neg,
    Pow,
    PowScalar,
    RDivScalar,
    Reciprocal,
    RPowScalar,
    Rsqrt,
    RSubScalar,
    Sin,
    Sqrt,
    Sub,
    Tan,
    Where,
    ZeroGrad,
)
from .indexing import Gather, GetItem, IndexAdd, IndexPut, IndexSelect, index_arg
from .linalg import Matmul
from .reduction import (
    AMax,
    Cumsum,
    LogSumExp,
    Mean,
    Norm2,
    NormP,
    Prod,
    Std,
    Sum,
    TakeAlongDim,
    Var,
)
from .shape import Cat, Expand, Flip, Pad, Permute, Repeat, Reshape, Split, Stack, Transpose

_ndarray = np.ndarray

values_indices = namedtuple("values_indices", ["values", "indices"])
"""The (values, indices) pair returned by max/min/sort/topk along a dim (like torch)."""


def _t(x: Any, like: Optional[Tensor] = None) -> Tensor:
    return x if isinstance(x, Tensor) else _const(x, like)


# ----------------------------------------------------------------------------- devices
class ToDevice(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, dev: Any) -> Any:
        ctx.src = "cpu" if type(a) is _ndarray else "cuda"
        return to_device_array(a, dev)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if isinstance(g, Tensor):
            return g.to(ctx.src), None
        return to_device_array(g, ctx.src), None


# ----------------------------------------------------------------------------- arithmetic
def add(input: Any, other: Any, alpha: Any = 1) -> Tensor:
    a = _t(input)
    return a + (other if alpha == 1 else other * alpha)


def sub(input: Any, other: Any, alpha: Any = 1) -> Tensor:
    a = _t(input)
    return a - (other if alpha == 1 else other * alpha)


subtract = sub


def mul(input: Any, other: Any) -> Tensor:
    return _t(input) * other


multiply = mul


def div(input: Any, other: Any, rounding_mode: Optional[str] = None) -> Tensor:
    if rounding_mode is None:
        return _t(input) / other
    q = _t(input)._data / (other._data if isinstance(other, Tensor) else other)
    if rounding_mode == "floor":
        return _new(np.asarray(np.floor(q)))
    if rounding_mode == "trunc":
        return _new(np.asarray(np.trunc(q)))
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


divide = true_divide = div


def pow(input: Any, exponent: Any) -> Tensor:
    if not isinstance(input, Tensor):
        s = _scalar(input)
        if s is not None and isinstance(exponent, Tensor):
            return RPowScalar.apply(exponent, s)
        input = _t(input, exponent if isinstance(exponent, Tensor) else None)
    return input**exponent


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


negative = neg


def abs(x: Tensor) -> Tensor:
    return Abs.apply(x)


absolute = abs


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


def expm1(x: Tensor) -> Tensor:
    return Expm1.apply(x)


def log(x: Tensor) -> Tensor:
    return Log.apply(x)


def log2(x: Tensor) -> Tensor:
    return Log2.apply(x)


def log10(x: Tensor) -> Tensor:
    return Log10.apply(x)


def log1p(x: Tensor) -> Tensor:
    return Log1p.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


def rsqrt(x: Tensor) -> Tensor:
    return Rsqrt.apply(x)


def reciprocal(x: Tensor) -> Tensor:
    return Reciprocal.apply(x)


def square(x: Tensor) -> Tensor:
    return PowScalar.apply(x, 2)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(x)


def cos(x: Tensor) -> Tensor:
    return Cos.apply(x)


def tan(x: Tensor) -> Tensor:
    return Tan.apply(x)


def _zero_grad_op(fn: Any) -> Any:
    def op(x: Tensor) -> Tensor:
        if x._data.dtype.kind != "f":
            return _new(np.asarray(fn(x._data)))
        return ZeroGrad.apply(x, fn)

    op.__name__ = fn.__name__
    return op


sign = _zero_grad_op(np.sign)
floor = _zero_grad_op(np.floor)
ceil = _zero_grad_op(np.ceil)
trunc = _zero_grad_op(np.trunc)
_round0 = _zero_grad_op(np.round)


def round(x: Tensor, decimals: int = 0) -> Tensor:
    if decimals == 0:
        return _round0(x)
    return ZeroGrad.apply(x, lambda a: np.round(a, decimals))


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamp to [min, max] (Python numbers or Tensors; None: unbounded)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, _t(min, x))
        if max is not None:
            out = minimum(out, _t(max, x))
        return out
    return Clamp.apply(x, min, max)


clip = clamp


def clamp_min(x: Tensor, min: Any) -> Tensor:
    return clamp(x, min=min)


def clamp_max(x: Tensor, max: Any) -> Tensor:
    return clamp(x, max=max)


def maximum(a: Any, b: Any) -> Tensor:
    a = _t(a, b if isinstance(b, Tensor) else None)
    return Maximum.apply(a, _t(b, a))


def minimum(a: Any, b: Any) -> Tensor:
    a = _t(a, b if isinstance(b, Tensor) else None)
    return Minimum.apply(a, _t(b, a))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``where(cond, x, y)``: x where cond else y (x/y Tensors or numbers)."""
    c = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(_new(i) for i in xp_of(c).nonzero(c))
    if c.dtype.kind != "b":
        c = c.astype(bool)
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        return _new(np.asarray(np.where(c, input, other)))
    a = input if isinstance(input, Tensor) else _scalar(input)
    b = other if isinstance(other, Tensor) else _scalar(other)
    if a is None:
        a = _t(input, like)
    if b is None:
        b = _t(other, like)
    return Where.apply(c, a, b)


def bool_mask(x: Tensor, mask: Any, op: str) -> Any:
    """``mask`` as a boolean array broadcast to the shape of ``x`` (PyTorch's masked_fill rule:
    a float or int mask is an error, not "nonzero means True" or, in place, integer indexing)."""
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"{op}: only boolean masks are supported, got a mask of dtype {m.dtype}")
    try:
        return xp_of(m).broadcast_to(m, x._data.shape)
    except ValueError:
        raise RuntimeError(
            f"{op}: mask of shape {tuple(m.shape)} cannot broadcast to the tensor's shape "
            f"{tuple(x._data.shape)}"
        ) from None


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    m = bool_mask(x, mask, "masked_fill")
    if isinstance(value, Tensor) and value.requires_grad:
        return Where.apply(m, value, x)
    v = value.item() if isinstance(value, Tensor) else value
    return Where.apply(m, v, x)


def lerp(start: Tensor, end: Tensor, weight: Any) -> Tensor:
    return start + (end - start) * weight


# ----------------------------------------------------------------------------- reductions
def sum(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        return Sum.apply(x, None, keepdim)
    return Sum.apply(x, norm_dims(dim, x._data.ndim, "sum"), keepdim)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"mean: needs a floating-point tensor, got {x._data.dtype} (use .float() first)"
        )
    if dim is None:
        return Mean.apply(x, None, keepdim)
    return Mean.apply(x, norm_dims(dim, x._data.ndim, "mean"), keepdim)


def _correction(unbiased: Any, correction: Any) -> float:
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def var(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Tensor:
    """Variance; ``correction`` (default 1, or ``unbiased=False`` for 0) like torch."""
    if isinstance(dim, bool):  # var(x, False): the old unbiased positional form
        unbiased, dim = dim, None
    axes = norm_dims(dim, x._data.ndim, "var")
    return Var.apply(x, axes, _correction(unbiased, correction), keepdim)


def std(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Tensor:
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    axes = norm_dims(dim, x._data.ndim, "std")
    return Std.apply(x, axes, _correction(unbiased, correction), keepdim)


def var_mean(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Tuple[Tensor, Tensor]:
    return (var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim))


def std_mean(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Tuple[Tensor, Tensor]:
    return (std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim))


def prod(x: Tensor, dim: Optional[int] = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        return Prod.apply(x, None, False)
    return Prod.apply(x, norm_dim(dim, x._data.ndim, "prod"), keepdim)


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = None if dim is None or dim == () else norm_dims(dim, x._data.ndim, "amax")
    return AMax.apply(x, axes, keepdim, False)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = None if dim is None or dim == () else norm_dims(dim, x._data.ndim, "amin")
    return AMax.apply(x, axes, keepdim, True)


def _arg_reduce(x: Tensor, dim: Any, keepdim: bool, is_min: bool, op: str) -> np.ndarray:
    a = x._data
    if a.size == 0:
        raise RuntimeError(f"{op}: cannot reduce an empty tensor of shape {a.shape}")
    xp = xp_of(a)
    if dim is None:
        r = xp.argmin(a) if is_min else xp.argmax(a)
        return xp.asarray(r).reshape((1,) * a.ndim if keepdim else ())
    d = norm_dim(dim, a.ndim, op)
    if a.ndim == 0:
        return xp.zeros((), np.int64)
    r = xp.argmin(a, axis=d) if is_min else xp.argmax(a, axis=d)
    return xp.expand_dims(r, d) if keepdim else r


def argmax(x: Tensor, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    return _new(_arg_reduce(x, dim, keepdim, False, "argmax").astype(np.int64, copy=False))


def argmin(x: Tensor, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    return _new(_arg_reduce(x, dim, keepdim, True, "argmin").astype(np.int64, copy=False))


def _max_min(x: Tensor, dim: Any, keepdim: bool, is_min: bool, op: str) -> Any:
    if isinstance(dim, Tensor):  # max(a, b): elementwise
        return minimum(x, dim) if is_min else maximum(x, dim)
    if dim is None:
        return AMax.apply(x, None, False, is_min)
    a = x._data
    if a.ndim == 0:
        return values_indices(x.clone() if x.requires_grad else x, _new(np.zeros((), np.int64)))
    d = norm_dim(dim, a.ndim, op)
    if a.shape[d] == 0:
        raise IndexError(f"{op}: cannot reduce over a zero-size dimension {d} of {a.shape}")
    idx = _arg_reduce(x, d, False, is_min, op)
    vals = TakeAlongDim.apply(x, idx, d, keepdim)
    if keepdim:
        idx = xp_of(idx).expand_dims(idx, d)
    return values_indices(vals, _new(idx.astype(np.int64, copy=False)))


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices); ``max(x, y)``: maximum."""
    return _max_min(x, dim, keepdim, False, "max")


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _max_min(x, dim, keepdim, True, "min")


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    a = x._data
    d = norm_dim(dim, a.ndim, "sort")
    if a.ndim == 0:
        return values_indices(x, _new(np.zeros((), np.int64)))
    xp = xp_of(a)
    idx = xp.argsort(-a if descending and a.dtype.kind != "b" else a, axis=d, kind="stable")
    if descending and a.dtype.kind == "b":
        idx = xp.flip(xp.argsort(a, axis=d, kind="stable"), d)
    vals = TakeAlongDim.apply(x, idx, d, True)
    return values_indices(vals, _new(idx.astype(np.int64, copy=False)))


def argsort(x: Tensor, dim: int = -1, descending: bool = False) -> Tensor:
    return sort(x, dim, descending).indices


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    a = x._data
    d = norm_dim(dim, a.ndim, "topk")
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {n}")
    xp = xp_of(a)
    idx = xp.argsort(-a if largest else a, axis=d, kind="stable")
    idx = xp.take(idx, xp.arange(k), axis=d)
    vals = TakeAlongDim.apply(x, idx, d, True)
    return values_indices(vals, _new(idx.astype(np.int64, copy=False)))


def logsumexp(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = norm_dims(dim, x._data.ndim, "logsumexp")
    return LogSumExp.apply(x, axes, keepdim)


def norm(
    x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> Tensor:
    """Vector p-norm over ``dim`` (all elements by default): p = 2/'fro', 1, inf, -inf, 0, any
    positive number."""
    if dtype is not None:
        x = x.to(dtype)
    axes = None if dim is None else norm_dims(dim, x._data.ndim, "norm")
    if p == "fro" or p == 2:
        return Norm2.apply(x, axes, keepdim)
    if p == "nuc":
        raise NotImplementedError("norm: the nuclear norm is not supported")
    p = float(p)
    if p == 1:
        return sum(abs(x), dim=axes, keepdim=keepdim)
    if p == float("inf"):
        return amax(abs(x), dim=axes, keepdim=keepdim)
    if p == float("-inf"):
        return amin(abs(x), dim=axes, keepdim=keepdim)
    if p == 0:
        return _new(np.asarray((x._data != 0).sum(axis=axes, keepdims=keepdim)).astype(x.dtype))
    return NormP.apply(x, p, axes, keepdim)


def cumsum(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    return Cumsum.apply(x, norm_dim(dim, x._data.ndim, "cumsum"))


def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = None if dim is None else norm_dims(dim, x._data.ndim, "all")
    return _new(np.asarray(x._data.all(axis=axes, keepdims=keepdim)))


def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = None if dim is None else norm_dims(dim, x._data.ndim, "any")
    return _new(np.asarray(x._data.any(axis=axes, keepdims=keepdim)))


def count_nonzero(x: Tensor, dim: Any = None) -> Tensor:
    axes = None if dim is None else norm_dims(dim, x._data.ndim, "count_nonzero")
    return _new(np.asarray((x._data != 0).sum(axis=axes)).astype(np.int64))


# ----------------------------------------------------------------------------- linalg
def matmul(a: Any, b: Any) -> Tensor:
    """``a @ b`` with NumPy/PyTorch semantics (1-D promotion, broadcast batch), GEMM kernel."""
    a = _t(a, b if isinstance(b, Tensor) else None)
    return Matmul.apply(a, _t(b, a))


def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expects 2-D tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    return Matmul.apply(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(
            f"bmm: expects 3-D tensors with the same batch size, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    return Matmul.apply(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: expects 1-D tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    return Matmul.apply(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    return a.reshape(-1, 1) * b.reshape(1, -1)


# ----------------------------------------------------------------------------- shape ops
def _view_of(out: Tensor, x: Tensor) -> Tensor:
    out._vc = x._vc
    return out


def _resolve_shape(shape: tuple, size: int, op: str, src: tuple) -> tuple:
    if -1 in shape:
        if shape.count(-1) > 1:
            raise RuntimeError(f"{op}: only one dimension can be inferred (-1) in {shape}")
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or size % known:
            raise RuntimeError(f"{op}: shape {shape} is invalid for input of shape {src}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    return shape


def reshape(x: Tensor, *shape: Any) -> Tensor:
    shp = as_shape(shape, "reshape")
    for i, s in enumerate(shp):  # NumPy takes any negative size as "infer this one"
        if s < -1:
            raise RuntimeError(
                f"reshape: invalid size {s} at index {i} of shape {shp} (input {x._data.shape})"
            )
    if shp.count(-1) > 1:
        raise RuntimeError(
            f"reshape: only one dimension can be inferred, got shape {shp} (input {x._data.shape})"
        )
    if shp == x._data.shape:
        return x if not x.requires_grad or not _gm.enabled else _view_of(Reshape.apply(x, shp), x)
    return _view_of(Reshape.apply(x, shp), x)


def view(x: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
        dt = _dt.as_dtype(shape[0])
        return _new(x._data.view(dt))
    return reshape(x, *shape)


def view_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other.shape)


reshape_as = view_as


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = x._data.shape
    if not shape:
        return reshape(x, 1)
    s = norm_dim(start_dim, len(shape), "flatten")
    e = norm_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError("flatten: start_dim cannot come after end_dim")
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return reshape(x, shape[:s] + (n,) + shape[e + 1 :])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    shape = x._data.shape
    d = norm_dim(dim, len(shape), "unflatten")
    sizes = _resolve_shape(tuple(sizes), shape[d], "unflatten", shape)
    return reshape(x, shape[:d] + tuple(sizes) + shape[d + 1 :])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    shape = x._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = norm_dims(dim, len(shape), "squeeze")
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    if new == shape:
        return x
    return reshape(x, new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    shape = x._data.shape
    d = norm_dim(dim, len(shape) + 1, "unsqueeze")
    return _view_of(Reshape.apply(x, shape[:d] + (1,) + shape[d:]), x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    nd = x._data.ndim
    if nd == 0:
        return x
    d0 = norm_dim(dim0, nd, "transpose")
    d1 = norm_dim(dim1, nd, "transpose")
    if d0 == d1:
        return x
    return _view_of(Transpose.apply(x, d0, d1), x)


swapaxes = swapdims = transpose


def permute(x: Tensor, *dims: Any) -> Tensor:
    dims = as_shape(dims, "permute")
    nd = x._data.ndim
    if len(dims) != nd:
        raise RuntimeError(
            f"permute: number of dims {len(dims)} doesn't match the tensor's {nd} dims "
            f"(shape {x.shape})"
        )
    d = tuple(norm_dim(i, nd, "permute") for i in dims)
    if sorted(d) != list(range(nd)):
        raise RuntimeError(f"permute: {dims} is not a permutation of the dims of {x.shape}")
    return _view_of(Permute.apply(x, d), x)


def movedim(x: Tensor, source: int, destination: int) -> Tensor:
    nd = x._data.ndim
    s, d = norm_dim(source, nd, "movedim"), norm_dim(destination, nd, "movedim")
    order = [i for i in range(nd) if i != s]
    order.insert(d, s)
    return permute(x, *order)


def expand(x: Tensor, *sizes: Any) -> Tensor:
    sizes = as_shape(sizes, "expand")
    shape = x._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(shape)})"
        )
    off = len(sizes) - len(shape)
    new = tuple(shape[i - off] if s == -1 and i >= off else s for i, s in enumerate(sizes))
    if new == shape:
        return x
    return _view_of(Expand.apply(x, new), x)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, other.shape)


def broadcast_to(x: Tensor, shape: Any) -> Tensor:
    return expand(x, shape)


def broadcast_tensors(*tensors: Tensor) -> List[Tensor]:
    shape = np.broadcast_shapes(*[t.shape for t in tensors])
    return [expand(t, shape) for t in tensors]


def repeat(x: Tensor, *reps: Any) -> Tensor:
    return Repeat.apply(x, as_shape(reps, "repeat"))


def tile(x: Tensor, reps: Sequence[int]) -> Tensor:
    reps = tuple(reps)
    if len(reps) < x.ndim:
        reps = (1,) * (x.ndim - len(reps)) + reps
    return Repeat.apply(x, reps)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of Tensors")
    d = norm_dim(dim, tensors[0]._data.ndim, "cat")
    return Cat.apply(d, *tensors)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of Tensors")
    d = norm_dim(dim, tensors[0]._data.ndim + 1, "stack")
    return Stack.apply(d, *tensors)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in tensors], 0)


def _split_sizes(n: int, split: Any, op: str) -> tuple:
    if isinstance(split, (int, np.integer)):
        split = int(split)
        if split <= 0:
            raise RuntimeError(f"{op}: split size must be positive, got {split}")
        sizes = [split] * (n // split)
        if n % split:
            sizes.append(n % split)
        return tuple(sizes) or (0,)
    sizes = tuple(int(s) for s in split)
    if _builtins_sum(sizes) != n:
        raise RuntimeError(f"{op}: split sizes {sizes} don't add up to the dimension size {n}")
    return sizes


def _builtins_sum(xs: Any) -> int:
    total = 0
    for v in xs:
        total += v
    return total


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> Tuple[Tensor, ...]:
    d = norm_dim(dim, x._data.ndim, "split")
    sizes = _split_sizes(x._data.shape[d], split_size_or_sections, "split")
    outs = Split.apply(x, sizes, d)
    for o in outs:
        o._vc = x._vc
    return outs


def chunk(x: Tensor, chunks: int, dim: int = 0) -> Tuple[Tensor, ...]:
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    d = norm_dim(dim, x._data.ndim, "chunk")
    n = x._data.shape[d]
    size = -(-n // chunks) if n else 1
    return split(x, size if n else 1, d) if n else (x,)


def unbind(x: Tensor, dim: int = 0) -> Tuple[Tensor, ...]:
    d = norm_dim(dim, x._data.ndim, "unbind")
    n = x._data.shape[d]
    if n == 0:
        return ()
    return tuple(squeeze(p, d) for p in split(x, 1, d))


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = norm_dim(dim, x._data.ndim, "narrow")
    n = x._data.shape[d]
    start, length = operator.index(start), operator.index(length)
    # slicing would clip silently; PyTorch raises for a window that leaves the dimension
    if not -n <= start <= n:
        raise IndexError(
            f"narrow: start {start} is out of range [-{n}, {n}] for dim {d} of size {n} "
            f"(tensor of shape {x._data.shape})"
        )
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(
            f"narrow: start ({start}) + length ({length}) exceeds dim {d} of size {n} "
            f"(tensor of shape {x._data.shape})"
            if length >= 0
            else f"narrow: length must be non-negative, got {length}"
        )
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def flip(x: Tensor, dims: Any) -> Tensor:
    if isinstance(dims, (int, np.integer)):
        dims = (int(dims),)
    return Flip.apply(x, norm_dims(dims, x._data.ndim, "flip"))


_PAD_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(
    x: Tensor, pad: Sequence[int], mode: str = "constant", value: Optional[float] = None
) -> Tensor:
    """Padding in torch's order: (left, right) of the last dim, then of the one before, ...

    ``mode='constant'`` fills with ``value`` (0 by default; negative amounts crop);
    ``'reflect'`` mirrors without repeating the edge, ``'replicate'`` repeats the edge,
    ``'circular'`` wraps around: these pad the last 1-3 dimensions of a batched or unbatched
    input, as PyTorch, each a gather of rows (the backward adds into the rows read)."""
    pad = tuple(operator.index(p) for p in pad)
    if mode == "constant":
        return Pad.apply(x, pad, 0.0 if value is None else value)
    if mode not in _PAD_NUMPY_MODES:
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    if value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} does not take a value (got {value!r})")
    k = len(pad) // 2
    shape = tuple(x.shape)
    if len(pad) % 2 or not 1 <= k <= 3 or len(shape) not in (k + 1, k + 2):
        raise ValueError(
            f"pad: mode {mode!r} with {len(pad)} padding sizes pads the last {k} dimension(s) of "
            f"a {k + 1}-D or {k + 2}-D input (1 to 3 of them): got padding {pad} for input {shape}"
        )
    from .creation import to_device_array

    y = x
    for i in range(k):
        axis = len(shape) - 1 - i
        lo, hi, n = pad[2 * i], pad[2 * i + 1], shape[axis]
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: mode {mode!r} takes no negative padding, got {pad}")
        big = lo if lo > hi else hi  # (this module's max is the tensor reduction)
        if (mode == "reflect" and big >= n) or (mode == "circular" and big > n):
            rule = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(
                f"pad: padding ({lo}, {hi}) of dim {axis} must be {rule} its size {n} for mode "
                f"{mode!r} (input {shape})"
            )
        if n == 0:
            raise ValueError(f"pad: mode {mode!r} cannot pad the empty dim {axis} of {shape}")
        if lo == hi == 0:
            continue
        idx = np.pad(np.arange(n, dtype=np.int64), (lo, hi), mode=_PAD_NUMPY_MODES[mode])
        y = IndexSelect.apply(y, axis, to_device_array(idx, x.device), True)
    return y


# ----------------------------------------------------------------------------- indexing
def getitem(x: Tensor, idx: Any) -> Tensor:
    if type(idx) is not int and type(idx) is not slice:
        idx = index_arg(idx)
    out = GetItem.apply(x, idx)
    if out._data.base is not None:
        out._vc = x._vc
    return out


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    return Gather.apply(x, norm_dim(dim, x._data.ndim, "gather"), idx)


def take_along_dim(x: Tensor, indices: Tensor, dim: int) -> Tensor:
    return gather(x, dim, indices)


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    return IndexSelect.apply(x, norm_dim(dim, x._data.ndim, "index_select"), idx, False)


def nonzero(x: Tensor, as_tuple: bool = False) -> Any:
    xp = xp_of(x._data)
    nz = xp.nonzero(x._data)
    if as_tuple:
        return tuple(_new(i.astype(np.int64)) for i in nz)
    return _new(xp.stack(nz, axis=1).astype(np.int64) if nz else xp.zeros((0, 0), np.int64))


# ----------------------------------------------------------------------------- activations
def relu(x: Tensor) -> Tensor:
    return Relu.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
        raise TypeError(f"leaky_relu: negative_slope must be a real number, got {negative_slope!r}")
    return LeakyRelu.apply(x, float(negative_slope))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return Elu.apply(x, alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate)


def silu(x: Tensor) -> Tensor:
    return Silu.apply(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(x, beta, threshold)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    return Softmax.apply(x, norm_dim(dim, x._data.ndim, "softmax"))


def log_softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    return LogSoftmax.apply(x, norm_dim(dim, x._data.ndim, "log_softmax"))


# ----------------------------------------------------------------------------- comparisons
def eq(a: Any, b: Any) -> Tensor:
    return _t(a) == b


def ne(a: Any, b: Any) -> Tensor:
    return _t(a) != b


def lt(a: Any, b: Any) -> Tensor:
    return _t(a) < b


def le(a: Any, b: Any) -> Tensor:
    return _t(a) <= b


def gt(a: Any, b: Any) -> Tensor:
    return _t(a) > b


def ge(a: Any, b: Any) -> Tensor:
    return _t(a) >= b


def isnan(x: Tensor) -> Tensor:
    return x.isnan()


def isinf(x: Tensor) -> Tensor:
    return x.isinf()


def isfinite(x: Tensor) -> Tensor:
    return x.isfinite()


def equal(a: Tensor, b: Tensor) -> bool:
    return a.equal(b)


def allclose(
    a: Tensor, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> bool:
    return a.allclose(b, rtol, atol, equal_nan)


def numel(x: Tensor) -> int:
    return x.numel()


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


def detach(x: Tensor) -> Tensor:
    return x.detach()


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


# ----------------------------------------------------------------------------- wiring
_METHODS = [
    "exp", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal", "square",
    "sin", "cos", "tan", "sign", "floor", "ceil", "round", "trunc", "abs", "neg",
    "clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "masked_fill", "lerp",
    "sum", "mean", "var", "std", "prod", "amax", "amin", "argmax", "argmin", "max", "min",
    "sort", "argsort", "topk", "logsumexp", "norm", "cumsum", "all", "any", "count_nonzero",
    "matmul", "mm", "bmm", "dot", "outer",
    "reshape", "view", "view_as", "reshape_as", "flatten", "unflatten", "squeeze", "unsqueeze",
    "transpose", "swapaxes", "swapdims", "permute", "movedim", "expand", "expand_as",
    "broadcast_to", "repeat", "tile", "split", "chunk", "unbind", "narrow", "flip",
    "gather", "take_along_dim", "index_select", "nonzero",
    "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh", "softmax",
    "log_softmax",
]  # fmt: skip


def _attach_methods(cls: type) -> None:
    g = globals()
    for name in _METHODS:
        setattr(cls, name, g[name])
    cls.add = add
    cls.sub = sub
    cls.subtract = sub
    cls.mul = mul
    cls.multiply = mul
    cls.div = div
    cls.divide = div
    cls.pow = pow
    cls.negative = neg
    cls.absolute = abs

    def _where(self: Tensor, condition: Any, other: Any) -> Tensor:
        return where(condition, self, other)

    cls.where = _where


UFUNC_OPS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "true_divide": lambda a, b: a / b,
    "divide": lambda a, b: a / b,
    "power": lambda a, b: pow(a, b),
    "negative": neg,
    "absolute": abs,
    "exp": exp,
    "expm1": expm1,
    "log": log,
    "log2": log2,
    "log10": log10,
    "log1p": log1p,
    "sqrt": sqrt,
    "sin": sin,
    "cos": cos,
    "tan": tan,
    "tanh": tanh,
    "maximum": maximum,
    "minimum": minimum,
    "matmul": matmul,
    "sign": sign,
}

_INTERNAL = {"index_arg", "to_array", "to_device_array", "erf"}
__all__ = sorted(
    n
    for n, v in list(globals().items())
    if not n.startswith("_")
    and n not in _INTERNAL
    and callable(v)
    and not isinstance(v, type)
    and getattr(v, "__module__", "") in ("axonal.ops", "axonal.ops.creation")
)
_ = (IndexAdd, IndexPut, Filled, CopyFrom, Cast, unbroadcast, broadcast_error, Gather)
