"""Depthwise conv2d (one input channel per group, the planner's "direct" algorithm): the C++
kernels against the NumPy reference on every SIMD path the CPU has, with 1 and 2 threads.

The SIMD kernels read zero-padded, column-deinterleaved copies of blocks of rows and vectorise
along the output columns, so the cases aim at their edges: planes narrower than a vector, widths
not a multiple of 8 or 16, strides 1-3 (also different per axis), padding from 0 to the kernel
size, dilation, kernels as large as the padded input, channel multipliers 1-4, row chunks and
split work when there are few planes, and non-finite inputs next to the columns a tail reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from axonal import _cpu, backend

ref = backend.get("numpy")
cpu = backend.get("cpu")

TOL = {np.float32: 1e-4, np.float64: 1e-10}
PASSES = ("forward", "backward_input", "backward_weight")


def assert_close(got, want, dtype, what):
    assert got.shape == want.shape and got.dtype == np.dtype(dtype), (what, got.shape, got.dtype)
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
    err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0.0)) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.3e}"


def check(cfg, dtype, rng):
    """Forward and the three gradients of one depthwise configuration against the reference,
    after checking that the planner sends every pass to the direct algorithm."""
    n, c, h, w, mult, (r, s), stride, padding, dilation, bias = cfg
    xs, ws = (n, c, h, w), (c * mult, 1, r, s)
    args = (stride, padding, dilation, c)
    for pass_ in PASSES:
        plan = _cpu.conv2d_plan(xs, ws, *args, pass_, dtype)
        assert plan["algorithm"] == "direct", (pass_, plan)
    x = rng.standard_normal(xs).astype(dtype)
    wt = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(c * mult).astype(dtype) if bias else None
    what = f" {cfg} {_cpu.simd_path()}"
    y = cpu.conv2d_forward(x, wt, b, *args)
    assert_close(y, ref.conv2d_forward(x, wt, b, *args), dtype, "forward" + what)
    dy = rng.standard_normal(y.shape).astype(dtype)
    assert_close(
        cpu.conv2d_backward_input(dy, wt, xs, *args),
        ref.conv2d_backward_input(dy, wt, xs, *args),
        dtype,
        "backward_input" + what,
    )
    assert_close(
        cpu.conv2d_backward_weight(dy, x, ws, *args),
        ref.conv2d_backward_weight(dy, x, ws, *args),
        dtype,
        "backward_weight" + what,
    )


# (N, C, H, W, multiplier, (R, S), stride, padding, dilation, bias)
CASES = [
    (2, 3, 9, 11, 1, (3, 3), 1, 1, 1, True),  # odd sizes
    (1, 5, 14, 14, 1, (3, 3), 1, 1, 1, False),  # 14 wide: one (masked) vector per row on AVX-512
    (2, 3, 28, 28, 1, (3, 3), 2, 1, 1, True),  # stride 2: deinterleaved columns
    (2, 4, 13, 17, 1, (5, 5), 1, 2, 1, True),  # 5x5, widths not a multiple of 8 or 16
    (1, 2, 7, 5, 1, (3, 3), 1, 1, 1, True),  # planes narrower than a vector
    (3, 2, 1, 1, 1, (1, 1), 1, 1, 1, True),  # 1x1 kernel with padding: 3x3 output of a 1x1 plane
    (2, 3, 1, 9, 1, (1, 3), 1, (0, 1), 1, True),  # one row
    (2, 2, 9, 1, 1, (3, 1), 1, (1, 0), 1, False),  # one column
    (2, 3, 19, 23, 2, (3, 3), 1, 1, 1, True),  # multiplier 2
    (1, 2, 12, 10, 3, (3, 2), (2, 1), (1, 0), 1, True),  # multiplier 3, stride 2 x 1
    (2, 2, 11, 21, 4, (2, 3), (1, 2), 1, 1, False),  # multiplier 4, stride 1 x 2
    (2, 3, 17, 19, 1, (3, 3), 3, 2, 1, True),  # stride 3 (scalar phase copies)
    (2, 3, 16, 33, 1, (3, 3), (3, 2), (0, 3), 1, True),  # padding wider than the kernel reach
    (2, 3, 15, 18, 1, (3, 3), 1, 1, 2, True),  # dilation 2
    (1, 3, 20, 25, 2, (3, 5), 2, (2, 4), (2, 3), True),  # dilation and stride together
    (2, 2, 5, 7, 1, (5, 7), 1, 0, 1, True),  # kernel as large as the input (1x1 output)
    (2, 2, 3, 4, 1, (5, 6), 1, 1, 1, True),  # ... as large as the padded input
    (2, 2, 1, 2, 1, (5, 6), (2, 3), (2, 2), 1, False),  # ... with strides
    (1, 3, 30, 41, 1, (7, 7), 1, 3, 1, True),  # 7x7: the tap form (no row-shared tiles)
    (1, 2, 33, 40, 1, (4, 2), 1, (3, 1), 1, True),  # even kernel, padding past its reach
    (1, 1, 70, 9, 1, (3, 3), 1, 1, 1, True),  # one plane: rows split over the threads
    (1, 1, 300, 300, 1, (3, 3), 1, 1, 1, True),  # several row chunks per plane (bounded block)
    (1, 1, 150, 260, 2, (5, 3), 2, 2, (1, 2), True),  # ... strided, dilated, multiplier 2
]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: "x".join(map(str, c[:4])) + f"m{c[4]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_cases(cfg, dtype, simd, threads, rng):
    check(cfg, dtype, rng)


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def random_case(rng):
    while True:
        r, s = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        dh, dw = int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2]))
        ph, pw = int(rng.integers(0, r + 1)), int(rng.integers(0, s + 1))
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        if rng.random() < 0.15:  # kernel as large as the padded input
            h, w = dh * (r - 1) + 1 - 2 * ph, dw * (s - 1) + 1 - 2 * pw
        if h < 1 or w < 1 or out_size(h, r, sh, ph, dh) < 1 or out_size(w, s, sw, pw, dw) < 1:
            continue
        if (r, s, sh, sw, ph, pw) == (1, 1, 1, 1, 0, 0):  # pointwise: another algorithm
            continue
        n, c, mult = int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
        bias = bool(rng.random() < 0.5)
        return (n, c, h, w, mult, (r, s), (sh, sw), (ph, pw), (dh, dw), bias)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_random_configs(dtype, simd, threads, rng):
    for _ in range(30):
        check(random_case(rng), dtype, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_matches_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    cases = [  # (N, C, H, W, multiplier, R, stride, padding, dilation)
        (4, 16, 14, 14, 1, 3, 1, 1, 1),
        (2, 8, 28, 28, 1, 3, 2, 1, 1),
        (2, 8, 23, 19, 2, 5, 1, 2, 1),
        (1, 6, 17, 21, 1, 3, 1, 2, 2),
    ]
    for n, c, h, w, mult, r, stride, padding, dilation in cases:
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        wt = rng.standard_normal((c * mult, 1, r, r)).astype(dtype)
        b = rng.standard_normal(c * mult).astype(dtype)
        xt, wtt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, wt, b))
        yt = F.conv2d(xt, wtt, bt, stride, padding, dilation, c)
        dy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
        yt.backward(torch.from_numpy(dy))
        args = (stride, padding, dilation, c)
        y = cpu.conv2d_forward(x, wt, b, *args)
        assert_close(y, yt.detach().numpy(), dtype, "forward")
        dx = cpu.conv2d_backward_input(dy, wt, x.shape, *args)
        assert_close(dx, xt.grad.numpy(), dtype, "backward_input")
        dw = cpu.conv2d_backward_weight(dy, x, wt.shape, *args)
        assert_close(dw, wtt.grad.numpy(), dtype, "backward_weight")
        assert_close(cpu.conv2d_backward_bias(dy), bt.grad.numpy(), dtype, "backward_bias")


@pytest.mark.parametrize(
    "stride, padding", [(1, 1), (2, 0), (2, 1), ((1, 3), (1, 0))], ids=["s1", "s2p0", "s2", "s13"]
)
def test_depthwise_non_finite_inputs_propagate_like_the_reference(stride, padding, simd, rng):
    """inf / NaN in x reach exactly the outputs and weight gradients they touch: the vector tails
    past the last output column, and columns that no window reads (stride 2, no padding, even
    width), never multiply a non-finite x by a zero."""
    x = rng.standard_normal((2, 3, 9, 20))
    x[0, 0, 4, -1], x[0, 1, 0, 0], x[1, 2, 8, 19], x[1, 0, 3, 10] = np.inf, -np.inf, np.nan, np.nan
    w = rng.standard_normal((6, 1, 3, 3))
    args = (stride, padding, 1, 3)
    y, y_ref = cpu.conv2d_forward(x, w, None, *args), ref.conv2d_forward(x, w, None, *args)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(y_ref))
    fin = np.isfinite(y_ref)
    np.testing.assert_allclose(y[fin], y_ref[fin], rtol=1e-9, atol=1e-9)
    dy = rng.standard_normal(y.shape)
    dw = cpu.conv2d_backward_weight(dy, x, w.shape, *args)
    dw_ref = ref.conv2d_backward_weight(dy, x, w.shape, *args)
    np.testing.assert_array_equal(np.isnan(dw), np.isnan(dw_ref))
    assert np.isfinite(dw_ref).any() and not np.isfinite(dw_ref).all()
    fin = np.isfinite(dw_ref)
    np.testing.assert_allclose(dw[fin], dw_ref[fin], rtol=1e-9, atol=1e-9)


def test_depthwise_workspace_is_bounded():
    """The padded row blocks are chunked: a huge plane does not make a huge workspace."""
    for pass_ in PASSES:
        for stride in (1, 2):
            plan = _cpu.conv2d_plan(
                (1, 2, 4000, 4000), (2, 1, 5, 5), stride, 2, 1, 2, pass_, "float32", 2
            )
            assert plan["algorithm"] == "direct"
            assert plan["workspace_bytes"] <= 4 * 2**20, (pass_, stride, plan)
