"""Pooling kernels (max, avg, adaptive avg; forward and backward) against the NumPy reference and
PyTorch: random geometries (kernel, stride, padding, dilation, ceil_mode, count_include_pad,
divisor_override), ties, NaN, odd sizes, non-contiguous inputs and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from axonal import _cpu, backend

ref = backend.get("numpy")
cpu = backend.get("cpu")

TOL = {np.float32: 1e-5, np.float64: 1e-12}
SIMD_PATHS = ["portable"] + (["avx2"] if _cpu.has_avx2_fma() else [])


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    old = _cpu.simd_path()
    _cpu.set_simd_path(request.param)
    yield request.param
    _cpu.set_simd_path(old)


@pytest.fixture(params=[1, 2])
def threads(request):
    old = _cpu.get_num_threads()
    _cpu.set_num_threads(request.param)
    yield request.param
    _cpu.set_num_threads(old)


def assert_close(got, want, dtype, what=""):
    """Max error relative to the data's scale (inputs are O(1); an average of values of both signs
    can be close to 0, so the output's own magnitude is not a fair scale)."""
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert got.dtype == np.dtype(dtype), (what, got.dtype)
    scale = max(float(np.abs(want).max(initial=0.0)), 1.0)
    err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.3e}"


def pool_out(n, k, s, p, d, ceil_mode):
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and out > 0 and (out - 1) * s >= n + p:
        out -= 1
    return out


def window_has_input(n, out, k, s, p, d):
    return all(any(0 <= o * s - p + t * d < n for t in range(k)) for o in range(out))


def random_geometry(rng, dilation=True):
    while True:
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        p = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilation else (1, 1)
        ceil_mode = bool(rng.integers(0, 2))
        h, w = int(rng.integers(1, 16)), int(rng.integers(1, 16))
        P = pool_out(h, k[0], s[0], p[0], d[0], ceil_mode)
        Q = pool_out(w, k[1], s[1], p[1], d[1], ceil_mode)
        if P < 1 or Q < 1:
            continue
        if not (
            window_has_input(h, P, k[0], s[0], p[0], d[0])
            and window_has_input(w, Q, k[1], s[1], p[1], d[1])
        ):
            continue
        n, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        return (n, c, h, w), k, s, p, d, ceil_mode


def test_max_pool_example():
    x = np.array([[1, 3, 5, 3], [4, 2, 3, 1], [3, 1, 1, 3], [0, 1, 0, 4]], np.float32)
    y, idx = cpu.max_pool2d_forward(x[None, None], 2, 2)
    np.testing.assert_array_equal(y[0, 0], [[4, 5], [3, 4]])
    np.testing.assert_array_equal(idx[0, 0], [[4, 2], [8, 15]])
    assert idx.dtype == np.int64
    dx = cpu.max_pool2d_backward(np.ones_like(y), idx, x[None, None].shape)
    want = np.zeros((4, 4), np.float32)
    want.flat[[4, 2, 8, 15]] = 1
    np.testing.assert_array_equal(dx[0, 0], want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_random(dtype, threads, rng):
    for _ in range(40):
        shape, k, s, p, d, ceil_mode = random_geometry(rng)
        x = rng.standard_normal(shape).astype(dtype)
        if rng.random() < 0.4:
            x = np.round(x * 2)  # many ties: the first maximum of the window wins
        y, idx = cpu.max_pool2d_forward(x, k, s, p, d, ceil_mode)
        y_ref, idx_ref = ref.max_pool2d_forward(x, k, s, p, d, ceil_mode)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(idx, idx_ref)
        dy = rng.standard_normal(y.shape).astype(dtype)
        assert_close(
            cpu.max_pool2d_backward(dy, idx, shape),
            ref.max_pool2d_backward(dy, idx_ref, shape),
            dtype,
            f"max backward {shape} {k} {s} {p} {d} {ceil_mode}",
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 16), (3, 2, 13, 37), (1, 1, 2, 2), (2, 2, 5, 3)])
def test_2x2_stride_2(shape, dtype, simd, threads, rng):
    """The common 2x2 / stride 2 layer (a vectorised path on AVX2 CPUs): ties, NaN, -inf, odd
    sizes and vector tails; avg with and without divisor_override."""
    x = np.round(rng.standard_normal(shape) * 2).astype(dtype)
    x.flat[rng.integers(0, x.size, 3)] = np.nan
    x.flat[rng.integers(0, x.size, 3)] = -np.inf
    y, idx = cpu.max_pool2d_forward(x, 2, 2)
    y_ref, idx_ref = ref.max_pool2d_forward(x, 2, 2)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    x = rng.standard_normal(shape).astype(dtype)
    for div in (None, 3):
        y = cpu.avg_pool2d_forward(x, 2, 2, 0, False, True, div)
        assert_close(y, ref.avg_pool2d_forward(x, 2, 2, 0, False, True, div), dtype, "avg 2x2")
        dy = rng.standard_normal(y.shape).astype(dtype)
        assert_close(
            cpu.avg_pool2d_backward(dy, shape, 2, 2, 0, False, True, div),
            ref.avg_pool2d_backward(dy, shape, 2, 2, 0, False, True, div),
            dtype,
            "avg 2x2 backward",
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_random(dtype, threads, rng):
    for _ in range(40):
        shape, k, s, p, _, ceil_mode = random_geometry(rng, dilation=False)
        cip = bool(rng.integers(0, 2))
        div = None if rng.random() < 0.7 else int(rng.integers(1, 10))
        args = (k, s, p, ceil_mode, cip, div)
        x = rng.standard_normal(shape).astype(dtype)
        y = cpu.avg_pool2d_forward(x, *args)
        assert_close(y, ref.avg_pool2d_forward(x, *args), dtype, f"avg {shape} {args}")
        dy = rng.standard_normal(y.shape).astype(dtype)
        assert_close(
            cpu.avg_pool2d_backward(dy, shape, *args),
            ref.avg_pool2d_backward(dy, shape, *args),
            dtype,
            f"avg backward {shape} {args}",
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_avg_pool_random(dtype, threads, rng):
    for _ in range(30):
        n, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        h, w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        out = (int(rng.integers(1, h + 4)), int(rng.integers(1, w + 4)))
        if rng.random() < 0.2:
            out = (1, 1)  # global average pooling
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        y = cpu.adaptive_avg_pool2d_forward(x, out)
        assert_close(y, ref.adaptive_avg_pool2d_forward(x, out), dtype, f"adaptive {x.shape} {out}")
        dy = rng.standard_normal(y.shape).astype(dtype)
        assert_close(
            cpu.adaptive_avg_pool2d_backward(dy, x.shape),
            ref.adaptive_avg_pool2d_backward(dy, x.shape),
            dtype,
            f"adaptive backward {x.shape} {out}",
        )


def test_global_average_pool_large_planes(simd, threads, rng):
    for shape in [(2, 5, 1, 3), (3, 6, 4, 4), (2, 7, 7, 7)]:  # vector tails, whole vectors
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(shape).astype(dtype)
            y = cpu.adaptive_avg_pool2d_forward(x, 1)
            assert_close(y, ref.adaptive_avg_pool2d_forward(x, 1), dtype, f"global {shape}")
    x = rng.standard_normal((3, 70, 23, 31)).astype(np.float32)
    y = cpu.adaptive_avg_pool2d_forward(x, 1)
    np.testing.assert_allclose(y[:, :, 0, 0], x.astype(np.float64).mean(axis=(2, 3)), atol=1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = cpu.adaptive_avg_pool2d_backward(dy, x.shape)
    np.testing.assert_allclose(dx, np.broadcast_to(dy / (23 * 31), x.shape), rtol=1e-6)


def test_output_size_none_keeps_the_input_size(rng):
    x = rng.standard_normal((2, 3, 9, 7))
    y = cpu.adaptive_avg_pool2d_forward(x, (None, 3))
    assert y.shape == (2, 3, 9, 3)
    np.testing.assert_allclose(y, ref.adaptive_avg_pool2d_forward(x, (9, 3)), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for _ in range(25):
        shape, k, s, p, d, ceil_mode = random_geometry(rng)
        x = rng.standard_normal(shape).astype(dtype)
        if rng.random() < 0.3:
            x = np.round(x)
        xt = torch.from_numpy(x).requires_grad_()
        yt, it = F.max_pool2d(xt, k, s, p, d, ceil_mode, return_indices=True)
        dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        yt.backward(torch.from_numpy(dy))
        y, idx = cpu.max_pool2d_forward(x, k, s, p, d, ceil_mode)
        np.testing.assert_array_equal(y, yt.detach().numpy())
        np.testing.assert_array_equal(idx, it.numpy())
        assert_close(cpu.max_pool2d_backward(dy, idx, shape), xt.grad.numpy(), dtype, "max dx")

        cip, div = bool(rng.integers(0, 2)), (None if rng.random() < 0.6 else 3)
        xt = torch.from_numpy(x).requires_grad_()
        yt = F.avg_pool2d(xt, k, s, p, ceil_mode, cip, div)
        dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        yt.backward(torch.from_numpy(dy))
        args = (k, s, p, ceil_mode, cip, div)
        assert_close(cpu.avg_pool2d_forward(x, *args), yt.detach().numpy(), dtype, "avg")
        assert_close(cpu.avg_pool2d_backward(dy, shape, *args), xt.grad.numpy(), dtype, "avg dx")

        out = (int(rng.integers(1, shape[2] + 3)), int(rng.integers(1, shape[3] + 3)))
        xt = torch.from_numpy(x).requires_grad_()
        yt = F.adaptive_avg_pool2d(xt, out)
        dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        yt.backward(torch.from_numpy(dy))
        assert_close(cpu.adaptive_avg_pool2d_forward(x, out), yt.detach().numpy(), dtype, "ad")
        assert_close(cpu.adaptive_avg_pool2d_backward(dy, shape), xt.grad.numpy(), dtype, "ad dx")


def test_max_pool_nan_and_infinity_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array(
        [[[[1.0, np.nan, 3.0, -np.inf], [np.nan, 2.0, -np.inf, -np.inf], [5.0, 5.0, 0.0, 1.0]]]]
    )
    yt, it = torch.nn.functional.max_pool2d(
        torch.from_numpy(x), 2, 1, ceil_mode=True, return_indices=True
    )
    for be in (cpu, ref):
        y, idx = be.max_pool2d_forward(x, 2, 1, 0, 1, True)
        np.testing.assert_array_equal(y, yt.numpy())  # NaN == NaN for assert_array_equal
        np.testing.assert_array_equal(idx, it.numpy())


def test_backward_matches_central_differences(rng):
    """Avg / adaptive pooling are linear, max pooling is linear away from ties: the directional
    derivative of <dy, pool(x)> equals <grad, v> (float64)."""
    x = rng.standard_normal((2, 3, 9, 8))
    v = rng.standard_normal(x.shape)
    eps = 1e-6
    cases = [
        (
            lambda a: cpu.avg_pool2d_forward(a, 3, 2, 1, True, False),
            lambda g: cpu.avg_pool2d_backward(g, x.shape, 3, 2, 1, True, False),
        ),
        (
            lambda a: cpu.adaptive_avg_pool2d_forward(a, (4, 5)),
            lambda g: cpu.adaptive_avg_pool2d_backward(g, x.shape),
        ),
        (
            lambda a: cpu.max_pool2d_forward(a, (3, 2), (2, 1), 1, (1, 2), True)[0],
            lambda g: cpu.max_pool2d_backward(
                g, cpu.max_pool2d_forward(x, (3, 2), (2, 1), 1, (1, 2), True)[1], x.shape
            ),
        ),
    ]
    for fwd, bwd in cases:
        dy = rng.standard_normal(fwd(x).shape)
        numeric = (np.sum(dy * fwd(x + eps * v)) - np.sum(dy * fwd(x - eps * v))) / (2 * eps)
        analytic = np.sum(bwd(dy) * v)
        assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic))


def test_non_contiguous_inputs(rng):
    x = rng.standard_normal((3, 11, 9, 4)).astype(np.float32).transpose(0, 3, 1, 2)[:, :, ::-1]
    assert not x.flags.c_contiguous
    y, idx = cpu.max_pool2d_forward(x, 3, 2, 1)
    y_ref, idx_ref = ref.max_pool2d_forward(np.ascontiguousarray(x), 3, 2, 1)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    dy = rng.standard_normal(y.shape).astype(np.float32)[..., ::-1]
    assert_close(
        cpu.max_pool2d_backward(dy, idx[..., ::-1], x.shape),
        ref.max_pool2d_backward(dy, idx_ref[..., ::-1], x.shape),
        np.float32,
        "max backward",
    )
    assert_close(
        cpu.avg_pool2d_forward(x, 2), ref.avg_pool2d_forward(np.ascontiguousarray(x), 2), np.float32
    )
    assert_close(
        cpu.adaptive_avg_pool2d_forward(x, 3),
        ref.adaptive_avg_pool2d_forward(np.ascontiguousarray(x), 3),
        np.float32,
    )


def err(fn, exc, *args):
    with pytest.raises(exc) as info:
        fn(*args)
    return str(info.value)


def test_bad_arguments_raise_clear_errors():
    x = np.zeros((2, 3, 6, 6), np.float32)
    msg = err(cpu.max_pool2d_forward, ValueError, x, 3, 1, 2)
    assert "max_pool2d" in msg and "at most half of kernel_size (3, 3)" in msg
    assert "kernel_size must be positive" in err(cpu.max_pool2d_forward, ValueError, x, 0)
    assert "stride must be positive" in err(cpu.max_pool2d_forward, ValueError, x, 2, -1)
    assert "padding must be non-negative" in err(cpu.avg_pool2d_forward, ValueError, x, 2, 2, -1)
    msg = err(cpu.max_pool2d_forward, ValueError, x, 7)
    assert "(2, 3, 6, 6)" in msg and "too small" in msg
    msg = err(cpu.max_pool2d_forward, ValueError, x[0], 2)
    assert "expected a 4-D input" in msg and "(3, 6, 6)" in msg
    assert "float32 or float64" in err(cpu.avg_pool2d_forward, TypeError, x.astype(np.int32), 2)
    assert "divisor_override must be positive" in err(
        cpu.avg_pool2d_forward, ValueError, x, 2, 2, 0, False, True, 0
    )
    # a dilated window that lies entirely in the padding
    msg = err(cpu.max_pool2d_forward, ValueError, np.zeros((1, 1, 2, 2)), 2, 1, 1, 3)
    assert "entirely in the padding" in msg
    y, idx = cpu.max_pool2d_forward(x, 2)
    bad = idx.copy()
    bad[0, 0, 0, 0] = 36
    msg = err(cpu.max_pool2d_backward, ValueError, np.ones_like(y), bad, x.shape)
    assert "1 entries of indices" in msg and "[0, 36)" in msg
    msg = err(cpu.max_pool2d_backward, TypeError, np.ones_like(y), idx.astype(np.int32), x.shape)
    assert "int64" in msg
    msg = err(cpu.max_pool2d_backward, ValueError, np.ones((2, 3, 2, 3), np.float32), idx, x.shape)
    assert "differ in shape" in msg
    msg = err(cpu.avg_pool2d_backward, ValueError, np.ones((2, 3, 2, 2), np.float32), x.shape, 2)
    assert "grad_output has shape (2, 3, 2, 2)" in msg and "(2, 3, 3, 3)" in msg
    assert "output_size must be positive" in err(
        cpu.adaptive_avg_pool2d_forward, ValueError, x, (0, 2)
    )
    msg = err(cpu.adaptive_avg_pool2d_backward, ValueError, np.ones((2, 4, 1, 1)), (2, 3, 6, 6))
    assert "does not match input_shape" in msg
