"""CUDA conv2d (implicit GEMM: forward, backward-input, backward-weight, bias) against the NumPy
reference on random configurations: stride, padding, dilation, groups (incl. depthwise),
off-tile channel / pixel counts, float32 (1e-4 relative) and float64 (1e-10)."""

import numpy as np
import pytest

import axonal

if not axonal.cuda.is_available():
    pytest.skip("no CUDA build or no GPU on this machine", allow_module_level=True)
cp = pytest.importorskip("cupy", reason="CuPy is not installed")

from axonal import backend  # noqa: E402

cu = backend.get("cuda")
ref = backend.get("numpy")
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def rel_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    scale = max(np.abs(want).max(initial=0.0), 1e-30)
    return float(np.abs(got - want).max(initial=0.0) / scale)


def random_case(rng):
    groups = int(rng.choice([1, 1, 2, 3]))
    cg = int(rng.integers(1, 6))
    kg = int(rng.choice([1, 3, 8, 33, 70]))
    r, s = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pad = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    h = int(rng.integers(max(1, dil[0] * (r - 1) + 1 - 2 * pad[0]), 20))
    w = int(rng.integers(max(1, dil[1] * (s - 1) + 1 - 2 * pad[1]), 20))
    n = int(rng.integers(1, 4))
    return (n, cg * groups, h, w), (kg * groups, cg, r, s), stride, pad, dil, groups


CASES = [
    ((4, 16, 28, 28), (32, 16, 3, 3), 1, 1, 1, 1),  # a common layer (128-row tiles)
    ((2, 8, 15, 17), (8, 1, 3, 3), 2, 1, 1, 8),  # depthwise, stride 2
    ((1, 3, 32, 32), (130, 3, 7, 7), 2, 3, 1, 1),  # M edge of a 128 tile
    ((3, 5, 9, 7), (6, 5, 1, 1), 1, 0, 1, 1),  # 1x1
    ((2, 4, 12, 12), (4, 2, 3, 2), (2, 1), (1, 0), (2, 3), 2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fixed_and_random_configs(dtype, rng):
    cases = CASES + [random_case(rng) for _ in range(8)]
    for xs, ws, stride, pad, dil, groups in cases:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        args = (stride, pad, dil, groups)
        want = ref.conv2d_forward(x, w, b, *args)
        y = cu.conv2d_forward(cp.asarray(x), cp.asarray(w), cp.asarray(b), *args)
        assert y.shape == want.shape and y.dtype == dtype
        assert rel_err(cp.asnumpy(y), want) <= TOL[dtype], (xs, ws, args)
        dy = rng.standard_normal(want.shape).astype(dtype)
        gdy = cp.asarray(dy)
        dx = cu.conv2d_backward_input(gdy, cp.asarray(w), xs, *args)
        assert rel_err(cp.asnumpy(dx), ref.conv2d_backward_input(dy, w, xs, *args)) <= TOL[dtype]
        dw = cu.conv2d_backward_weight(gdy, cp.asarray(x), ws, *args)
        want_dw = ref.conv2d_backward_weight(dy, x, ws, *args)
        assert rel_err(cp.asnumpy(dw), want_dw) <= TOL[dtype], (xs, ws, args)
        db = cu.conv2d_backward_bias(gdy)
        assert rel_err(cp.asnumpy(db), ref.conv2d_backward_bias(dy)) <= TOL[dtype]


def test_split_k_weight_gradient_large_reduction(rng):
    # N*P*Q = 8*40*40 = 12800: several splits adding into a zeroed dw
    x = rng.standard_normal((8, 4, 40, 40)).astype(np.float32)
    w_shape = (6, 4, 3, 3)
    dy = rng.standard_normal((8, 6, 40, 40)).astype(np.float32)
    got = cu.conv2d_backward_weight(cp.asarray(dy), cp.asarray(x), w_shape, 1, 1)
    want = ref.conv2d_backward_weight(dy, x, w_shape, 1, 1)
    assert rel_err(cp.asnumpy(got), want) <= TOL[np.float32]


def test_bench_layer_scaled_down(rng):
    # the benchmark's layer (C64, K64, 3x3, pad 1) on 2 images of 20x20
    x = rng.standard_normal((2, 64, 20, 20)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    y = cu.conv2d_forward(cp.asarray(x), cp.asarray(w), None, 1, 1)
    assert rel_err(cp.asnumpy(y), ref.conv2d_forward(x, w, None, 1, 1)) <= TOL[np.float32]


def test_noncontiguous_inputs_and_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 6, 11, 13)).astype(np.float32)
    w = rng.standard_normal((4, 6, 3, 3)).astype(np.float32)
    gx = cp.asarray(x.transpose(0, 1, 3, 2).copy()).transpose(0, 1, 3, 2)  # non-contiguous view
    y = cu.conv2d_forward(gx, cp.asarray(w), None, 2, 1)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1)
    assert rel_err(cp.asnumpy(y), want.numpy()) <= TOL[np.float32]


def test_conv1d(rng):
    x = rng.standard_normal((2, 4, 30)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3)).astype(np.float32)
    y = cu.conv1d_forward(cp.asarray(x), cp.asarray(w), None, 2, 1, 2, 2)
    want = ref.conv1d_forward(x, w, None, 2, 1, 2, 2)
    assert rel_err(cp.asnumpy(y), want) <= TOL[np.float32]
    dy = rng.standard_normal(want.shape).astype(np.float32)
    dx = cu.conv1d_backward_input(cp.asarray(dy), cp.asarray(w), x.shape, 2, 1, 2, 2)
    assert rel_err(cp.asnumpy(dx), ref.conv1d_backward_input(dy, w, x.shape, 2, 1, 2, 2)) <= 1e-4
    dw = cu.conv1d_backward_weight(cp.asarray(dy), cp.asarray(x), w.shape, 2, 1, 2, 2)
    assert rel_err(cp.asnumpy(dw), ref.conv1d_backward_weight(dy, x, w.shape, 2, 1, 2, 2)) <= 1e-4


def test_empty_batch_and_errors():
    x = cp.ones((0, 3, 5, 5), cp.float32)
    w = cp.ones((2, 3, 3, 3), cp.float32)
    assert cu.conv2d_forward(x, w).shape == (0, 2, 3, 3)
    dw = cu.conv2d_backward_weight(cp.ones((0, 2, 3, 3), cp.float32), x, (2, 3, 3, 3))
    assert float(cp.abs(dw).max()) == 0.0
    with pytest.raises(ValueError, match="weight expects 6 input channels"):
        cu.conv2d_forward(
            cp.ones((1, 4, 5, 5), cp.float32), cp.ones((2, 3, 3, 3), cp.float32), groups=2
        )
    with pytest.raises(ValueError, match="smaller than the"):
        cu.conv2d_forward(cp.ones((1, 3, 2, 2), cp.float32), w)
    with pytest.raises(TypeError, match="dtypes differ"):
        cu.conv2d_forward(cp.ones((1, 3, 5, 5), cp.float64), w)
    with pytest.raises(ValueError, match="grad_output has shape"):
        cu.conv2d_backward_input(cp.ones((1, 2, 4, 4), cp.float32), w, (1, 3, 5, 5))
    with pytest.raises(TypeError, match="must be a cupy.ndarray"):
        cu.conv2d_forward(np.ones((1, 3, 5, 5), np.float32), w)
