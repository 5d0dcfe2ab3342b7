"""``axonal.nn.functional``: stateless layers, activations and losses.

Activations are the op library's (re-exported here). ``linear``, ``dropout`` and every loss are
fused autograd Functions with a hand-written backward: one node in the graph each.

Losses take ``reduction='mean' | 'sum' | 'none'`` and raise ``ValueError`` naming the loss and the
shapes/values on bad input (mismatched shapes, class indices out of range, probabilities outside
[0, 1]).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .. import _cpu
from ..autograd.function import Function
from ..backend import cpu as _cpu_backend
from ..backend import kernels_for
from ..ops._util import xp_of
from ..random import _np_gen
from ..tensor import Tensor, _new, check_same_device
from .containers import flatten
from .utils.clip_grad import elastic_net_penalty, l1_penalty, l2_penalty

__all__ = [
    # layers
    "linear",
    "dropout",
    "flatten",
    "one_hot",
    # activations
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "softplus",
    "softmax",
    "log_softmax",
    # losses
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    # penalties
    "l1_penalty",
    "l2_penalty",
    "elastic_net_penalty",
]

_REDUCTIONS = ("mean", "sum", "none")
_GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- helpers


def _check_reduction(op: str, reduction: Any) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_dropout_p(op: str, p: Any) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p!r}")


def _tensor_arg(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be an axonal.Tensor, got {type(x).__name__}")
    return x


def _float_arg(op: str, name: str, x: Tensor) -> None:
    if np.dtype(x.dtype).kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point tensor, got dtype {x.dtype}")


def _array_or_none(x: Any, dtype: Any) -> Any:
    """The storage of an optional weight-like argument, cast to ``dtype`` (no autograd)."""
    if x is None:
        return None
    arr = x._data if isinstance(x, Tensor) else np.asarray(x)
    return arr.astype(dtype, copy=False)


def _reduce(l: Any, reduction: str, denom: Any = None) -> Any:
    """Reduce an elementwise loss; ``mean`` divides by ``denom`` (default: the element count)."""
    if reduction == "none":
        return l
    s = l.sum()
    if reduction == "sum":
        return s
    d = l.dtype.type(l.size) if denom is None else denom
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / d


def _expand_grad(g: Any, reduction: str, shape: tuple, denom: Any) -> Any:
    """The upstream gradient per element (shape ``shape``) for a reduced loss."""
    if reduction == "none":
        return g
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            g = g / denom
    return xp_of(g).broadcast_to(g, shape)


def _match_target(input: Tensor, target: Tensor) -> Tensor:
    """A target that needs a gradient is cast (differentiably) to the input's dtype."""
    if target.requires_grad and target.dtype != input.dtype:
        return target.to(input.dtype)
    return target


def _same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} != target shape {tuple(target.shape)}; "
            f"they must match (e.g. target.reshape{tuple(input.shape)})"
        )


# ---------------------------------------------------------------------------- activations
# The op library's implementations (one autograd Function each), re-exported.

from ..ops import (  # noqa: E402
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    pad,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)

# ---------------------------------------------------------------------------- linear


_F32, _F64 = _GEMM_DTYPES


def _canon(a: Any) -> Any:
    """A view whose dtype is NumPy's canonical float32/float64 object: the C++ binding compares
    dtypes by identity, and an unpickled array carries an equal but distinct dtype object."""
    d = a.dtype
    if d is _F32 or d is _F64:
        return a
    return a.view(_F32 if d == _F32 else _F64)


def _gemm(a: Any, b: Any, trans_a: bool = False, trans_b: bool = False) -> Any:
    if type(a) is np.ndarray and a.dtype in _GEMM_DTYPES:
        return _cpu.gemm(_canon(a), _canon(b), trans_a=trans_a, trans_b=trans_b)
    k = kernels_for(a)
    if k is not None and a.dtype in _GEMM_DTYPES and b.dtype == a.dtype and type(b) is type(a):
        return k.gemm(a, b, trans_a=trans_a, trans_b=trans_b)  # the CUDA GEMM, no transposed copy
    return (a.T if trans_a else a) @ (b.T if trans_b else b)


class _Linear(Function):
    # x: (..., in), w: (out, in), b: (out,) or None -> y: (..., out)
    @staticmethod
    def forward(ctx: Any, x: Any, w: Any, b: Any) -> Any:
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        lead = x.shape[:-1]
        x2 = x.reshape(math.prod(lead), x.shape[-1])
        y = _gemm(x2, w, trans_b=True)
        if b is not None:
            y += b
        return y.reshape(*lead, w.shape[0])

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = g.reshape(math.prod(g.shape[:-1]), w.shape[0])
        if type(g2) is np.ndarray and not g2.flags.c_contiguous and not g2.flags.f_contiguous:
            g2 = np.ascontiguousarray(g2)
        gx = gw = gb = None
        if need[0]:
            gx = _gemm(g2, w).reshape(x.shape)
        if need[1]:
            gw = _gemm(g2, x.reshape(math.prod(x.shape[:-1]), x.shape[-1]), trans_a=True)
        if ctx.has_bias and need[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``input @ weight.T + bias``: input ``(..., in)``, weight ``(out, in)``, bias ``(out,)``.

    One fused autograd node on the C++ GEMM (``trans_b``), no transposed copy of the weight.
    """
    _tensor_arg("linear", "input", input)
    _tensor_arg("linear", "weight", weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {tuple(weight.shape)}")
    if input.ndim == 0:
        raise ValueError("linear: input must have at least one dimension, got a 0-d tensor")
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input {tuple(input.shape)} @ weight.T {tuple(weight.shape)}: "
            f"in_features {input.shape[-1]} != {weight.shape[1]}"
        )
    if bias is not None:
        _tensor_arg("linear", "bias", bias)
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(
                f"linear: bias shape {tuple(bias.shape)} != (out_features,) = ({weight.shape[0]},)"
            )
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise TypeError(
            f"linear: dtypes differ: input {input.dtype}, weight {weight.dtype}"
            + (f", bias {bias.dtype}" if bias is not None else "")
            + " (convert the input with .to(dtype) or the model with .float() / .double())"
        )
    return _Linear.apply(input, weight, bias)


# ---------------------------------------------------------------------------- dropout


class _Dropout(Function):
    @staticmethod
    def forward(ctx: Any, x: Any, mask: Any) -> Any:
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g * ctx.mask, None


def dropout(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None
) -> Tensor:
    """Inverted dropout: zero elements with probability ``p`` and scale the rest by ``1/(1-p)``.

    Identity when ``training`` is False or ``p == 0``. Masks come from the library generator
    (``axonal.manual_seed``) unless ``generator`` is given. ``inplace`` is ignored.
    """
    _check_dropout_p("dropout", p)
    _tensor_arg("dropout", "input", input)
    if not training or p == 0:
        return input
    x = input._data
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    if p == 1:
        mask = np.zeros(x.shape, dtype=dtype)
    else:
        keep = _np_gen(generator).random(x.shape, dtype=np.float32) >= np.float32(p)
        mask = keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))
    if type(x) is not np.ndarray:  # device storage: upload the mask (asynchronously)
        from ..ops.creation import to_device_array

        mask = to_device_array(mask, input.device)
    return _Dropout.apply(input, mask)


# ---------------------------------------------------------------------------- one_hot


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``(..., ) int -> (..., num_classes) int64`` with a 1 at each index."""
    _tensor_arg("one_hot", "tensor", tensor)
    t = tensor._data
    if np.dtype(t.dtype).kind not in "iu":
        raise TypeError(f"one_hot: class values must be integers, got dtype {t.dtype}")
    xp = xp_of(t)
    if num_classes == -1:
        if t.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(t.max()) + 1
    if t.size and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise ValueError(
            f"one_hot: class values must be in [0, {num_classes}), got min {int(t.min())}, "
            f"max {int(t.max())}"
        )
    out = xp.zeros((*t.shape, num_classes), dtype=np.int64)
    xp.put_along_axis(out, t[..., None].astype(np.int64), 1, axis=-1)
    return _new(out)


# ---------------------------------------------------------------------------- regression losses


class _PointwiseLoss(Function):
    """Losses of ``d = input - target``: elementwise value and derivative, then the reduction."""

    @staticmethod
    def forward(ctx: Any, x: Any, y: Any, kind: str, param: float, reduction: str) -> Any:
        xp = xp_of(x)
        y = y.astype(x.dtype, copy=False)
        d = x - y
        dt = x.dtype.type
        if kind == "mse":
            l = d * d
            dl = d * dt(2)
        elif kind == "l1":
            l = xp.abs(d)
            dl = xp.sign(d)
        elif kind == "huber":
            a = xp.abs(d)
            small = a < param
            l = xp.where(small, dt(0.5) * d * d, dt(param) * (a - dt(0.5 * param)))
            dl = xp.clip(d, -param, param)
        else:  # smooth_l1
            a = xp.abs(d)
            if param == 0:
                l, dl = a, xp.sign(d)
            else:
                small = a < param
                l = xp.where(small, dt(0.5 / param) * d * d, a - dt(0.5 * param))
                dl = xp.where(small, d / dt(param), xp.sign(d))
        ctx.dl = dl
        ctx.reduction = reduction
        ctx.y_dtype = y.dtype
        return _reduce(l, reduction)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        dl = ctx.dl
        ge = _expand_grad(g, ctx.reduction, dl.shape, dl.size)
        gd = ge * dl
        need = ctx.needs_input_grad
        gx = gd if need[0] else None
        gy = None
        if need[1]:
            gy = -gd
        return gx, gy, None, None, None


def _pointwise(op: str, kind: str, input: Tensor, target: Tensor, param: float, reduction: str):
    _check_reduction(op, reduction)
    _tensor_arg(op, "input", input)
    _tensor_arg(op, "target", target)
    _float_arg(op, "input", input)
    _same_shape(op, input, target)
    check_same_device(op, input, target)
    target = _match_target(input, target)
    return _PointwiseLoss.apply(input, target, kind, float(param), reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(input - target)^2`` (shapes must match exactly)."""
    return _pointwise("mse_loss", "mse", input, target, 0.0, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|input - target|`` (shapes must match exactly)."""
    return _pointwise("l1_loss", "l1", input, target, 0.0, reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    """Huber loss: quadratic for ``|d| < delta``, linear beyond."""
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise("huber_loss", "huber", input, target, delta, reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """Smooth L1: ``0.5 d^2 / beta`` for ``|d| < beta``, ``|d| - 0.5 beta`` beyond."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise("smooth_l1_loss", "smooth_l1", input, target, beta, reduction)


# ---------------------------------------------------------------------------- classification


def _classes_last(x: Any) -> Any:
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim > 2:
        x = xp_of(x).moveaxis(x, 1, -1)
    return x.reshape(-1, x.shape[-1])


def _classes_back(g2: Any, shape: tuple) -> Any:
    """Inverse of ``_classes_last`` for an array with the input's ``shape``."""
    if len(shape) <= 2:
        return g2.reshape(shape)
    moved = (shape[0], *shape[2:], shape[1])
    return xp_of(g2).moveaxis(g2.reshape(moved), -1, 1)


def _log_softmax_rows(x2: Any) -> Any:
    if x2.shape[1] and x2.size:
        if type(x2) is np.ndarray:
            k = _cpu_backend if _cpu_backend.HAS_SOFTMAX else None
        else:
            k = kernels_for(x2)
        if k is not None and x2.dtype in _GEMM_DTYPES:
            return k.log_softmax_forward(x2, 1)
    xp = xp_of(x2)
    m = x2.max(axis=1, keepdims=True) if x2.shape[1] else xp.zeros((x2.shape[0], 1), x2.dtype)
    z = x2 - m
    return z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))


def _check_class_target(op: str, input: Tensor, target: Tensor, ignore_index: int) -> None:
    """Class-index target: integer dtype, shape = input shape without dim 1, values in range."""
    in_shape = tuple(input.shape)
    expected = () if len(in_shape) == 1 else (in_shape[0], *in_shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{op}: input shape {in_shape} expects a class-index target of shape {expected}, "
            f"got {tuple(target.shape)}"
        )
    t = target._data
    if t.size:
        c = in_shape[0] if len(in_shape) == 1 else in_shape[1]
        if type(t) is not np.ndarray:
            known = getattr(target, "_host_range", None)  # copied from the host: no sync
            if known is not None and known[0] == target._vc[0] and known[1] >= 0 and known[2] < c:
                return
            # device: one small read back, details only on error
            if not bool((((t < 0) | (t >= c)) & (t != ignore_index)).any()):
                return
            t = t.get()
        valid = t[t != ignore_index]
        if valid.size:
            lo, hi = int(valid.min()), int(valid.max())
            if lo < 0 or hi >= c:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"{op}: target class index {bad} is out of range for {c} classes "
                    f"(input shape {in_shape}; valid targets are 0..{c - 1}"
                    + (f" or ignore_index={ignore_index}" if ignore_index != -100 else "")
                    + ")"
                )


class _CrossEntropyIndex(Function):
    # x: (N, C, ...) logits, t: (N, ...) int -> loss
    @staticmethod
    def forward(ctx: Any, x: Any, t: Any, w: Any, ignore_index: int, reduction: str, eps: float):
        xp = xp_of(x)
        dt = x.dtype.type
        n_cls = x.shape[0] if x.ndim == 1 else x.shape[1]
        x2 = _classes_last(x)
        tf = t.reshape(-1).astype(np.int64, copy=False)
        logp = _log_softmax_rows(x2)
        k = kernels_for(logp) if logp.size else None
        ctx.fused = None
        if k is not None and logp.dtype in _GEMM_DTYPES:  # one kernel, ~25 launches less
            loss, aux = k.cross_entropy_forward(logp, tf, w, ignore_index, eps, reduction)
            ctx.fused, ctx.logp, ctx.tf, ctx.w, ctx.aux = k, logp, tf, w, aux
            ctx.ignore_index, ctx.eps, ctx.reduction = ignore_index, eps, reduction
            ctx.x_shape = x.shape
            return loss.reshape(t.shape) if reduction == "none" else loss
        valid = tf != ignore_index
        ts = xp.where(valid, tf, 0)
        rows = xp.arange(tf.shape[0])
        wt = w[ts] if w is not None else xp.ones(tf.shape[0], dtype=x.dtype)
        wt = xp.where(valid, wt, dt(0))
        # an ignored row is 0 whatever its logits (-inf there must not give 0 * inf, as in torch)
        l = -(dt(1 - eps) * wt) * xp.where(valid, logp[rows, ts], dt(0))
        if eps > 0:
            smooth = logp.sum(axis=1) if w is None else logp @ w
            l = l - dt(eps / n_cls) * smooth
        l = xp.where(valid, l, dt(0))
        denom = wt.sum()
        ctx.logp, ctx.ts, ctx.wt, ctx.valid = logp, ts, wt, valid
        ctx.w, ctx.eps, ctx.reduction, ctx.denom = w, eps, reduction, denom
        ctx.x_shape, ctx.n_cls = x.shape, n_cls
        if reduction == "none":
            return l.reshape(t.shape)
        return _reduce(l, reduction, denom)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        if ctx.fused is not None:
            grad = ctx.fused.cross_entropy_backward(
                g.reshape(-1) if ctx.reduction == "none" else g, ctx.logp, ctx.tf, ctx.w,
                ctx.ignore_index, ctx.eps, ctx.reduction, ctx.aux,
            )  # fmt: skip
            return _classes_back(grad, ctx.x_shape), None, None, None, None, None
        logp, ts, wt, valid = ctx.logp, ctx.ts, ctx.wt, ctx.valid
        xp = xp_of(logp)
        dt = logp.dtype.type
        eps, w, n = ctx.eps, ctx.w, ctx.n_cls
        m = logp.shape[0]
        ge = _expand_grad(
            g.reshape(-1) if ctx.reduction == "none" else g, ctx.reduction, (m,), ctx.denom
        )
        ge = xp.where(valid, ge, dt(0))  # ignored rows get 0 (even when the mean is 0/0 = nan)
        # d loss_i / d x_i = softmax_i * sum(q_i) - q_i with q_i the (smoothed, weighted) target
        coef = dt(1 - eps) * wt
        if eps > 0:
            wsum = dt(n) if w is None else w.sum()
            rowq = coef + dt(eps / n) * wsum * valid
        else:
            rowq = coef
        grad = xp.exp(logp)
        grad *= (rowq * ge)[:, None]
        rows = xp.arange(m)
        grad[rows, ts] -= coef * ge
        if eps > 0:
            wv = xp.ones(n, dtype=logp.dtype) if w is None else w
            grad -= (dt(eps / n) * valid * ge)[:, None] * wv[None, :]
        return _classes_back(grad, ctx.x_shape), None, None, None, None, None


class _CrossEntropyProb(Function):
    # x: (N, C, ...) logits, p: (N, C, ...) class probabilities -> loss
    @staticmethod
    def forward(ctx: Any, x: Any, p: Any, w: Any, reduction: str, eps: float) -> Any:
        dt = x.dtype.type
        n_cls = x.shape[0] if x.ndim == 1 else x.shape[1]
        x2 = _classes_last(x)
        p2 = _classes_last(p.astype(x.dtype, copy=False))
        if eps > 0:
            p2 = p2 * dt(1 - eps) + dt(eps / n_cls)
        q = p2 if w is None else p2 * w[None, :]
        logp = _log_softmax_rows(x2)
        l = -(q * logp).sum(axis=1)
        ctx.logp, ctx.q, ctx.w, ctx.eps = logp, q, w, eps
        ctx.reduction, ctx.denom = reduction, logp.shape[0]
        ctx.x_shape, ctx.p_dtype = x.shape, p.dtype
        if reduction == "none":
            out_shape = () if x.ndim == 1 else (x.shape[0], *x.shape[2:])
            return l.reshape(out_shape)
        return _reduce(l, reduction, ctx.denom)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        logp, q = ctx.logp, ctx.q
        xp = xp_of(logp)
        m = logp.shape[0]
        ge = _expand_grad(
            g.reshape(-1) if ctx.reduction == "none" else g, ctx.reduction, (m,), ctx.denom
        )
        need = ctx.needs_input_grad
        gx = gp = None
        if need[0]:
            gx = xp.exp(logp) * (q.sum(axis=1) * ge)[:, None] - q * ge[:, None]
            gx = _classes_back(gx, ctx.x_shape)
        if need[1]:
            gp = -logp * (ge * logp.dtype.type(1 - ctx.eps))[:, None]
            if ctx.w is not None:
                gp = gp * ctx.w[None, :]
            gp = _classes_back(gp, ctx.x_shape).astype(ctx.p_dtype, copy=False)
        return gx, gp, None, None, None


def _class_weight(op: str, weight: Any, n_cls: int, dtype: Any) -> Any:
    w = _array_or_none(weight, dtype)
    if w is not None and tuple(w.shape) != (n_cls,):
        raise ValueError(
            f"{op}: weight must have shape ({n_cls},) (one per class), got {tuple(w.shape)}"
        )
    return w


def _check_logits(op: str, input: Tensor) -> int:
    _tensor_arg(op, "input", input)
    _float_arg(op, "input", input)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must be (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    return input.shape[0] if input.ndim == 1 else input.shape[1]


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits ``input`` (N, C, ...) and ``target``.

    ``target``: class indices (N, ...) of an integer dtype, or class probabilities with the
    input's shape (float). Log-softmax is fused in (stable for any logit size); the backward is
    ``softmax - target`` (weighted and smoothed). ``mean`` divides by the summed weights of the
    non-ignored targets (index targets) or by N (probability targets), like PyTorch.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    n_cls = _check_logits(op, input)
    _tensor_arg(op, "target", target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    w = _class_weight(op, weight, n_cls, input.dtype)
    if np.dtype(target.dtype).kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(
                f"{op}: probability targets must have the input's shape {tuple(input.shape)}, "
                f"got {tuple(target.shape)} (class-index targets must be an integer tensor)"
            )
        return _CrossEntropyProb.apply(input, target, w, reduction, float(label_smoothing))
    if np.dtype(target.dtype).kind not in "iu":
        raise TypeError(
            f"{op}: target must be class indices (int) or probabilities (float), "
            f"got dtype {target.dtype}"
        )
    check_same_device(op, input, target, weight)
    _check_class_target(op, input, target, ignore_index)
    return _CrossEntropyIndex.apply(
        input, target._data, w, int(ignore_index), reduction, float(label_smoothing)
    )


class _NLL(Function):
    # x: (N, C, ...) log-probabilities, t: (N, ...) int -> loss
    @staticmethod
    def forward(ctx: Any, x: Any, t: Any, w: Any, ignore_index: int, reduction: str) -> Any:
        xp = xp_of(x)
        dt = x.dtype.type
        x2 = _classes_last(x)
        tf = t.reshape(-1).astype(np.int64, copy=False)
        valid = tf != ignore_index
        ts = xp.where(valid, tf, 0)
        wt = w[ts] if w is not None else xp.ones(tf.shape[0], dtype=x.dtype)
        wt = xp.where(valid, wt, dt(0))
        l = -wt * x2[xp.arange(tf.shape[0]), ts]
        ctx.ts, ctx.wt, ctx.valid, ctx.reduction, ctx.denom = ts, wt, valid, reduction, wt.sum()
        ctx.x_shape, ctx.x_dtype = x.shape, x.dtype
        if reduction == "none":
            return l.reshape(t.shape)
        return _reduce(l, reduction, ctx.denom)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        ts, wt = ctx.ts, ctx.wt
        xp = xp_of(wt)
        m = ts.shape[0]
        ge = _expand_grad(
            g.reshape(-1) if ctx.reduction == "none" else g, ctx.reduction, (m,), ctx.denom
        )
        ge = xp.where(ctx.valid, ge, wt.dtype.type(0))
        shape = ctx.x_shape
        n_cls = shape[0] if len(shape) == 1 else shape[1]
        grad = xp.zeros((m, n_cls), dtype=ctx.x_dtype)
        grad[xp.arange(m), ts] = -wt * ge
        return _classes_back(grad, shape), None, None, None, None


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: ``-weight[t] * input[n, t]`` for log-probabilities ``input``."""
    op = "nll_loss"
    _check_reduction(op, reduction)
    n_cls = _check_logits(op, input)
    _tensor_arg(op, "target", target)
    if np.dtype(target.dtype).kind not in "iu":
        raise TypeError(
            f"{op}: target must be class indices (an integer tensor), got dtype {target.dtype}"
        )
    w = _class_weight(op, weight, n_cls, input.dtype)
    check_same_device(op, input, target, weight)
    _check_class_target(op, input, target, ignore_index)
    return _NLL.apply(input, target._data, w, int(ignore_index), reduction)


# ---------------------------------------------------------------------------- binary


def _broadcast_weight(op: str, name: str, w: Any, shape: tuple) -> Any:
    if w is None:
        return None
    try:
        np.broadcast_shapes(tuple(w.shape), shape)
    except ValueError:
        raise ValueError(
            f"{op}: {name} of shape {tuple(w.shape)} cannot broadcast to the input shape {shape}"
        ) from None
    if np.broadcast_shapes(tuple(w.shape), shape) != shape:
        raise ValueError(
            f"{op}: {name} of shape {tuple(w.shape)} would enlarge the input shape {shape}"
        )
    return w


class _BCE(Function):
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any, w: Any, reduction: str) -> Any:
        xp = xp_of(x)
        dt = x.dtype.type
        y = y.astype(x.dtype, copy=False)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), dt(-100))
            log_1mx = xp.maximum(xp.log1p(-x), dt(-100))
        l = -(y * log_x + (dt(1) - y) * log_1mx)
        if w is not None:
            l = l * w
        ctx.save_for_backward(x, y)
        ctx.log_x, ctx.log_1mx, ctx.w, ctx.reduction = log_x, log_1mx, w, reduction
        ctx.y_dtype = y.dtype
        return _reduce(l, reduction)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        x, y = ctx.saved_tensors
        xp = xp_of(x)
        dt = x.dtype.type
        ge = _expand_grad(g, ctx.reduction, x.shape, x.size)
        if ctx.w is not None:
            ge = ge * ctx.w
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            # torch divides by max(x (1 - x), EPSILON) with EPSILON = 1e-12 as a float32 constant
            gx = ge * (x - y) / xp.maximum((dt(1) - x) * x, dt(np.float32(1e-12)))
        if need[1]:
            gy = -ge * (ctx.log_x - ctx.log_1mx)
        return gx, gy, None, None


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Optional[Tensor] = None, reduction: str = "mean"
) -> Tensor:
    """``-(t log p + (1 - t) log(1 - p))`` for probabilities ``p``; logs clamped at -100."""
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    _tensor_arg(op, "input", input)
    _tensor_arg(op, "target", target)
    _float_arg(op, "input", input)
    _same_shape(op, input, target)
    check_same_device(op, input, target, weight)
    x = input._data
    if type(x) is not np.ndarray:  # device: one read back, the values only on error
        xp = xp_of(x)
        x = x.get() if x.size and bool(((x < 0) | (x > 1) | xp.isnan(x)).any()) else x[:0]
    if x.size and (float(x.min()) < 0 or float(x.max()) > 1 or bool(xp_of(x).isnan(x).any())):
        raise ValueError(
            f"{op}: input values must be probabilities in [0, 1], got min {float(x.min())}, "
            f"max {float(x.max())} (use binary_cross_entropy_with_logits for raw scores)"
        )
    w = _broadcast_weight(op, "weight", _array_or_none(weight, input.dtype), tuple(input.shape))
    target = _match_target(input, target)
    return _BCE.apply(input, target, w, reduction)


class _BCEWithLogits(Function):
    @staticmethod
    def forward(ctx: Any, x: Any, y: Any, w: Any, pw: Any, reduction: str) -> Any:
        xp = xp_of(x)
        dt = x.dtype.type
        y = y.astype(x.dtype, copy=False)
        e = xp.exp(-xp.abs(x))
        sp_neg = xp.log1p(e) + xp.maximum(-x, dt(0))  # softplus(-x) = -log(sigmoid(x))
        if pw is None:
            l = (dt(1) - y) * x + sp_neg
        else:
            l = (dt(1) - y) * x + (dt(1) + (pw - dt(1)) * y) * sp_neg
        if w is not None:
            l = l * w
        ctx.save_for_backward(x, y)
        ctx.e, ctx.sp_neg, ctx.w, ctx.pw, ctx.reduction = e, sp_neg, w, pw, reduction
        return _reduce(l, reduction)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        x, y = ctx.saved_tensors
        xp = xp_of(x)
        dt = x.dtype.type
        e, pw = ctx.e, ctx.pw
        ge = _expand_grad(g, ctx.reduction, x.shape, x.size)
        if ctx.w is not None:
            ge = ge * ctx.w
        need = ctx.needs_input_grad
        gx = gy = None
        if need[0]:
            sig_neg = xp.where(x >= 0, e / (dt(1) + e), dt(1) / (dt(1) + e))  # sigmoid(-x)
            if pw is None:
                gx = ge * (dt(1) - y - sig_neg)
            else:
                gx = ge * (dt(1) - y - (dt(1) + (pw - dt(1)) * y) * sig_neg)
        if need[1]:
            gy = -x if pw is None else (pw - dt(1)) * ctx.sp_neg - x
            gy = ge * gy
        return gx, gy, None, None, None


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    reduction: str = "mean",
    pos_weight: Optional[Tensor] = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy, stable for any logit: ``(1 - t) x + lw * softplus(-x)``
    with ``lw = 1 + (pos_weight - 1) t``.

    ``pos_weight`` broadcasts against the input (usually one value per class, last dim): use
    ``n_negative / n_positive`` to balance rare positive labels. ``weight`` rescales elements.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    _tensor_arg(op, "input", input)
    _tensor_arg(op, "target", target)
    _float_arg(op, "input", input)
    _same_shape(op, input, target)
    check_same_device(op, input, target, weight, pos_weight)
    shape = tuple(input.shape)
    w = _broadcast_weight(op, "weight", _array_or_none(weight, input.dtype), shape)
    pw = _broadcast_weight(op, "pos_weight", _array_or_none(pos_weight, input.dtype), shape)
    target = _match_target(input, target)
    return _BCEWithLogits.apply(input, target, w, pw, reduction)


# convolution, pooling, normalisation, channel dropout (fused Functions in functional_conv.py)
from .attention import scaled_dot_product_attention  # noqa: E402
from .functional_conv import *  # noqa: E402, F403
from .functional_conv import __all__ as _conv_all  # noqa: E402
from .functional_embedding import embedding  # noqa: E402
from .functional_resample import (  # noqa: E402
    interpolate,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)

__all__ += _conv_all + ["scaled_dot_product_attention", "embedding"]
from .functional_3d import adaptive_avg_pool3d, avg_pool3d, conv3d, max_pool3d  # noqa: E402

__all__ += ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest", "pad"]
__all__ += ["conv3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d"]
from .functional_activation import *  # noqa: E402, F403
from .functional_activation import __all__ as _act_all  # noqa: E402

__all__ += _act_all

# more losses and the distance helpers (compositions of Tensor ops)
from .functional_loss_extra import *  # noqa: E402, F403
from .functional_loss_extra import __all__ as _loss_extra_all  # noqa: E402

__all__ += _loss_extra_all
