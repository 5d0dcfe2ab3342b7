"""conv2d / conv1d kernels: the C++ backend against the loop-free NumPy reference and PyTorch.

Random configurations cover batch 1, 1x1 kernels, kernels as large as the padded input, odd
sizes, strides, padding, dilation and groups (depthwise included), with and without bias, on both
SIMD paths and with 1 and 2 threads; every algorithm the planner can pick is hit on purpose.
"""

from __future__ import annotations

import numpy as np
import pytest

from axonal import _cpu, backend

ref = backend.get("numpy")
cpu = backend.get("cpu")

TOL = {np.float32: 1e-4, np.float64: 1e-10}


def assert_close(got, want, dtype, what=""):
    """Max error relative to the largest magnitude of the reference."""
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert got.dtype == np.dtype(dtype), (what, got.dtype)
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
    err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.3e}"


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def random_config(rng):
    """A random valid conv2d configuration (small enough for the NumPy reference)."""
    while True:
        groups = int(rng.choice([1, 1, 1, 2, 3, 4]))
        cg = int(rng.choice([1, 1, 2, 3, 5, 8, 16]))
        kg = int(rng.choice([1, 2, 3, 4, 6, 7, 16, 17]))
        if rng.random() < 0.15:  # depthwise
            groups, cg, kg = int(rng.integers(1, 9)), 1, int(rng.choice([1, 2]))
        n = int(rng.choice([1, 1, 2, 3]))
        r, s = int(rng.choice([1, 1, 2, 3, 3, 5])), int(rng.choice([1, 2, 3, 3, 4]))
        sh, sw = int(rng.choice([1, 1, 1, 2, 3])), int(rng.choice([1, 1, 2]))
        dh, dw = int(rng.choice([1, 1, 1, 2])), int(rng.choice([1, 1, 2, 3]))
        ph, pw = int(rng.integers(0, 3)), int(rng.integers(0, 3))
        h, w = int(rng.integers(1, 14)), int(rng.integers(1, 14))
        if rng.random() < 0.15:  # kernel exactly as large as the padded input
            h, w = dh * (r - 1) + 1 - 2 * ph, dw * (s - 1) + 1 - 2 * pw
        if h < 1 or w < 1:
            continue
        if out_size(h, r, sh, ph, dh) < 1 or out_size(w, s, sw, pw, dw) < 1:
            continue
        return dict(
            x=(n, cg * groups, h, w),
            w=(kg * groups, cg, r, s),
            stride=(sh, sw),
            padding=(ph, pw),
            dilation=(dh, dw),
            groups=groups,
            bias=bool(rng.random() < 0.6),
        )


def check_config(cfg, dtype, rng, what=""):
    x = rng.standard_normal(cfg["x"]).astype(dtype)
    w = rng.standard_normal(cfg["w"]).astype(dtype)
    b = rng.standard_normal(cfg["w"][0]).astype(dtype) if cfg["bias"] else None
    args = (cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    what = f"{what} {cfg}"
    y = cpu.conv2d_forward(x, w, b, *args)
    assert_close(y, ref.conv2d_forward(x, w, b, *args), dtype, "forward" + what)
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(
        cpu.conv2d_backward_input(dy, w, x.shape, *args),
        ref.conv2d_backward_input(dy, w, x.shape, *args),
        dtype,
        "backward_input" + what,
    )
    assert_close(
        cpu.conv2d_backward_weight(dy, x, w.shape, *args),
        ref.conv2d_backward_weight(dy, x, w.shape, *args),
        dtype,
        "backward_weight" + what,
    )
    assert_close(
        cpu.conv2d_backward_bias(dy), ref.conv2d_backward_bias(dy), dtype, "backward_bias" + what
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_configs(dtype, simd, threads, rng):
    for _ in range(25):
        check_config(random_config(rng), dtype, rng)


# One configuration per algorithm of the planner (and per pass where they differ).
PATH_CASES = [
    # (x shape, w shape, stride, padding, dilation, groups, {pass: algorithm on AVX2})
    ((2, 3, 9, 11), (6, 1, 3, 3), 1, 1, 1, 3, {"forward": "direct"}),  # 1 in-channel per group
    ((3, 6, 7, 5), (10, 6, 1, 1), 1, 0, 1, 1, {"forward": "pointwise"}),
    ((2, 6, 5, 7), (9, 2, 1, 1), 1, 0, 1, 3, {"backward_weight": "pointwise"}),  # grouped
    ((2, 4, 9, 9), (6, 4, 3, 3), 2, 1, 1, 1, {"forward": "im2col_gemm"}),
    ((2, 3, 6, 41), (4, 3, 3, 3), 2, 1, 1, 1, {"forward": "im2col_gemm"}),  # long stride-2 rows
    ((2, 5, 11, 37), (6, 5, 3, 3), 1, 1, 1, 1, {"forward": "implicit_spatial"}),
    ((2, 8, 9, 7), (32, 8, 3, 3), 1, 1, 1, 1, {"forward": "implicit_channel"}),
    ((2, 32, 6, 7), (8, 32, 3, 2), 1, (1, 0), (1, 2), 1, {"backward_input": "implicit_channel"}),
    ((2, 5, 10, 33), (8, 5, 3, 3), 1, 1, 1, 1, {"backward_weight": "implicit_dot"}),
    ((2, 6, 8, 8), (32, 3, 3, 3), 1, 2, 2, 2, {"backward_weight": "implicit_channel"}),
    ((2, 8, 7, 9), (8, 8, 3, 3), 1, 3, 1, 1, {"backward_input": "im2col_gemm"}),  # pad > k - 1
    ((2, 4, 17, 15), (16, 4, 5, 5), 2, 2, 1, 1, {"forward": "implicit_channel"}),  # strided
    ((2, 4, 17, 15), (16, 4, 5, 5), (2, 3), 2, (1, 2), 1, {"backward_weight": "implicit_channel"}),
    ((2, 8, 9, 10), (32, 8, 1, 1), 2, 0, 1, 1, {"forward": "im2col_gemm"}),  # 1x1 stride 2
    ((1, 3, 12, 12), (5, 3, 3, 3), 1, 1, 1, 1, {}),  # batch 1 on 2 threads: rows split
    ((1, 16, 140, 130), (8, 16, 3, 3), 1, 1, 1, 1, {}),  # several row chunks per image
    ((2, 16, 9, 8), (33, 16, 2, 3), 1, (1, 2), (2, 1), 1, {}),  # ragged channel panels
    # long reductions (crs >= 384): the AVX-512 channel kernel's row tiles, odd Q, stride 2
    ((2, 48, 7, 13), (32, 48, 3, 3), 1, 1, 1, 1, {}),
    ((1, 48, 11, 31), (64, 48, 3, 3), 2, 1, (2, 1), 1, {}),
]


@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: f"{c[0]}x{c[1]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_algorithm_paths(case, dtype, threads, rng):
    xs, ws, stride, padding, dilation, groups, algos = case
    if _cpu.simd_path().startswith("avx2"):
        for pass_, algo in algos.items():
            plan = _cpu.conv2d_plan(xs, ws, stride, padding, dilation, groups, pass_, dtype)
            assert plan["algorithm"] == algo, (pass_, plan)
    cfg = dict(
        x=xs, w=ws, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=True
    )
    check_config(cfg, dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    cases = [
        ((4, 3, 16, 16), (8, 3, 3, 3), 1, 1, 1, 1),
        ((2, 16, 11, 9), (32, 16, 3, 3), 1, 1, 1, 1),
        ((3, 8, 13, 10), (8, 4, 3, 5), (2, 1), (1, 2), (1, 2), 2),
        ((2, 6, 9, 9), (6, 1, 3, 3), 1, 1, 1, 6),  # depthwise
        ((2, 5, 8, 8), (7, 5, 1, 1), 2, 0, 1, 1),
        ((1, 3, 20, 20), (4, 3, 7, 7), 2, 3, 1, 1),
        ((2, 4, 5, 5), (3, 4, 5, 5), 1, 0, 1, 1),  # kernel = input
    ]
    for xs, ws, stride, padding, dilation, groups in cases:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        xt = torch.from_numpy(x).requires_grad_()
        wt = torch.from_numpy(w).requires_grad_()
        bt = torch.from_numpy(b).requires_grad_()
        yt = F.conv2d(xt, wt, bt, stride, padding, dilation, groups)
        dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        yt.backward(torch.from_numpy(dy))
        args = (stride, padding, dilation, groups)
        assert_close(cpu.conv2d_forward(x, w, b, *args), yt.detach().numpy(), dtype, "forward")
        assert_close(
            cpu.conv2d_backward_input(dy, w, xs, *args), xt.grad.numpy(), dtype, "grad input"
        )
        assert_close(
            cpu.conv2d_backward_weight(dy, x, ws, *args), wt.grad.numpy(), dtype, "grad weight"
        )
        assert_close(cpu.conv2d_backward_bias(dy), bt.grad.numpy(), dtype, "grad bias")


def test_backward_matches_central_differences(rng):
    """<dy, conv(x + e dx, w + e dw)> - <dy, conv(x - e dx, w - e dw)> over 2e equals
    <dx_grad, dx> + <dw_grad, dw> (float64)."""
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    args = ((2, 1), (1, 1), (1, 2), 2)
    y = cpu.conv2d_forward(x, w, b, *args)
    dy = rng.standard_normal(y.shape)
    vx, vw, vb = rng.standard_normal(x.shape), rng.standard_normal(w.shape), rng.standard_normal(6)
    eps = 1e-6

    def f(t):
        return float(np.sum(dy * cpu.conv2d_forward(x + t * vx, w + t * vw, b + t * vb, *args)))

    numeric = (f(eps) - f(-eps)) / (2 * eps)
    analytic = (
        np.sum(cpu.conv2d_backward_input(dy, w, x.shape, *args) * vx)
        + np.sum(cpu.conv2d_backward_weight(dy, x, w.shape, *args) * vw)
        + np.sum(cpu.conv2d_backward_bias(dy) * vb)
    )
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic))


def test_non_contiguous_inputs_are_copied(rng):
    x = rng.standard_normal((3, 9, 7, 4)).astype(np.float32).transpose(0, 3, 2, 1)  # (3, 4, 7, 9)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)[:, :, ::-1, :]
    b = rng.standard_normal(12).astype(np.float32)[::2]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous and not b.flags.c_contiguous
    args = (1, 1, 1, 1)
    y = cpu.conv2d_forward(x, w, b, *args)
    assert_close(y, ref.conv2d_forward(x, w, b, *args), np.float32, "forward")
    dy = rng.standard_normal(y.shape).astype(np.float32)[:, :, ::-1, :]
    assert_close(
        cpu.conv2d_backward_input(dy, w, x.shape, *args),
        ref.conv2d_backward_input(dy, w, x.shape, *args),
        np.float32,
        "backward_input",
    )
    assert_close(
        cpu.conv2d_backward_weight(dy, x, w.shape, *args),
        ref.conv2d_backward_weight(dy, x, w.shape, *args),
        np.float32,
        "backward_weight",
    )
    assert_close(cpu.conv2d_backward_bias(dy), ref.conv2d_backward_bias(dy), np.float32, "bias")


@pytest.mark.parametrize("shape", [(2, 5, 10, 33), (2, 6, 8, 8)])
def test_non_finite_inputs_propagate_like_the_reference(shape, rng):
    """inf / NaN in x reach exactly the outputs and gradients they touch (no 0 * inf leaks from
    the kernels' padding lanes)."""
    cin = shape[1]
    x = rng.standard_normal(shape)
    x[0, 1, 3, 2], x[1, 0, 5, -1], x[1, 2, 0, 0] = np.inf, -np.inf, np.nan
    w = rng.standard_normal((32, cin, 3, 3))
    args = (1, 1, 1, 1)
    y, y_ref = cpu.conv2d_forward(x, w, None, *args), ref.conv2d_forward(x, w, None, *args)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(y_ref))
    fin = np.isfinite(y_ref)
    np.testing.assert_allclose(y[fin], y_ref[fin], rtol=1e-9, atol=1e-9)
    dy = rng.standard_normal(y.shape)
    dw, dw_ref = (
        cpu.conv2d_backward_weight(dy, x, w.shape, *args),
        ref.conv2d_backward_weight(dy, x, w.shape, *args),
    )
    np.testing.assert_array_equal(np.isnan(dw), np.isnan(dw_ref))
    fin = np.isfinite(dw_ref)
    np.testing.assert_allclose(dw[fin], dw_ref[fin], rtol=1e-9, atol=1e-9)


def test_concurrent_calls_from_python_threads(rng):
    """The GIL is released during compute: calls from several Python threads run side by side,
    each with its own workspace, and give the single-threaded answers."""
    from concurrent.futures import ThreadPoolExecutor

    cases = []
    for _ in range(6):
        x = rng.standard_normal((3, 8, 12, 11)).astype(np.float32)
        w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
        cases.append((x, w, cpu.conv2d_forward(x, w, None, 1, 1)))
    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda c: cpu.conv2d_forward(c[0], c[1], None, 1, 1), cases * 3))
    for (_, _, want), got in zip(cases * 3, outs):
        np.testing.assert_array_equal(got, want)


def test_empty_batch_and_channels():
    x = np.zeros((0, 3, 5, 5), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    assert cpu.conv2d_forward(x, w, None, 1, 1).shape == (0, 4, 5, 5)
    dy = np.zeros((0, 4, 5, 5), np.float32)
    assert cpu.conv2d_backward_input(dy, w, x.shape, 1, 1).shape == (0, 3, 5, 5)
    dw = cpu.conv2d_backward_weight(dy, x, w.shape, 1, 1)
    assert dw.shape == w.shape and not dw.any()
    # no input channels: the output is the bias
    x0, w0 = np.zeros((2, 0, 4, 4)), np.zeros((3, 0, 2, 2))
    b = np.array([1.0, -2.0, 3.0])
    y = cpu.conv2d_forward(x0, w0, b)
    np.testing.assert_array_equal(y, np.broadcast_to(b[None, :, None, None], (2, 3, 3, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_matches_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 29)).astype(dtype)
    w = rng.standard_normal((6, 2, 5)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    args = (2, 3, 2, 2)
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    yt = torch.nn.functional.conv1d(xt, wt, torch.from_numpy(b), *args)
    dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    yt.backward(torch.from_numpy(dy))
    for be in (cpu, ref):
        assert_close(be.conv1d_forward(x, w, b, *args), yt.detach().numpy(), dtype, "conv1d")
        assert_close(be.conv1d_backward_input(dy, w, x.shape, *args), xt.grad.numpy(), dtype, "dx")
        assert_close(be.conv1d_backward_weight(dy, x, w.shape, *args), wt.grad.numpy(), dtype, "dw")


def test_benchmark_shapes_workspace_is_bounded():
    """Peak extra memory of one call stays far below 64 MiB at the benchmark shapes."""
    shapes = [
        ((64, 1, 28, 28), (32, 1, 3, 3), 1, 1),
        ((64, 32, 14, 14), (64, 32, 3, 3), 1, 1),
        ((32, 64, 32, 32), (64, 64, 3, 3), 1, 1),
        ((8, 64, 56, 56), (64, 64, 3, 3), 1, 1),
        ((8, 64, 56, 56), (128, 64, 1, 1), 2, 0),
        ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
    ]
    for xs, ws, s, p in shapes:
        for pass_ in ("forward", "backward_input", "backward_weight"):
            for dtype in (np.float32, np.float64):
                plan = _cpu.conv2d_plan(xs, ws, s, p, 1, 1, pass_, dtype, 2)
                assert plan["workspace_bytes"] < 16 * 2**20, (xs, pass_, plan)


def err(fn, exc, *args):
    with pytest.raises(exc) as info:
        fn(*args)
    return str(info.value)


def test_bad_configurations_raise_clear_errors():
    x = np.zeros((2, 6, 8, 8), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    msg = err(cpu.conv2d_forward, ValueError, x, w, None, 1, 1, 1, 4)
    assert "conv2d" in msg and "divisible by groups = 4" in msg and "(2, 6, 8, 8)" in msg
    msg = err(
        cpu.conv2d_forward, ValueError, x, np.zeros((4, 6, 3, 3), np.float32), None, 1, 1, 1, 2
    )
    assert "expects 12 input channels" in msg
    msg = err(cpu.conv2d_forward, ValueError, x, np.zeros((4, 6, 11, 3), np.float32))
    assert "smaller than the kernel (11, 3)" in msg and "padded to (8, 8)" in msg
    msg = err(cpu.conv2d_forward, ValueError, x, np.zeros((4, 6, 5, 5), np.float32), None, 1, 1, 3)
    assert "dilated kernel (13, 13)" in msg
    assert "padding must be non-negative" in err(cpu.conv2d_forward, ValueError, x, w, None, 1, -1)
    assert "stride must be positive" in err(cpu.conv2d_forward, ValueError, x, w, None, (1, 0))
    assert "dilation must be positive" in err(cpu.conv2d_forward, ValueError, x, w, None, 1, 0, 0)
    assert "groups must be positive" in err(cpu.conv2d_forward, ValueError, x, w, None, 1, 0, 1, 0)
    msg = err(cpu.conv2d_forward, ValueError, x[0], w)
    assert "expected a 4-D input" in msg and "(6, 8, 8)" in msg
    msg = err(cpu.conv2d_forward, TypeError, x, w.astype(np.float64), None, 1, 1, 1, 2)
    assert "dtypes differ" in msg and "float32" in msg and "float64" in msg
    assert "float32 or float64" in err(cpu.conv2d_forward, TypeError, x.astype(np.int64), w)
    assert "numpy.ndarray" in err(cpu.conv2d_forward, TypeError, x.tolist(), w)
    msg = err(cpu.conv2d_forward, ValueError, x, w, np.zeros(5, np.float32), 1, 1, 1, 2)
    assert "bias has shape (5,)" in msg
    assert "pair of ints" in err(cpu.conv2d_forward, TypeError, x, w, None, "1", 1, 1, 2)
    dy = np.zeros((2, 4, 8, 8), np.float32)
    msg = err(cpu.conv2d_backward_input, ValueError, dy, w, (2, 6, 9, 9), 1, 1, 1, 2)
    assert "grad_output has shape (2, 4, 8, 8)" in msg and "(2, 4, 9, 9)" in msg
    msg = err(cpu.conv2d_backward_weight, ValueError, dy, x, (4, 3, 3), 1, 1, 1, 2)
    assert "4 entries" in msg
    msg = err(cpu.conv2d_backward_weight, TypeError, dy, x.astype(np.float64), w.shape, 1, 1, 1, 2)
    assert "dtypes differ" in msg
