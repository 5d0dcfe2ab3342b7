"""CUDA GEMM kernels (SIMT fp32, TF32 / BF16 tensor cores, fp64) against the float64 product
of the same inputs on the CPU: random shapes including off-tile sizes, transposes, layouts,
alpha / beta, batches, and argument errors. Tolerances relative to the largest |C| entry:
fp32 1e-4, TF32 5e-3, BF16 2e-2, fp64 1e-10."""

import numpy as np
import pytest

import axonal

if not axonal.cuda.is_available():
    pytest.skip("no CUDA build or no GPU on this machine", allow_module_level=True)
cp = pytest.importorskip("cupy", reason="CuPy is not installed")

from axonal import backend  # noqa: E402
from axonal.backends import cuda as flags  # noqa: E402

cu = backend.get("cuda")
TOL = {"f32": 1e-4, "tf32": 5e-3, "bf16": 2e-2, "f64": 1e-10}
EDGE = [1, 2, 7, 8, 15, 33, 127, 128, 129, 255, 257]


def rel_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    scale = max(np.abs(want).max(initial=0.0), 1e-30)
    return float(np.abs(got - want).max(initial=0.0) / scale)


def exact(a, b, ta, tb):
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    return (a64.T if ta else a64) @ (b64.T if tb else b64)


def shapes(rng, n):
    out = []
    for _ in range(n):
        dims = []
        for _ in range(3):
            r = rng.random()
            dims.append(int(rng.choice(EDGE)) if r < 0.5 else int(rng.integers(1, 600)))
        out.append(tuple(dims))
    return out


def bf16_bits(x):
    """float32 -> bfloat16 bit patterns (round to nearest even) and the rounded float32 values."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r, (r.astype(np.uint32) << 16).view(np.float32)


@pytest.mark.parametrize("kind", ["f32", "f64", "tf32"])
def test_random_shapes_all_transposes(kind, rng, no_tf32):
    dtype = np.float64 if kind == "f64" else np.float32
    flags.matmul.allow_tf32 = kind == "tf32"
    assert cu.gemm_kernel_name(dtype).startswith(
        {"f32": "simt", "f64": "tiled", "tf32": "tc"}[kind]
    )
    for m, n, k in shapes(rng, 12):
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                got = cu.gemm(cp.asarray(a), cp.asarray(b), trans_a=ta, trans_b=tb)
                assert got.shape == (m, n) and got.dtype == dtype
                err = rel_err(cp.asnumpy(got), exact(a, b, ta, tb))
                assert err <= TOL[kind], (kind, m, n, k, ta, tb, err)


@pytest.fixture(params=[1, 2, 3, 4, 5, 6, 7, 8])
def tf32_kernel(request):
    from axonal import _cuda

    old = _cuda.tf32_kernel()
    _cuda.set_tf32_kernel(request.param)
    yield request.param
    _cuda.set_tf32_kernel(old)


def tf32_round(x):
    """float32 -> TF32 as cvt.rna rounds (nearest, ties away from zero), as float64."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return (((u + 0x1000) & 0xFFFFE000).astype(np.uint32)).view(np.float32).astype(np.float64)


def tf32_trunc(x):
    """float32 -> TF32 with the low 13 bits dropped (what tensor cores reading 32-bit words do)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFFE000)
    return u.view(np.float32).astype(np.float64)


def test_each_tf32_kernel(tf32_kernel, rng, tf32):
    from axonal import _cuda

    name = cu.gemm_kernel_name(np.float32)
    mma = "mma_m16n8k8" in name  # else wgmma, or WMMA: forced (4), or too little shared memory
    wgmma = "wgmma" in name  # 5 .. 8 on a compute-9.0 device with the sm_90a build, else mma.sync
    assert wgmma == (tf32_kernel >= 5 and _cuda.tf32_wgmma_available()), name
    assert ("wmma" in name) == (tf32_kernel == 4) or not (mma or wgmma), name
    assert ("tma" in name) == (wgmma and tf32_kernel >= 7), name
    cases = [(1, 1, 1), (129, 257, 33), (300, 130, 161)] + shapes(rng, 4)
    for m, n, k in cases:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
                got = cp.asnumpy(cu.gemm(cp.asarray(a), cp.asarray(b), trans_a=ta, trans_b=tb))
                assert rel_err(got, exact(a, b, ta, tb)) <= TOL["tf32"], (m, n, k, ta, tb)
                if mma:  # inputs rounded by cvt.rna: close to the rounded product
                    want = tf32_round(a.T if ta else a) @ tf32_round(b.T if tb else b)
                    err = rel_err(got, want)
                    assert err <= 2e-5, (tf32_kernel, m, n, k, ta, tb, err)
                if wgmma or tf32_kernel >= 5:  # wgmma reads TF32 from the 32-bit words
                    aa, bb = (a.T if ta else a), (b.T if tb else b)
                    err = min(rel_err(got, tf32_trunc(aa) @ tf32_trunc(bb)),
                              rel_err(got, tf32_round(aa) @ tf32_round(bb)))  # fmt: skip
                    assert err <= 2e-5, (tf32_kernel, m, n, k, ta, tb, err)
    # a strided (non-16-byte-aligned rows) operand takes the 4-byte copy path
    a = cp.asarray(rng.standard_normal((70, 45)).astype(np.float32))[:, 1:44]
    b = cp.asarray(rng.standard_normal((43, 50)).astype(np.float32))
    got = cp.asnumpy(cu.gemm(a, b))
    assert rel_err(got, exact(cp.asnumpy(a), cp.asnumpy(b), False, False)) <= TOL["tf32"]


@pytest.fixture(params=[0, 1])
def bf16_kernel(request):
    from axonal import _cuda

    old = _cuda.bf16_kernel()
    _cuda.set_bf16_kernel(request.param)
    yield request.param
    _cuda.set_bf16_kernel(old)


def test_bf16_bits(rng, bf16_kernel):
    from axonal import _cuda

    name = _cuda.gemm_kernel_name(2)  # bfloat16 in, float32 out
    # 0 on a compute-9.0 device with the sm_90a build: wgmma, else WMMA
    assert ("wgmma" in name) == (bf16_kernel == 0 and _cuda.tf32_wgmma_available()), name
    shapes = [(1, 1, 1), (129, 257, 33), (64, 100, 300), (300, 17, 64), (130, 260, 264)]
    for m, n, k in shapes + [(200, 300, 520)]:  # K-major rows aligned: no workspace copies
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
                (abits, ar), (bbits, br) = bf16_bits(a), bf16_bits(b)
                got = cu.gemm_bf16_bits(
                    cp.asarray(abits), cp.asarray(bbits), trans_a=ta, trans_b=tb
                )
                assert got.dtype == np.float32
                # fp32 accumulation of bf16-exact inputs: close to the exact product of the
                # rounded inputs, and within the bf16 tolerance of the unrounded one
                assert rel_err(cp.asnumpy(got), exact(ar, br, ta, tb)) <= 1e-4
                assert rel_err(cp.asnumpy(got), exact(a, b, ta, tb)) <= TOL["bf16"]


def test_bf16_dtype_if_cupy_has_it(rng):
    try:
        import ml_dtypes

        x = cp.asarray(rng.standard_normal((5, 7)).astype(ml_dtypes.bfloat16))
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"this CuPy has no bfloat16 arrays ({type(e).__name__})")
    a = rng.standard_normal((70, 130)).astype(np.float32)
    b = rng.standard_normal((130, 40)).astype(np.float32)
    ga, gb = cp.asarray(a.astype(x.dtype)), cp.asarray(b.astype(x.dtype))
    got = cu.gemm(ga, gb)
    assert got.dtype == x.dtype
    assert rel_err(cp.asnumpy(got).astype(np.float32), exact(a, b, False, False)) <= TOL["bf16"]
    out = cp.empty((70, 40), dtype=cp.float32)
    cu.gemm(ga, gb, out)
    assert rel_err(cp.asnumpy(out), exact(a, b, False, False)) <= TOL["bf16"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_alpha_beta_and_out(dtype, rng, no_tf32):
    a = rng.standard_normal((67, 45)).astype(dtype)
    b = rng.standard_normal((45, 131)).astype(dtype)
    c0 = rng.standard_normal((67, 131)).astype(dtype)
    out = cp.asarray(c0)
    res = cu.gemm(cp.asarray(a), cp.asarray(b), out, alpha=-0.5, beta=2.0)
    assert res is out
    want = -0.5 * exact(a, b, False, False) + 2.0 * c0
    assert rel_err(cp.asnumpy(out), want) <= TOL["f64" if dtype == np.float64 else "f32"]
    # beta = 0 must not read out (NaN there must not leak)
    out = cp.full((67, 131), cp.nan, dtype=dtype)
    cu.gemm(cp.asarray(a), cp.asarray(b), out)
    assert np.isfinite(cp.asnumpy(out)).all()
    # alpha = 0: C = beta C, A and B are not read
    out = cp.asarray(c0)
    cu.gemm(cp.full_like(cp.asarray(a), cp.nan), cp.asarray(b), out, alpha=0.0, beta=3.0)
    np.testing.assert_allclose(cp.asnumpy(out), 3.0 * c0, rtol=1e-6)


def test_layouts_strided_and_column_major(rng, no_tf32):
    big = rng.standard_normal((90, 80)).astype(np.float32)
    g = cp.asarray(big)
    cases = [
        (g[5:50, 3:70], g[10:77, :33]),  # row-major with leading dimension 80
        (g.T[:40, :60], g[:60, :50]),  # column-major views
        (g[::2, ::3][:30, :20], g[1:21, 2:9]),  # strides the kernel cannot address: copied
        (cp.asfortranarray(g[:33, :44]), g[:44, :17].copy()),
    ]
    for a, b in cases:
        want = cp.asnumpy(a).astype(np.float64) @ cp.asnumpy(b).astype(np.float64)
        assert rel_err(cp.asnumpy(cu.gemm(a, b)), want) <= TOL["f32"]
    # an output with a leading dimension larger than its width
    out_buf = cp.zeros((45, 100), dtype=cp.float32)
    a, b = g[:45, :30], g[:30, :67]
    cu.gemm(a, b, out_buf[:, 10:77])
    want = cp.asnumpy(a).astype(np.float64) @ cp.asnumpy(b).astype(np.float64)
    assert rel_err(cp.asnumpy(out_buf[:, 10:77]), want) <= TOL["f32"]
    assert float(cp.abs(out_buf[:, :10]).max()) == 0.0 and float(cp.abs(out_buf[:, 77:]).max()) == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_with_broadcast(dtype, rng, no_tf32):
    tol = TOL["f64" if dtype == np.float64 else "f32"]
    a = rng.standard_normal((5, 37, 29)).astype(dtype)
    b = rng.standard_normal((5, 29, 130)).astype(dtype)
    b2 = rng.standard_normal((29, 130)).astype(dtype)
    got = cu.gemm_batched(cp.asarray(a), cp.asarray(b))
    assert rel_err(cp.asnumpy(got), np.matmul(a.astype(np.float64), b)) <= tol
    got = cu.gemm_batched(cp.asarray(a), cp.asarray(b2))
    assert rel_err(cp.asnumpy(got), np.matmul(a.astype(np.float64), b2)) <= tol
    got = cu.gemm_batched(cp.asarray(a[:1]), cp.asarray(b), trans_b=False)
    assert got.shape == (5, 37, 130)
    assert rel_err(cp.asnumpy(got), np.matmul(a[:1].astype(np.float64), b)) <= tol
    bt = np.ascontiguousarray(np.swapaxes(b, 1, 2))
    got = cu.gemm_batched(cp.asarray(a), cp.asarray(bt), trans_b=True)
    assert rel_err(cp.asnumpy(got), np.matmul(a.astype(np.float64), b)) <= tol


def test_matmul_semantics(rng, no_tf32):
    cases = [
        ((7,), (7,)),
        ((3, 7), (7,)),
        ((7,), (7, 4)),
        ((2, 3, 5, 7), (7, 4)),
        ((2, 1, 5, 7), (3, 7, 4)),
        ((130, 70), (70, 129)),
    ]
    for sa, sb in cases:
        a = rng.standard_normal(sa).astype(np.float32)
        b = rng.standard_normal(sb).astype(np.float32)
        got = cp.asnumpy(cu.matmul(cp.asarray(a), cp.asarray(b)))
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        assert got.shape == want.shape
        assert rel_err(got, want) <= TOL["f32"]
    ints = cu.matmul(cp.arange(6).reshape(2, 3), cp.arange(3))
    np.testing.assert_array_equal(cp.asnumpy(ints), np.arange(6).reshape(2, 3) @ np.arange(3))


def test_empty_and_k_zero(no_tf32):
    z = cu.gemm(cp.ones((0, 4), cp.float32), cp.ones((4, 3), cp.float32))
    assert z.shape == (0, 3)
    z = cu.gemm(cp.ones((5, 0), cp.float32), cp.ones((0, 3), cp.float32))
    assert z.shape == (5, 3) and float(cp.abs(z).max()) == 0.0


def test_runs_on_the_current_stream(rng, no_tf32):
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 100)).astype(np.float32)
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        ga, gb = cp.asarray(a), cp.asarray(b)
        got = cu.gemm(ga, gb)
    s.synchronize()
    assert rel_err(cp.asnumpy(got), exact(a, b, False, False)) <= TOL["f32"]


def test_matches_cublas(rng, no_tf32):
    a = cp.asarray(rng.standard_normal((1024, 512)).astype(np.float32))
    b = cp.asarray(rng.standard_normal((512, 768)).astype(np.float32))
    want = cp.asnumpy(cp.matmul(a.astype(cp.float64), b.astype(cp.float64)))
    assert rel_err(cp.asnumpy(cu.gemm(a, b)), want) <= TOL["f32"]


def test_errors():
    a = cp.ones((3, 4), cp.float32)
    with pytest.raises(ValueError, match=r"gemm: \(3, 4\) @ \(5, 2\): inner dimensions 4 != 5"):
        cu.gemm(a, cp.ones((5, 2), cp.float32))
    with pytest.raises(TypeError, match="gemm: b must be a cupy.ndarray"):
        cu.gemm(a, np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="dtypes differ"):
        cu.gemm(a, cp.ones((4, 2), cp.float64))
    with pytest.raises(TypeError, match="float32, float64 or bfloat16"):
        cu.gemm(cp.ones((3, 4), cp.int32), cp.ones((4, 2), cp.int32))
    with pytest.raises(ValueError, match="beta"):
        cu.gemm(a, cp.ones((4, 2), cp.float32), beta=1.0)
    with pytest.raises(ValueError, match="out has shape"):
        cu.gemm(a, cp.ones((4, 2), cp.float32), cp.empty((3, 3), cp.float32))
    with pytest.raises(ValueError, match="overlaps"):
        cu.gemm(a, cp.ones((4, 4), cp.float32), a[:, :4])
    with pytest.raises(ValueError, match="batch sizes 2 and 3 differ"):
        cu.gemm_batched(cp.ones((2, 3, 4), cp.float32), cp.ones((3, 4, 2), cp.float32))
    with pytest.raises(ValueError, match="lda"):  # the C++ layer checks again
        axonal._cuda.gemm(
            0,
            0,
            False,
            False,
            False,
            4,
            4,
            4,
            1.0,
            a.data.ptr,
            2,
            0,
            a.data.ptr,
            4,
            0,
            0.0,
            a.data.ptr,
            4,
            0,
            1,
            0,
        )
