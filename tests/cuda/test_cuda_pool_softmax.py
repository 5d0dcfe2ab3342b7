"""CUDA pooling (max / avg / adaptive-avg, forward and backward) and softmax / log_softmax
(forward and backward, warp-per-row and block-per-row widths) against NumPy references."""

import numpy as np
import pytest

import axonal

if not axonal.cuda.is_available():
    pytest.skip("no CUDA build or no GPU on this machine", allow_module_level=True)
cp = pytest.importorskip("cupy", reason="CuPy is not installed")

from axonal import backend  # noqa: E402

cu = backend.get("cuda")
ref = backend.get("numpy")


def rel_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    scale = max(np.abs(want).max(initial=0.0), 1e-30)
    return float(np.abs(got - want).max(initial=0.0) / scale)


POOLS = [
    ((2, 3, 8, 9), 2, None, 0, 1, False),
    ((1, 2, 7, 7), 3, 2, 1, 1, True),
    ((2, 1, 9, 6), (3, 2), (1, 2), (1, 1), (2, 1), False),
    ((1, 2, 5, 5), 4, 3, 2, 1, True),
    ((3, 4, 33, 31), 3, 2, 1, 1, False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(POOLS)))
def test_max_pool(dtype, case, rng):
    xs, k, s, p, d, ceil_mode = POOLS[case]
    x = rng.standard_normal(xs).astype(dtype)
    x.flat[5] = x.flat[6]  # a tie: the first one wins
    x.flat[-1] = np.nan  # a NaN wins its windows
    y, idx = cu.max_pool2d_forward(cp.asarray(x), k, s, p, d, ceil_mode)
    want_y, want_idx = ref.max_pool2d_forward(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(cp.asnumpy(y), want_y)
    np.testing.assert_array_equal(cp.asnumpy(idx), want_idx)
    dy = rng.standard_normal(want_y.shape).astype(dtype)
    dx = cu.max_pool2d_backward(cp.asarray(dy), idx, xs)
    assert rel_err(cp.asnumpy(dx), ref.max_pool2d_backward(dy, want_idx, xs)) <= 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [0, 1, 3, 4])
def test_avg_pool(dtype, case, rng):
    xs, k, s, p, _, ceil_mode = POOLS[case]
    x = rng.standard_normal(xs).astype(dtype)
    for include_pad in (True, False):
        for div in (None, 3):
            y = cu.avg_pool2d_forward(cp.asarray(x), k, s, p, ceil_mode, include_pad, div)
            want = ref.avg_pool2d_forward(x, k, s, p, ceil_mode, include_pad, div)
            assert rel_err(cp.asnumpy(y), want) <= 1e-5
            dy = rng.standard_normal(want.shape).astype(dtype)
            dx = cu.avg_pool2d_backward(cp.asarray(dy), xs, k, s, p, ceil_mode, include_pad, div)
            want_dx = ref.avg_pool2d_backward(dy, xs, k, s, p, ceil_mode, include_pad, div)
            assert rel_err(cp.asnumpy(dx), want_dx) <= 1e-5


@pytest.mark.parametrize(
    "hw,out", [((7, 9), (3, 4)), ((5, 5), 5), ((6, 4), 1), ((3, 8), (5, None))]
)
def test_adaptive_avg_pool(hw, out, rng):
    xs = (2, 3, *hw)
    x = rng.standard_normal(xs).astype(np.float32)
    y = cu.adaptive_avg_pool2d_forward(cp.asarray(x), out)
    want = ref.adaptive_avg_pool2d_forward(x, out)
    assert rel_err(cp.asnumpy(y), want) <= 1e-5
    dy = rng.standard_normal(want.shape).astype(np.float32)
    dx = cu.adaptive_avg_pool2d_backward(cp.asarray(dy), xs)
    assert rel_err(cp.asnumpy(dx), ref.adaptive_avg_pool2d_backward(dy, xs)) <= 1e-5


def test_pool_errors():
    x = cp.ones((1, 1, 4, 4), cp.float32)
    with pytest.raises(ValueError, match="at most half"):
        cu.max_pool2d_forward(x, 2, 1, 2)
    with pytest.raises(TypeError, match="indices must be int64"):
        cu.max_pool2d_backward(x, cp.zeros((1, 1, 4, 4), cp.int32), (1, 1, 8, 8))
    with pytest.raises(ValueError, match="grad_output has shape"):
        cu.avg_pool2d_backward(x, (1, 1, 4, 4), 2)


def softmax_ref(x, log):
    x64 = x.astype(np.float64)
    m = x64.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(x64 - m).sum(axis=-1, keepdims=True))
    return x64 - lse if log else np.exp(x64 - lse)


# every kernel plan (softmax_rows.cuh, softmax_plan): warp rows with and without 16-byte packs,
# block rows in registers (128 .. 1024 threads) and the online block kernel past them
WIDTHS = [1, 17, 32, 33, 100, 128, 513, 1000, 1024, 1025, 1028, 2048, 3000, 5000, 8192, 16384]
WIDTHS += [16388]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_widths(dtype, log, rng):
    fwd = cu.log_softmax_forward if log else cu.softmax_forward
    bwd = cu.log_softmax_backward if log else cu.softmax_backward
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for width in WIDTHS:
        x = (rng.standard_normal((7, width)) * 10 + 50).astype(dtype)  # large values: stability
        y = fwd(cp.asarray(x))
        want = softmax_ref(x, log)
        assert rel_err(cp.asnumpy(y), want) <= tol, (width, log)
        dy = rng.standard_normal(x.shape).astype(dtype)
        y64 = want
        if log:
            want_dx = dy - np.exp(y64) * dy.sum(axis=-1, keepdims=True)
        else:
            want_dx = y64 * (dy - (dy * y64).sum(axis=-1, keepdims=True))
        dx = bwd(cp.asarray(dy), cp.asarray(want.astype(dtype)))
        assert rel_err(cp.asnumpy(dx), want_dx) <= 10 * tol, (width, log)


@pytest.mark.parametrize("cols", [128, 1000, 2048, 8192])
def test_softmax_unaligned_rows_take_the_scalar_kernels(cols, rng):
    # a buffer that starts 4 bytes past the 16-byte boundary: no 16-byte packs
    rows = 5
    x = (rng.standard_normal((rows, cols)) * 4).astype(np.float32)
    buf = cp.empty(rows * cols + 1, cp.float32)
    xv = buf[1:].reshape(rows, cols)
    xv[...] = cp.asarray(x)
    assert xv.data.ptr % 16 != 0
    for log in (False, True):
        fwd = cu.log_softmax_forward if log else cu.softmax_forward
        assert rel_err(cp.asnumpy(fwd(xv)), softmax_ref(x, log)) <= 1e-5
    y = softmax_ref(x, False).astype(np.float32)
    ybuf = cp.empty(rows * cols + 1, cp.float32)
    yv = ybuf[1:].reshape(rows, cols)
    yv[...] = cp.asarray(y)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    want = y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    assert rel_err(cp.asnumpy(cu.softmax_backward(cp.asarray(dy), yv)), want) <= 1e-4


def test_softmax_dims_and_special_values(rng):
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    for dim in (0, 1, -1):
        got = cp.asnumpy(cu.softmax_forward(cp.asarray(x), dim))
        want = softmax_ref(np.moveaxis(x, dim, -1), False)
        assert rel_err(got, np.moveaxis(want, -1, dim)) <= 1e-5
    z = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    got = cp.asnumpy(cu.softmax_forward(cp.asarray(z)))
    assert got[0, 0] == 0.0 and abs(got[0].sum() - 1) < 1e-6 and np.isnan(got[1]).all()
    big = np.full((2, 2000), -np.inf, np.float32)
    big[0, 7] = 3.0
    got = cp.asnumpy(cu.softmax_forward(cp.asarray(big)))
    assert got[0, 7] == 1.0 and np.isnan(got[1]).all()
    assert float(cu.softmax_forward(cp.asarray(np.float32(3.0)))) == 1.0
    with pytest.raises(ValueError, match="dim 2 out of range"):
        cu.softmax_forward(cp.ones((2, 3), cp.float32), 2)
    with pytest.raises(ValueError, match="differ in shape"):
        cu.softmax_backward(cp.ones((2, 3), cp.float32), cp.ones((3, 2), cp.float32))
