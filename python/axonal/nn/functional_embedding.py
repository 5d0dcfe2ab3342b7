"""``embedding``: rows of a weight matrix looked up by integer indices (PyTorch's semantics)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..ops._util import xp_of
from ..ops.indexing import _check_range, _scatter
from ..tensor import Tensor, check_same_device

__all__ = ["embedding"]


class _Embedding(Function):
    """(weight (num, dim), indices int (...)) -> weight[indices] (..., dim); the backward adds
    each output row's gradient into its weight row (rows at padding_idx get none; with
    scale_grad_by_freq each is divided by how often its index occurs in this call)."""

    @staticmethod
    def forward(ctx: Any, w: Any, idx: Any, padding_idx: Optional[int], by_freq: bool) -> Any:
        ctx.idx, ctx.shape, ctx.padding_idx, ctx.by_freq = idx, w.shape, padding_idx, by_freq
        return xp_of(w).take(w, idx, axis=0)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        xp = xp_of(g)
        num, dim = ctx.shape
        flat = ctx.idx.reshape(-1)
        g2 = g.reshape(-1, dim)
        if ctx.padding_idx is not None or ctx.by_freq:
            scale = xp.ones(flat.shape[0], dtype=g.dtype)
            if ctx.by_freq:
                counts = xp.bincount(flat, minlength=num)
                scale = scale / counts[flat].astype(g.dtype)
            if ctx.padding_idx is not None:
                scale = xp.where(flat == ctx.padding_idx, xp.zeros_like(scale), scale)
            g2 = g2 * scale[:, None]
        return _scatter(g2, (num, dim), flat, False), None, None, None


def _renorm_(weight: Tensor, idx: Any, max_norm: float, norm_type: float) -> None:
    """PyTorch's max_norm: the rows of weight that idx looks up, in place and outside autograd,
    scaled to norm max_norm where their norm_type-norm exceeds it."""
    w = weight._data
    xp = xp_of(w)
    rows = xp.unique(idx.reshape(-1))
    sub = w[rows]
    if norm_type == float("inf"):
        norms = xp.abs(sub).max(axis=1)
    else:
        norms = (xp.abs(sub) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    with no_grad():
        w[rows] = sub * scale[:, None]
    weight._vc[0] += 1  # an in-place change: graphs that saved the old rows notice


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: Optional[int] = None,
    max_norm: Optional[float] = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """``weight[input]``: input an integer tensor of any shape, weight (num_embeddings, dim);
    the result has shape ``input.shape + (dim,)``. ``padding_idx``: that row gets no gradient.
    ``max_norm``: the looked-up rows are first renormalised in place to at most that
    ``norm_type``-norm. ``scale_grad_by_freq``: gradients divided by each index's count in the
    call. ``sparse`` gradients are not supported (dense ones are computed)."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"embedding: {name} must be a Tensor, got {type(t).__name__}")
    check_same_device("embedding", input, weight)
    if weight.dim() != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape "
                         f"{tuple(weight.shape)}")  # fmt: skip
    idx = input._data
    if np.dtype(idx.dtype).kind not in "iu":
        raise RuntimeError(
            f"embedding: indices must be an integer tensor (Long or Int), got {idx.dtype}"
        )
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported; use sparse=False")
    num = weight.shape[0]
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if not -num <= padding_idx < num:
            raise ValueError(
                f"embedding: padding_idx must be within num_embeddings ({num}), got {padding_idx}"
            )
        padding_idx %= num
    _check_range("embedding", idx, 0, num)
    if max_norm is not None:
        _renorm_(weight, idx, float(max_norm), float(norm_type))
    return _Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))
