"""pytest plugin: run the CUDA tests on a machine without a GPU, through the host emulator.

    PYTHONPATH=<axonal with _cuda>:tests/cuda/emulated python -m pytest -p fake_gpu tests/cuda

It pretends one GPU exists, puts the NumPy-backed stand-in ``cupy`` of this folder on the path,
and routes the ``axonal._cuda`` kernel entries to ``_cuda.emulate_*`` (the kernels' own phase
functions run on the CPU, see csrc/cuda/emulate.cuh) on host memory addressed by the same
pointers. So ``axonal.backend.cuda`` (validation, layouts, strides, batching, conv / pool
geometry) and the GEMM (TF32 mma.sync included) / conv2d / pooling / softmax kernel logic run end
to end. Not covered: the WMMA kernels (BF16, and TF32 when forced to WMMA: computed here with
NumPy, only the adapter plumbing is checked), the bias gradient
(NumPy), concurrency, streams, timing. Tests that need a real GPU are skipped.
"""

import ctypes

import numpy as np
import pytest

import axonal
import axonal.cuda
from axonal import _cuda

NEEDS_REAL_GPU = {
    "test_runs_on_the_current_stream": "needs CUDA streams",
    "test_errors": "the C++ launcher's own messages are replaced here",
    "test_multi_tensor_adam_rejects_too_many_tensors": "the C++ launcher is replaced here",
    "test_device_utilities": "needs a real device",
    "test_without_gpu": "a GPU is being faked",
    "test_mixing_devices_and_numpy_errors": "the stand-in device arrays are NumPy subclasses",
}

axonal.cuda.device_count = lambda: 1
axonal.cuda.get_device_properties = lambda d=0: dict(
    name="emulated", major=9, minor=0, multi_processor_count=132
)
_real = {n: getattr(_cuda, n) for n in dir(_cuda) if not n.startswith("_")}
_NP = {0: np.float32, 1: np.float64}


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = NEEDS_REAL_GPU.get(item.name.split("[")[0])
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"fake_gpu: {reason}"))


def _counted(fn):
    """A kernel entry that also counts one launch in the stand-in cupy's ``launches``."""
    import cupy

    def run(*args):
        cupy.launches[0] += 1
        return fn(*args)

    return run


def _raw(ptr, n, dtype):
    """The n elements of host memory at ptr as a NumPy array (a dummy for none)."""
    dt = np.dtype(dtype)
    if n <= 0 or ptr == 0:
        return np.zeros(1, dt)
    buf = (ctypes.c_char * (n * dt.itemsize)).from_address(ptr)
    return np.frombuffer(buf, dtype=dt, count=n)


def _span(batch, rows, cols, ld, bs):
    return 0 if batch == 0 or rows == 0 or cols == 0 else (batch - 1) * bs + (rows - 1) * ld + cols


def gemm(ic, oc, tf32, ta, tb, M, N, K, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch, _s):
    na = _span(batch, K if ta else M, M if ta else K, lda, sa)
    nb = _span(batch, N if tb else K, K if tb else N, ldb, sb)
    nc = _span(batch, M, N, ldc, sc)
    if tf32 and ic == 0 and _cuda.tf32_kernel() != 4:  # the TF32 mma.sync / wgmma kernels
        kernel = max(1, _cuda.tf32_kernel())
        if kernel >= 5:  # as the launcher: wgmma where built and on compute 9.0 (never here,
            # so the mma.sync kernel 1; tests/cuda/test_cuda_emulation.py runs wgmma directly)
            ok_a = ta or (lda % 4 == 0 and sa % 4 == 0 and a % 16 == 0)
            ok_b = not tb or (ldb % 4 == 0 and sb % 4 == 0 and b % 16 == 0)
            kernel = kernel if ok_a and ok_b and _cuda.tf32_wgmma_available() else 1
        _real["emulate_gemm"](
            _raw(a, na, np.float32), _raw(b, nb, np.float32), _raw(c, nc, np.float32), ta, tb, M,
            N, K, alpha, lda, sa, ldb, sb, beta, ldc, sc, batch, True, kernel,
        )  # fmt: skip
        return
    if ic == 2 or tf32:  # the WMMA paths: NumPy float64 products (plumbing only)

        def load(p, n):
            if ic == 2:
                return (_raw(p, n, np.uint16).astype(np.uint32) << 16).view(np.float32)
            return _raw(p, n, np.float32)

        A, B = load(a, na).astype(np.float64), load(b, nb).astype(np.float64)
        C = _raw(c, nc, _NP[oc])
        view = np.lib.stride_tricks.as_strided
        for i in range(batch):
            am = view(A[i * sa :], (K, M) if ta else (M, K), (lda * 8, 8))
            bm = view(B[i * sb :], (N, K) if tb else (K, N), (ldb * 8, 8))
            cm = view(C[i * sc :], (M, N), (ldc * C.itemsize, C.itemsize))
            r = alpha * ((am.T if ta else am) @ (bm.T if tb else bm))
            cm[...] = r + beta * cm if beta else r
        return
    dt = _NP[ic]
    _real["emulate_gemm"](
        _raw(a, na, dt), _raw(b, nb, dt), _raw(c, nc, dt), ta, tb, M, N, K, alpha, lda, sa, ldb,
        sb, beta, ldc, sc, batch,
    )  # fmt: skip


def _conv_sizes(g):
    n, c, h, w, k, r, s, p, q = g[:9]
    return n * c * h * w, n * k * p * q, k * (c // g[15]) * r * s


def conv2d_forward(dt, g, x, w, b, y, _s):
    nx, ny, nw = _conv_sizes(g)
    bias = _raw(b, g[4], _NP[dt]) if b else None
    _real["emulate_conv2d"](
        0, g, _raw(x, nx, _NP[dt]), _raw(w, nw, _NP[dt]), bias, _raw(y, ny, _NP[dt])
    )


def conv2d_backward_input(dt, g, dy, w, dx, _s):
    nx, ny, nw = _conv_sizes(g)
    _real["emulate_conv2d"](
        1, g, _raw(dy, ny, _NP[dt]), _raw(w, nw, _NP[dt]), None, _raw(dx, nx, _NP[dt])
    )


def conv2d_backward_weight(dt, g, dy, x, dw, _s):
    nx, ny, nw = _conv_sizes(g)
    _real["emulate_conv2d"](
        2, g, _raw(dy, ny, _NP[dt]), _raw(x, nx, _NP[dt]), None, _raw(dw, nw, _NP[dt])
    )


def conv2d_backward_bias(dt, N, K, L, dy, db, _s):
    _raw(db, K, _NP[dt])[:] = _raw(dy, N * K * L, _NP[dt]).reshape(N, K, L).sum(axis=(0, 2))


def _pool(kind):
    def run(dt, g, *args):
        n, c, h, w, p, q = g[:6]
        nin, nout = n * c * h * w, n * c * p * q
        inc, div = (args[0], args[1]) if kind in (2, 3) else (True, 0)
        ptrs = args[2:-1] if kind in (2, 3) else args[:-1]
        fwd = kind % 2 == 0
        idx = None
        if kind == 0:
            src, dst, ip = ptrs
            idx = _raw(ip, nout, np.int64)
        elif kind == 1:
            src, ip, dst = ptrs
            idx = _raw(ip, nout, np.int64)
        else:
            src, dst = ptrs
        a = _raw(src, nin if fwd else nout, _NP[dt])
        _real["emulate_pool2d"](kind, g, inc, div, a, idx, _raw(dst, nout if fwd else nin, _NP[dt]))

    return run


def softmax_forward(dt, log, x, y, rows, cols, _s):
    n = rows * cols
    _real["emulate_softmax"](False, log, _raw(x, n, _NP[dt]), None, _raw(y, n, _NP[dt]), rows, cols)


def softmax_backward(dt, log, y, dy, dx, rows, cols, _s):
    n = rows * cols
    a, g, o = _raw(y, n, _NP[dt]), _raw(dy, n, _NP[dt]), _raw(dx, n, _NP[dt])
    _real["emulate_softmax"](True, log, a, g, o, rows, cols)


def adam_update(dt, n, p, g, m, v, vmax, b1, b2, eps, step, bc2, wd, maximize, shrink, _s):
    from axonal import _cpu  # the CPU fused update, bitwise equal to the CUDA kernel by design

    t = _NP[dt]
    _cpu.adam_update(
        _raw(p, n, t), _raw(g, n, t), _raw(m, n, t), _raw(v, n, t),
        _raw(vmax, n, t) if vmax else None, b1, b2, eps, step, bc2, wd, maximize, shrink,
    )  # fmt: skip


def adam_update_multi(dt, tensors, b1, b2, eps, wd, maximize, shrink, _s):
    assert len(tensors) <= 24, "the kernel takes 24 tensors per launch"
    for p, g, m, v, vmax, n, step, bc2 in tensors:
        adam_update(dt, n, p, g, m, v, vmax, b1, b2, eps, step, bc2, wd, maximize, shrink, _s)


def relu_backward(dt, n, y, g, dx, _s):
    t = _NP[dt]
    yy, gg = _raw(y, n, t), _raw(g, n, t).copy()  # dx may alias g
    _raw(dx, n, t)[:] = np.where(yy > 0, gg, 0)


def rnn_cell(pass_, dt, N, H, pointers, _s):
    _real["emulate_rnn_cell"](pass_, dt, N, H, pointers)  # the kernel's element function


def batch_norm_forward(dt, N, C, L, x, w, b, eps, y, mean, var, invstd, rmean, rvar, mom, _s):
    t = _NP[dt]
    xs = _raw(x, N * C * L, t).reshape(N, C, L).astype(np.float64)
    mu = xs.mean(axis=(0, 2))
    va = ((xs - mu[:, None]) ** 2).mean(axis=(0, 2))
    inv = 1.0 / np.sqrt(va + eps)
    out = (xs - mu[:, None]) * inv[:, None]
    if w:
        out *= _raw(w, C, t)[:, None]
    if b:
        out += _raw(b, C, t)[:, None]
    _raw(y, N * C * L, t)[:] = out.reshape(-1)
    _raw(mean, C, t)[:], _raw(var, C, t)[:], _raw(invstd, C, t)[:] = mu, va, inv
    m = N * L
    if rmean:
        r = _raw(rmean, C, t)
        r[:] = (1 - mom) * r + mom * mu
    if rvar:
        r = _raw(rvar, C, t)
        r[:] = (1 - mom) * r + mom * (va * m / (m - 1) if m > 1 else va)


def batch_norm_backward(dt, N, C, L, x, g, mean, invstd, w, gx, sgx, sg, _s):
    t = _NP[dt]
    xs = _raw(x, N * C * L, t).reshape(N, C, L).astype(np.float64)
    gs = _raw(g, N * C * L, t).reshape(N, C, L).astype(np.float64)
    inv = _raw(invstd, C, t).astype(np.float64)
    xhat = (xs - _raw(mean, C, t)[:, None]) * inv[:, None]
    s_g, s_gx = gs.sum(axis=(0, 2)), (gs * xhat).sum(axis=(0, 2))
    _raw(sg, C, t)[:], _raw(sgx, C, t)[:] = s_g, s_gx
    if gx:
        m = N * L
        scale = inv * (_raw(w, C, t) if w else 1.0)
        d = (gs - s_g[:, None] / m - xhat * s_gx[:, None] / m) * scale[:, None]
        _raw(gx, N * C * L, t)[:] = d.reshape(-1)


def _xent(backward):
    def run(dt, logp, target, weight, ignore, eps, red, R, C, *rest):
        t = _NP[dt]
        g = _raw(rest[0], R if red == 0 else 1, t) if backward else None
        aux_p, out_p = (rest[1], rest[2]) if backward else (rest[1], rest[0])
        n_out = R * C if backward else (R if red == 0 else 1)
        _real["emulate_cross_entropy"](
            backward, _raw(logp, R * C, t).reshape(R, C), _raw(target, R, np.int64),
            _raw(weight, C, t) if weight else None, ignore, eps, red, g,
            _raw(aux_p, 2, np.float64), _raw(out_p, n_out, t),
        )  # fmt: skip

    return run


for _name, _fn in dict(
    adam_update=adam_update,
    adam_update_multi=adam_update_multi,
    relu_backward=relu_backward,
    rnn_cell=rnn_cell,
    cross_entropy_forward=_xent(False),
    cross_entropy_backward=_xent(True),
    batch_norm_forward=batch_norm_forward,
    batch_norm_backward=batch_norm_backward,
    gemm=gemm,
    conv2d_forward=conv2d_forward,
    conv2d_backward_input=conv2d_backward_input,
    conv2d_backward_weight=conv2d_backward_weight,
    conv2d_backward_bias=conv2d_backward_bias,
    max_pool2d_forward=_pool(0),
    max_pool2d_backward=_pool(1),
    avg_pool2d_forward=_pool(2),
    avg_pool2d_backward=_pool(3),
    adaptive_avg_pool2d_forward=_pool(4),
    adaptive_avg_pool2d_backward=_pool(5),
    softmax_forward=softmax_forward,
    softmax_backward=softmax_backward,
).items():
    setattr(_cuda, _name, _counted(_fn))
