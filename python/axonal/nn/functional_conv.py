"""Convolution, pooling, normalisation and channel dropout: fused autograd Functions.

Every op here is ONE node in the graph with a hand-written backward:

- ``conv1d`` / ``conv2d`` and the pools call the C++ kernels (``axonal.backend.cpu``) when the
  installed extension has them, else the NumPy reference (``axonal.backend.numpy_ref``): see
  :func:`_kernel`.
- ``batch_norm`` / ``layer_norm`` / ``group_norm`` are vectorised NumPy with fused backward
  formulas (no chain of small ops), e.g. for batch norm over ``M`` values per channel::

      dx = w * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))

Shapes are NCHW (``(N, C, L)`` for 1-D). Bad arguments raise ``ValueError`` naming the op and the
shapes, e.g. ``conv2d: input (8, 3, 5, 5) with padding (0, 0) is smaller than the kernel (7, 7)``.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..autograd.function import Function
from ..backend import kernels_for
from ..ops._util import xp_of
from ..random import _np_gen
from ..tensor import Tensor, _new, check_same_device

__all__ = [
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "max_pool1d",
    "avg_pool1d",
    "adaptive_avg_pool1d",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "dropout2d",
]

_size_2_t = Union[int, Tuple[int, int]]
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
# Geometry limits, checked here and again by the C++ bindings: a padded size or a dilated kernel
# extent of 2^62 or more (PyTorch's padding limit) would wrap the kernels' 64-bit index arithmetic;
# pooling arguments are 32-bit ints in PyTorch, and the pooling kernels walk every kernel tap.
_MAX_EXTENT = 2**62
_MAX_POOL_ARG = 2**31 - 1
_MAX_INT64 = 2**63 - 1

# ---------------------------------------------------------------------------- kernel dispatch


def _kernel(name: str, a: Any = None) -> Any:
    """The kernel ``name`` for array ``a``: on the CPU the C++ one (``axonal.backend.cpu``) when
    the installed extension has it, else the NumPy reference with the same signature
    (``axonal.backend.numpy_ref``); for a CuPy array the CUDA kernel (``backend.kernels_for``), or,
    without a CUDA build, the CPU kernel on host copies (:func:`_host_kernel`)."""
    if a is not None and type(a) is not np.ndarray:
        k = kernels_for(a)
        return getattr(k, name) if k is not None else _host_kernel(name)
    from ..backend import cpu, numpy_ref

    fn = getattr(cpu, name, None)
    if fn is None:
        fn = getattr(numpy_ref, name, None)
    if fn is None:
        raise NotImplementedError(
            f"{name}: no kernel available (neither axonal.backend.cpu nor numpy_ref has it)"
        )
    return fn


def _host_kernel(name: str) -> Any:
    """CuPy arrays but no CUDA kernels (a CPU-only axonal build): the CPU kernel ``name`` on host
    copies of the device arguments, results uploaded again. Correct, but every call copies and
    waits for the device; the CUDA build dispatches to ``axonal.backend.cuda`` instead."""
    fn = _kernel(name)

    def run(*args: Any) -> Any:
        xp = None
        host = []
        for v in args:
            if hasattr(v, "get") and hasattr(v, "dtype") and type(v) is not np.ndarray:
                xp = xp_of(v)
                v = _dense(v.get())
            host.append(v)
        out = fn(*host)
        if isinstance(out, tuple):
            return tuple(xp.asarray(o) for o in out)
        return xp.asarray(out)

    return run


def _dense(a: Any) -> Any:
    """C-contiguous with NumPy's canonical float32/float64 dtype object (the C++ bindings compare
    dtypes by identity)."""
    if type(a) is np.ndarray:
        a = np.ascontiguousarray(a)
        d = a.dtype
        if d is not _F32 and d is not _F64 and d in (_F32, _F64):
            a = a.view(_F32 if d == _F32 else _F64)
    return a


# ---------------------------------------------------------------------------- argument helpers


def _tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be an axonal.Tensor, got {type(x).__name__}")
    return x


def _float(op: str, name: str, x: Tensor) -> None:
    if np.dtype(x.dtype).kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {x.dtype}")


def _same_dtype(op: str, x: Tensor, **others: Any) -> None:
    for name, t in others.items():
        if t is not None and np.dtype(t.dtype) != np.dtype(x.dtype):
            raise TypeError(
                f"{op}: dtypes differ: input {x.dtype}, {name} {t.dtype} (convert the input with "
                ".to(dtype) or the model with .float() / .double())"
            )


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _tuple(op: str, name: str, v: Any, n: int, minimum: int) -> Tuple[int, ...]:
    """An int or a sequence of ``n`` ints, each >= ``minimum``, as an ``n``-tuple."""
    vals = (v,) * n if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if vals is None or len(vals) != n or not all(_is_int(x) for x in vals):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    vals = tuple(int(x) for x in vals)
    if any(x < minimum for x in vals):
        what = "non-negative" if minimum == 0 else "positive"
        raise ValueError(f"{op}: {name} must be {what}, got {v!r}")
    return vals


def _as_batched(op: str, x: Tensor, spatial: int) -> bool:
    """Check the rank of ``x``: (N, C, *spatial) or unbatched (C, *spatial). True if unbatched."""
    nd = x.ndim
    if nd == spatial + 2:
        return False
    if nd == spatial + 1:
        return True
    dims = "(N, C, L) or (C, L)" if spatial == 1 else "(N, C, H, W) or (C, H, W)"
    raise ValueError(f"{op}: expected a {spatial + 2}-D input {dims}, got shape {tuple(x.shape)}")


# ---------------------------------------------------------------------------- normalisation


def _channel_affine(op: str, t: Any, name: str, c: int, x: Tensor) -> None:
    if t is None:
        return
    _tensor(op, name, t)
    if tuple(t.shape) != (c,):
        raise ValueError(
            f"{op}: {name} must have shape ({c},) (one value per channel of the input "
            f"{tuple(x.shape)}), got {tuple(t.shape)}"
        )


def _channel_dot(a: Any, b: Any) -> Any:
    """sum(a * b) over axes 0 and 2 of (N, C, L) arrays: einsum on the CPU (no temporary), a
    product and one reduction elsewhere (CuPy's einsum costs ~0.3 ms of Python per call)."""
    if type(a) is np.ndarray:
        return np.einsum("ncl,ncl->c", a, b)
    return (a * b).sum(axis=(0, 2))


def _fused_bn_ok(x: Any, *others: Any) -> Any:
    """The CUDA batch-norm kernels for x (device, float32 / float64) and same-dtype others."""
    if type(x) is np.ndarray:
        return None
    k = kernels_for(x)
    if k is None or x.dtype.kind != "f" or x.dtype.itemsize not in (4, 8):
        return None
    if any(o is not None and (type(o) is not type(x) or o.dtype != x.dtype) for o in others):
        return None
    return k


class _BatchNormTrain(Function):
    # x: (N, C, L) -> y: (N, C, L); statistics over N and L per channel. running: None or
    # (running_mean, running_var, momentum) arrays the fused CUDA kernel may update itself;
    # stats receives (mean, biased var, whether running was updated).
    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, eps: float, stats: list, running: Any) -> Any:
        k = _fused_bn_ok(x, w, b)
        if k is not None:
            rm = rv = None
            mom = 0.0
            if running is not None and _fused_bn_ok(x, running[0], running[1]) is not None:
                rm, rv, mom = running
                if not (rm.flags.c_contiguous and rv.flags.c_contiguous):
                    rm = rv = None
            y, mean, var, invstd = k.batch_norm_forward(x, w, b, eps, rm, rv, mom)
            stats.extend((mean, var, rm is not None))
            ctx.save_for_backward(x)
            ctx.fused, ctx.mean, ctx.invstd, ctx.w, ctx.has_b = k, mean, invstd, w, b is not None
            return y
        ctx.fused = None
        m = x.shape[0] * x.shape[2]
        dt = x.dtype.type
        mean = x.sum(axis=(0, 2)) / dt(m)
        xhat = x - mean[:, None]
        var = _channel_dot(xhat, xhat) / dt(m)
        invstd = dt(1) / np.sqrt(var + dt(eps))
        xhat *= invstd[:, None]
        if w is not None:
            y = xhat * w[:, None]
            if b is not None:
                y += b[:, None]
        elif b is not None:
            y = xhat + b[:, None]
        else:
            y = xhat.copy()
        stats.extend((mean, var, False))
        ctx.xhat, ctx.invstd, ctx.w, ctx.has_b = xhat, invstd, w, b is not None
        return y

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        need = ctx.needs_input_grad
        if ctx.fused is not None and g.dtype == ctx.mean.dtype:
            (x,) = ctx.saved_tensors
            gx, sgx, sg = ctx.fused.batch_norm_backward(
                g, x, ctx.mean, ctx.invstd, ctx.w, bool(need[0])
            )
            gw = sgx if ctx.w is not None and need[1] else None
            gb = sg if ctx.has_b and need[2] else None
            return gx, gw, gb, None, None, None
        if ctx.fused is not None:  # a gradient of another dtype: rebuild xhat, the generic way
            (x,) = ctx.saved_tensors
            ctx.xhat = (x - ctx.mean[:, None]) * ctx.invstd[:, None]
        xhat, invstd, w = ctx.xhat, ctx.invstd, ctx.w
        m = xhat.shape[0] * xhat.shape[2]
        dt = xhat.dtype.type
        sg = g.sum(axis=(0, 2))
        sgx = _channel_dot(g, xhat)
        gx = gw = gb = None
        if need[0]:
            scale = invstd if w is None else invstd * w
            gx = xhat * (-sgx / dt(m))[:, None]
            gx += g
            gx -= (sg / dt(m))[:, None]
            gx *= scale[:, None]
        if w is not None and need[1]:
            gw = sgx
        if ctx.has_b and need[2]:
            gb = sg
        return gx, gw, gb, None, None, None


class _BatchNormEval(Function):
    # x: (N, C, L), fixed mean/var (C,) -> y = (x - mean) * invstd * w + b
    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, mean: Any, var: Any, eps: float) -> Any:
        dt = x.dtype.type
        invstd = dt(1) / np.sqrt(var.astype(x.dtype, copy=False) + dt(eps))
        mean = mean.astype(x.dtype, copy=False)
        scale = invstd if w is None else invstd * w
        shift = -mean * scale
        if b is not None:
            shift = shift + b
        ctx.save_for_backward(x)
        ctx.mean, ctx.invstd, ctx.scale, ctx.has_w, ctx.has_b = (
            mean,
            invstd,
            scale,
            w is not None,
            b is not None,
        )
        y = x * scale[:, None]
        y += shift[:, None]
        return y

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        (x,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = g * ctx.scale[:, None]
        if ctx.has_w and need[1]:
            gw = (_channel_dot(g, x) - g.sum(axis=(0, 2)) * ctx.mean) * ctx.invstd
        if ctx.has_b and need[2]:
            gb = g.sum(axis=(0, 2))
        return gx, gw, gb, None, None, None


def batch_norm(
    input: Tensor,
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over every dimension but 1 of ``input`` (N, C, ...).

    ``training`` (or no running statistics): normalise with the batch mean and biased variance,
    and update ``running_mean``/``running_var`` in place (when given) with
    ``r = (1 - momentum) r + momentum * stat`` (the variance unbiased, like PyTorch). Otherwise
    normalise with the running statistics. One fused autograd node.
    """
    return _batch_norm(
        "batch_norm", input, running_mean, running_var, weight, bias, training, momentum, eps
    )


def _batch_norm(
    op: str,
    input: Tensor,
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    weight: Optional[Tensor],
    bias: Optional[Tensor],
    training: bool,
    momentum: float,
    eps: float,
) -> Tensor:
    _tensor(op, "input", input)
    _float(op, "input", input)
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise ValueError(
            f"{op}: expected an input of at least 2 dimensions (N, C, ...), got {shape}"
        )
    c = shape[1]
    _channel_affine(op, weight, "weight", c, input)
    _channel_affine(op, bias, "bias", c, input)
    _channel_affine(op, running_mean, "running_mean", c, input)
    _channel_affine(op, running_var, "running_var", c, input)
    _same_dtype(op, input, weight=weight, bias=bias)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must both be given or both be None")
    x = input._data
    x3 = x.reshape(shape[0], c, -1) if x.size else x.reshape(shape[0], c, math.prod(shape[2:]))
    use_batch = training or running_mean is None
    if use_batch:
        per_channel = shape[0] * math.prod(shape[2:])
        if x.size == 0:
            return input * 1
        if per_channel == 1 and training:
            raise ValueError(
                f"{op}: Expected more than 1 value per channel when training, "
                f"got input size {shape}"
            )
        stats: list = []
        update = training and running_mean is not None
        running = (running_mean._data, running_var._data, float(momentum)) if update else None
        y = _BatchNormTrain.apply(_view(input, x3), weight, bias, float(eps), stats, running)
        if update:
            mean, var, updated = stats
            if not updated:  # else the fused CUDA kernel did it
                dt = running_mean._data.dtype
                mom = float(momentum)
                rm, rv = running_mean._data, running_var._data
                unbiased = var * var.dtype.type(per_channel / (per_channel - 1))
                rm *= dt.type(1 - mom)
                rm += (mom * mean).astype(dt, copy=False)
                rv *= dt.type(1 - mom)
                rv += (mom * unbiased).astype(dt, copy=False)
            running_mean._vc[0] += 1
            running_var._vc[0] += 1
    else:
        y = _BatchNormEval.apply(
            _view(input, x3), weight, bias, running_mean._data, running_var._data, float(eps)
        )
    return y.reshape(shape)


def _view(t: Tensor, arr: Any) -> Tensor:
    """``t`` reshaped to ``arr`` (a view of its storage): through autograd when needed."""
    if arr.shape == tuple(t.shape):
        return t
    return t.reshape(arr.shape)


class _RowNorm(Function):
    """Normalise each row of x (M, K); optional affine ``w``/``b`` on a (G, Cg, L) view of rows.

    Layer norm: rows = leading dims, affine per element of the row (shape (K,)).
    Group norm: rows = (n, group), affine per channel: ``x`` is viewed as (N, G, Cg, L) and
    ``w``/``b`` as (G, Cg, 1).
    """

    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, eps: float, view: Any) -> Any:
        dt = x.dtype.type
        k = x.shape[1]
        mean = x.sum(axis=1) / dt(k)
        xhat = x - mean[:, None]
        var = np.einsum("mk,mk->m", xhat, xhat) / dt(k)
        invstd = dt(1) / np.sqrt(var + dt(eps))
        xhat *= invstd[:, None]
        ctx.xhat, ctx.invstd, ctx.view, ctx.w = xhat, invstd, view, w
        ctx.has_b = b is not None
        if w is None and b is None:
            return xhat.copy()
        xv = xhat if view is None else xhat.reshape(view)
        y = xv * w if w is not None else xv.copy()
        if b is not None:
            y += b
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        xhat, invstd, view, w = ctx.xhat, ctx.invstd, ctx.view, ctx.w
        need = ctx.needs_input_grad
        dt = xhat.dtype.type
        k = xhat.shape[1]
        gx = gw = gb = None
        if view is None:  # layer norm: affine per column
            if w is not None and need[1]:
                gw = np.einsum("mk,mk->k", g, xhat)
            if ctx.has_b and need[2]:
                gb = g.sum(axis=0)
            gh = g if w is None else g * w
        else:  # group norm: affine per channel, (N, G, Cg, L) view, parameters (G, Cg, 1)
            gv, xv = g.reshape(view), xhat.reshape(view)
            if w is not None and need[1]:
                gw = np.einsum("ngcl,ngcl->gc", gv, xv)[..., None]
            if ctx.has_b and need[2]:
                gb = gv.sum(axis=(0, 3))[..., None]
            gh = g if w is None else (gv * w).reshape(xhat.shape)
        if need[0]:
            # dx = invstd * (gh - mean(gh) - xhat * mean(gh * xhat)), per row
            m1 = gh.sum(axis=1) / dt(k)
            m2 = np.einsum("mk,mk->m", gh, xhat) / dt(k)
            gx = xhat * -m2[:, None]
            gx += gh
            gx -= m1[:, None]
            gx *= invstd[:, None]
        return gx, gw, gb, None, None


def layer_norm(
    input: Tensor,
    normalized_shape: Union[int, Sequence[int]],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dimensions (biased variance), then
    ``* weight + bias`` (both of shape ``normalized_shape``). One fused autograd node."""
    op = "layer_norm"
    _tensor(op, "input", input)
    _float(op, "input", input)
    ns = (normalized_shape,) if _is_int(normalized_shape) else tuple(normalized_shape)
    shape = tuple(input.shape)
    if not ns or len(ns) > len(shape) or shape[len(shape) - len(ns) :] != ns:
        raise ValueError(
            f"{op}: normalized_shape {ns} must be the trailing dimensions of the input {shape}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            _tensor(op, name, t)
            if tuple(t.shape) != ns:
                raise ValueError(f"{op}: {name} shape {tuple(t.shape)} != normalized_shape {ns}")
    _same_dtype(op, input, weight=weight, bias=bias)
    k = math.prod(ns)
    m = math.prod(shape[: len(shape) - len(ns)])
    w = None if weight is None else weight.reshape(k)
    b = None if bias is None else bias.reshape(k)
    x2 = input.reshape(m, k)
    return _RowNorm.apply(x2, w, b, float(eps), None).reshape(shape)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise ``input`` (N, C, ...) over each group of ``C / num_groups`` channels (and all
    positions), then ``* weight + bias`` per channel. One fused autograd node."""
    op = "group_norm"
    _tensor(op, "input", input)
    _float(op, "input", input)
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise ValueError(
            f"{op}: expected an input of at least 2 dimensions (N, C, ...), got {shape}"
        )
    n, c = shape[0], shape[1]
    if not _is_int(num_groups) or num_groups <= 0 or c % num_groups:
        raise ValueError(
            f"{op}: the {c} channels of the input {shape} must be divisible by num_groups, "
            f"got num_groups={num_groups!r}"
        )
    _channel_affine(op, weight, "weight", c, input)
    _channel_affine(op, bias, "bias", c, input)
    _same_dtype(op, input, weight=weight, bias=bias)
    g = int(num_groups)
    cg = c // g
    spatial = math.prod(shape[2:])
    w = None if weight is None else weight.reshape(g, cg, 1)
    b = None if bias is None else bias.reshape(g, cg, 1)
    x2 = input.reshape(n * g, cg * spatial)
    return _RowNorm.apply(x2, w, b, float(eps), (n, g, cg, spatial)).reshape(shape)


def instance_norm(
    input: Tensor,
    running_mean: Optional[Tensor] = None,
    running_var: Optional[Tensor] = None,
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of each sample of ``input`` (N, C, ...) over its positions (biased
    variance), then ``* weight + bias`` per channel: group_norm with one channel per group.
    With ``use_input_stats`` and running statistics given, those are updated in place with the
    batch average of the per-instance means and unbiased variances (``momentum``), as PyTorch;
    without ``use_input_stats`` the running statistics normalise instead."""
    op = "instance_norm"
    _tensor(op, "input", input)
    _float(op, "input", input)
    shape = tuple(input.shape)
    if len(shape) < 3:
        raise ValueError(f"{op}: expected an input (N, C, ...) with positions, got {shape}")
    c = shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            _tensor(op, name, t)
            if tuple(t.shape) != (c,):
                raise ValueError(f"{op}: {name} shape {tuple(t.shape)} != (C,) = ({c},)")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: use_input_stats=False needs running_mean and running_var")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if math.prod(shape[2:]) <= 1:
        raise ValueError(
            f"{op}: expected more than 1 spatial element when using the input's statistics, got "
            f"input {shape} (each instance would normalise to 0)"
        )
    y = group_norm(input, c, weight, bias, eps)
    if running_mean is not None or running_var is not None:
        x = input._data.reshape(shape[0], c, -1)
        n = x.shape[2]
        m = float(momentum)
        if running_mean is not None:
            mean = x.mean(axis=2).mean(axis=0).astype(running_mean._data.dtype)
            running_mean._data[...] = (1 - m) * running_mean._data + m * mean
            running_mean._vc[0] += 1
        if running_var is not None:
            var = x.var(axis=2, ddof=1 if n > 1 else 0).mean(axis=0)
            running_var._data[...] = (1 - m) * running_var._data + m * var.astype(
                running_var._data.dtype
            )
            running_var._vc[0] += 1
    return y


# ---------------------------------------------------------------------------- channel dropout


class _MaskMul(Function):
    # x * mask, mask broadcast over the spatial dimensions
    @staticmethod
    def forward(ctx: Any, x: Any, mask: Any) -> Any:
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g * ctx.mask, None


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Any = None,
) -> Tensor:
    """Channel dropout: zero whole channels of ``input`` (N, C, H, W) or (C, H, W) with
    probability ``p`` and scale the others by ``1 / (1 - p)``. Identity when not training.

    Masks come from the library generator (``axonal.manual_seed``) unless ``generator`` is given.
    ``inplace`` is accepted for PyTorch compatibility and ignored.
    """
    op = "dropout2d"
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p!r}")
    _tensor(op, "input", input)
    if input.ndim not in (3, 4):
        raise ValueError(
            f"{op}: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), "
            f"got shape {tuple(input.shape)}"
        )
    if not training or p == 0:
        return input
    x = input._data
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    mshape = tuple(x.shape[:-2]) + (1, 1)
    if p == 1:
        mask = np.zeros(mshape, dtype=dtype)
    else:
        keep = _np_gen(generator).random(mshape, dtype=np.float32) >= np.float32(p)
        mask = keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))
    if type(x) is not np.ndarray:
        import sys

        mask = sys.modules[type(x).__module__.split(".")[0]].asarray(mask)
    return _MaskMul.apply(input, mask)


# ---------------------------------------------------------------------------- convolution


def _same_padding(k: Tuple[int, ...], d: Tuple[int, ...]) -> Tuple[Tuple[int, int], ...]:
    """(before, after) per axis for ``padding='same'`` (stride 1): the extra one goes after."""
    res = []
    for ki, di in zip(k, d):
        total = di * (ki - 1)
        res.append((total // 2, total - total // 2))
    return tuple(res)


class _PadMode(Function):
    # x: (N, C, *spatial) -> padded with np.pad mode 'reflect' | 'edge' | 'wrap'
    @staticmethod
    def forward(ctx: Any, x: Any, pads: Tuple[Tuple[int, int], ...], mode: str) -> Any:
        ctx.pads, ctx.shape, ctx.mode = pads, x.shape, mode
        return np.pad(x, ((0, 0), (0, 0), *pads), mode=mode)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        # each padded position came from one source position: np.pad of an index grid tells which
        gx = g
        for axis, (lo, hi) in enumerate(ctx.pads, start=2):
            n = ctx.shape[axis]
            src = np.pad(np.arange(n), (lo, hi), mode=ctx.mode)
            shape = list(gx.shape)
            shape[axis] = n
            acc = np.zeros(shape, dtype=g.dtype)
            np.add.at(acc, (slice(None),) * axis + (src,), gx)
            gx = acc
        return gx, None, None


_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class _ConvNd(Function):
    # x: (N, C, H, W), w: (K, C/g, R, S), b: (K,) or None -> y: (N, K, P, Q)
    # 1-D: x (N, C, L), w (K, C/g, k) run as H = 1.
    @staticmethod
    def forward(
        ctx: Any,
        x: Any,
        w: Any,
        b: Any,
        stride: tuple,
        padding: tuple,
        dilation: tuple,
        groups: int,
    ) -> Any:
        one_d = x.ndim == 3
        if one_d:
            x = x[:, :, None, :]
            w = w[:, :, None, :]
            stride, padding, dilation = (1, *stride), (0, *padding), (1, *dilation)
        x, w = _dense(x), _dense(w)
        b = None if b is None else _dense(b)
        y = _kernel("conv2d_forward", x)(x, w, b, stride, padding, dilation, groups)
        ctx.save_for_backward(x, w)  # version-checked when they are the inputs' own arrays
        ctx.args = (stride, padding, dilation, groups)
        ctx.one_d, ctx.has_b = one_d, b is not None
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if ctx.one_d:
            g = g[:, :, None, :]
        g = _dense(g)
        gx = gw = gb = None
        if need[0]:
            gx = _kernel("conv2d_backward_input", g)(g, w, x.shape, *ctx.args)
            if ctx.one_d:
                gx = gx[:, :, 0, :]
        if need[1]:
            gw = _kernel("conv2d_backward_weight", g)(g, x, w.shape, *ctx.args)
            if ctx.one_d:
                gw = gw[:, :, 0, :]
        if ctx.has_b and need[2]:
            gb = _kernel("conv2d_backward_bias", g)(g)
        return gx, gw, gb, None, None, None, None


def _conv(
    op: str,
    nd: int,
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    padding_mode: str = "zeros",
) -> Tensor:
    _tensor(op, "input", input)
    _tensor(op, "weight", weight)
    _float(op, "input", input)
    check_same_device(op, input, weight, bias)
    if weight.ndim != nd + 2:
        kdims = (
            "(out_channels, in_channels / groups, kL)"
            if nd == 1
            else ("(out_channels, in_channels / groups, kH, kW)")
        )
        raise ValueError(f"{op}: weight must be {nd + 2}-D {kdims}, got {tuple(weight.shape)}")
    unbatched = _as_batched(op, input, nd)
    if bias is not None:
        _tensor(op, "bias", bias)
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(
                f"{op}: bias shape {tuple(bias.shape)} != (out_channels,) = ({weight.shape[0]},)"
            )
    _same_dtype(op, input, weight=weight, bias=bias)
    if not _is_int(groups) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    s = _tuple(op, "stride", stride, nd, 1)
    d = _tuple(op, "dilation", dilation, nd, 1)
    k = tuple(weight.shape[2:])
    if padding_mode not in _PAD_MODES:
        raise ValueError(
            f"{op}: padding_mode must be one of {list(_PAD_MODES)}, got {padding_mode!r}"
        )
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ValueError(
                    f"{op}: padding='same' is not supported for strided convolutions (stride {s})"
                )
            pads = _same_padding(k, d)
        else:
            raise ValueError(
                f"{op}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}"
            )
    else:
        p = _tuple(op, "padding", padding, nd, 0)
        pads = tuple((v, v) for v in p)
    x = input.unsqueeze(0) if unbatched else input
    shape = tuple(x.shape)
    c = shape[1]
    if c != weight.shape[1] * groups:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} has {c} channels, but weight "
            f"{tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}"
        )
    if weight.shape[0] % groups:
        raise ValueError(
            f"{op}: out_channels {weight.shape[0]} (weight {tuple(weight.shape)}) is not "
            f"divisible by groups={groups}"
        )
    eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], pads))
    if max(eff) >= _MAX_EXTENT or max(padded) >= _MAX_EXTENT:
        pstr = tuple(lo for lo, _ in pads) if all(lo == hi for lo, hi in pads) else pads
        raise ValueError(
            f"{op}: input {tuple(input.shape)} with padding {pstr} and the kernel {k} dilated by "
            f"{d}: the padded size {padded} and the dilated kernel extent {eff} must be below 2^62"
        )
    if max(s) > _MAX_INT64:
        raise ValueError(f"{op}: stride {s} does not fit in a 64-bit integer")
    if any(e > n for e, n in zip(eff, padded)) or 0 in k:
        pstr = tuple(lo for lo, _ in pads) if all(lo == hi for lo, hi in pads) else pads
        kind = "dilated kernel" if any(v > 1 for v in d) else "kernel"
        raise ValueError(
            f"{op}: input {tuple(input.shape)} with padding {pstr} is smaller than the {kind} {eff}"
        )
    if padding_mode != "zeros" and any(lo or hi for lo, hi in pads):
        for (lo, hi), n in zip(pads, shape[2:]):
            if padding_mode == "reflect" and max(lo, hi) >= n:
                raise ValueError(
                    f"{op}: padding {pads} with padding_mode='reflect' must be smaller than the "
                    f"input size {shape[2:]}"
                )
        x = _PadMode.apply(x, pads, _PAD_MODES[padding_mode])
        sym = (0,) * nd
    elif all(lo == hi for lo, hi in pads):
        sym = tuple(lo for lo, _ in pads)
    else:  # 'same' with an even (dilated) kernel: pad the extra row/column after
        flat: list = []
        for lo, hi in reversed(pads):
            flat += [0, hi - lo]
        from ..ops import pad as _pad

        x = _pad(x, tuple(flat))
        sym = tuple(lo for lo, _ in pads)
    y = _ConvNd.apply(x, weight, bias, s, sym, d, groups)
    return y.squeeze(0) if unbatched else y


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: _size_2_t = 1,
    padding: Union[str, _size_2_t] = 0,
    dilation: _size_2_t = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of ``input`` (N, C, H, W) or (C, H, W)
    with ``weight`` (K, C / groups, kH, kW) plus ``bias`` (K,).

    ``padding``: an int, a pair, ``'valid'`` (none) or ``'same'`` (stride 1; an even kernel gets
    the extra row/column after, like PyTorch). One fused autograd node on the C++ kernels.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: Union[int, Tuple[int]] = 1,
    padding: Union[str, int, Tuple[int]] = 0,
    dilation: Union[int, Tuple[int]] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution of ``input`` (N, C, L) or (C, L) with ``weight`` (K, C / groups, kL);
    runs on the conv2d kernels with a height of 1."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------------- transposed conv


class _ConvTransposeNd(Function):
    # x: (N, Cin, H, W), w: (Cin, Cout/g, R, S), b: (Cout,) or None -> y: (N, Cout, Ho, Wo): the
    # gradient of a conv2d (weight w, input y, output x) with respect to its input. Where the
    # output padding reaches a stride, that conv2d's output would have `extra` more rows/columns
    # than x: x is zero-extended there (those rows add nothing to y) and cropped in the backward.
    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any, out_hw: tuple, args: tuple, extra: tuple) -> Any:
        one_d = x.ndim == 3
        if one_d:
            x, w = x[:, :, None, :], w[:, :, None, :]
        x, w = _dense(x), _dense(w)
        n, cin, h, wd = x.shape
        if any(extra):
            xp = xp_of(x)
            x = _dense(xp.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1]))))
        y_shape = (n, w.shape[1] * args[3], *out_hw)
        y = _kernel("conv2d_backward_input", x)(x, w, y_shape, *args)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        ctx.save_for_backward(x, w)
        ctx.args, ctx.one_d, ctx.has_b, ctx.hw = args, one_d, b is not None, (h, wd)
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if ctx.one_d:
            g = g[:, :, None, :]
        g = _dense(g)
        h, wd = ctx.hw
        gx = gw = gb = None
        if need[0]:
            gx = _kernel("conv2d_forward", g)(g, w, None, *ctx.args)[:, :, :h, :wd]
            gx = gx[:, :, 0, :] if ctx.one_d else gx
        if need[1]:
            gw = _kernel("conv2d_backward_weight", g)(x, g, w.shape, *ctx.args)
            gw = gw[:, :, 0, :] if ctx.one_d else gw
        if ctx.has_b and need[2]:
            gb = _kernel("conv2d_backward_bias", g)(g)
        return gx, gw, gb, None, None, None


def _conv_transpose(
    op: str,
    nd: int,
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor],
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
    output_size: Any = None,
) -> Tensor:
    _tensor(op, "input", input)
    _tensor(op, "weight", weight)
    _float(op, "input", input)
    check_same_device(op, input, weight, bias)
    if weight.ndim != nd + 2:
        kdims = "(in_channels, out_channels / groups, " + ("kL)" if nd == 1 else "kH, kW)")
        raise ValueError(f"{op}: weight must be {nd + 2}-D {kdims}, got {tuple(weight.shape)}")
    unbatched = _as_batched(op, input, nd)
    _same_dtype(op, input, weight=weight, bias=bias)
    if not _is_int(groups) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    s = _tuple(op, "stride", stride, nd, 1)
    p = _tuple(op, "padding", padding, nd, 0)
    d = _tuple(op, "dilation", dilation, nd, 1)
    op_ = _tuple(op, "output_padding", output_padding, nd, 0)
    k = tuple(weight.shape[2:])
    x = input.unsqueeze(0) if unbatched else input
    cin = x.shape[1]
    if weight.shape[0] != cin:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} has {cin} channels, but weight "
            f"{tuple(weight.shape)} expects {weight.shape[0]} (in_channels first)"
        )
    if cin % groups:
        raise ValueError(f"{op}: in_channels {cin} is not divisible by groups={groups}")
    cout = weight.shape[1] * groups
    if bias is not None:
        _tensor(op, "bias", bias)
        if tuple(bias.shape) != (cout,):
            raise ValueError(f"{op}: bias shape {tuple(bias.shape)} != (out_channels,) = ({cout},)")
    base = tuple(
        (n - 1) * si - 2 * pi + di * (ki - 1) + 1
        for n, si, pi, di, ki in zip(x.shape[2:], s, p, d, k)
    )
    if output_size is not None:  # PyTorch's forward(input, output_size): the output padding
        size = list(output_size)[-nd:]
        if len(size) != nd or not all(_is_int(v) for v in size):
            raise ValueError(f"{op}: output_size must end with {nd} ints, got {output_size!r}")
        op_ = tuple(int(v) - b for v, b in zip(size, base))
        if any(v < 0 or v >= max(si, di) for v, si, di in zip(op_, s, d)):
            lo = base
            hi = tuple(b + max(si, di) - 1 for b, si, di in zip(base, s, d))
            raise ValueError(
                f"{op}: requested output size {tuple(size)} is not between {lo} and {hi} for "
                f"input {tuple(input.shape)}"
            )
    for v, si, di in zip(op_, s, d):
        if v >= max(si, di):
            raise ValueError(
                f"{op}: output_padding {op_} must be smaller than either stride {s} or dilation {d}"
            )
    out = tuple(b + o for b, o in zip(base, op_))
    if min(out) < 1 or 0 in k:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} with stride {s}, padding {p}, kernel {k}, dilation "
            f"{d} gives an empty output {out}"
        )
    extra = tuple(o // si for o, si in zip(op_, s))  # conv2d of the output: rows beyond x's
    if nd == 1:
        out, extra = (1, *out), (0, *extra)
        s, p, d = (1, *s), (0, *p), (1, *d)
    y = _ConvTransposeNd.apply(x, weight, bias, out, (s, p, d, groups), extra)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: _size_2_t = 1,
    padding: _size_2_t = 0,
    output_padding: _size_2_t = 0,
    groups: int = 1,
    dilation: _size_2_t = 1,
) -> Tensor:
    """2-D transposed convolution ("deconvolution", the up-sampling of U-Nets) of ``input``
    (N, Cin, H, W) or (Cin, H, W) with ``weight`` (Cin, Cout / groups, kH, kW) plus ``bias``
    (Cout,): the gradient of conv2d with respect to its input. Output size per axis
    ``(n - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1``, as PyTorch."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)  # fmt: skip


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """1-D transposed convolution of ``input`` (N, Cin, L) or (Cin, L) with ``weight``
    (Cin, Cout / groups, kL); the conv2d kernels with a height of 1."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)  # fmt: skip


# ---------------------------------------------------------------------------- pooling


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooled length (may be < 1)."""
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and out > 0 and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_kernel_stride(op: str, kernel_size: Any, stride: Any, n: int) -> tuple:
    """``n``-tuples ``kernel_size`` and ``stride`` (None or an empty sequence: the kernel)."""
    k = _tuple(op, "kernel_size", kernel_size, n, 1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return k, k
    return k, _tuple(op, "stride", stride, n, 1)


def _check_pool_padding(op: str, p: Tuple[int, ...], k: Tuple[int, ...]) -> None:
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{op}: padding {p} must be at most half of kernel_size {k}")


def _pool_args(
    op: str,
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple:
    k, s = _pool_kernel_stride(op, kernel_size, stride, 2)
    p = _tuple(op, "padding", padding, 2, 0)
    d = _tuple(op, "dilation", dilation, 2, 1)
    for name, v in (("kernel_size", k), ("stride", s), ("padding", p), ("dilation", d)):
        if max(v) > _MAX_POOL_ARG:
            raise ValueError(f"{op}: {name} {v} is too large (at most 2^31 - 1, as in PyTorch)")
    _check_pool_padding(op, p, k)
    shape = tuple(x.shape)
    out = tuple(_pool_out(n, *a, bool(ceil_mode)) for n, a in zip(shape[-2:], zip(k, s, p, d)))
    if min(shape[-2:]) < 1 or min(out) < 1:
        eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
        kind = "dilated kernel" if max(d) > 1 else "kernel"
        raise ValueError(
            f"{op}: input {shape} with padding {p} is smaller than the {kind} {eff} "
            f"(output size {out})"
        )
    return k, s, p, d


class _MaxPool2d(Function):
    # x: (N, C, H, W) -> y: (N, C, P, Q); the indices of the maxima go to ``out`` (and backward)
    @staticmethod
    def forward(
        ctx: Any, x: Any, k: tuple, s: tuple, p: tuple, d: tuple, ceil_mode: bool, out: list
    ) -> Any:
        y, idx = _kernel("max_pool2d_forward", x)(_dense(x), k, s, p, d, ceil_mode)
        ctx.idx, ctx.shape = idx, x.shape
        out.append(idx)
        return y

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        gx = _kernel("max_pool2d_backward", g)(_dense(g), ctx.idx, ctx.shape)
        return gx, None, None, None, None, None, None


def _pool_input(op: str, input: Tensor, spatial: int = 2) -> Tuple[Tensor, bool]:
    """A float ``input`` with ``spatial`` dimensions, batched: (batched input, was unbatched)."""
    _tensor(op, "input", input)
    _float(op, "input", input)
    unbatched = _as_batched(op, input, spatial)
    return (input.unsqueeze(0) if unbatched else input), unbatched


def _max_pool2d(
    op: str,
    input: Tensor,
    kernel_size: _size_2_t,
    stride: Optional[_size_2_t] = None,
    padding: _size_2_t = 0,
    dilation: _size_2_t = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    x, unbatched = _pool_input(op, input)
    k, s, p, d = _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    idx: list = []
    y = _MaxPool2d.apply(x, k, s, p, d, bool(ceil_mode), idx)
    if unbatched:
        y = y.squeeze(0)
    if not return_indices:
        return y
    return y, _new(idx[0][0] if unbatched else idx[0])


def max_pool2d(
    input: Tensor,
    kernel_size: _size_2_t,
    stride: Optional[_size_2_t] = None,
    padding: _size_2_t = 0,
    dilation: _size_2_t = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-D max pooling of ``input`` (N, C, H, W) or (C, H, W); ``stride`` defaults to
    ``kernel_size``. With ``return_indices`` also the flat index ``h * W + w`` of each maximum in
    its plane (int64), as PyTorch."""
    return _max_pool2d(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


class _AvgPool2d(Function):
    @staticmethod
    def forward(ctx: Any, x: Any, args: tuple) -> Any:
        ctx.shape, ctx.args = x.shape, args
        return _kernel("avg_pool2d_forward", x)(_dense(x), *args)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return _kernel("avg_pool2d_backward", g)(_dense(g), ctx.shape, *ctx.args), None


def _avg_pool2d(
    op: str,
    input: Tensor,
    kernel_size: _size_2_t,
    stride: Optional[_size_2_t] = None,
    padding: _size_2_t = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> Tensor:
    x, unbatched = _pool_input(op, input)
    k, s, p, _ = _pool_args(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not _is_int(divisor_override) or divisor_override <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive int, got {divisor_override!r}")
    if divisor_override is not None and divisor_override > _MAX_INT64:
        raise ValueError(
            f"{op}: divisor_override {divisor_override} does not fit in a 64-bit integer"
        )
    args = (k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)
    y = _AvgPool2d.apply(x, args)
    return y.squeeze(0) if unbatched else y


def avg_pool2d(
    input: Tensor,
    kernel_size: _size_2_t,
    stride: Optional[_size_2_t] = None,
    padding: _size_2_t = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> Tensor:
    """2-D average pooling; ``count_include_pad`` counts the zero padding in the divisor."""
    return _avg_pool2d(
        "avg_pool2d",
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


class _AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx: Any, x: Any, size: tuple) -> Any:
        ctx.shape = x.shape
        return _kernel("adaptive_avg_pool2d_forward", x)(_dense(x), size)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return _kernel("adaptive_avg_pool2d_backward", g)(_dense(g), ctx.shape), None


def _adaptive_size(op: str, output_size: Any, shape: tuple) -> Tuple[int, int]:
    if _is_int(output_size):
        vals: tuple = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        vals = tuple(output_size)
    else:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    out = []
    for v, n in zip(vals, shape[-2:]):
        if v is None:
            v = n
        if not _is_int(v) or v <= 0:
            raise ValueError(
                f"{op}: output_size must be positive ints or None, got {output_size!r}"
            )
        out.append(int(v))
    return out[0], out[1]


def _adaptive_avg_pool2d(op: str, input: Tensor, output_size: Any) -> Tensor:
    x, unbatched = _pool_input(op, input)
    size = _adaptive_size(op, output_size, tuple(x.shape))
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"{op}: input {tuple(input.shape)} has an empty spatial size")
    y = _AdaptiveAvgPool2d.apply(x, size)
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed ``output_size`` (int, pair, None = keep that dimension);
    window ``i`` of an axis of length n covers ``[floor(i n / out), ceil((i + 1) n / out))``."""
    return _adaptive_avg_pool2d("adaptive_avg_pool2d", input, output_size)


# ---------------------------------------------------------------------------- 1-D pooling
# (N, C, L) signals (ECG, EEG, spectra) pooled by the 2-D kernels over (N, C, 1, L).


def _pool1d_input(op: str, input: Tensor) -> Tuple[Tensor, bool]:
    x, unbatched = _pool_input(op, input, 1)
    return x.unsqueeze(2), unbatched


def _pool1d_output(y: Tensor, unbatched: bool) -> Tensor:
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def _pool1d_args(
    op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> Tuple[int, int, int, int]:
    (k,), (s,) = _pool_kernel_stride(op, kernel_size, stride, 1)
    p = _tuple(op, "padding", padding, 1, 0)[0]
    d = _tuple(op, "dilation", dilation, 1, 1)[0]
    if p > k // 2:
        raise ValueError(f"{op}: padding {p} must be at most half of kernel_size {k}")
    n = x.shape[-1]
    if n < 1 or _pool_out(n, k, s, p, d, bool(ceil_mode)) < 1:
        raise ValueError(
            f"{op}: input of length {n} with padding {p} is smaller than the kernel "
            f"{d * (k - 1) + 1} (input shape {tuple(x.squeeze(2).shape)})"
        )
    return k, s, p, d


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-D max pooling of ``input`` (N, C, L) or (C, L); ``stride`` defaults to ``kernel_size``.
    With ``return_indices`` also the position of each maximum along L (int64), as PyTorch."""
    op = "max_pool1d"
    x, unbatched = _pool1d_input(op, input)
    k, s, p, d = _pool1d_args(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    r = _max_pool2d(op, x, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return _pool1d_output(r[0], unbatched), _pool1d_output(r[1], unbatched)
    return _pool1d_output(r, unbatched)


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling; ``count_include_pad`` counts the zero padding in the divisor."""
    op = "avg_pool1d"
    x, unbatched = _pool1d_input(op, input)
    k, s, p, _ = _pool1d_args(op, x, kernel_size, stride, padding, 1, ceil_mode)
    y = _avg_pool2d(op, x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad, None)
    return _pool1d_output(y, unbatched)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to ``output_size`` positions (an int or a 1-tuple);
    window ``i`` covers ``[floor(i L / out), ceil((i + 1) L / out))``."""
    op = "adaptive_avg_pool1d"
    x, unbatched = _pool1d_input(op, input)
    out = _tuple(op, "output_size", output_size, 1, 1)[0]
    return _pool1d_output(_adaptive_avg_pool2d(op, x, (1, out)), unbatched)
