"""The LSTM cell's pointwise kernel (csrc/cpu/lstm_cell.cpp: forward and backward) against the
float64 NumPy equations on every SIMD path: widths on and off the 8-lane vector, batch 1,
saturated and tiny gate values, a missing grad_c, one vs two threads, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from axonal import _cpu

TOL = {np.float32: 3e-6, np.float64: 1e-14}


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference(gates, c, dh, dc):
    g64, c64 = gates.astype(np.float64), c.astype(np.float64)
    H = c.shape[1]
    i, f = sig(g64[:, :H]), sig(g64[:, H : 2 * H])
    g, o = np.tanh(g64[:, 2 * H : 3 * H]), sig(g64[:, 3 * H :])
    c2 = f * c64 + i * g
    tc = np.tanh(c2)
    h2 = o * tc
    dct = (0 if dc is None else dc.astype(np.float64)) + dh * o * (1 - tc * tc)
    dgates = np.concatenate(
        [
            dct * g * i * (1 - i),
            dct * c64 * f * (1 - f),
            dct * i * (1 - g * g),
            dh * tc * o * (1 - o),
        ],
        axis=1,
    )
    return h2, c2, np.concatenate([i, f, g, o], axis=1), dgates, dct * f


def close(got, want, dtype, what):
    assert got.dtype == np.dtype(dtype) and got.shape == want.shape, what
    err = np.abs(got.astype(np.float64) - want).max(initial=0.0) / max(
        np.abs(want).max(initial=0), 1
    )
    assert err <= TOL[dtype], f"{what}: {err:.2e}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,h", [(1, 1), (3, 7), (5, 8), (4, 9), (2, 33), (17, 64), (0, 5)])
def test_matches_reference(simd, n, h, dtype):
    rng = np.random.default_rng(n * 100 + h)
    gates = (rng.standard_normal((n, 4 * h)) * 3).astype(dtype)
    c = rng.standard_normal((n, h)).astype(dtype)
    dh, dc = (rng.standard_normal((n, h)).astype(dtype) for _ in range(2))
    h2, c2, act = _cpu.lstm_cell_forward(gates, c)
    wh, wc, wact, _, _ = reference(gates, c, dh, dc)
    close(h2, wh, dtype, "h'")
    close(c2, wc, dtype, "c'")
    close(act, wact, dtype, "act")
    # the backward from the kernel's own saved values, checked against the equations on them
    dg, dcp = _cpu.lstm_cell_backward(dh, dc, act, c, c2)
    _, _, _, wdg, wdc = reference(gates, c, dh, dc)
    close(dg, wdg, dtype, "grad gates")
    close(dcp, wdc, dtype, "grad c")
    dg0, dcp0 = _cpu.lstm_cell_backward(dh, None, act, c, c2)
    dg1, dcp1 = _cpu.lstm_cell_backward(dh, np.zeros_like(dc), act, c, c2)
    assert np.array_equal(dg0, dg1) and np.array_equal(dcp0, dcp1)


def test_saturated_and_tiny_gates(simd):
    h = 11
    gates = np.zeros((4, 4 * h), np.float32)
    gates[0] = 100.0  # every gate saturated at 1 (tanh at 1)
    gates[1] = -100.0
    gates[2] = 1e30
    gates[3] = np.linspace(-1e-5, 1e-5, 4 * h)  # tanh(x) ~ x: relative accuracy near 0
    c = np.ones((4, h), np.float32)
    h2, c2, act = _cpu.lstm_cell_forward(gates, c)
    assert np.isfinite(h2).all() and np.isfinite(c2).all() and np.isfinite(act).all()
    np.testing.assert_allclose(act[0], 1.0, rtol=1e-7)
    np.testing.assert_allclose(act[1, :h], 0.0, atol=1e-30)
    np.testing.assert_allclose(act[1, 2 * h : 3 * h], -1.0, rtol=1e-7)
    np.testing.assert_allclose(c2[0], 2.0, rtol=1e-7)
    g = gates[3, 2 * h : 3 * h].astype(np.float64)
    np.testing.assert_allclose(act[3, 2 * h : 3 * h], np.tanh(g), rtol=1e-6, atol=1e-12)
    nan = gates.copy()
    nan[0, 0] = np.nan
    assert np.isnan(_cpu.lstm_cell_forward(nan, c)[0][0, 0])


def test_one_and_two_threads_agree():
    rng = np.random.default_rng(0)
    gates = rng.standard_normal((300, 4 * 100)).astype(np.float32)
    c, dh = rng.standard_normal((300, 100)).astype(np.float32), rng.standard_normal((300, 100))
    dh = dh.astype(np.float32)
    old = _cpu.get_num_threads()
    try:
        res = []
        for nt in (1, 2):
            _cpu.set_num_threads(nt)
            out = _cpu.lstm_cell_forward(gates, c)
            res.append(out + _cpu.lstm_cell_backward(dh, None, out[2], c, out[1]))
        assert all(np.array_equal(a, b) for a, b in zip(*res))
    finally:
        _cpu.set_num_threads(old)


def test_non_contiguous_inputs():
    rng = np.random.default_rng(1)
    big = rng.standard_normal((6, 8 * 5)).astype(np.float32)
    gates, c = big[:, ::2], np.asfortranarray(rng.standard_normal((6, 5)).astype(np.float32))
    h2, c2, _ = _cpu.lstm_cell_forward(gates, c)
    wh, wc, *_ = reference(gates, c, np.zeros((6, 5)), None)
    close(h2, wh, np.float32, "h'")
    close(c2, wc, np.float32, "c'")


def test_bad_arguments():
    g, c = np.zeros((2, 12), np.float32), np.zeros((2, 3), np.float32)
    with pytest.raises(
        ValueError, match=r"lstm_cell: gates must have shape \(2, 12\), got \(2, 11\)"
    ):
        _cpu.lstm_cell_forward(np.zeros((2, 11), np.float32), c)
    with pytest.raises(TypeError, match="lstm_cell: gates has dtype float64, expected float32"):
        _cpu.lstm_cell_forward(g.astype(np.float64), c)
    with pytest.raises(ValueError, match="lstm_cell: c must be 2-D"):
        _cpu.lstm_cell_forward(g, c[0])
    with pytest.raises(TypeError, match="lstm_cell: c must be float32 or float64"):
        _cpu.lstm_cell_forward(g, c.astype(np.int32))
    h2, c2, act = _cpu.lstm_cell_forward(g, c)
    with pytest.raises(ValueError, match=r"lstm_cell_backward: grad_c must have shape \(2, 3\)"):
        _cpu.lstm_cell_backward(h2, np.zeros((3, 3), np.float32), act, c, c2)
    with pytest.raises(ValueError, match=r"lstm_cell_backward: act must have shape \(2, 12\)"):
        _cpu.lstm_cell_backward(h2, None, act[:, :8], c, c2)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("N", [3, 19, 40])  # 19, 40: slabs of batch rows on several threads
def test_sequence_matches_step_by_step(simd, threads, reverse, N):
    """lstm_sequence_forward / backward (the recurrence in C++) against the cell kernel and
    NumPy GEMMs step by step, float64."""
    rng = np.random.default_rng(5)
    L, H = 7, 9
    xproj = rng.standard_normal((L, N, 4 * H))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    w = rng.standard_normal((4 * H, H)) * 0.3
    hs, cs, acts = _cpu.lstm_sequence_forward(xproj, h0, c0, np.ascontiguousarray(w.T), reverse)
    order = range(L - 1, -1, -1) if reverse else range(L)
    h, c = h0, c0
    for s, t in enumerate(order):
        h, c, act = _cpu.lstm_cell_forward(xproj[t] + h @ w.T, c)
        np.testing.assert_allclose(hs[s + 1], h, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(cs[s + 1], c, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(acts[s], act, rtol=1e-12, atol=1e-13)
    dout = rng.standard_normal((L, N, H))
    dhn, dcn = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dx, dh0, dc0, dw = _cpu.lstm_sequence_backward(dout, dhn, dcn, hs, cs, acts, w, reverse)
    dh, dc, want_dw = dhn, dcn, np.zeros_like(w)
    want_dx = np.zeros_like(xproj)
    for s in range(L - 1, -1, -1):
        t = list(order)[s]
        dg, dc = _cpu.lstm_cell_backward(dh + dout[t], dc, acts[s], cs[s], cs[s + 1])
        want_dx[t] = dg
        want_dw += dg.T @ hs[s]
        dh = dg @ w
    for got, want in ((dx, want_dx), (dh0, dh), (dc0, dc), (dw, want_dw)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_sequence_bad_arguments():
    x = np.zeros((4, 2, 12), np.float32)
    h = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"lstm_sequence: w_hh\^T must have shape \(3, 12\)"):
        _cpu.lstm_sequence_forward(x, h, h, np.zeros((12, 3), np.float32))
    with pytest.raises(ValueError, match=r"lstm_sequence: xproj must be \(L, N, 4H\)"):
        _cpu.lstm_sequence_forward(x[..., :10], h, h, np.zeros((3, 12), np.float32))
    with pytest.raises(ValueError, match=r"lstm_sequence: h0 must have shape \(2, 3\)"):
        _cpu.lstm_sequence_forward(x, h[:1], h, np.zeros((3, 12), np.float32))
    hs, cs, acts = _cpu.lstm_sequence_forward(x, h, h, np.zeros((3, 12), np.float32))
    with pytest.raises(ValueError, match=r"lstm_sequence_backward: grad_output must have shape"):
        _cpu.lstm_sequence_backward(x, h, h, hs, cs, acts, np.zeros((12, 3), np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("N, H", [(3, 9), (19, 16), (40, 13)])  # H % 8: the vector tail
@pytest.mark.parametrize("bias", [True, False])
def test_gru_sequence_matches_numpy_steps(simd, threads, dtype, reverse, N, H, bias):
    """gru_sequence_forward (the recurrence in C++: slabs of rows per thread, the AVX2 cell for
    float32) against the GRU equations step by step in float64."""
    rng = np.random.default_rng(7)
    L = 6
    xproj = rng.standard_normal((L, N, 3 * H)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    w = (rng.standard_normal((3 * H, H)) * 0.3).astype(dtype)
    b = rng.standard_normal(3 * H).astype(dtype) if bias else None
    hs, rz, ns, ghn = _cpu.gru_sequence_forward(xproj, h0, np.ascontiguousarray(w.T), b, reverse)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h = h0.astype(np.float64)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    order = range(L - 1, -1, -1) if reverse else range(L)
    for s, t in enumerate(order):
        gh = h @ w.T.astype(np.float64) + (0 if b is None else b.astype(np.float64))
        gi = xproj[t].astype(np.float64)
        r, z = sig(gi[:, :H] + gh[:, :H]), sig(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1 - z) * n + z * h
        np.testing.assert_allclose(rz[s], np.concatenate([r, z], 1), **tol)
        np.testing.assert_allclose(ns[s], n, **tol)
        np.testing.assert_allclose(ghn[s], gh[:, 2 * H :], **tol)
        np.testing.assert_allclose(hs[s + 1], h, **tol)
    np.testing.assert_array_equal(hs[0], h0)


def test_gru_sequence_bad_arguments():
    x = np.zeros((2, 3, 12), np.float32)
    h0 = np.zeros((3, 4), np.float32)
    wt = np.zeros((4, 12), np.float32)
    with pytest.raises(ValueError, match=r"gru_sequence: xproj must be \(L, N, 3H\)"):
        _cpu.gru_sequence_forward(np.zeros((2, 3, 10), np.float32), h0, wt)
    with pytest.raises(ValueError, match=r"gru_sequence: w_hh\^T must have shape \(4, 12\)"):
        _cpu.gru_sequence_forward(x, h0, wt[:, :8])
    with pytest.raises(ValueError, match=r"gru_sequence: b_hh must have shape \(12,\)"):
        _cpu.gru_sequence_forward(x, h0, wt, np.zeros(8, np.float32))
    with pytest.raises(TypeError, match="gru_sequence: h0 has dtype float64"):
        _cpu.gru_sequence_forward(x, h0.astype(np.float64), wt)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("N, H", [(3, 9), (19, 16), (40, 13)])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_sequence_backward_matches_numpy_bptt(threads, dtype, reverse, N, H, bias):
    """gru_sequence_backward (BPTT in C++, rows split over threads) against the same equations
    step by step in float64, from a forward of gru_sequence_forward."""
    rng = np.random.default_rng(11)
    L = 5
    xproj = rng.standard_normal((L, N, 3 * H)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    w = (rng.standard_normal((3 * H, H)) * 0.3).astype(dtype)
    b = rng.standard_normal(3 * H).astype(dtype) if bias else None
    hs, rz, ns, ghn = _cpu.gru_sequence_forward(xproj, h0, np.ascontiguousarray(w.T), b, reverse)
    dout = rng.standard_normal((L, N, H)).astype(dtype)
    dhn = rng.standard_normal((N, H)).astype(dtype)
    dx, dh0, dw, db = _cpu.gru_sequence_backward(dout, dhn, hs, rz, ns, ghn, w, reverse, bias)
    f = lambda a: a.astype(np.float64)  # noqa: E731
    dh = f(dhn)
    want_dx = np.zeros((L, N, 3 * H))
    dgh_all = np.zeros((L, N, 3 * H))
    for s in range(L - 1, -1, -1):
        t = L - 1 - s if reverse else s
        g = dh + f(dout[t])
        r, z, n = f(rz[s, :, :H]), f(rz[s, :, H:]), f(ns[s])
        dn = g * (1 - z) * (1 - n * n)
        dr = dn * f(ghn[s]) * r * (1 - r)
        dz = g * (f(hs[s]) - n) * z * (1 - z)
        want_dx[t] = np.concatenate([dr, dz, dn], 1)
        dgh_all[s] = np.concatenate([dr, dz, dn * r], 1)
        dh = g * z + dgh_all[s] @ f(w)
    flat = dgh_all.reshape(L * N, 3 * H)
    want_dw = flat.T @ f(hs[:L]).reshape(L * N, H)
    tol = dict(rtol=1e-11, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(dx, want_dx, **tol)
    np.testing.assert_allclose(dh0, dh, **tol)
    np.testing.assert_allclose(dw, want_dw, **tol)
    if bias:
        np.testing.assert_allclose(db, flat.sum(0), **tol)
    else:
        assert db is None
