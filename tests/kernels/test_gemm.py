"""GEMM kernel against the NumPy float64 product: random shapes, edges, transposes, layouts."""

import numpy as np
import pytest

from axonal import _cpu, backend

ref = backend.get("numpy")
cpu = backend.get("cpu")

TOL = {np.float32: 1e-5, np.float64: 1e-12}
SIMD_PATHS = (
    ["portable"]
    + (["avx2"] if _cpu.has_avx2_fma() else [])
    + (["avx512"] if _cpu.has_avx512f() else [])
)


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    old, old_min = _cpu.simd_path(), _cpu._gemm_avx512_min_flops()
    _cpu.set_simd_path(request.param)
    if request.param == "avx512":  # the AVX-512 kernel for every shape, tiny ones included
        _cpu._set_gemm_avx512_min_flops(0.0)
    yield request.param
    _cpu.set_simd_path(old)
    _cpu._set_gemm_avx512_min_flops(old_min)


@pytest.fixture(params=[1, 2])
def threads(request):
    old = _cpu.get_num_threads()
    _cpu.set_num_threads(request.param)
    yield request.param
    _cpu.set_num_threads(old)


def rel_err(got, want):
    """Error relative to the scale of the product (|A||B| row/column sums), as BLAS tests do."""
    scale = max(np.abs(want).max(initial=0.0), 1e-30)
    return np.abs(got.astype(np.float64) - want).max(initial=0.0) / scale


def exact(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    a64 = a.astype(np.float64).T if ta else a.astype(np.float64)
    b64 = b.astype(np.float64).T if tb else b.astype(np.float64)
    r = alpha * (a64 @ b64)
    if beta != 0:
        r = r + beta * c.astype(np.float64)
    return r


EDGE = [0, 1, 2, 3, 5, 6, 7, 8, 13, 15, 16, 17, 31, 33, 97]


def random_shapes(rng, n):
    shapes = []
    for _ in range(n):
        dims = []
        for _ in range(3):
            r = rng.random()
            if r < 0.4:
                dims.append(int(rng.choice(EDGE)))
            elif r < 0.8:
                dims.append(int(rng.integers(1, 300)))
            else:
                dims.append(int(rng.integers(250, 700)))
        shapes.append(tuple(dims))
    return shapes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_shapes_both_transposes(dtype, simd, threads, rng):
    """>= 200 random shapes per dtype over the four transpose combinations."""
    for m, n, k in random_shapes(rng, 60):
        for ta in (False, True):
            for tb in (False, True):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                got = _cpu.gemm(a, b, trans_a=ta, trans_b=tb)
                assert got.shape == (m, n) and got.dtype == dtype
                err = rel_err(got, exact(a, b, ta, tb))
                assert err <= TOL[dtype], (m, n, k, ta, tb, err)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_alpha_beta(dtype, simd, rng):
    # (37, 45, 2100), (200, 70, 1100): K spans several K blocks (beta applied once, then C += )
    shapes = [(7, 19, 5), (64, 64, 64), (130, 33, 257), (1, 1, 1), (5, 3, 0), (37, 45, 2100)]
    for m, n, k in shapes + [(200, 70, 1100)]:
        for alpha, beta in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25), (0.0, 3.0), (1.5, -1.0)]:
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            c0 = rng.standard_normal((m, n)).astype(dtype)
            c = c0.copy()
            out = _cpu.gemm(a, b, c, alpha=alpha, beta=beta)
            assert out is c or np.shares_memory(out, c)
            want = exact(a, b, False, False, alpha, beta, c0)
            assert rel_err(c, want) <= 10 * TOL[dtype], (m, n, k, alpha, beta)


def test_beta_zero_ignores_nan_in_c(rng):
    a = rng.standard_normal((9, 4)).astype(np.float32)
    b = rng.standard_normal((4, 21)).astype(np.float32)
    c = np.full((9, 21), np.nan, np.float32)
    _cpu.gemm(a, b, c, beta=0.0)
    assert np.isfinite(c).all()
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noncontiguous_and_transposed_views(dtype, simd, rng):
    big_a = rng.standard_normal((90, 70)).astype(dtype)
    big_b = rng.standard_normal((80, 60)).astype(dtype)
    cases = [
        (big_a[3:40, 5:55], big_b[2:52, 1:30]),  # row stride > columns (leading dimension)
        (big_a[::2, ::3], big_b[:24, ::2]),  # no unit stride at all: copied
        (big_a[:50, :33].T, big_b[:50, :17]),  # column-major view of A
        (big_a[:30, :41], big_b[:17, :41].T),  # column-major view of B
        (big_a[::-1, :20], big_b[:20, ::-1]),  # negative strides
    ]
    for a, b in cases:
        got = _cpu.gemm(a, b)
        assert rel_err(got, exact(a, b, False, False)) <= TOL[dtype]
        np.testing.assert_allclose(got, ref.gemm(a, b), rtol=1e-4, atol=1e-4)


def test_output_with_leading_dimension(rng):
    a = rng.standard_normal((20, 9)).astype(np.float32)
    b = rng.standard_normal((9, 13)).astype(np.float32)
    big = np.zeros((25, 40), np.float32)
    view = big[2:22, 5:18]
    _cpu.gemm(a, b, view)
    np.testing.assert_allclose(view, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    assert np.all(big[:2] == 0) and np.all(big[:, :5] == 0) and np.all(big[:, 18:] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_raw_leading_dimensions(dtype, simd, rng):
    m, n, k, lda, ldb, ldc = 11, 7, 5, 9, 12, 10
    A = rng.standard_normal(m * lda).astype(dtype)
    B = rng.standard_normal(k * ldb).astype(dtype)
    C = rng.standard_normal(m * ldc).astype(dtype)
    C0 = C.copy()
    _cpu.gemm_raw(False, False, m, n, k, 2.0, A, lda, B, ldb, 0.5, C, ldc)
    a = A.reshape(m, lda)[:, :k]
    b = B.reshape(k, ldb)[:, :n]
    want = 2.0 * (a.astype(np.float64) @ b) + 0.5 * C0.reshape(m, ldc)[:, :n]
    got = C.reshape(m, ldc)
    assert rel_err(got[:, :n], want) <= 10 * TOL[dtype]
    np.testing.assert_array_equal(got[:, n:], C0.reshape(m, ldc)[:, n:])  # padding untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_matches_reference(dtype, rng):
    for bs, m, n, k in [(1, 5, 6, 7), (4, 17, 33, 9), (3, 0, 4, 5), (0, 3, 3, 3), (7, 64, 48, 80)]:
        a = rng.standard_normal((bs, m, k)).astype(dtype)
        b = rng.standard_normal((bs, k, n)).astype(dtype)
        got = _cpu.gemm_batched(a, b)
        assert got.shape == (bs, m, n)
        if got.size:
            assert rel_err(got, a.astype(np.float64) @ b) <= TOL[dtype]
    # broadcasting a 2-D operand and transposes
    a = rng.standard_normal((5, 12, 7)).astype(dtype)
    w = rng.standard_normal((9, 7)).astype(dtype)
    got = _cpu.gemm_batched(a, w, trans_b=True)
    assert rel_err(got, a.astype(np.float64) @ w.T) <= TOL[dtype]


def test_matmul_broadcasting(rng):
    for sa, sb in [
        ((3, 4), (4,)),
        ((4,), (4, 5)),
        ((2, 3, 4), (4, 5)),
        ((2, 1, 3, 4), (5, 4, 6)),
        ((7,), (7,)),
        ((1, 6, 2), (3, 2, 8)),
    ]:
        a = rng.standard_normal(sa).astype(np.float32)
        b = rng.standard_normal(sb).astype(np.float32)
        got = cpu.matmul(a, b)
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bad_inputs_raise_clean_errors():
    f32 = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"gemm: \(3, 4\) @ \(5, 2\): inner dimensions 4 != 5"):
        _cpu.gemm(f32, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="2-D"):
        _cpu.gemm(np.ones(3, np.float32), f32)
    with pytest.raises(TypeError, match="float32 or float64"):
        _cpu.gemm(np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))
    with pytest.raises(TypeError, match="dtypes differ"):
        _cpu.gemm(f32, np.ones((4, 2), np.float64))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        _cpu.gemm([[1.0]], f32)
    with pytest.raises(ValueError, match="out has shape"):
        _cpu.gemm(f32, np.ones((4, 2), np.float32), np.empty((3, 3), np.float32))
    with pytest.raises(TypeError, match="out has dtype"):
        _cpu.gemm(f32, np.ones((4, 2), np.float32), np.empty((3, 2), np.float64))
    with pytest.raises(ValueError, match="needs an out array"):
        _cpu.gemm(f32, np.ones((4, 2), np.float32), beta=1.0)
    ro = np.empty((3, 2), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _cpu.gemm(f32, np.ones((4, 2), np.float32), ro)
    sq = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        _cpu.gemm(sq, np.ones((4, 4), np.float32), sq)
    with pytest.raises(ValueError, match="batch sizes 2 and 3 differ"):
        _cpu.gemm_batched(np.ones((2, 3, 4), np.float32), np.ones((3, 4, 5), np.float32))
    with pytest.raises(ValueError, match=r"matmul: \(3, 4\) @ \(5, 2\): inner dimensions 4 != 5"):
        cpu.matmul(f32, np.ones((5, 2), np.float32))


def test_raw_buffer_too_small_raises():
    a = np.ones(10, np.float32)
    b = np.ones(100, np.float32)
    c = np.zeros(100, np.float32)
    with pytest.raises(ValueError, match="needs 23 elements, the buffer has 10"):
        _cpu.gemm_raw(False, False, 3, 4, 5, 1.0, a, 9, b, 5, 0.0, c, 4)
    with pytest.raises(ValueError, match="ldb = 3 is less than the 4 columns"):
        _cpu.gemm_raw(False, False, 2, 4, 5, 1.0, b, 5, b, 3, 0.0, c, 4)
    with pytest.raises(ValueError, match="sizes must be >= 0"):
        _cpu.gemm_raw(False, False, -1, 4, 5, 1.0, b, 5, b, 4, 0.0, c, 4)
    with pytest.raises(ValueError, match="C-contiguous"):
        _cpu.gemm_raw(False, False, 2, 2, 2, 1.0, b[::2], 2, b, 2, 0.0, c, 2)


def test_reference_backend_same_signature(rng):
    a = rng.standard_normal((6, 4)).astype(np.float32)
    b = rng.standard_normal((6, 5)).astype(np.float32)
    c1 = rng.standard_normal((4, 5)).astype(np.float32)
    c2 = c1.copy()
    ref.gemm(a, b, c1, alpha=0.5, beta=2.0, trans_a=True)
    cpu.gemm(a, b, c2, alpha=0.5, beta=2.0, trans_a=True)
    np.testing.assert_allclose(c1, c2, rtol=1e-5, atol=1e-5)


def test_threads_setting():
    old = _cpu.get_num_threads()
    try:
        _cpu.set_num_threads(1)
        assert _cpu.get_num_threads() == 1
        with pytest.raises(ValueError, match=">= 1"):
            _cpu.set_num_threads(0)
    finally:
        _cpu.set_num_threads(old)


def test_unpickled_and_byteswapped_arrays(rng):
    import pickle

    a = pickle.loads(pickle.dumps(rng.standard_normal((5, 3)).astype(np.float32)))
    b = pickle.loads(pickle.dumps(rng.standard_normal((3, 4)).astype(np.float32)))
    np.testing.assert_allclose(_cpu.gemm(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="native byte order"):
        _cpu.gemm(a.astype(">f4"), b.astype(">f4"))


def test_simd_path_selection():
    """The widest path the CPU has is the default; asking for one it lacks raises."""
    old = _cpu.simd_path()
    try:
        want = (
            "avx512f+avx2+fma"
            if _cpu.has_avx512f()
            else "avx2+fma"
            if _cpu.has_avx2_fma()
            else "portable"
        )
        import os

        if os.environ.get("AXONAL_SIMD") is None:
            assert old == want
        for name, ok in (("avx512", _cpu.has_avx512f()), ("avx2", _cpu.has_avx2_fma())):
            if ok:
                _cpu.set_simd_path(name)
                assert _cpu.simd_path().startswith(name)
            else:
                with pytest.raises(ValueError, match="no AVX"):
                    _cpu.set_simd_path(name)
        with pytest.raises(ValueError, match="expected 'avx512', 'avx2' or 'portable'"):
            _cpu.set_simd_path("sse9")
    finally:
        _cpu.set_simd_path(old)


def test_small_gemms_from_concurrent_threads(rng):
    """Small products (the spin-pool path) called from several Python threads at once: every
    result right (the pool serves one caller at a time; the others fall back to OpenMP)."""
    import threading

    old = _cpu.get_num_threads()
    _cpu.set_num_threads(2)
    shapes = [(64, 64, 64), (37, 70, 29), (128, 256, 100), (6, 16, 300), (97, 33, 64)]
    cases = []
    for m, n, k in shapes:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        cases.append((a, b, a.astype(np.float64) @ b.astype(np.float64)))
    errors = []

    def work(seed):
        for i in range(300):
            a, b, want = cases[(seed + i) % len(cases)]
            got = _cpu.gemm(a, b)
            if rel_err(got, want) > TOL[np.float32]:
                errors.append((seed, i, a.shape, b.shape))

    try:
        threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        _cpu.set_num_threads(old)
    assert not errors, errors[:5]


def _child_gemm(a, b):
    return _cpu.get_num_threads(), _cpu.gemm(a, b), _cpu.gemm(b, a)


def test_gemm_in_forked_child(rng):
    """A child forked after the parent ran multi-threaded kernels (OpenMP team and spin pool
    alive) computes on one thread instead of hanging in libgomp."""
    import multiprocessing as mp

    old = _cpu.get_num_threads()
    _cpu.set_num_threads(2)
    try:
        a = rng.standard_normal((64, 64)).astype(np.float32)  # spin-pool path
        b = rng.standard_normal((64, 64)).astype(np.float32)
        big = rng.standard_normal((300, 300)).astype(np.float32)  # OpenMP path
        _cpu.gemm(a, b)
        _cpu.gemm(big, big)
        ctx = mp.get_context("fork")
        with ctx.Pool(1) as pool:
            nt, ab, ba = pool.apply_async(_child_gemm, (a, b)).get(timeout=60)
    finally:
        _cpu.set_num_threads(old)
    assert nt == 1
    assert rel_err(ab, a.astype(np.float64) @ b.astype(np.float64)) <= TOL[np.float32]
    assert rel_err(ba, b.astype(np.float64) @ a.astype(np.float64)) <= TOL[np.float32]
