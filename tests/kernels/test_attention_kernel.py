"""The fused attention kernel (csrc/cpu/attention.cpp, forward and backward) against the float64
NumPy formulas: query blocks (L around the 64-row block), L != S, E != Ev, shared and per-item
additive masks, the causal mask, size 1 and 0, one vs two threads, bad arguments; and the
autograd op that uses it against the composed (matmul + softmax) path."""

from __future__ import annotations

import numpy as np
import pytest

import axonal
import axonal.nn.attention as attn
import axonal.nn.functional as F
from axonal import _cpu


def reference(q, k, v, mask, causal, scale, do):
    q, k, v, do = (a.astype(np.float64) for a in (q, k, v, do))
    s = scale * q @ np.swapaxes(k, -1, -2)
    if mask is not None:
        s = s + mask
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = p @ v
    ds = p * (do @ np.swapaxes(v, -1, -2) - (do * o).sum(-1, keepdims=True))
    return o, scale * ds @ k, scale * np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ do


SHAPES = [
    (3, 5, 7, 4, 6),
    (2, 70, 130, 8, 3),
    (1, 1, 1, 1, 1),
    (4, 65, 64, 16, 16),
    (1, 129, 3, 5, 2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask_kind", ["none", "shared", "per_item"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_reference(shape, causal, mask_kind, dtype):
    B, L, S, E, Ev = shape
    rng = np.random.default_rng(sum(shape))
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((B, L, E), (B, S, E), (B, S, Ev)))
    mask = {"none": None, "shared": (L, S), "per_item": (B, L, S)}[mask_kind]
    mask = None if mask is None else rng.standard_normal(mask).astype(dtype)
    do = rng.standard_normal((B, L, Ev)).astype(dtype)
    o = _cpu.attention_forward(q, k, v, mask, causal, 0.37)
    dq, dk, dv = _cpu.attention_backward(do, q, k, v, mask, o, causal, 0.37)
    want = reference(q, k, v, mask, causal, 0.37, do)
    tol = 1e-12 if dtype == np.float64 else 3e-5
    for got, w, name in zip((o, dq, dk, dv), want, ("o", "dq", "dk", "dv")):
        assert got.dtype == dtype and got.shape == w.shape, name
        err = np.abs(got - w).max() / max(1.0, np.abs(w).max())
        assert err <= tol, f"{name}: {err:.2e}"


def test_threads_agree_and_edge_sizes():
    rng = np.random.default_rng(1)
    q, k, v = (
        rng.standard_normal(s).astype(np.float32) for s in ((6, 200, 8), (6, 90, 8), (6, 90, 5))
    )
    do = rng.standard_normal((6, 200, 5)).astype(np.float32)
    old = _cpu.get_num_threads()
    try:
        res = []
        for nt in (1, 2):
            _cpu.set_num_threads(nt)
            o = _cpu.attention_forward(q, k, v, None, True, 0.5)
            res.append((o, *_cpu.attention_backward(do, q, k, v, None, o, True, 0.5)))
        assert all(np.array_equal(a, b) for a, b in zip(*res))
    finally:
        _cpu.set_num_threads(old)
    e = np.zeros((0, 4, 3))
    assert _cpu.attention_forward(e, np.zeros((0, 5, 3)), np.zeros((0, 5, 2))).shape == (0, 4, 2)
    nothing = _cpu.attention_forward(np.ones((1, 2, 3)), np.zeros((1, 0, 3)), np.zeros((1, 0, 2)))
    assert nothing.shape == (1, 2, 2) and np.all(nothing == 0)  # no keys: 0, as PyTorch


def test_rows_without_visible_keys_give_zero_and_no_gradient():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in ((2, 70, 4), (2, 6, 4), (2, 6, 3)))
    mask = np.where(rng.random((2, 70, 6)) > 0.3, 0.0, -np.inf)
    mask[:, :, 0] = 0.0
    mask[0, 3] = -np.inf  # query 3 of item 0 sees nothing
    mask[1, 66] = -np.inf  # and one in the second block of queries
    o = _cpu.attention_forward(q, k, v, mask, False, 0.5)
    assert np.all(o[0, 3] == 0) and np.all(o[1, 66] == 0)
    do = rng.standard_normal(o.shape)
    dq, dk, dv = _cpu.attention_backward(do, q, k, v, mask, o, False, 0.5)
    assert np.all(dq[0, 3] == 0) and all(np.isfinite(a).all() for a in (dq, dk, dv))
    # the reference without the blind queries (their rows of dO set to 0 contribute nothing)
    do0 = do.copy()
    do0[0, 3] = do0[1, 66] = 0.0
    visible = mask.copy()
    visible[0, 3] = visible[1, 66] = 0.0
    wo, wdq, wdk, wdv = reference(q, k, v, visible, False, 0.5, do0)
    rows = np.ones((2, 70), bool)
    rows[0, 3] = rows[1, 66] = False
    np.testing.assert_allclose(o[rows], wo[rows], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dq[rows], wdq[rows], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dk, wdk, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dv, wdv, rtol=1e-12, atol=1e-12)
    nan_q = q.copy()
    nan_q[1, 0, 0] = np.nan  # a NaN input stays NaN
    assert np.isnan(_cpu.attention_forward(nan_q, k, v, None, False, 0.5)[1, 0]).all()


def test_bad_arguments():
    q = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: query \(2, 3, 4\), key"):
        _cpu.attention_forward(q, np.zeros((2, 5, 3), np.float32), np.zeros((2, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 5\) or \(2, 3, 5\)"):
        kv = np.zeros((2, 5, 4), np.float32)
        _cpu.attention_forward(q, kv, kv, np.zeros((5, 3), np.float32))
    with pytest.raises(TypeError, match="dtypes differ"):
        _cpu.attention_forward(q, q.astype(np.float64), q)
    with pytest.raises(ValueError, match="must be 3-D"):
        _cpu.attention_forward(q[0], q[0], q[0])
    with pytest.raises(ValueError, match=r"grad_output must have shape \(2, 3, 4\)"):
        _cpu.attention_backward(q[:, :2], q, q, q, None, q)


@pytest.mark.parametrize("mask", ["none", "bool", "float_batched", "causal"])
def test_fused_op_matches_composed_path(mask, monkeypatch):
    rng = np.random.default_rng(2)
    shapes = ((2, 3, 70, 8), (2, 3, 40, 8), (2, 3, 40, 5))
    arrays = [rng.standard_normal(s) for s in shapes]
    kw = {}
    if mask == "bool":
        m = rng.random((70, 40)) > 0.3
        m[:, 0] = True
        kw["attn_mask"] = m
    elif mask == "float_batched":
        kw["attn_mask"] = rng.standard_normal((2, 1, 70, 40))
    elif mask == "causal":
        kw["is_causal"] = True
    results = []
    for fused in (True, False):
        monkeypatch.setattr(attn, "_HAS_KERNEL", fused)
        ts = [axonal.tensor(a, requires_grad=True) for a in arrays]
        out = F.scaled_dot_product_attention(*ts, **kw)
        assert (type(out.grad_fn).__name__ == "_FusedAttention") == fused
        (out * axonal.tensor(np.cos(np.arange(out.numel())).reshape(out.shape))).sum().backward()
        results.append([out.numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
