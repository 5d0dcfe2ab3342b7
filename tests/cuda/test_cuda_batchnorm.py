"""The fused CUDA batch-norm training kernels (batchnorm.cu) against a float64 NumPy reference:
forward (output, batch statistics, running-statistics update) and backward, odd sizes, with and
without affine parameters; and nn.BatchNorm1d / 2d training on "cuda" against "cpu"."""

import numpy as np
import pytest

import axonal

if not axonal.cuda.is_available():
    pytest.skip("no CUDA build or no GPU on this machine", allow_module_level=True)
cp = pytest.importorskip("cupy", reason="CuPy is not installed")

from axonal import backend  # noqa: E402

cu = backend.get("cuda")
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def rel(got, want):
    got = np.asarray(got, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 5), (4, 7, 1), (3, 2, 1000), (1, 1, 2), (5, 33, 17)])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_kernels_match_reference(dtype, shape, affine, rng):
    n, c, length = shape
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    rm, rv = rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype) + 0.5
    eps, mom = 1e-5, 0.1
    d = lambda a: None if a is None else cp.asarray(a)  # noqa: E731
    drm, drv = d(rm), d(rv)
    y, mean, var, invstd = cu.batch_norm_forward(d(x), d(w), d(b), eps, drm, drv, mom)
    x64 = x.astype(np.float64)
    m = n * length
    mu = x64.mean(axis=(0, 2))
    va = ((x64 - mu[:, None]) ** 2).mean(axis=(0, 2))
    inv = 1 / np.sqrt(va + eps)
    xhat = (x64 - mu[:, None]) * inv[:, None]
    want = xhat * (w[:, None] if affine else 1) + (b[:, None] if affine else 0)
    tol = TOL[dtype]
    assert rel(cp.asnumpy(y), want) <= tol
    assert rel(cp.asnumpy(mean), mu) <= tol and rel(cp.asnumpy(var), va) <= tol
    assert rel(cp.asnumpy(invstd), inv) <= tol
    unbiased = va * m / (m - 1)
    assert rel(cp.asnumpy(drm), 0.9 * rm + 0.1 * mu) <= tol
    assert rel(cp.asnumpy(drv), 0.9 * rv + 0.1 * unbiased) <= tol
    g = rng.standard_normal(shape).astype(dtype)
    gx, sgx, sg = cu.batch_norm_backward(d(g), d(x), mean, invstd, d(w))
    g64 = g.astype(np.float64)
    want_sg, want_sgx = g64.sum(axis=(0, 2)), (g64 * xhat).sum(axis=(0, 2))
    scale = inv * (w if affine else 1)
    want_gx = (g64 - want_sg[:, None] / m - xhat * want_sgx[:, None] / m) * scale[:, None]
    # errors against the size of the terms that cancel: with 2 values per channel gx is 0 up
    # to rounding (the output is +-1 whatever x is), so its own maximum is no scale
    g_scale = np.abs(g64).sum(axis=(0, 2))
    assert np.all(np.abs(cp.asnumpy(sg) - want_sg) <= 10 * tol * g_scale)
    assert np.all(np.abs(cp.asnumpy(sgx) - want_sgx) <= 10 * tol * g_scale)
    gx_scale = (np.abs(g64).max() + np.abs(want_sg).max() + np.abs(want_sgx).max()) * scale
    assert np.all(np.abs(cp.asnumpy(gx) - want_gx) <= 10 * tol * np.abs(gx_scale)[:, None])
    gx2, _, _ = cu.batch_norm_backward(d(g), d(x), mean, invstd, d(w), False)
    assert gx2 is None


def test_batch_norm_errors():
    x = cp.ones((2, 3, 4), cp.float32)
    with pytest.raises(ValueError, match="no values per channel"):
        cu.batch_norm_forward(cp.ones((0, 3, 4), cp.float32))
    with pytest.raises(ValueError, match=r"weight must be a \(3,\)"):
        cu.batch_norm_forward(x, cp.ones(4, cp.float32))
    with pytest.raises(TypeError, match="dtypes differ"):
        cu.batch_norm_backward(cp.ones((2, 3, 4)), x, cp.ones(3, cp.float32), x[0, :, 0])


@pytest.mark.parametrize("dims", [1, 2])
def test_batchnorm_modules_train_on_cuda_like_cpu(dims, rng):
    import axonal.nn as nn

    shape = (6, 4) if dims == 1 else (3, 4, 5, 6)
    x = rng.standard_normal(shape).astype(np.float32)
    res = []
    for device in ("cpu", "cuda"):
        m = (nn.BatchNorm1d(4) if dims == 1 else nn.BatchNorm2d(4)).to(device)
        xt = axonal.tensor(x, device=device, requires_grad=True)
        for _ in range(2):
            y = m(xt)
        (y * y).sum().backward()
        res.append([y, xt.grad, m.weight.grad, m.bias.grad, m.running_mean, m.running_var])
    for a, b in zip(*res):
        got = b.detach().cpu().numpy()
        np.testing.assert_allclose(got, a.detach().numpy(), rtol=1e-4, atol=1e-5)
