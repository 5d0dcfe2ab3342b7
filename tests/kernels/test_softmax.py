"""softmax / log_softmax kernels (csrc/cpu/softmax.cpp, forward and backward) against the float64
NumPy reference on every SIMD path: lines along the last axis and along inner axes, widths on and
off the vector multiple, size 0 and 1, 0-d, non-contiguous inputs, special values (inf, NaN,
values whose exponential underflows), one vs two threads, bad arguments; torch parity of the
autograd ops that use them."""

from __future__ import annotations

import numpy as np
import pytest

import axonal
import axonal.nn.functional as F
from axonal import _cpu, backend

ref = backend.get("numpy")
cpu = backend.get("cpu")

TOL = {np.float32: 2e-6, np.float64: 1e-13}


def want(x, dim, log):
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf in the special-value lines: NaN wanted
        return (ref.log_softmax_forward if log else ref.softmax_forward)(x64, dim)


def want_grad(dy, y64, dim, log):
    dy64 = dy.astype(np.float64)
    return (ref.log_softmax_backward if log else ref.softmax_backward)(dy64, y64, dim)


def assert_close(got, expect, dtype, what):
    assert got.shape == expect.shape and got.dtype == np.dtype(dtype), (what, got.shape, got.dtype)
    scale = max(float(np.abs(expect).max(initial=0.0)), 1.0)
    err = float(np.abs(got.astype(np.float64) - expect).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: error {err:.2e}"


# (shape, dim): rows of every width around the 8- and 32-lane blocks and the short-row limit 16,
# inner axes of every width around the 8- and 32-column groups and the 64-column work items, the
# first axis, size 1 lines.
CASES = [((5, d), -1) for d in (1, 2, 7, 8, 9, 31, 32, 33, 40, 63, 64, 65, 100, 1000)]
CASES += [((3, 6, inner), 1) for inner in (2, 5, 8, 9, 31, 32, 33, 40, 64, 65, 130)]
CASES += [((130, d), -1) for d in (2, 3, 15, 16)]  # short rows go through blocks of 64 rows
CASES += [((2, 3, 4, 5), 0), ((2, 3, 4, 5), 2), ((4, 1, 9), 1), ((1, 1), 1), ((300,), 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", CASES, ids=lambda v: str(v))
def test_forward_backward_match_reference(simd, shape, dim, log, dtype):
    rng = np.random.default_rng(abs(hash((shape, dim, log))) % 2**32)
    x = (rng.standard_normal(shape) * 4 + 20).astype(dtype)  # an offset: the max must be taken
    y = _cpu.softmax_forward(x, dim, log)
    y64 = want(x, dim, log)
    assert_close(y, y64, dtype, f"forward {shape} dim={dim}")
    dy = rng.standard_normal(shape).astype(dtype)
    dx = _cpu.softmax_backward(dy, y64.astype(dtype), dim, log)
    assert_close(dx, want_grad(dy, y64, dim, log), dtype, f"backward {shape} dim={dim}")
    if not log:
        s = y.astype(np.float64).sum(axis=dim)
        np.testing.assert_allclose(s, 1.0, rtol=0, atol=10 * TOL[dtype])


@pytest.mark.parametrize("log", [False, True])
def test_non_contiguous_inputs(simd, log):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((6, 40, 18)).astype(np.float32)
    for x in (base.transpose(2, 0, 1), base[:, ::3, ::2], base[::-1]):
        for dim in (0, 1, 2, -1):
            y = _cpu.softmax_forward(x, dim, log)
            assert_close(y, want(x, dim, log), np.float32, f"strides {x.strides} dim={dim}")
            dy = np.asfortranarray(rng.standard_normal(x.shape).astype(np.float32))
            dx = _cpu.softmax_backward(dy, y, dim, log)
            y64 = y.astype(np.float64)
            assert_close(dx, want_grad(dy, y64, dim, log), np.float32, "backward")


def test_zero_size_and_zero_d(simd):
    for shape, dim in (((0, 5), 1), ((4, 0), 1), ((2, 0, 3), 0), ((2, 3, 0), 1)):
        x = np.ones(shape, np.float32)
        assert _cpu.softmax_forward(x, dim).shape == shape
        assert _cpu.softmax_backward(x, x, dim, True).shape == shape
    z = np.array(3.5)
    assert _cpu.softmax_forward(z, 0).shape == () and float(_cpu.softmax_forward(z, -1)) == 1.0
    assert float(_cpu.softmax_forward(z, 0, True)) == 0.0


@pytest.mark.parametrize("dim", [-1, 0])
def test_special_values(simd, dim):
    inf, nan = np.inf, np.nan
    rows = np.array(
        [
            [0.0, -inf, 1.0, 2.0, -inf, 0.5, 0.25, -1.0, 3.0],  # -inf entries: exactly 0
            [-inf] * 9,  # all -inf: NaN, as in PyTorch
            [0.0, 1.0, nan, 2.0, 0.0, 0.0, 1.0, 1.0, 1.0],  # a NaN poisons its line
            [inf, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],  # +inf: NaN (inf - inf)
            [-200.0, 0.0, -150.0, 1.0, -1e30, 2.0, -90.0, 3.0, -88.0],  # exp underflows
            [1e30, -1e30, 0.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],  # huge magnitudes
        ],
        np.float32,
    )
    x = rows if dim == -1 else np.ascontiguousarray(rows.T)
    for log in (False, True):
        y = _cpu.softmax_forward(x, dim, log)
        y = y if dim == -1 else y.T
        expect = want(rows, -1, log)
        ok = ~np.isnan(expect)
        assert np.array_equal(np.isnan(y), ~ok), (log, y)
        np.testing.assert_allclose(y[ok], expect[ok], rtol=2e-6, atol=1e-37)
        if not log:
            assert y[0, 1] == 0.0 and y[0, 4] == 0.0 and y[5, 0] == 1.0
        else:
            assert y[0, 1] == -inf and np.isfinite(y[4]).all()


def test_one_and_two_threads_agree_bitwise():
    rng = np.random.default_rng(5)
    old = _cpu.get_num_threads()
    try:
        for shape, dim in (((512, 300), 1), ((16, 50, 300), 1)):
            x = rng.standard_normal(shape).astype(np.float32)
            dy = rng.standard_normal(shape).astype(np.float32)
            out = []
            for nt in (1, 2):
                _cpu.set_num_threads(nt)
                y = _cpu.softmax_forward(x, dim)
                out.append((y, _cpu.softmax_backward(dy, y, dim, False)))
            assert np.array_equal(out[0][0], out[1][0]) and np.array_equal(out[0][1], out[1][1])
    finally:
        _cpu.set_num_threads(old)


def test_bad_arguments():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range .*\(2, 3\)"):
        _cpu.softmax_forward(x, 2)
    with pytest.raises(ValueError, match="log_softmax: dim -3"):
        _cpu.softmax_forward(x, -3, True)
    with pytest.raises(TypeError, match="softmax: input must be float32 or float64"):
        _cpu.softmax_forward(np.ones((2, 3), np.int64), 1)
    with pytest.raises(TypeError, match="must be a numpy.ndarray"):
        _cpu.softmax_forward([1.0, 2.0], 0)
    with pytest.raises(ValueError, match=r"softmax_backward: grad_output \(2, 3\) and output"):
        _cpu.softmax_backward(x, np.ones((3, 2), np.float32), 1)
    with pytest.raises(TypeError, match="log_softmax_backward: dtypes differ"):
        _cpu.softmax_backward(x, np.ones((2, 3)), 1, True)


def test_ops_take_the_kernel_and_float16_falls_back(monkeypatch):
    calls = []
    orig = cpu.softmax_forward
    monkeypatch.setattr(cpu, "softmax_forward", lambda *a: calls.append(a) or orig(*a))
    x = axonal.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_allclose(F.softmax(x, dim=1).numpy(), want(x.numpy(), 1, False), rtol=1e-6)
    assert len(calls) == 1
    h = axonal.tensor(np.arange(6, dtype=np.float16).reshape(2, 3))
    y = F.softmax(h, dim=0)
    assert y.dtype == np.float16 and len(calls) == 1
    np.testing.assert_allclose(y.numpy(), want(h.numpy(), 0, False), rtol=2e-3)


def test_gradcheck_float64():
    rng = np.random.default_rng(7)
    for dim in (0, 1, 2):
        x = axonal.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
        w = axonal.tensor(rng.standard_normal((2, 5, 3)))
        for fn in (F.softmax, F.log_softmax):

            def loss(t, fn=fn, dim=dim, w=w):
                return (fn(t, dim=dim) * w).sum()

            assert axonal.autograd.gradcheck(loss, (x,))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_parity(dim, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x_np = (rng.standard_normal((4, 37, 19)) * 3).astype(dtype)
    g_np = rng.standard_normal(x_np.shape).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for ax_fn, t_fn in ((F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)):
        x = axonal.tensor(x_np, requires_grad=True)
        y = ax_fn(x, dim=dim)
        y.backward(axonal.tensor(g_np))
        xt = torch.tensor(x_np, requires_grad=True)
        yt = t_fn(xt, dim)
        yt.backward(torch.tensor(g_np))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **tol)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **tol)


def test_ops_on_empty_tensors():
    for shape, dim in (((3, 0), -1), ((0, 4), 1), ((2, 0, 3), 1)):
        for fn in (F.softmax, F.log_softmax):
            x = axonal.zeros(*shape, requires_grad=True)
            y = fn(x, dim=dim)
            assert y.shape == shape
            y.sum().backward()
            assert x.grad.shape == shape
