"""The CUDA kernels' block logic, run on the CPU by the host emulator in ``axonal._cuda``.

``_cuda.emulate_*`` execute the very phase functions the GEMM / conv2d / pooling / softmax kernels
execute (thread by thread between barriers, shared memory poisoned with NaN, warp shuffles played
out lane by lane), so tile, edge, transpose, index and reduction errors show up here on machines
without a GPU. They need the ``_cuda`` extension (a CUDA build) but no GPU. The TF32 mma.sync
GEMM runs with its warp-level mma played out from the 32 lanes' fragments in the PTX ISA layout;
the WMMA kernels, the cp.async waits and real concurrency are covered by the GPU tests only.
"""

import numpy as np
import pytest

from axonal import backend, cuda

if not cuda.is_built():
    pytest.skip("the _cuda extension is not built (CPU-only build)", allow_module_level=True)

from axonal import _cuda  # noqa: E402

ref = backend.get("numpy")


def rel_err(got, want):
    scale = max(np.abs(want).max(initial=0.0), 1e-30)
    return np.abs(got.astype(np.float64) - want).max(initial=0.0) / scale


def emu_gemm(a, b, ta, tb, alpha=1.0, beta=0.0, c=None, allow_vec=True, tf32_kernel=0):
    """Runs the emulated kernel on 2-D or 3-D C-contiguous operands."""
    a3 = a if a.ndim == 3 else a[None]
    b3 = b if b.ndim == 3 else b[None]
    batch = max(a3.shape[0], b3.shape[0])
    m = a3.shape[2] if ta else a3.shape[1]
    k = a3.shape[1] if ta else a3.shape[2]
    n = b3.shape[1] if tb else b3.shape[2]
    if c is None:
        c = np.full((batch, m, n), np.nan, dtype=a.dtype)  # beta = 0 must not read C
    sa = a3.shape[1] * a3.shape[2] if a3.shape[0] > 1 else 0
    sb = b3.shape[1] * b3.shape[2] if b3.shape[0] > 1 else 0
    _cuda.emulate_gemm(
        np.ascontiguousarray(a3),
        np.ascontiguousarray(b3),
        c,
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        max(1, a3.shape[2]),
        sa,
        max(1, b3.shape[2]),
        sb,
        beta,
        max(1, n),
        m * n,
        batch,
        allow_vec,
        tf32_kernel,
    )
    return c


def tf32(x):
    """float32 values rounded to TF32 as cvt.rna does (10 mantissa bits, ties away from zero),
    as float64."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return (((u + 0x1000) & 0xFFFFE000).astype(np.uint32)).view(np.float32).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("allow_vec", [True, False])
def test_gemm_edges_and_transposes(dtype, allow_vec, rng):
    shapes = [(1, 1, 1), (3, 5, 7), (128, 128, 8), (129, 131, 9), (64, 200, 33), (130, 4, 0)]
    shapes += [tuple(int(v) for v in rng.integers(1, 150, 3)) for _ in range(3)]
    for m, n, k in shapes:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                got = emu_gemm(a, b, ta, tb, allow_vec=allow_vec)[0]
                want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
                if k == 0:
                    assert np.all(got == 0), (m, n, k)
                    continue
                err = rel_err(got, want)
                assert err <= (1e-5 if dtype == np.float32 else 1e-12), (m, n, k, ta, tb, err)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_alpha_beta_batch_broadcast(dtype, rng):
    m, n, k, batch = 70, 133, 21, 3
    a = rng.standard_normal((batch, m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)  # broadcast over the batch (stride 0)
    c0 = rng.standard_normal((batch, m, n)).astype(dtype)
    got = emu_gemm(a, b, False, False, alpha=0.5, beta=-2.0, c=c0.copy())
    want = 0.5 * (a.astype(np.float64) @ b.astype(np.float64)) - 2.0 * c0
    assert rel_err(got, want) <= (1e-5 if dtype == np.float32 else 1e-12)
    # alpha = 0: C = beta C without reading A or B (NaN there must not leak)
    a_nan = np.full_like(a, np.nan)
    got0 = emu_gemm(a_nan, b, False, False, alpha=0.0, beta=3.0, c=c0.copy())
    np.testing.assert_allclose(got0, 3.0 * c0, rtol=1e-6)


@pytest.mark.parametrize("kernel", [1, 2, 3])
@pytest.mark.parametrize("allow_vec", [True, False])
def test_tf32_mma_edges_and_transposes(kernel, allow_vec, rng):
    # against the float64 product of the TF32-rounded inputs: only the accumulation order and
    # float32 accumulators differ, so a fragment, stage or edge error shows far above 1e-5
    shapes = [(1, 1, 1), (5, 7, 3), (128, 256, 32), (129, 257, 33), (200, 70, 100), (17, 300, 9)]
    shapes += [tuple(int(v) for v in rng.integers(1, 300, 3)) for _ in range(2)]
    for m, n, k in shapes:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
                got = emu_gemm(a, b, ta, tb, allow_vec=allow_vec, tf32_kernel=kernel)[0]
                want = tf32(a.T if ta else a) @ tf32(b.T if tb else b)
                err = rel_err(got, want)
                assert err <= 1e-5, (kernel, m, n, k, ta, tb, err)


def test_tf32_mma_batch_alpha_beta_and_k_edges(rng):
    m, n, k, batch = 70, 133, 45, 3
    a = rng.standard_normal((batch, m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)  # broadcast over the batch (stride 0)
    c0 = rng.standard_normal((batch, m, n)).astype(np.float32)
    got = emu_gemm(a, b, False, False, alpha=0.5, beta=-2.0, c=c0.copy(), tf32_kernel=1)
    want = 0.5 * (tf32(a) @ tf32(b)) - 2.0 * c0
    assert rel_err(got, want) <= 1e-5
    # K = 0 and alpha = 0: C = beta C (or 0), A and B unread
    got0 = emu_gemm(np.full_like(a, np.nan), b, False, False, 0.0, 3.0, c0.copy(), tf32_kernel=1)
    np.testing.assert_allclose(got0, 3.0 * c0, rtol=1e-6)
    z = emu_gemm(np.zeros((4, 0), np.float32), np.zeros((0, 5), np.float32), False, False,
                 tf32_kernel=1)  # fmt: skip
    assert np.all(z == 0)
    # K one past a multiple of the 32-deep k-tile, more k-tiles than pipeline stages
    a = rng.standard_normal((33, 161)).astype(np.float32)
    b = rng.standard_normal((161, 40)).astype(np.float32)
    for kernel in (1, 3):
        got = emu_gemm(a, b, False, False, tf32_kernel=kernel)[0]
        assert rel_err(got, tf32(a) @ tf32(b)) < 1e-5


def tf32_trunc(x):
    """float32 values with the low 13 mantissa bits dropped (TF32 as the tensor cores read it from
    32-bit words), as float64."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFFE000)
    return u.view(np.float32).astype(np.float64)


def k_major(x, rows, k, dtype=np.float32):
    """A (rows, k) buffer whose rows start 16-byte aligned (row stride k rounded up to 16 bytes),
    with x's values: (buffer, ld)."""
    per16 = 16 // np.dtype(dtype).itemsize
    ld = (k + per16 - 1) // per16 * per16
    buf = np.zeros((max(rows, 1), max(ld, 1)), dtype)
    buf[:rows, :k] = x
    return buf, max(ld, 1)


@pytest.mark.parametrize("kernel", [5, 6, 7, 8])
def test_tf32_wgmma_edges_and_transposes(kernel, rng):
    # the wgmma kernels' copies, descriptors (decoded as the PTX ISA's canonical K-major layout;
    # 7, 8: TMA boxes with the 128-byte swizzle) and accumulator layout; operands not K-major
    # are transposed first, as the launcher does
    shapes = [(1, 1, 1), (5, 7, 3), (128, 256, 32), (129, 257, 33), (200, 70, 100), (17, 300, 9)]
    for m, n, k in shapes:
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
                abuf, lda = (a, max(1, m)) if ta else k_major(a, m, k)
                bbuf, ldb = k_major(b, n, k) if tb else (b, max(1, n))
                c = np.full((m, n), np.nan, np.float32)
                _cuda.emulate_gemm(
                    abuf, bbuf, c, ta, tb, m, n, k, 1.0, lda, 0, ldb, 0, 0.0, max(1, n), 0, 1,
                    True, kernel,
                )  # fmt: skip
                want = tf32_trunc(a.T if ta else a) @ tf32_trunc(b.T if tb else b)
                err = rel_err(c, want)
                assert err <= 1e-5, (kernel, m, n, k, ta, tb, err)


def bf16(x):
    """float32 -> bfloat16 bit patterns (round to nearest even) and their values as float64."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r, (r.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def test_bf16_wgmma_edges_transposes_and_batches(rng):
    # the BF16 TMA kernel: 64-wide K boxes of 2-byte elements with the 128-byte swizzle, k16
    # per wgmma; operands not K-major transposed first (2-byte elements), as the launcher does
    shapes = [(1, 1, 1), (5, 7, 3), (128, 256, 64), (129, 257, 65), (70, 40, 200)]
    for m, n, k in shapes:
        for ta in (False, True):
            for tb in (False, True):
                (abits, av) = bf16(rng.standard_normal((k, m) if ta else (m, k)))
                (bbits, bv) = bf16(rng.standard_normal((n, k) if tb else (k, n)))
                abuf, lda = (abits, max(1, m)) if ta else k_major(abits, m, k, np.uint16)
                bbuf, ldb = k_major(bbits, n, k, np.uint16) if tb else (bbits, max(1, n))
                c = np.full((m, n), np.nan, np.float32)
                _cuda.emulate_gemm(
                    abuf, bbuf, c, ta, tb, m, n, k, 1.0, lda, 0, ldb, 0, 0.0, max(1, n), 0, 1,
                    True, 0,
                )  # fmt: skip
                want = (av.T if ta else av) @ (bv.T if tb else bv)
                err = rel_err(c, want)
                assert err <= 1e-6, (m, n, k, ta, tb, err)
    # a batch with a broadcast B, alpha and beta
    batch, m, n, k = 3, 33, 20, 24
    abits, av = bf16(rng.standard_normal((batch, m, k)))
    bbits, bv = bf16(rng.standard_normal((k, n)))
    c0 = rng.standard_normal((batch, m, n)).astype(np.float32)
    c = c0.copy()
    _cuda.emulate_gemm(abits, bbits, c, False, False, m, n, k, 0.5, k, m * k, n, 0, -2.0, n,
                       m * n, batch, True, 0)  # fmt: skip
    assert rel_err(c, 0.5 * (av @ bv) - 2.0 * c0) <= 1e-6
    with pytest.raises(ValueError, match="16-byte aligned"):  # K-major rows of 5 elements
        _cuda.emulate_gemm(abits[0, :, :5].copy(), bbits[:5], c[0], False, False, m, n, 5, 1.0,
                           5, 0, n, 0, 0.0, n, 0, 1, True, 0)  # fmt: skip


def test_tf32_wgmma_batch_broadcast_alpha_beta(rng):
    m, n, k, batch = 70, 133, 44, 3
    a = rng.standard_normal((batch, m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)  # (K, N): transposed once, broadcast
    c0 = rng.standard_normal((batch, m, n)).astype(np.float32)
    for kernel in (5, 7):
        got = emu_gemm(a, b, False, False, alpha=0.5, beta=-2.0, c=c0.copy(), tf32_kernel=kernel)
        want = 0.5 * (tf32_trunc(a) @ tf32_trunc(b)) - 2.0 * c0
        assert rel_err(got, want) <= 1e-5, kernel
    with pytest.raises(ValueError, match="16-byte aligned"):  # K-major rows of 5 floats
        emu_gemm(a[:, :, :5].copy(), b[:5], False, False, tf32_kernel=5)


def test_tf32_rounding_is_to_nearest_ties_away():
    # 1 + 2^-11 sits halfway between the TF32 neighbours 1 and 1 + 2^-10: cvt.rna rounds away
    # from zero (truncation, what the tensor cores do with unrounded inputs, would give 1)
    half = np.float32(1 + 2.0**-11)
    below = np.nextafter(half, np.float32(0))
    a = np.array([[half, -half, below, np.inf]], np.float32).reshape(4, 1)
    b = np.ones((1, 1), np.float32)
    got = emu_gemm(a, b, False, False, tf32_kernel=1)[0][:, 0]
    assert got.tolist() == [1 + 2.0**-10, -(1 + 2.0**-10), 1.0, np.inf]
    a[0, 0] = np.nan
    assert np.isnan(emu_gemm(a, b, False, False, tf32_kernel=1)[0][0, 0])


def test_tf32_kernel_choice_is_checked():
    a = np.ones((2, 2), np.float32)
    for bad in (4, 9):
        with pytest.raises(ValueError, match="kernels 1 .. 3 and the wgmma kernels 5 .. 8"):
            emu_gemm(a, a, False, False, tf32_kernel=bad)
    with pytest.raises(ValueError, match="mma.sync kernels 1 .. 3"):
        emu_gemm(a.astype(np.float64), a.astype(np.float64), False, False, tf32_kernel=1)
    with pytest.raises(ValueError, match=r"set_tf32_kernel: which must be 0 \(auto\) .. 8"):
        _cuda.set_tf32_kernel(9)
    assert _cuda.tf32_kernel() == 0


def test_gemm_rejects_short_buffers():
    a = np.zeros((4, 4), np.float32)
    c = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="emulate_gemm"):
        _cuda.emulate_gemm(a, a, c, False, False, 5, 4, 4, 1.0, 4, 0, 4, 0, 0.0, 4, 0, 1)


@pytest.mark.parametrize(
    "lda, sa, ldc, batch",
    [(2**62, 0, 1, 1), (1, 0, 2**62 + 2**22, 1), (1, 2**62, 1, 3)],
)
def test_gemm_rejects_spans_that_wrap_int64(lda, sa, ldc, batch):
    # (rows - 1) * ld + (batch - 1) * stride wrapped past 2^63 and passed the size check: the
    # emulator then read / wrote gigabytes away from the buffers
    a = np.ones(16, np.float32)
    c = np.zeros(16, np.float32)
    with pytest.raises(ValueError, match="emulate_gemm: .* 64-bit"):
        _cuda.emulate_gemm(a, a, c, False, False, 3, 1, 1, 1.0, lda, sa, 1, 0, 0.0, ldc, 0, batch)


CONV_CASES = [
    # (N, C, H, W), (K, R, S), stride, padding, dilation, groups
    ((2, 3, 9, 11), (5, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((1, 4, 8, 8), (6, 3, 2), (2, 3), (1, 0), (1, 2), 2),
    ((3, 2, 7, 5), (4, 1, 1), (1, 1), (0, 0), (1, 1), 1),
    ((2, 6, 10, 9), (6, 3, 3), (2, 2), (2, 1), (2, 1), 6),  # depthwise
    ((1, 3, 5, 6), (130, 2, 2), (1, 1), (0, 1), (1, 1), 1),  # 128-row tiles, M edge
    ((2, 8, 12, 13), (16, 5, 3), (3, 2), (2, 1), (1, 1), 4),
]


def conv_geom(xs, ks, stride, padding, dilation, groups):
    n, c, h, w = xs
    k, r, s = ks
    p = (h + 2 * padding[0] - dilation[0] * (r - 1) - 1) // stride[0] + 1
    q = (w + 2 * padding[1] - dilation[1] * (s - 1) - 1) // stride[1] + 1
    geom = [n, c, h, w, k, r, s, p, q, *stride, *padding, *dilation, groups]
    return geom, (n, k, p, q), (k, c // groups, r, s)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_three_passes(dtype, case, rng):
    xs, ks, stride, padding, dilation, groups = CONV_CASES[case]
    geom, ys, ws = conv_geom(xs, ks, stride, padding, dilation, groups)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    dy = rng.standard_normal(ys).astype(dtype)
    args = (stride, padding, dilation, groups)
    tol = 1e-5 if dtype == np.float32 else 1e-12

    y = np.full(ys, np.nan, dtype)
    _cuda.emulate_conv2d(0, geom, x, w, b, y)
    assert rel_err(y, ref.conv2d_forward(x, w, b, *args).astype(np.float64)) <= tol

    dx = np.full(xs, np.nan, dtype)
    _cuda.emulate_conv2d(1, geom, dy, w, None, dx)
    want = ref.conv2d_backward_input(dy, w, xs, *args).astype(np.float64)
    assert rel_err(dx, want) <= tol

    want_dw = ref.conv2d_backward_weight(dy, x, ws, *args).astype(np.float64)
    for splits in (0, 1, 3):
        dw = np.full(ws, np.nan, dtype)
        _cuda.emulate_conv2d(2, geom, dy, x, None, dw, splits)
        assert rel_err(dw, want_dw) <= tol, splits


def pool_geom(xs, k, s, p, d, ceil_mode):
    n, c, h, w = xs

    def out(length, kk, ss, pp, dd):
        num = length + 2 * pp - dd * (kk - 1) - 1 + (ss - 1 if ceil_mode else 0)
        o = num // ss + 1
        if ceil_mode and (o - 1) * ss >= length + pp:
            o -= 1
        return o

    pq = (out(h, k[0], s[0], p[0], d[0]), out(w, k[1], s[1], p[1], d[1]))
    return [n, c, h, w, *pq, *k, *s, *p, *d], pq


POOL_CASES = [
    ((2, 3, 8, 9), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((1, 2, 7, 7), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((2, 1, 9, 6), (3, 2), (1, 2), (1, 1), (2, 1), False),
    ((1, 2, 5, 5), (4, 4), (3, 3), (2, 2), (1, 1), True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_pooling(dtype, case, rng):
    xs, k, s, p, d, ceil_mode = POOL_CASES[case]
    geom, (pp, qq) = pool_geom(xs, k, s, p, d, ceil_mode)
    ys = (xs[0], xs[1], pp, qq)
    x = rng.standard_normal(xs).astype(dtype)
    x.flat[3] = x.flat[4]  # a tie
    dy = rng.standard_normal(ys).astype(dtype)

    y = np.full(ys, np.nan, dtype)
    idx = np.full(ys, -7, np.int64)
    _cuda.emulate_pool2d(0, geom, True, 0, x, idx, y)
    want_y, want_idx = ref.max_pool2d_forward(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(idx, want_idx)
    dx = np.full(xs, np.nan, dtype)
    _cuda.emulate_pool2d(1, geom, True, 0, dy, idx, dx)
    np.testing.assert_allclose(dx, ref.max_pool2d_backward(dy, idx, xs), rtol=1e-6, atol=1e-6)

    if d == (1, 1):
        for include_pad in (True, False):
            for divisor in (0, 3):
                div = None if divisor == 0 else divisor
                y = np.full(ys, np.nan, dtype)
                _cuda.emulate_pool2d(2, geom, include_pad, divisor, x, None, y)
                want = ref.avg_pool2d_forward(x, k, s, p, ceil_mode, include_pad, div)
                np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
                dx = np.full(xs, np.nan, dtype)
                _cuda.emulate_pool2d(3, geom, include_pad, divisor, dy, None, dx)
                want = ref.avg_pool2d_backward(dy, xs, k, s, p, ceil_mode, include_pad, div)
                np.testing.assert_allclose(dx, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "hw,out", [((7, 9), (3, 4)), ((5, 5), (5, 5)), ((6, 4), (1, 1)), ((3, 8), (5, 3))]
)
def test_adaptive_avg_pool(hw, out, rng):
    xs = (2, 3, *hw)
    x = rng.standard_normal(xs)
    geom = [*xs, *out, 1, 1, 1, 1, 0, 0, 1, 1]
    y = np.full((2, 3, *out), np.nan)
    _cuda.emulate_pool2d(4, geom, True, 0, x, None, y)
    np.testing.assert_allclose(y, ref.adaptive_avg_pool2d_forward(x, out), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal((2, 3, *out))
    dx = np.full(xs, np.nan)
    _cuda.emulate_pool2d(5, geom, True, 0, dy, None, dx)
    np.testing.assert_allclose(dx, ref.adaptive_avg_pool2d_backward(dy, xs), rtol=1e-12, atol=1e-12)


def softmax_ref(x, log):
    x64 = x.astype(np.float64)
    m = x64.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(x64 - m).sum(axis=-1, keepdims=True))
    return x64 - lse if log else np.exp(x64 - lse)


WIDTHS = [1, 5, 32, 33, 64, 65, 128, 200, 256, 512, 1000, 1024, 1025, 1028, 2048, 3000, 4100]
WIDTHS += [8192, 16384, 16388]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows(dtype, log, rng):
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # every kernel plan (softmax_plan): warp rows with and without 16-byte packs, block rows in
    # registers (128 .. 1024 threads) and the online block kernel; a row buffer that starts off
    # the 16-byte boundary takes the scalar kernels
    cases = [(c, 0) for c in WIDTHS] + [(128, 1), (1000, 1), (2048, 1), (8192, 1)]
    for cols, offset in cases:
        rows = 3
        buf = np.empty(rows * cols + offset, dtype)
        x = buf[offset:].reshape(rows, cols)
        x[...] = rng.standard_normal((rows, cols)) * 8 + 40
        y = np.full_like(x, np.nan)
        _cuda.emulate_softmax(False, log, x, None, y, rows, cols)
        want = softmax_ref(x, log)
        assert rel_err(y, want) <= tol, (cols, log)
        dy = rng.standard_normal(x.shape).astype(dtype)
        yy = want.astype(dtype)
        dx = np.full_like(x, np.nan)
        _cuda.emulate_softmax(True, log, yy, dy, dx, rows, cols)
        y64 = yy.astype(np.float64)
        if log:
            want_dx = dy - np.exp(y64) * dy.sum(axis=-1, keepdims=True)
        else:
            want_dx = y64 * (dy - (dy * y64).sum(axis=-1, keepdims=True))
        assert rel_err(dx, want_dx) <= 10 * tol, (cols, log)


@pytest.mark.parametrize("cols", [3, 40, 2000])
def test_softmax_special_values(cols):
    x = np.zeros((3, cols), np.float32)
    x[0, :] = -np.inf
    x[0, cols // 2] = 2.0  # one finite entry: probability 1
    x[1, :] = -np.inf  # all -inf: NaN, as in PyTorch
    x[2, 0] = 1e30  # huge values stay finite
    y = np.full_like(x, -1.0)
    _cuda.emulate_softmax(False, False, x, None, y, 3, cols)
    assert y[0, cols // 2] == 1.0 and np.all(np.delete(y[0], cols // 2) == 0.0)
    assert np.isnan(y[1]).all()
    assert y[2, 0] == 1.0 and np.all(y[2, 1:] == 0.0)


DGRAD_CASES = [
    # (N, C, H, W), (K, R, S), padding, dilation, groups: stride 1 only
    ((2, 3, 9, 11), (5, 3, 3), (1, 1), (1, 1), 1),
    ((2, 3, 9, 11), (5, 3, 3), (0, 0), (1, 1), 1),  # padding' = 2: the full correlation
    ((1, 4, 8, 8), (6, 3, 2), (1, 0), (1, 2), 2),
    ((2, 6, 10, 9), (6, 3, 3), (2, 1), (2, 1), 6),  # depthwise, dilated
    ((1, 3, 5, 6), (130, 2, 2), (0, 1), (1, 1), 1),
    ((2, 8, 12, 13), (16, 5, 3), (2, 1), (1, 1), 4),
    ((3, 2, 7, 5), (4, 1, 1), (0, 0), (1, 1), 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(DGRAD_CASES)))
def test_input_gradient_as_a_forward_convolution(dtype, case, rng):
    # the CUDA backend's stride-1 input gradient: the forward kernel on dy with the flipped,
    # channel-swapped weight (backend/_dgrad.py), here through the emulated forward kernel
    from axonal.backend._dgrad import dgrad_as_forward

    xs, ks, padding, dilation, groups = DGRAD_CASES[case]
    geom, ys, ws = conv_geom(xs, ks, (1, 1), padding, dilation, groups)
    w = rng.standard_normal(ws).astype(dtype)
    dy = rng.standard_normal(ys).astype(dtype)
    want = ref.conv2d_backward_input(dy, w, xs, 1, padding, dilation, groups).astype(np.float64)
    wt, pad = dgrad_as_forward(w, (1, 1), padding, dilation, groups)
    wt = np.ascontiguousarray(wt)
    geom2, out_shape, ws2 = conv_geom(ys, (wt.shape[0], *ws[2:]), (1, 1), pad, dilation, groups)
    assert out_shape == xs and ws2 == wt.shape
    dx = np.full(xs, np.nan, dtype)
    _cuda.emulate_conv2d(0, geom2, dy, wt, None, dx)
    assert rel_err(dx, want) <= (1e-5 if dtype == np.float32 else 1e-12)


def test_input_gradient_as_forward_declines_strides_and_wide_padding():
    from axonal.backend._dgrad import dgrad_as_forward

    w = np.zeros((4, 2, 3, 3))
    assert dgrad_as_forward(w, (2, 1), (1, 1), (1, 1), 1) is None
    assert dgrad_as_forward(w, (1, 1), (3, 1), (1, 1), 1) is None  # padding > R - 1
    assert dgrad_as_forward(w, (1, 1), (3, 1), (2, 1), 1) is not None  # 2 (R - 1) = 4 >= 3


def xent_reference(logp, t, w, ignore, eps, reduction):
    """Cross entropy of log-probabilities and its gradient with respect to the logits, in float64,
    written from the definitions (xent.cuh)."""
    r, c = logp.shape
    valid = t != ignore
    ts = np.where(valid, t, 0)
    wv = np.ones(c) if w is None else w.astype(np.float64)
    wt = np.where(valid, wv[ts], 0.0)
    q = (1 - eps) * wt[:, None] * np.eye(c)[ts] + (eps / c) * valid[:, None] * wv[None, :]
    l = -(q * logp).sum(axis=1)  # the smoothed, weighted target distribution q
    loss = l if reduction == 0 else l.sum() / wt.sum() if reduction == 1 else l.sum()
    return loss, q


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", [0, 1, 2])
@pytest.mark.parametrize("weighted, ignore, eps", [(False, -100, 0.0), (True, 2, 0.15)])
def test_cross_entropy_kernels(dtype, reduction, weighted, ignore, eps, rng):
    r, c = 37, 9
    x = rng.standard_normal((r, c))
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    t = rng.integers(0, c, r)
    t[::4] = ignore if ignore >= 0 else t[::4]
    w = rng.random(c) + 0.5 if weighted else None
    want, q = xent_reference(logp, t, w, ignore, eps, reduction)
    lp = logp.astype(dtype)
    wd = None if w is None else w.astype(dtype)
    aux = np.zeros(2)
    out = np.zeros(r if reduction == 0 else 1, dtype)
    _cuda.emulate_cross_entropy(False, lp, t, wd, ignore, eps, reduction, None, aux, out)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out if reduction == 0 else out[0], want, rtol=tol, atol=tol)
    wv = (np.ones(c) if w is None else w).astype(dtype).astype(np.float64)
    wt = np.where(t != ignore, wv[np.where(t != ignore, t, 0)], 0)
    np.testing.assert_allclose(aux, [wt.sum(), wv.sum()], rtol=1e-12)
    # gradient: d loss / d x = softmax * sum(q) - q, times the upstream gradient per row
    g = rng.standard_normal(r if reduction == 0 else 1).astype(dtype)
    gr = (
        g.astype(np.float64)
        if reduction == 0
        else np.full(r, g[0] / (aux[0] if reduction == 1 else 1))
    )
    gr = np.where(t != ignore, gr, 0.0)
    want_dx = (np.exp(logp) * q.sum(axis=1, keepdims=True) - q) * gr[:, None]
    dx = np.zeros((r, c), dtype)
    _cuda.emulate_cross_entropy(True, lp, t, wd, ignore, eps, reduction, g, aux, dx)
    np.testing.assert_allclose(dx, want_dx, rtol=10 * tol, atol=10 * tol)


def test_cross_entropy_emulation_checks_its_arguments():
    lp = np.zeros((3, 4), np.float32)
    aux, out = np.zeros(2), np.zeros(1, np.float32)
    with pytest.raises(ValueError, match="target 4 out of range"):
        _cuda.emulate_cross_entropy(
            False, lp, np.array([0, 4, 1]), None, -100, 0.0, 1, None, aux, out
        )
    with pytest.raises(ValueError, match="target must be int64"):
        _cuda.emulate_cross_entropy(
            False, lp, np.zeros(3, np.int32), None, -100, 0.0, 1, None, aux, out
        )
    with pytest.raises(ValueError, match="reduction code"):
        _cuda.emulate_cross_entropy(
            False, lp, np.zeros(3, np.int64), None, -100, 0.0, 5, None, aux, out
        )


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_kernel_ignored_rows_read_nothing(eps):
    # an ignored row with -inf / NaN log-probabilities (masked logits) adds 0 to the loss and
    # to the weight sum, as in PyTorch (0 * inf would be nan)
    logp = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))
    logp[0] = [-np.inf, np.nan, -np.inf]
    t = np.array([-100, 2])
    aux, out = np.zeros(2), np.zeros(1)
    _cuda.emulate_cross_entropy(False, logp, t, None, -100, eps, 2, None, aux, out)
    want = -(1 - eps) * logp[1, 2] - eps / 3 * logp[1].sum()
    np.testing.assert_allclose(out[0], want, rtol=1e-12)
    assert aux.tolist() == [1.0, 3.0]
