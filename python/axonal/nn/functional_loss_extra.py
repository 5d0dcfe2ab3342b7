"""More losses and distance helpers for ``axonal.nn.functional`` (PyTorch names and semantics).

Each one is a composition of differentiable Tensor ops (gradients come from autograd), so it runs
on NumPy ("cpu") and CuPy ("cuda") storage alike and keeps the input's floating dtype. Losses take
``reduction='mean' | 'sum' | 'none'`` (``kl_div`` also ``'batchmean'``). Bad arguments raise the
exception type PyTorch raises, with a message naming the loss.

Numerics: ``soft_margin_loss`` and ``multilabel_soft_margin_loss`` use a stable softplus
``log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))`` (finite for any logit, where PyTorch's
``soft_margin_loss`` overflows to inf); ``kl_div`` uses ``xlogy(t, t) = 0`` at ``t = 0``;
``poisson_nll_loss(full=True)`` never evaluates ``log`` at a target <= 1.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Optional, Tuple, Union

import numpy as np

from ..autograd.function import Function
from ..ops import arange as _arange
from ..ops import minimum as _minimum
from ..ops import softplus as _softplus
from ..ops import where as _where
from ..ops._util import norm_dim, xp_of
from ..tensor import Tensor, check_same_device
from .functional import _check_reduction, _float_arg, _tensor_arg

__all__ = [
    "kl_div",
    "gaussian_nll_loss",
    "poisson_nll_loss",
    "cosine_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "multi_margin_loss",
    "cosine_similarity",
    "pairwise_distance",
    "normalize",
]

_INF = float("inf")
_COSINE_EMBEDDING_EPS = 1e-12  # PyTorch's EPSILON in cosine_embedding_loss
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


# ---------------------------------------------------------------------------- helpers


class _ClampMinST(Function):
    """``max(a, lo)`` whose gradient passes straight through (identity), also where clamped.

    PyTorch clamps ``var`` in ``gaussian_nll_loss`` and the norms in ``cosine_similarity`` in
    place under ``no_grad``: the values are clamped, the gradient is not masked.
    """

    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, lo: float) -> Any:
        return xp_of(a).maximum(a, lo)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        return g, None


def _float_input(op: str, name: str, x: Any) -> Tensor:
    _tensor_arg(op, name, x)
    _float_arg(op, name, x)
    return x


def _like(x: Tensor, like: Tensor) -> Tensor:
    """An integer/bool tensor (e.g. a +1/-1 target) cast to ``like``'s floating dtype, as
    PyTorch's type promotion does (NumPy would promote int64 with float32 to float64)."""
    if np.dtype(x.dtype).kind not in "fc":
        return x.to(like.dtype)
    return x


def _broadcast_shape(op: str, names: Tuple[str, ...], *tensors: Tensor) -> tuple:
    shapes = [tuple(t.shape) for t in tensors]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        desc = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise RuntimeError(f"{op}: shapes cannot broadcast together: {desc}") from None


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean()


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _xlogy_self(t: Tensor) -> Tensor:
    """``xlogy(t, t)``: ``t log t``, 0 at ``t == 0`` (with a finite gradient there), NaN for
    ``t < 0`` or NaN, as ``torch.xlogy``."""
    zero = t == 0
    safe = _where(zero, 1, t)
    return _where(zero, 0, t * safe.log())


def _check_index_range(op: str, target: Tensor, n: int) -> None:
    """Class indices in ``[0, n)`` (one device read back; the values only on error)."""
    t = target._data
    if not t.size:
        return
    if type(t) is not np.ndarray:
        if not bool(((t < 0) | (t >= n)).any()):
            return
        t = t.get()
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        raise RuntimeError(
            f"{op}: target out of range: class index {bad} for {n} classes "
            f"(valid targets are 0..{n - 1})"
        )


# ---------------------------------------------------------------------------- distances


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension of the broadcast shape.

    ``p`` may be any real (0 counts the non-zero entries, with a zero gradient; inf is the max
    norm). ``keepdim`` keeps the reduced dimension with size 1.
    """
    op = "pairwise_distance"
    _float_input(op, "x1", x1)
    _float_input(op, "x2", x2)
    check_same_device(op, x1, x2)
    _broadcast_shape(op, ("x1", "x2"), x1, x2)
    inner = max(x1.ndim, x2.ndim) - 1
    diff = x1 - x2 + eps
    if p == 0:  # a count (differentiable, zero gradient), like torch's norm with p=0
        return diff.abs().sign().sum(dim=inner, keepdim=keepdim)
    return diff.norm(p, dim=inner, keepdim=keepdim)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``<x1 / max(||x1||, eps), x2 / max(||x2||, eps)>`` along ``dim`` of the broadcast shape.

    Like PyTorch, each vector is normalised first (the result stays in [-1, 1]) and the norm is
    clamped at ``eps`` without masking its gradient: a zero vector gives similarity 0.
    """
    op = "cosine_similarity"
    _tensor_arg(op, "x1", x1)
    _tensor_arg(op, "x2", x2)
    f1, f2 = np.dtype(x1.dtype).kind == "f", np.dtype(x2.dtype).kind == "f"
    if not (f1 or f2):
        raise TypeError(
            f"{op}: expected a floating-point input, got dtypes {x1.dtype} and {x2.dtype}"
        )
    x1 = x1 if f1 else x1.to(x2.dtype)
    x2 = x2 if f2 else x2.to(x1.dtype)
    check_same_device(op, x1, x2)
    shape = _broadcast_shape(op, ("x1", "x2"), x1, x2)
    d = norm_dim(dim, len(shape), op)
    if tuple(x1.shape) != shape:
        x1 = x1.expand(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.expand(shape)
    n1 = _ClampMinST.apply(x1.norm(2, dim=d, keepdim=True), eps)
    n2 = _ClampMinST.apply(x2.norm(2, dim=d, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim=d)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim`` (unit vectors; a zero vector stays 0)."""
    op = "normalize"
    _float_input(op, "input", input)
    d = norm_dim(dim, input.ndim, op)
    return input / input.norm(p, dim=d, keepdim=True).clamp(min=eps)


# ---------------------------------------------------------------------------- distributions

_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """Kullback-Leibler divergence with ``input`` given as log-probabilities.

    Pointwise ``target * (log(target) - input)`` (0 where ``target == 0``), or with
    ``log_target=True`` ``exp(target) * (target - input)``. ``'batchmean'`` divides the sum by
    ``input.size(0)`` (the KL divergence per sample); ``'mean'`` divides by the element count and
    warns, as PyTorch does.
    """
    op = "kl_div"
    if reduction not in _KL_REDUCTIONS:
        raise ValueError(
            f"{op}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}"
        )
    _float_input(op, "input", input)
    _tensor_arg(op, "target", target)
    target = _like(target, input)
    check_same_device(op, input, target)
    _broadcast_shape(op, ("input", "target"), input, target)
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction 'mean' divides the total loss by both the batch size and the "
            "support size; 'batchmean' divides only by the batch size, and aligns with the KL "
            "div math definition.",
            UserWarning,
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogy_self(target) - target * input
    if reduction == "batchmean":
        s = loss.sum()
        if input.ndim == 0:
            return s
        with np.errstate(divide="ignore", invalid="ignore"):  # an empty batch: nan, like torch
            return s / input.shape[0]
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Union[Tensor, float],
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Gaussian negative log-likelihood ``0.5 (log(var) + (input - target)^2 / var)``
    (+ ``0.5 log(2 pi)`` when ``full``), for predicted mean ``input`` and variance ``var``.

    ``var`` has the input's shape, or one dimension fewer (one variance shared over the last
    dimension), or the input's dimensions with exactly one of them of size 1, or is a float.
    Negative variances raise ValueError; ``var`` is clamped at ``eps`` for stability without
    masking its gradient (as in PyTorch).
    """
    op = "gaussian_nll_loss"
    _float_input(op, "input", input)
    _tensor_arg(op, "target", target)
    target = _like(target, input)
    if _is_number(var):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries (got {var})")
        var = input.new_full(tuple(input.shape), float(var))
    elif isinstance(var, Tensor):
        var = _like(var, input)
        v = var._data  # one device read back where var lives on a GPU
        if v.size and bool((v < 0).any()):
            raise ValueError(f"{op}: var has negative entry/entries")
    else:
        raise TypeError(f"{op}: var must be an axonal.Tensor or a float, got {type(var).__name__}")
    in_shape, var_shape = tuple(input.shape), tuple(var.shape)
    if var_shape != in_shape:
        if in_shape[:-1] == var_shape:  # homoscedastic: one variance per row of the last dim
            var = var.unsqueeze(-1)
        elif not (
            len(in_shape) == len(var_shape)
            and sum(y for x, y in zip(in_shape, var_shape) if x != y) == 1
        ):
            raise ValueError(
                f"{op}: var is of incorrect size: var {var_shape} for input {in_shape} (expected "
                f"{in_shape}, {in_shape[:-1]}, or {in_shape} with one dimension of size 1)"
            )
    _check_reduction(op, reduction)
    check_same_device(op, input, target, var)
    _broadcast_shape(op, ("input", "target", "var"), input, target, var)
    var = _ClampMinST.apply(var, eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + _HALF_LOG_2PI
    return _reduce(loss, reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood of counts ``target`` with rate ``exp(input)``
    (``log_input=True``: ``exp(input) - target * input``) or rate ``input``
    (``input - target * log(input + eps)``).

    ``full`` adds the Stirling approximation of ``log(target!)``,
    ``target log(target) - target + 0.5 log(2 pi target)``, for targets > 1.
    """
    op = "poisson_nll_loss"
    _check_reduction(op, reduction)
    _float_input(op, "input", input)
    _tensor_arg(op, "target", target)
    target = _like(target, input)
    check_same_device(op, input, target)
    _broadcast_shape(op, ("input", "target"), input, target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        small = target <= 1
        t = _where(small, 1, target)  # log is never taken at a target <= 1 (masked anyway)
        stirling = t * t.log() - t + 0.5 * (t * (2 * math.pi)).log()
        loss = loss + _where(small, 0, stirling)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------------- margin / embedding


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where
    ``target == -1`` (0 for other target values).

    Inputs ``(N, D)`` with target ``(N,)``, or ``(D,)`` with a 0-d target. The cosine is
    ``<x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))`` (0 for a zero vector), as in PyTorch.
    """
    op = "cosine_embedding_loss"
    _check_reduction(op, reduction)
    _float_input(op, "input1", input1)
    _float_input(op, "input2", input2)
    _tensor_arg(op, "target", target)
    check_same_device(op, input1, input2, target)
    tdim = target.ndim
    if tdim not in (0, 1):
        raise RuntimeError(
            f"{op}: 0D or 1D target tensor expected, multi-target not supported "
            f"(got target shape {tuple(target.shape)})"
        )
    want = 2 if tdim == 1 else 1
    if input1.ndim != want or input2.ndim != want:
        raise RuntimeError(
            f"{op}: {tdim}D target tensor expects {want}D input tensors, but found inputs with "
            f"sizes {tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    _broadcast_shape(op, ("input1", "input2"), input1, input2)
    e = _COSINE_EMBEDDING_EPS
    prod = (input1 * input2).sum(dim=tdim)
    mag1 = (input1 * input1).sum(dim=tdim) + e
    mag2 = (input2 * input2).sum(dim=tdim) + e
    cos = prod / (mag1 * mag2).sqrt()
    _broadcast_shape(op, ("cosine", "target"), cos, target)
    pos = 1 - cos
    neg = (cos - margin).clamp(min=0)
    return _reduce(_where(target == 1, pos, 0) + _where(target == -1, neg, 0), reduction)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``: target 1 ranks ``input1`` higher,
    -1 ranks ``input2`` higher. The three tensors must have the same number of dimensions."""
    op = "margin_ranking_loss"
    _check_reduction(op, reduction)
    _float_input(op, "input1", input1)
    _float_input(op, "input2", input2)
    _tensor_arg(op, "target", target)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(
            f"{op}: all input tensors should have the same number of dimensions, but got "
            f"sizes input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, "
            f"target: {tuple(target.shape)}"
        )
    target = _like(target, input1)
    check_same_device(op, input1, input2, target)
    _broadcast_shape(op, ("input1", "input2", "target"), input1, input2, target)
    return _reduce(((-target) * (input1 - input2) + margin).clamp(min=0), reduction)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with
    ``d = pairwise_distance(., ., p, eps)``; ``swap`` uses ``min(d(a, n), d(p, n))`` as the
    negative distance (the distance swap of Balntas et al.)."""
    op = "triplet_margin_loss"
    _check_reduction(op, reduction)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _float_input(op, "anchor", anchor)
    _float_input(op, "positive", positive)
    _float_input(op, "negative", negative)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(
            f"{op}: the anchor, positive, and negative tensors are expected to have the same "
            f"number of dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, "
            f"and negative {negative.ndim}D inputs"
        )
    check_same_device(op, anchor, positive, negative)
    _broadcast_shape(op, ("anchor", "positive", "negative"), anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos + margin - d_neg).clamp(min=0), reduction)


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """``input`` where ``target == 1``, ``max(0, margin - input)`` where ``target == -1``
    (``input`` is usually a distance; other target values get both terms, as in PyTorch)."""
    op = "hinge_embedding_loss"
    _check_reduction(op, reduction)
    _float_input(op, "input", input)
    _tensor_arg(op, "target", target)
    check_same_device(op, input, target)
    _broadcast_shape(op, ("input", "target"), input, target)
    margin_clamp = (margin - input).clamp(min=0)
    loss = _where(target != 1, margin_clamp, 0) + _where(target != -1, input, 0)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-target * input))`` for targets +1/-1, computed
    stably (finite for any ``input``). ``target`` must broadcast to the input's shape."""
    op = "soft_margin_loss"
    _check_reduction(op, reduction)
    _float_input(op, "input", input)
    _tensor_arg(op, "target", target)
    target = _like(target, input)
    check_same_device(op, input, target)
    shape = _broadcast_shape(op, ("input", "target"), input, target)
    if shape != tuple(input.shape):
        raise RuntimeError(
            f"{op}: target of shape {tuple(target.shape)} would enlarge the input shape "
            f"{tuple(input.shape)} (it must broadcast to it)"
        )
    return _reduce(_softplus((-input) * target, 1.0, _INF), reduction)


def multilabel_soft_margin_loss(
    input: Tensor, target: Tensor, weight: Optional[Tensor] = None, reduction: str = "mean"
) -> Tensor:
    """Multi-label one-versus-all logistic loss over the last (class) dimension ``C``:
    ``mean_c -(t log sigmoid(x) + (1 - t) log sigmoid(-x)) * weight``, per sample.

    ``target`` holds 0/1 labels with the input's shape; ``weight`` (e.g. ``(C,)``) rescales
    classes. ``'none'`` gives one loss per sample. Stable for any logit.
    """
    op = "multilabel_soft_margin_loss"
    _check_reduction(op, reduction)
    _float_input(op, "input", input)
    _tensor_arg(op, "target", target)
    if input.ndim == 0:
        raise IndexError(f"{op}: input must have a class dimension, got a 0-d tensor")
    target = _like(target, input)
    names, tensors = ("input", "target"), (input, target)
    if weight is not None:
        _tensor_arg(op, "weight", weight)
        weight = _like(weight, input)
        names, tensors = names + ("weight",), tensors + (weight,)
    check_same_device(op, *tensors)
    _broadcast_shape(op, names, *tensors)
    # -log sigmoid(x) = softplus(-x), -log sigmoid(-x) = softplus(x): stable everywhere
    loss = target * _softplus(-input, 1.0, _INF) + (1 - target) * _softplus(input, 1.0, _INF)
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(dim=class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Optional[Tensor] = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss: per sample ``sum_{j != y} max(0, margin - x[y] + x[j])^p
    * weight[y] / C`` for scores ``input`` ``(N, C)`` (or ``(C,)``) and class indices ``target``
    ``(N,)`` (or 0-d / ``(1,)``); ``p`` is 1 or 2."""
    op = "multi_margin_loss"
    _check_reduction(op, reduction)
    if p != 1 and p != 2:
        raise ValueError(f"{op}: only p == 1 and p == 2 supported, got p={p}")
    if weight is not None:
        _tensor_arg(op, "weight", weight)
        if weight.ndim != 1:
            raise ValueError(
                f"{op}: weight must be one-dimensional, got shape {tuple(weight.shape)}"
            )
    _float_input(op, "input", input)
    _tensor_arg(op, "target", target)
    nd = input.ndim
    if not ((nd == 2 and input.shape[1] != 0) or (nd == 1 and input.shape[0] != 0) or nd == 0):
        raise RuntimeError(
            f"{op}: expected a non-empty vector (C,) or matrix (N, C) with optional 0-dim batch "
            f"size, but got input of shape {tuple(input.shape)}"
        )
    nframe, n_cls = (1, 1 if nd == 0 else input.shape[0]) if nd <= 1 else tuple(input.shape)
    if np.dtype(target.dtype).kind not in "iu":
        raise RuntimeError(
            f"{op}: target must be class indices (an integer tensor), got dtype {target.dtype}"
        )
    if target.ndim > 1 or target.numel() != nframe:
        raise RuntimeError(
            f"{op}: inconsistent target size: expected {nframe} class index(es) (shape "
            f"({nframe},)) for input of shape {tuple(input.shape)}, but got {tuple(target.shape)}"
        )
    if weight is not None and weight.numel() != n_cls:
        raise RuntimeError(
            f"{op}: inconsistent weight size: expected {n_cls} (one per class), but got "
            f"{tuple(weight.shape)}"
        )
    check_same_device(op, input, target, weight)
    _check_index_range(op, target, n_cls)
    x = input.reshape(nframe, n_cls)
    t = target.reshape(nframe, 1)
    if np.dtype(t.dtype) != np.int64:
        t = t.to(np.int64)
    z = (margin - x.gather(1, t)) + x  # PyTorch's order: margin - x[y] + x[j]
    h = z.relu()  # only z > 0 counts (zero gradient at z == 0, as in PyTorch)
    if p == 2:
        h = h * h
    others = _arange(n_cls, device=input.device).reshape(1, n_cls) != t
    h = _where(others, h, 0)
    if weight is not None:
        w = weight if weight.dtype == input.dtype else weight.to(input.dtype)
        h = h * w.index_select(0, t.reshape(nframe)).reshape(nframe, 1)
    loss = h.sum(dim=1) / n_cls
    if reduction == "none":
        return loss if target.ndim > 0 else loss.reshape(())
    return _reduce(loss, reduction)
