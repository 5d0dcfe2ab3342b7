"""Attention: ``scaled_dot_product_attention`` and ``MultiheadAttention`` with PyTorch's names,
shapes, mask conventions and parameters (``in_proj_weight`` (3E, E), ``in_proj_bias``,
``out_proj``; or ``q_proj_weight`` / ``k_proj_weight`` / ``v_proj_weight`` when kdim / vdim
differ from embed_dim). Built on the autograd ops (batched GEMMs and the C++ softmax).

Masks, as in PyTorch: for ``scaled_dot_product_attention`` a boolean ``attn_mask`` is True where
a query may attend; for ``MultiheadAttention`` boolean ``attn_mask`` / ``key_padding_mask`` are
True where attention is *not* allowed. Float masks are added to the scores in both.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .. import _cpu, ops
from ..autograd.function import Function
from ..ops._util import xp_of
from ..ops.creation import empty
from ..tensor import Tensor, _new
from . import functional as F
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "scaled_dot_product_attention"]


def _raw(m: Any) -> Any:
    return m._data if isinstance(m, Tensor) else m


def _additive(op: str, mask: Any, dtype: Any, like: Any, allowed_when_true: bool) -> Any:
    """A float mask to add to the scores (0 where allowed, -inf where not) from a boolean or
    float mask (array or Tensor)."""
    m = _raw(mask)
    xp = xp_of(like)
    m = xp.asarray(m)
    if m.dtype == np.bool_:
        blocked = ~m if allowed_when_true else m
        return xp.where(blocked, -np.inf, 0.0).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"{op}: a mask must be boolean or floating point, got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


def _causal(L: int, S: int, dtype: Any, like: Any) -> Any:
    xp = xp_of(like)
    return xp.where(xp.tril(xp.ones((L, S), dtype=bool)), 0.0, -np.inf).astype(dtype)


_HAS_KERNEL = hasattr(_cpu, "attention_forward")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


class _FusedAttention(Function):
    """softmax(scale q k^T + mask) v on NumPy arrays through csrc/cpu/attention.cpp, without the
    (L, S) attention matrix in memory (forward or saved for the backward). q (..., L, E),
    k (..., S, E), v (..., S, Ev) with the same leading dimensions; mask: None, an additive
    (L, S) array, or (B, L, S) with B the product of the leading dimensions."""

    @staticmethod
    def forward(ctx: Any, q: Any, k: Any, v: Any, mask: Any, causal: bool, scale: float) -> Any:
        lead = q.shape[:-2]
        L, E, S, Ev = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
        B = math.prod(lead)  # explicit: reshape(-1, ...) is ambiguous for empty arrays
        q3, k3, v3 = (a.reshape(B, *a.shape[-2:]) for a in (q, k, v))
        o = _cpu.attention_forward(q3, k3, v3, mask, causal, scale)
        ctx.save_for_backward(q3, k3, v3, o)
        ctx.args = (mask, causal, scale, lead, (L, E, S, Ev))
        return o.reshape(*lead, L, Ev)

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        q3, k3, v3, o = ctx.saved_tensors
        mask, causal, scale, lead, (L, E, S, Ev) = ctx.args
        dq, dk, dv = _cpu.attention_backward(g.reshape(o.shape), q3, k3, v3, mask, o, causal, scale)
        return (
            dq.reshape(*lead, L, E),
            dk.reshape(*lead, S, E),
            dv.reshape(*lead, S, Ev),
            None,
            None,
            None,
        )


def _fused_ok(*ts: Tensor) -> bool:
    a = ts[0]._data
    return (
        _HAS_KERNEL
        and type(a) is np.ndarray
        and a.dtype in (_F32, _F64)
        and all(type(t._data) is np.ndarray and t.dtype == a.dtype for t in ts)
        and all(t.dim() == a.ndim for t in ts)
        and ts[1].shape[:-2] == ts[0].shape[:-2] == ts[2].shape[:-2]
    )


def _kernel_mask(add: Any, lead: tuple, L: int, S: int) -> Any:
    """An additive mask broadcastable to lead + (L, S) as the kernel's (L, S) or (B, L, S)."""
    if add is None:
        return None
    if add.ndim <= 2 or all(d == 1 for d in add.shape[:-2]):
        return np.ascontiguousarray(
            np.broadcast_to(add.reshape(add.shape[-2:]) if add.ndim >= 2 else add, (L, S))
        )
    full = np.broadcast_to(add, (*lead, L, S))
    return np.ascontiguousarray(full.reshape(-1, L, S))


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: Optional[float] = None,
) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` over the last two dimensions: query (..., L, E), key
    (..., S, E), value (..., S, Ev) -> (..., L, Ev); scale defaults to 1 / sqrt(E). A boolean
    attn_mask is True where attention is allowed; ``is_causal`` masks keys after each query. A
    query that may attend to no key gets 0 (and no gradient), as PyTorch's. A float attn_mask
    that requires grad receives its gradient (a learned bias)."""
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.dim() < 2:
            raise ValueError(f"{op}: {name} must be a Tensor with at least 2 dimensions")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{op}: query {tuple(query.shape)}, key {tuple(key.shape)}, value "
            f"{tuple(value.shape)}: need query.size(-1) == key.size(-1) and "
            "key.size(-2) == value.size(-2)"
        )
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both")
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    s = (1.0 / math.sqrt(E) if E else 1.0) if scale is None else float(scale)
    learned = isinstance(attn_mask, Tensor) and attn_mask.requires_grad
    if dropout_p == 0 and not learned and _fused_ok(query, key, value):
        add = None
        if attn_mask is not None:
            add = _additive(op, attn_mask, query.dtype, query._data, True)
        mask = _kernel_mask(add, tuple(query.shape[:-2]), L, S)
        return _FusedAttention.apply(query, key, value, mask, bool(is_causal), s)
    scores = ops.matmul(query * s, key.transpose(-2, -1))
    if is_causal:
        scores = scores + _new(_causal(L, S, scores.dtype, scores._data))
    elif learned:
        if attn_mask.dtype.kind != "f":
            raise TypeError(f"{op}: a mask that requires grad must be floating point")
        scores = scores + attn_mask
    elif attn_mask is not None:
        scores = scores + _new(_additive(op, attn_mask, scores.dtype, scores._data, True))
    w = _safe_softmax(scores)
    if dropout_p > 0:
        w = F.dropout(w, dropout_p, True)
    return ops.matmul(w, value)


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dimension with the rows that are all -inf set to 0 (no key visible)
    instead of NaN, as PyTorch's scaled_dot_product_attention."""
    raw = scores._data
    if raw.shape[-1] == 0:  # no keys at all: an empty (..., L, 0) weight matrix
        return scores * 0.0
    blocked = xp_of(raw).isneginf(raw).all(axis=-1, keepdims=True)
    if not bool(blocked.any()):
        return ops.softmax(scores, -1)
    # those rows go through the softmax as zeros (finite, so their backward stays finite) and
    # come out as 0: no output and no gradient for a query that sees no key
    w = ops.softmax(ops.masked_fill(scores, blocked, 0.0), -1)
    return ops.masked_fill(w, blocked, 0.0)


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.), PyTorch's module: ``forward(query, key, value,
    key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True,
    is_causal=False)`` -> ``(attn_output, attn_weights or None)``.

    Shapes: query (L, N, E) (``(N, L, E)`` with batch_first, (L, E) unbatched), key / value
    (S, N, kdim / vdim); attn_weights (N, L, S), or (N, num_heads, L, S) without averaging.
    ``is_causal=True`` without an attn_mask builds the causal mask (PyTorch requires the mask).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: Optional[int] = None,
        vdim: Optional[int] = None,
        batch_first: bool = False,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        op = "MultiheadAttention"
        for name, v in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"{op}: {name} must be a positive int, got {v!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"{op}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{op}: dropout must be in [0, 1], got {dropout}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError(f"{op}: add_bias_kv / add_zero_attn are not supported")
        dtype = np.float32 if dtype is None else dtype
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty((3 * E, E), dtype=dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty((E, E), dtype=dtype))
            self.k_proj_weight = Parameter(empty((E, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(empty((E, self.vdim), dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty((3 * E,), dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        self._reset_parameters()
        if device is not None and str(device) != "cpu":
            self.to(device)

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _projections(self) -> tuple:
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = (w[:E], w[E : 2 * E], w[2 * E :])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        return ws, bs

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple:
        op = "MultiheadAttention"
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        batched = query.dim() == 3
        if query.dim() not in (2, 3) or key.dim() != query.dim() or value.dim() != query.dim():
            raise ValueError(
                f"{op}: query, key and value must all be 2-D (unbatched) or 3-D, got "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        q, k, v = query, key, value
        if not batched:
            q, k, v = q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = _raw(key_padding_mask)[None]
        elif self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        L, N, E = q.shape
        S = k.shape[0]
        if E != self.embed_dim or k.shape[2] != self.kdim or v.shape[2] != self.vdim:
            raise ValueError(
                f"{op}: expected feature sizes (query {self.embed_dim}, key {self.kdim}, value "
                f"{self.vdim}), got {E}, {k.shape[2]}, {v.shape[2]}"
            )
        if k.shape[:2] != v.shape[:2] or k.shape[1] != N:
            raise ValueError(
                f"{op}: key {tuple(key.shape)} and value {tuple(value.shape)} must match the "
                f"query's batch and each other's length"
            )
        h, d = self.num_heads, self.head_dim
        (wq, wk, wv), (bq, bk, bv) = self._projections()
        # (L, N, E) -> (N * h, L, d), PyTorch's layout
        qh = F.linear(q, wq, bq).reshape(L, N * h, d).transpose(0, 1)
        kh = F.linear(k, wk, bk).reshape(S, N * h, d).transpose(0, 1)
        vh = F.linear(v, wv, bv).reshape(S, N * h, d).transpose(0, 1)
        dt, raw = qh.dtype, qh._data
        add = None
        learned = isinstance(attn_mask, Tensor) and attn_mask.requires_grad  # a learned bias
        if attn_mask is not None:
            mshape = tuple(np.shape(_raw(attn_mask)))
            if mshape not in ((L, S), (N * h, L, S)):
                raise ValueError(
                    f"{op}: attn_mask must have shape ({L}, {S}) or ({N * h}, {L}, {S}), got "
                    f"{mshape}"
                )
            if learned and attn_mask.dtype.kind != "f":
                raise TypeError(f"{op}: an attn_mask that requires grad must be floating point")
            if not learned:
                add = _additive(op, attn_mask, dt, raw, False)
        elif is_causal:
            add = _causal(L, S, dt, raw)
        if key_padding_mask is not None:
            m = _additive(op, key_padding_mask, dt, raw, False)
            if m.shape != (N, S):
                raise ValueError(
                    f"{op}: key_padding_mask must have shape ({N}, {S}), got {tuple(m.shape)}"
                )
            m = xp_of(raw).broadcast_to(m[:, None, None, :], (N, h, 1, S)).reshape(N * h, 1, S)
            add = m if add is None else add + m
        dropout = self.dropout > 0 and self.training
        if not need_weights and not dropout and not learned and _fused_ok(qh, kh, vh):
            # no attention matrix wanted: the fused kernel (never materialises it)
            mask = _kernel_mask(add, (N * h,), L, S)
            o = _FusedAttention.apply(qh, kh, vh, mask, False, 1.0 / math.sqrt(d))
        else:
            scores = ops.bmm(qh * (1.0 / math.sqrt(d)), kh.transpose(1, 2))  # (N * h, L, S)
            if add is not None:
                scores = scores + _new(add)
            if learned:
                scores = scores + attn_mask
            # as PyTorch: rows with no visible key give NaN weights, but 0 outputs without weights
            w = ops.softmax(scores, -1) if need_weights else _safe_softmax(scores)
            if dropout:
                w = F.dropout(w, self.dropout, True)
            o = ops.bmm(w, vh)
        out = self.out_proj(o.transpose(0, 1).reshape(L * N, E)).reshape(L, N, E)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = w.reshape(N, h, L, S)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )
