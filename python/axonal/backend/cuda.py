"""The CUDA backend: thin adapters over the kernels in ``axonal._cuda``, on CuPy arrays.

Same function names and signatures as ``backend.cpu`` / ``backend.numpy_ref``, with
``cupy.ndarray`` in place of ``numpy.ndarray``. Each adapter validates its arguments (TypeError /
ValueError naming the op and the shapes), allocates the outputs with ``cupy.empty``, and passes
raw device pointers, sizes and CuPy's current stream to the kernel, which is queued on that stream:
nothing here waits for the GPU. Inputs in layouts the kernels cannot address are copied to dense
arrays first (GEMM operands may be row- or column-major with any leading dimension).

GEMM dtypes: float32 (SIMT kernel, or TF32 tensor cores when
``axonal.backends.cuda.matmul.allow_tf32`` is set), float64, and bfloat16 inputs (tensor cores,
float32 accumulation; output bfloat16, or float32 through ``out``) where CuPy has a bfloat16
dtype; ``gemm_bf16_bits`` takes bfloat16 values as their uint16 bit patterns on any CuPy.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

try:
    import cupy as cp
except ImportError as e:  # pragma: no cover - backend.get("cuda") checks first
    raise ImportError(
        "axonal.backend.cuda needs CuPy: pip install cupy-cuda13x (or cupy-cuda12x)"
    ) from e

from .. import _cuda  # type: ignore[attr-defined]
from ..backends import cuda as _flags
from ._dgrad import dgrad_as_forward as _dgrad_as_forward

IntPair = Union[int, Sequence[int]]
Array = Any  # cupy.ndarray

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_CODES = {_F32: 0, _F64: 1}
_BF16 = 2


# ------------------------------------------------------------------ helpers
def _stream() -> int:
    return int(cp.cuda.get_current_stream().ptr)


def _shape(a: Any) -> str:
    s = tuple(getattr(a, "shape", ()))
    return str(s)


def _is_bf16(dt: np.dtype) -> bool:
    return dt.itemsize == 2 and dt.name == "bfloat16"


def _arr(x: Any, op: str, name: str) -> cp.ndarray:
    if not isinstance(x, cp.ndarray):
        raise TypeError(
            f"{op}: {name} must be a cupy.ndarray (a GPU array), got {type(x).__name__}"
        )
    dev = cp.cuda.runtime.getDevice()
    if x.device.id != dev:
        raise ValueError(
            f"{op}: {name} {_shape(x)} lives on cuda:{x.device.id}, the current device is "
            f"cuda:{dev}"
        )
    return x


def _code(x: cp.ndarray, op: str, name: str) -> int:
    code = _CODES.get(x.dtype)
    if code is None:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype}")
    return code


def _same_dtype(op: str, a: cp.ndarray, an: str, b: cp.ndarray, bn: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: dtypes differ: {an} is {a.dtype}, {bn} is {b.dtype}")


def _rank(x: cp.ndarray, nd: int, op: str, name: str, layout: str) -> None:
    if x.ndim != nd:
        raise ValueError(f"{op}: expected a {nd}-D {name} {layout}, got shape {x.shape}")


def _dense(x: cp.ndarray) -> cp.ndarray:
    return x if x.flags.c_contiguous else cp.ascontiguousarray(x)


def _ptr(x: Optional[cp.ndarray]) -> int:
    return 0 if x is None or x.size == 0 else int(x.data.ptr)


def _pair(v: Any, op: str, name: str) -> Tuple[int, int]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and all(
        isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v
    ):
        if len(v) == 2:
            return int(v[0]), int(v[1])
        if len(v) == 1:
            return int(v[0]), int(v[0])
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def _shape4(s: Any, op: str, name: str) -> Tuple[int, int, int, int]:
    try:
        t = tuple(int(v) for v in s)
    except TypeError:
        raise TypeError(f"{op}: {name} must be a sequence of 4 ints, got {s!r}") from None
    if len(t) != 4:
        raise ValueError(f"{op}: {name} must have 4 entries (N, C, H, W), got {s!r}")
    if min(t) < 0:
        raise ValueError(f"{op}: {name} {t} has a negative size")
    return t  # type: ignore[return-value]


def _byte_range(x: cp.ndarray) -> Tuple[int, int]:
    lo = hi = int(x.data.ptr)
    if x.size == 0:
        return lo, lo
    for n, st in zip(x.shape, x.strides):
        ext = (n - 1) * st
        if ext < 0:
            lo += ext
        else:
            hi += ext
    return lo, hi + x.itemsize


def _check_no_overlap(out: cp.ndarray, x: cp.ndarray, op: str, name: str) -> None:
    o, i = _byte_range(out), _byte_range(x)
    if o[0] < i[1] and i[0] < o[1]:
        raise ValueError(f"{op}: out overlaps the memory of {name}")


# ------------------------------------------------------------------ GEMM
class _Operand:
    """A matrix operand (the last two axes of a 2-D / 3-D array) as the kernel addresses it."""

    __slots__ = ("keep", "batch", "rows", "cols", "ld", "bstride", "colmajor")

    def __init__(self, x: cp.ndarray) -> None:
        self.keep = x
        self.batch = x.shape[0] if x.ndim == 3 else 1
        self.rows, self.cols = x.shape[-2], x.shape[-1]
        self.ld, self.bstride, self.colmajor = max(1, self.cols), 0, False


def _layout(x: cp.ndarray) -> Optional[_Operand]:
    op = _Operand(x)
    isz = x.itemsize
    r, c = op.rows, op.cols
    sr, sc = x.strides[-2], x.strides[-1]
    if x.size == 0:
        return op
    if x.ndim == 3 and op.batch > 1:
        sb = x.strides[0]
        if sb < 0 or sb % isz:
            return None
        op.bstride = sb // isz
    if (sc == isz or c == 1) and (r == 1 or (sr > 0 and sr % isz == 0 and sr // isz >= c)):
        op.ld = c if r == 1 else sr // isz
        return op
    if (sr == isz or r == 1) and (c == 1 or (sc > 0 and sc % isz == 0 and sc // isz >= r)):
        op.colmajor = True
        op.ld = r if c == 1 else sc // isz
        return op
    return None


def _operand(x: cp.ndarray) -> _Operand:
    op = _layout(x)
    if op is None:  # strides the kernel cannot address (negative, zero, not whole elements)
        op = _layout(cp.ascontiguousarray(x))
        assert op is not None
    return op


def _gemm_codes(a: cp.ndarray, b: cp.ndarray, op: str, bits: bool) -> Tuple[int, np.dtype]:
    """(input dtype code, default output dtype)."""
    if bits:
        for name, x in (("a", a), ("b", b)):
            if x.dtype != np.uint16:
                raise TypeError(
                    f"{op}: {name} must hold bfloat16 bit patterns as uint16, got {x.dtype}"
                )
        return _BF16, _F32
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: dtypes differ: a is {a.dtype}, b is {b.dtype}")
    if a.dtype in _CODES:
        return _CODES[a.dtype], a.dtype
    if _is_bf16(a.dtype):
        return _BF16, a.dtype
    raise TypeError(f"{op}: a must be float32, float64 or bfloat16, got {a.dtype}")


def _gemm_arrays(
    op: str,
    nd: int,
    a: Any,
    b: Any,
    out: Any,
    alpha: float,
    beta: float,
    trans_a: bool,
    trans_b: bool,
    bits: bool = False,
) -> cp.ndarray:
    a, b = _arr(a, op, "a"), _arr(b, op, "b")
    in_code, out_dtype = _gemm_codes(a, b, op, bits)
    ranks = (2,) if nd == 2 else (2, 3)
    if a.ndim not in ranks or b.ndim not in ranks:
        what = "2-D matrices" if nd == 2 else "3-D batches of matrices (or 2-D, broadcast)"
        raise ValueError(f"{op}: {a.shape} @ {b.shape}: expected {what}")
    A, B = _operand(a), _operand(b)
    ta, tb = bool(trans_a), bool(trans_b)
    m, ka = (A.cols, A.rows) if ta else (A.rows, A.cols)
    kb, n = (B.cols, B.rows) if tb else (B.rows, B.cols)
    if ka != kb:
        raise ValueError(
            f"{op}: {'op(a) ' if ta else ''}{(m, ka)} @ {'op(b) ' if tb else ''}{(kb, n)}: "
            f"inner dimensions {ka} != {kb}"
        )
    batch = 1
    if nd == 3:
        ba = A.batch if a.ndim == 3 else -1
        bb = B.batch if b.ndim == 3 else -1
        if ba >= 0 and bb >= 0 and ba != bb and ba != 1 and bb != 1:
            raise ValueError(f"{op}: {a.shape} @ {b.shape}: batch sizes {ba} and {bb} differ")
        batch = 0 if ba == 0 or bb == 0 else max(ba, bb, 1)
        if a.ndim == 2 or A.batch == 1:
            A.bstride = 0
        if b.ndim == 2 or B.batch == 1:
            B.bstride = 0
    shape = (batch, m, n) if nd == 3 else (m, n)
    if out is None:
        if beta != 0:
            raise ValueError(f"{op}: beta = {beta} needs an out array to read C from")
        c = cp.empty(shape, dtype=out_dtype)
    else:
        c = _arr(out, op, "out")
        ok_dtypes = (out_dtype, _F32) if in_code == _BF16 else (out_dtype,)
        if c.dtype not in ok_dtypes:
            raise TypeError(f"{op}: out has dtype {c.dtype}, expected {out_dtype}")
        if c.shape != shape:
            raise ValueError(f"{op}: out has shape {c.shape}, expected {shape}")
        _check_no_overlap(c, A.keep, op, "a")
        _check_no_overlap(c, B.keep, op, "b")
    isz = c.itemsize
    ldc, sc = max(1, n), m * n
    if c.size:
        st = c.strides
        row_ok = st[-1] == isz or n == 1
        if m > 1:
            row_ok = row_ok and st[-2] > 0 and st[-2] % isz == 0 and st[-2] // isz >= n
            ldc = st[-2] // isz if row_ok else ldc
        if nd == 3 and batch > 1:
            sb = st[0]
            row_ok = row_ok and sb > 0 and sb % isz == 0 and sb // isz >= (m - 1) * ldc + n
            sc = sb // isz if row_ok else sc
        if not row_ok:
            raise ValueError(
                f"{op}: out {c.shape} must be row-major in its last axis with positive strides"
            )
    if c.size == 0:
        return c
    out_code = _BF16 if _is_bf16(c.dtype) else _CODES[c.dtype]
    _cuda.gemm(
        in_code,
        out_code,
        bool(in_code == 0 and _flags.matmul.allow_tf32),
        ta != A.colmajor,
        tb != B.colmajor,
        m,
        n,
        ka,
        float(alpha),
        _ptr(A.keep),
        A.ld,
        A.bstride,
        _ptr(B.keep),
        B.ld,
        B.bstride,
        float(beta),
        _ptr(c),
        ldc,
        sc,
        batch,
        _stream(),
    )
    return c


def gemm(
    a: Array,
    b: Array,
    out: Optional[Array] = None,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> Array:
    """out = alpha * op(a) @ op(b) + beta * out for 2-D GPU arrays (float32 / float64 / bf16)."""
    return _gemm_arrays("gemm", 2, a, b, out, alpha, beta, trans_a, trans_b)


def gemm_batched(
    a: Array,
    b: Array,
    out: Optional[Array] = None,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> Array:
    """Batched gemm over 3-D GPU arrays; a 2-D operand or a batch of one is broadcast."""
    return _gemm_arrays("gemm_batched", 3, a, b, out, alpha, beta, trans_a, trans_b)


def gemm_bf16_bits(
    a: Array,
    b: Array,
    out: Optional[Array] = None,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> Array:
    """gemm on bfloat16 values given as uint16 bit patterns (2-D or 3-D); float32 result."""
    nd = 3 if getattr(a, "ndim", 2) == 3 or getattr(b, "ndim", 2) == 3 else 2
    op = "gemm_bf16_bits"
    return _gemm_arrays(op, nd, a, b, out, alpha, beta, trans_a, trans_b, bits=True)


def gemm_raw(
    trans_a: bool,
    trans_b: bool,
    M: int,
    N: int,
    K: int,
    alpha: float,
    A: Array,
    lda: int,
    B: Array,
    ldb: int,
    beta: float,
    C: Array,
    ldc: int,
) -> None:
    """BLAS-style entry: C-contiguous GPU buffers with explicit sizes and leading dimensions;
    C = alpha op(A) op(B) + beta C in place."""
    op = "gemm_raw"
    A, B, C = _arr(A, op, "A"), _arr(B, op, "B"), _arr(C, op, "C")
    if min(M, N, K) < 0:
        raise ValueError(f"{op}: sizes must be >= 0, got M={M} N={N} K={K}")
    if not (A.dtype == B.dtype == C.dtype) or A.dtype not in _CODES:
        raise TypeError(f"{op}: A, B and C must share one dtype, float32 or float64")
    for name, x, rows, cols, ld in (
        ("a", A, K if trans_a else M, M if trans_a else K, lda),
        ("b", B, N if trans_b else K, K if trans_b else N, ldb),
        ("c", C, M, N, ldc),
    ):
        if not x.flags.c_contiguous:
            raise ValueError(f"{op}: {name} must be C-contiguous")
        if ld < max(1, cols):
            raise ValueError(
                f"{op}: ld{name} = {ld} is less than the {cols} columns of {name} {(rows, cols)}"
            )
        need = 0 if rows == 0 or cols == 0 else (rows - 1) * ld + cols
        if x.size < need:
            raise ValueError(
                f"{op}: {name} {(rows, cols)} with ld{name} = {ld} needs {need} elements, the "
                f"buffer has {x.size}"
            )
    _check_no_overlap(C, A, op, "A")
    _check_no_overlap(C, B, op, "B")
    if M == 0 or N == 0:
        return
    code = _CODES[A.dtype]
    _cuda.gemm(
        code,
        code,
        bool(code == 0 and _flags.matmul.allow_tf32),
        bool(trans_a),
        bool(trans_b),
        M,
        N,
        K,
        float(alpha),
        _ptr(A),
        lda,
        0,
        _ptr(B),
        ldb,
        0,
        float(beta),
        _ptr(C),
        ldc,
        0,
        1,
        _stream(),
    )


def gemm_kernel_name(dtype: Any = np.float32) -> str:
    """The kernel gemm picks for ``dtype`` under the current flags (for logs and benchmarks)."""
    dt = np.dtype(dtype)
    code = _BF16 if _is_bf16(dt) else _CODES.get(dt)
    if code is None:
        raise TypeError(f"gemm_kernel_name: no GEMM kernel for {dt}")
    return str(_cuda.gemm_kernel_name(code, bool(code == 0 and _flags.matmul.allow_tf32)))


def matmul(a: Array, b: Array) -> Array:
    """``cupy.matmul`` semantics (1-D promotion, broadcast batch dimensions) on the GEMM kernels;
    integer or mixed dtypes fall back to ``cupy.matmul``."""
    a, b = _arr(a, "matmul", "a"), _arr(b, "matmul", "b")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: {a.shape} @ {b.shape}: both operands need at least one dimension"
        )
    kernel_dtype = a.dtype in _CODES or _is_bf16(a.dtype)
    if a.dtype != b.dtype or not kernel_dtype:
        return cp.matmul(a, b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: {a.shape} @ {b.shape}: inner dimensions {a2.shape[-1]} != {b2.shape[-2]}"
        )
    batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    if not batch:
        out = gemm(a2, b2)
    elif b2.ndim == 2:
        # (..., m, k) @ (k, n): one GEMM over the flattened leading dimensions
        out = gemm(a2.reshape(-1, k), b2).reshape(*batch, m, n)
    else:
        a3 = cp.broadcast_to(a2, (*batch, m, k)).reshape(-1, m, k)
        b3 = cp.broadcast_to(b2, (*batch, k, n)).reshape(-1, k, n)
        out = gemm_batched(a3, b3).reshape(*batch, m, n)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


# ------------------------------------------------------------------ conv2d
def _conv_params(op, xs, ws, stride, padding, dilation, groups) -> List[int]:
    """Checks x (N, C, H, W) against w (K, C/groups, R, S); the 16-entry kernel geometry."""
    (sh, sw), (ph, pw), (dh, dw) = (
        _pair(stride, op, "stride"),
        _pair(padding, op, "padding"),
        _pair(dilation, op, "dilation"),
    )
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    groups = int(groups)
    if min(sh, sw) <= 0:
        raise ValueError(f"{op}: stride must be positive, got {(sh, sw)}")
    if min(ph, pw) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {(ph, pw)}")
    if min(dh, dw) <= 0:
        raise ValueError(f"{op}: dilation must be positive, got {(dh, dw)}")
    if groups <= 0:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    n, c, h, w = xs
    k, cg, r, s = ws
    if c % groups:
        raise ValueError(
            f"{op}: input {tuple(xs)}: {c} input channels are not divisible by groups = {groups}"
        )
    if k % groups:
        raise ValueError(
            f"{op}: weight {tuple(ws)}: {k} output channels are not divisible by groups = {groups}"
        )
    if cg * groups != c:
        raise ValueError(
            f"{op}: input {tuple(xs)} and weight {tuple(ws)}: weight expects {cg * groups} input "
            f"channels ({cg} per group x {groups} groups), the input has {c}"
        )
    if r <= 0 or s <= 0:
        raise ValueError(f"{op}: weight {tuple(ws)} has an empty kernel")
    eh, ew = dh * (r - 1) + 1, dw * (s - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        dil = "dilated " if dh > 1 or dw > 1 else ""
        raise ValueError(
            f"{op}: input {tuple(xs)} padded to {(h + 2 * ph, w + 2 * pw)} is smaller than the "
            f"{dil}kernel {(eh, ew)} of weight {tuple(ws)}"
        )
    p, q = (h + 2 * ph - eh) // sh + 1, (w + 2 * pw - ew) // sw + 1
    return [n, c, h, w, k, r, s, p, q, sh, sw, ph, pw, dh, dw, groups]


def conv2d_forward(
    x: Array,
    w: Array,
    b: Optional[Array] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    """conv2d (cross-correlation): x (N, C, H, W), w (K, C/groups, R, S), b (K,) or None
    -> y (N, K, P, Q)."""
    op = "conv2d"
    x, w = _arr(x, op, "input"), _arr(w, op, "weight")
    code = _code(x, op, "input")
    _same_dtype(op, x, "input", w, "weight")
    _rank(x, 4, op, "input", "(N, C, H, W)")
    _rank(w, 4, op, "weight", "(K, C / groups, R, S)")
    geom = _conv_params(op, x.shape, w.shape, stride, padding, dilation, groups)
    if b is not None:
        b = _arr(b, op, "bias")
        _same_dtype(op, x, "input", b, "bias")
        if b.ndim != 1 or b.shape[0] != geom[4]:
            raise ValueError(
                f"{op}: bias has shape {b.shape}, expected ({geom[4]},) for weight {w.shape}"
            )
        b = _dense(b)
    y = cp.empty((geom[0], geom[4], geom[7], geom[8]), dtype=x.dtype)
    if y.size:
        x, w = _dense(x), _dense(w)
        _cuda.conv2d_forward(code, geom, _ptr(x), _ptr(w), _ptr(b), _ptr(y), _stream())
    return y


def _check_grad(op, dy, geom, xs, ws) -> None:
    want = (geom[0], geom[4], geom[7], geom[8])
    if tuple(dy.shape) != want:
        raise ValueError(
            f"{op}: grad_output has shape {dy.shape}, the output of input {tuple(xs)} and weight "
            f"{tuple(ws)} is {want}"
        )


# conv2d_backward_input at stride 1 through the forward kernel (_dgrad.py); bench_cuda.py
# times both ways
_DGRAD_VIA_FORWARD = True


def conv2d_backward_input(
    grad_output: Array,
    w: Array,
    input_shape: Sequence[int],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    """Gradient of conv2d with respect to its input: -> dx with shape input_shape."""
    op = "conv2d_backward_input"
    dy, w = _arr(grad_output, op, "grad_output"), _arr(w, op, "weight")
    code = _code(dy, op, "grad_output")
    _same_dtype(op, dy, "grad_output", w, "weight")
    _rank(dy, 4, op, "grad_output", "(N, K, P, Q)")
    _rank(w, 4, op, "weight", "(K, C / groups, R, S)")
    xs = _shape4(input_shape, op, "input_shape")
    geom = _conv_params(op, xs, w.shape, stride, padding, dilation, groups)
    _check_grad(op, dy, geom, xs, w.shape)
    dx = cp.empty(xs, dtype=dy.dtype)
    if dx.size:
        dy, w = _dense(dy), _dense(w)
        via = _dgrad_as_forward(w, geom[9:11], geom[11:13], geom[13:15], geom[15])
        if _DGRAD_VIA_FORWARD and via is not None and dy.size:
            # stride 1: the forward kernel on dy with the flipped, channel-swapped weight
            wt, pad = via
            wt = cp.ascontiguousarray(wt)
            g2 = _conv_params(op, dy.shape, wt.shape, 1, pad, geom[13:15], geom[15])
            _cuda.conv2d_forward(code, g2, _ptr(dy), _ptr(wt), 0, _ptr(dx), _stream())
        else:
            _cuda.conv2d_backward_input(code, geom, _ptr(dy), _ptr(w), _ptr(dx), _stream())
    return dx


def conv2d_backward_weight(
    grad_output: Array,
    x: Array,
    weight_shape: Sequence[int],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    """Gradient of conv2d with respect to its weight: -> dw with shape weight_shape."""
    op = "conv2d_backward_weight"
    dy, x = _arr(grad_output, op, "grad_output"), _arr(x, op, "input")
    code = _code(dy, op, "grad_output")
    _same_dtype(op, dy, "grad_output", x, "input")
    _rank(dy, 4, op, "grad_output", "(N, K, P, Q)")
    _rank(x, 4, op, "input", "(N, C, H, W)")
    ws = _shape4(weight_shape, op, "weight_shape")
    geom = _conv_params(op, x.shape, ws, stride, padding, dilation, groups)
    _check_grad(op, dy, geom, x.shape, ws)
    dw = cp.empty(ws, dtype=dy.dtype)
    if dw.size:
        dy, x = _dense(dy), _dense(x)
        _cuda.conv2d_backward_weight(code, geom, _ptr(dy), _ptr(x), _ptr(dw), _stream())
    return dw


def conv2d_backward_bias(grad_output: Array) -> Array:
    """Gradient of conv2d with respect to its bias: grad_output summed over all axes but 1."""
    op = "conv2d_backward_bias"
    dy = _arr(grad_output, op, "grad_output")
    code = _code(dy, op, "grad_output")
    if dy.ndim < 2:
        raise ValueError(f"{op}: expected grad_output (N, K, ...), got shape {dy.shape}")
    n, k = dy.shape[0], dy.shape[1]
    length = int(np.prod(dy.shape[2:], dtype=np.int64))
    db = cp.empty((k,), dtype=dy.dtype)
    if k:
        dy = _dense(dy)
        _cuda.conv2d_backward_bias(code, n, k, length, _ptr(dy), _ptr(db), _stream())
    return db


def _rank3(a, op, name):
    if not isinstance(a, cp.ndarray) or a.ndim != 3:
        raise ValueError(f"{op}: expected a 3-D {name} (N, C, L), got shape {_shape(a)}")


def _one(v, op, name) -> int:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    t = tuple(v)
    if len(t) != 1:
        raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
    return int(t[0])


def _args1d(op, stride, padding, dilation):
    return (
        (1, _one(stride, op, "stride")),
        (0, _one(padding, op, "padding")),
        (1, _one(dilation, op, "dilation")),
    )


def conv1d_forward(
    x: Array,
    w: Array,
    b: Optional[Array] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    """conv1d: x (N, C, L), w (K, C/groups, R) -> y (N, K, Lout) (conv2d with H = 1)."""
    _rank3(x, "conv1d", "input")
    _rank3(w, "conv1d", "weight")
    s, p, d = _args1d("conv1d", stride, padding, dilation)
    return conv2d_forward(x[:, :, None, :], w[:, :, None, :], b, s, p, d, groups)[:, :, 0, :]


def conv1d_backward_input(
    grad_output: Array,
    w: Array,
    input_shape: Sequence[int],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    op = "conv1d_backward_input"
    _rank3(grad_output, op, "grad_output")
    _rank3(w, op, "weight")
    n, c, length = (int(v) for v in input_shape)
    s, p, d = _args1d(op, stride, padding, dilation)
    dy4, w4 = grad_output[:, :, None, :], w[:, :, None, :]
    return conv2d_backward_input(dy4, w4, (n, c, 1, length), s, p, d, groups)[:, :, 0, :]


def conv1d_backward_weight(
    grad_output: Array,
    x: Array,
    weight_shape: Sequence[int],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    op = "conv1d_backward_weight"
    _rank3(grad_output, op, "grad_output")
    _rank3(x, op, "input")
    k, cg, r = (int(v) for v in weight_shape)
    s, p, d = _args1d(op, stride, padding, dilation)
    dy4, x4 = grad_output[:, :, None, :], x[:, :, None, :]
    return conv2d_backward_weight(dy4, x4, (k, cg, 1, r), s, p, d, groups)[:, :, 0, :]


# ------------------------------------------------------------------ pooling
def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and out > 0 and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_params(op, xs, kernel_size, stride, padding, dilation, ceil_mode) -> List[int]:
    """The 14-entry geometry [N, C, H, W, P, Q, kh, kw, sh, sw, ph, pw, dh, dw]."""
    kh, kw = _pair(kernel_size, op, "kernel_size")
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    sh, sw = (kh, kw) if no_stride else _pair(stride, op, "stride")
    ph, pw = _pair(padding, op, "padding")
    dh, dw = _pair(dilation, op, "dilation")
    if min(kh, kw) <= 0:
        raise ValueError(f"{op}: kernel_size must be positive, got {(kh, kw)}")
    if min(sh, sw) <= 0:
        raise ValueError(f"{op}: stride must be positive, got {(sh, sw)}")
    if min(ph, pw) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {(ph, pw)}")
    if min(dh, dw) <= 0:
        raise ValueError(f"{op}: dilation must be positive, got {(dh, dw)}")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half of kernel_size {(kh, kw)}")
    n, c, h, w = xs
    if h <= 0 or w <= 0:
        raise ValueError(f"{op}: input {tuple(xs)} has an empty spatial size")
    p = _pool_out(h, kh, sh, ph, dh, bool(ceil_mode))
    q = _pool_out(w, kw, sw, pw, dw, bool(ceil_mode))
    if p < 1 or q < 1:
        dil = "dilated " if dh > 1 or dw > 1 else ""
        raise ValueError(
            f"{op}: input {tuple(xs)} padded by {(ph, pw)} is smaller than the {dil}kernel "
            f"{(dh * (kh - 1) + 1, dw * (kw - 1) + 1)}: output size {(p, q)} is too small"
        )
    return [n, c, h, w, p, q, kh, kw, sh, sw, ph, pw, dh, dw]


def _check_windows(op, xs, g) -> None:
    """Every max-pool window must hold an input element (only dilation can break that: with
    padding at most half the kernel, an undilated window always reaches the input)."""
    if g[12] == 1 and g[13] == 1:
        return
    for axis, (length, out, k, s, pad, d) in enumerate(
        ((g[2], g[4], g[6], g[8], g[10], g[12]), (g[3], g[5], g[7], g[9], g[11], g[13]))
    ):
        o = np.arange(out)[:, None]
        i = o * s - pad + np.arange(k)[None, :] * d
        empty = ~((i >= 0) & (i < length)).any(axis=1)
        if empty.any():
            what = "row" if axis == 0 else "column"
            raise ValueError(
                f"{op}: input {tuple(xs)}: the window of output {what} {int(np.argmax(empty))} "
                "lies entirely in the padding"
            )


def max_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> Tuple[Array, Array]:
    """max_pool2d: x (N, C, H, W) -> (y, indices), indices int64 flat in each H*W plane."""
    op = "max_pool2d"
    x = _arr(x, op, "input")
    code = _code(x, op, "input")
    _rank(x, 4, op, "input", "(N, C, H, W)")
    g = _pool_params(op, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    _check_windows(op, x.shape, g)
    ys = (g[0], g[1], g[4], g[5])
    y = cp.empty(ys, dtype=x.dtype)
    idx = cp.empty(ys, dtype=cp.int64)
    if y.size:
        x = _dense(x)
        _cuda.max_pool2d_forward(code, g, _ptr(x), _ptr(y), _ptr(idx), _stream())
    return y, idx


def max_pool2d_backward(grad_output: Array, indices: Array, input_shape: Sequence[int]) -> Array:
    """Gradient of max_pool2d: grad_output scattered at indices (entries of indices outside
    [0, H*W) are skipped on the GPU; checking them would need a device synchronisation)."""
    op = "max_pool2d_backward"
    dy, idx = _arr(grad_output, op, "grad_output"), _arr(indices, op, "indices")
    code = _code(dy, op, "grad_output")
    if idx.dtype != np.int64:
        raise TypeError(f"{op}: indices must be int64, got {idx.dtype}")
    _rank(dy, 4, op, "grad_output", "(N, C, P, Q)")
    _rank(idx, 4, op, "indices", "(N, C, P, Q)")
    if dy.shape != idx.shape:
        raise ValueError(f"{op}: grad_output {dy.shape} and indices {idx.shape} differ in shape")
    xs = _shape4(input_shape, op, "input_shape")
    if xs[0] != dy.shape[0] or xs[1] != dy.shape[1]:
        raise ValueError(f"{op}: grad_output {dy.shape} does not match input_shape {xs} in (N, C)")
    if xs[2] * xs[3] == 0 and dy.size:
        raise ValueError(
            f"{op}: input_shape {xs} has an empty plane but grad_output {dy.shape} does not"
        )
    dx = cp.empty(xs, dtype=dy.dtype)
    if dx.size:
        g = [*xs, dy.shape[2], dy.shape[3], 1, 1, 1, 1, 0, 0, 1, 1]
        dy, idx = _dense(dy), _dense(idx)
        _cuda.max_pool2d_backward(code, g, _ptr(dy), _ptr(idx), _ptr(dx), _stream())
    return dx


def _divisor(op, divisor_override) -> int:
    if divisor_override is None:
        return 0
    if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)):
        raise TypeError(f"{op}: divisor_override must be an int or None, got {divisor_override!r}")
    if divisor_override <= 0:
        raise ValueError(f"{op}: divisor_override must be positive, got {divisor_override}")
    return int(divisor_override)


def avg_pool2d_forward(
    x: Array,
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> Array:
    """avg_pool2d: x (N, C, H, W) -> y (N, C, P, Q)."""
    op = "avg_pool2d"
    x = _arr(x, op, "input")
    code = _code(x, op, "input")
    _rank(x, 4, op, "input", "(N, C, H, W)")
    g = _pool_params(op, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    div = _divisor(op, divisor_override)
    y = cp.empty((g[0], g[1], g[4], g[5]), dtype=x.dtype)
    if y.size:
        x = _dense(x)
        _cuda.avg_pool2d_forward(code, g, bool(count_include_pad), div, _ptr(x), _ptr(y), _stream())
    return y


def avg_pool2d_backward(
    grad_output: Array,
    input_shape: Sequence[int],
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> Array:
    """Gradient of avg_pool2d."""
    op = "avg_pool2d_backward"
    dy = _arr(grad_output, op, "grad_output")
    code = _code(dy, op, "grad_output")
    _rank(dy, 4, op, "grad_output", "(N, C, P, Q)")
    xs = _shape4(input_shape, op, "input_shape")
    g = _pool_params(op, xs, kernel_size, stride, padding, 1, ceil_mode)
    div = _divisor(op, divisor_override)
    want = (xs[0], xs[1], g[4], g[5])
    if tuple(dy.shape) != want:
        raise ValueError(
            f"{op}: grad_output has shape {dy.shape}, the pooled output of input {xs} is {want}"
        )
    dx = cp.empty(xs, dtype=dy.dtype)
    if dx.size:
        dy = _dense(dy)
        _cuda.avg_pool2d_backward(
            code, g, bool(count_include_pad), div, _ptr(dy), _ptr(dx), _stream()
        )
    return dx


def _adaptive_size(op, output_size, xs) -> Tuple[int, int]:
    def one(v, full):
        if v is None:
            return full
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v)
        raise TypeError(
            f"{op}: output_size must be an int or a pair of ints / None, got {output_size!r}"
        )

    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
        out = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        out = (one(output_size[0], xs[2]), one(output_size[1], xs[3]))
    else:
        raise TypeError(
            f"{op}: output_size must be an int or a pair of ints / None, got {output_size!r}"
        )
    if min(out) <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {out}")
    if xs[2] <= 0 or xs[3] <= 0:
        raise ValueError(f"{op}: input {tuple(xs)} has an empty spatial size")
    return out


def adaptive_avg_pool2d_forward(x: Array, output_size: Any) -> Array:
    """adaptive_avg_pool2d: x (N, C, H, W) -> y (N, C, *output_size)."""
    op = "adaptive_avg_pool2d"
    x = _arr(x, op, "input")
    code = _code(x, op, "input")
    _rank(x, 4, op, "input", "(N, C, H, W)")
    p, q = _adaptive_size(op, output_size, x.shape)
    y = cp.empty((x.shape[0], x.shape[1], p, q), dtype=x.dtype)
    if y.size:
        g = [*x.shape, p, q, 1, 1, 1, 1, 0, 0, 1, 1]
        x = _dense(x)
        _cuda.adaptive_avg_pool2d_forward(code, g, _ptr(x), _ptr(y), _stream())
    return y


def adaptive_avg_pool2d_backward(grad_output: Array, input_shape: Sequence[int]) -> Array:
    """Gradient of adaptive_avg_pool2d."""
    op = "adaptive_avg_pool2d_backward"
    dy = _arr(grad_output, op, "grad_output")
    code = _code(dy, op, "grad_output")
    _rank(dy, 4, op, "grad_output", "(N, C, P, Q)")
    xs = _shape4(input_shape, op, "input_shape")
    if xs[2] <= 0 or xs[3] <= 0:
        raise ValueError(f"{op}: input_shape {xs} has an empty spatial size")
    if dy.shape[0] != xs[0] or dy.shape[1] != xs[1] or dy.shape[2] <= 0 or dy.shape[3] <= 0:
        raise ValueError(f"{op}: grad_output {dy.shape} does not match input_shape {xs}")
    dx = cp.empty(xs, dtype=dy.dtype)
    if dx.size:
        g = [*xs, dy.shape[2], dy.shape[3], 1, 1, 1, 1, 0, 0, 1, 1]
        dy = _dense(dy)
        _cuda.adaptive_avg_pool2d_backward(code, g, _ptr(dy), _ptr(dx), _stream())
    return dx


# ------------------------------------------------------------------ softmax
def _norm_dim(dim: Any, ndim: int, op: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(f"{op}: dim {dim} out of range for a {ndim}-D input")
    return int(dim) % n


def _rows_apply(op: str, arrays: Sequence[cp.ndarray], dim: int, fn) -> cp.ndarray:
    """Moves `dim` last, makes the arrays dense, runs fn(dense arrays, out, rows, cols) and
    moves the axis back."""
    shape = arrays[0].shape
    if len(shape) == 0:
        moved = [a.reshape(1) for a in arrays]
    else:
        moved = [_dense(cp.moveaxis(a, dim, -1)) for a in arrays]
    cols = moved[0].shape[-1]
    rows = moved[0].size // cols if cols else 0
    out = cp.empty(moved[0].shape, dtype=moved[0].dtype)
    if out.size:
        fn(moved, out, rows, cols)
    if len(shape) == 0:
        return out.reshape(())
    return _dense(cp.moveaxis(out, -1, dim))


def _softmax_fwd(op: str, x: Any, dim: int, log: bool) -> cp.ndarray:
    x = _arr(x, op, "input")
    code = _code(x, op, "input")
    d = _norm_dim(dim, x.ndim, op)

    def run(ms, out, rows, cols):
        _cuda.softmax_forward(code, log, _ptr(ms[0]), _ptr(out), rows, cols, _stream())

    return _rows_apply(op, [x], d, run)


def _softmax_bwd(op: str, grad_output: Any, output: Any, dim: int, log: bool) -> cp.ndarray:
    dy, y = _arr(grad_output, op, "grad_output"), _arr(output, op, "output")
    code = _code(dy, op, "grad_output")
    _same_dtype(op, dy, "grad_output", y, "output")
    if dy.shape != y.shape:
        raise ValueError(f"{op}: grad_output {dy.shape} and output {y.shape} differ in shape")
    d = _norm_dim(dim, y.ndim, op)

    def run(ms, out, rows, cols):
        _cuda.softmax_backward(
            code, log, _ptr(ms[1]), _ptr(ms[0]), _ptr(out), rows, cols, _stream()
        )

    return _rows_apply(op, [dy, y], d, run)


def softmax_forward(x: Array, dim: int = -1) -> Array:
    """softmax along ``dim`` (numerically stable; a row of -inf gives NaN, as in PyTorch)."""
    return _softmax_fwd("softmax", x, dim, False)


def log_softmax_forward(x: Array, dim: int = -1) -> Array:
    """log_softmax along ``dim``."""
    return _softmax_fwd("log_softmax", x, dim, True)


def softmax_backward(grad_output: Array, output: Array, dim: int = -1) -> Array:
    """Gradient of softmax from its output y: y * (dy - sum(dy * y, dim))."""
    return _softmax_bwd("softmax_backward", grad_output, output, dim, False)


def log_softmax_backward(grad_output: Array, output: Array, dim: int = -1) -> Array:
    """Gradient of log_softmax from its output y: dy - exp(y) * sum(dy, dim)."""
    return _softmax_bwd("log_softmax_backward", grad_output, output, dim, True)


# ------------------------------------------------------------------ elementwise
def relu_backward(grad_output: Array, output: Array) -> Optional[Array]:
    """ReLU's gradient from its output, one kernel: grad where output > 0, else 0. None (nothing
    done) unless both are dense device arrays of one float dtype and shape: the caller then
    computes it with CuPy."""
    g, y = grad_output, output
    code = _CODES.get(y.dtype)
    if (
        code is None
        or type(g) is not cp.ndarray
        or type(y) is not cp.ndarray
        or g.dtype != y.dtype
        or g.shape != y.shape
        or not (g.flags.c_contiguous and y.flags.c_contiguous)
    ):
        return None
    dx = cp.empty_like(y)
    _cuda.relu_backward(code, int(y.size), _ptr(y), _ptr(g), _ptr(dx), _stream())
    return dx


# ------------------------------------------------------------------ recurrent cells
def _cell_call(op: str, pass_: int, inputs: tuple, shapes: tuple, outs: tuple) -> Optional[tuple]:
    """Runs cell pass ``pass_`` (csrc/cuda/cells.cuh) on dense copies of ``inputs`` when they are
    device arrays of one float dtype with the given shapes, into new arrays of the shapes
    ``outs``; None (nothing done) otherwise: the caller then uses CuPy."""
    dt = inputs[0].dtype
    code = _CODES.get(dt)
    if code is None:
        return None
    for x, shape in zip(inputs, shapes):
        if type(x) is not cp.ndarray or x.dtype != dt or x.shape != shape:
            return None
    ins = [_dense(_arr(x, op, f"argument {i}")) for i, x in enumerate(inputs)]
    res = tuple(cp.empty(shape, dtype=dt) for shape in outs)
    N, H = shapes[-1]
    _cuda.rnn_cell(
        pass_, code, N, H, [_ptr(x) for x in ins] + [_ptr(r) for r in res], _stream()
    )  # fmt: skip
    return res


def lstm_cell_forward(gates: Array, c: Array) -> Optional[tuple]:
    """The LSTM cell's pointwise forward in one kernel: gates (N, 4H) = [i | f | g | o]
    pre-activations, c (N, H) -> (h', c', act (N, 4H) the activated gates); None unless both are
    device arrays of one float dtype and these shapes."""
    if getattr(c, "ndim", 0) != 2:
        return None
    N, H = c.shape
    return _cell_call("lstm_cell_forward", 0, (gates, c), ((N, 4 * H), (N, H)),
                      ((N, H), (N, H), (N, 4 * H)))  # fmt: skip


def lstm_cell_backward(dh: Array, dc: Array, act: Array, c: Array, c2: Array) -> Optional[tuple]:
    """Gradients of lstm_cell_forward's pre-activation gates and of c: (dgates, dc_prev)."""
    if getattr(c, "ndim", 0) != 2:
        return None
    N, H = c.shape
    s = (N, H)
    return _cell_call("lstm_cell_backward", 1, (dh, dc, act, c, c2), (s, s, (N, 4 * H), s, s),
                      ((N, 4 * H), s))  # fmt: skip


def gru_cell_forward(gi: Array, gh: Array, h: Array) -> Optional[tuple]:
    """The GRU cell's pointwise forward in one kernel: gi, gh (N, 3H) = [r | z | n] input and
    hidden projections, h (N, H) -> (h', act (N, 3H) = activated [r | z | n])."""
    if getattr(h, "ndim", 0) != 2:
        return None
    N, H = h.shape
    g = (N, 3 * H)
    return _cell_call("gru_cell_forward", 2, (gi, gh, h), (g, g, (N, H)), ((N, H), g))


def gru_cell_backward(dh: Array, act: Array, gh: Array, h: Array) -> Optional[tuple]:
    """Gradients of gru_cell_forward's inputs: (dgi, dgh, dh_prev)."""
    if getattr(h, "ndim", 0) != 2:
        return None
    N, H = h.shape
    g = (N, 3 * H)
    return _cell_call("gru_cell_backward", 3, (dh, act, gh, h), ((N, H), g, g, (N, H)),
                      (g, g, (N, H)))  # fmt: skip


# ------------------------------------------------------------------ optimizers
def adam_applies(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, max_exp_avg_sq: Any) -> bool:
    """Whether the fused Adam kernels take these arrays: dense device arrays of one float dtype and
    shape on the current device."""
    dt = param.dtype
    if dt not in _CODES:
        return False
    dev = cp.cuda.runtime.getDevice()
    for a in (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
        if a is None and a is max_exp_avg_sq:
            continue
        if (
            type(a) is not cp.ndarray
            or a.dtype != dt
            or not a.flags.c_contiguous
            or a.shape != param.shape
            or a.device.id != dev
        ):
            return False
    return True


def adam_update(
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    max_exp_avg_sq: Any,
    beta1: float,
    beta2: float,
    eps: float,
    step_size: float,
    bias_correction2_sqrt: float,
    weight_decay: float,
    maximize: bool,
    shrink: float,
) -> bool:
    """The fused Adam / AdamW step (one kernel, PyTorch's formula and order; the CPU's fused
    update element for element) on dense device arrays of one float dtype, in place. Returns
    False, touching nothing, where it does not apply (another dtype or layout, a mix of
    devices): the caller then runs the elementwise version."""
    if not adam_applies(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
        return False
    _cuda.adam_update(
        _CODES[param.dtype], int(param.size), _ptr(param), _ptr(grad), _ptr(exp_avg),
        _ptr(exp_avg_sq), _ptr(max_exp_avg_sq), float(beta1), float(beta2), float(eps),
        float(step_size), float(bias_correction2_sqrt), float(weight_decay), bool(maximize),
        float(shrink), _stream(),
    )  # fmt: skip
    return True


_ADAM_PER_LAUNCH = 24  # the kernel's limit (kMaxAdamTensors in csrc/cuda/optim.cuh)


def adam_update_many(
    items: list,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
    shrink: float,
) -> None:
    """adam_update for many parameters in as few launches as can hold them (24 each, per dtype).
    items: (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq or None, step_size,
    bias_correction2_sqrt) for which adam_applies is true."""
    by_code: dict = {}
    for p, g, m, v, vmax, step_size, bc2 in items:
        entry = (_ptr(p), _ptr(g), _ptr(m), _ptr(v), _ptr(vmax), int(p.size), float(step_size),
                 float(bc2))  # fmt: skip
        by_code.setdefault(_CODES[p.dtype], []).append(entry)
    for code, entries in by_code.items():
        for k in range(0, len(entries), _ADAM_PER_LAUNCH):
            _cuda.adam_update_multi(
                code, entries[k : k + _ADAM_PER_LAUNCH], float(beta1), float(beta2), float(eps),
                float(weight_decay), bool(maximize), float(shrink), _stream(),
            )  # fmt: skip


# ------------------------------------------------------------------ batch norm (training)
def _channel_vec(a: Any, c: int, dt: Any, op: str, name: str) -> Any:
    if a is None:
        return None
    a = _arr(a, op, name)
    if a.dtype != dt or a.shape != (c,):
        raise ValueError(f"{op}: {name} must be a ({c},) {dt} array, got {a.shape} {a.dtype}")
    return _dense(a)


_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _xent_args(op: str, logp: Any, target: Any, weight: Any, reduction: str) -> tuple:
    logp = _arr(logp, op, "logp")
    code = _code(logp, op, "logp")
    _rank(logp, 2, op, "logp", "(rows, classes)")
    rows, classes = logp.shape
    if classes == 0:
        raise ValueError(f"{op}: logp {logp.shape} has no classes")
    t = _arr(target, op, "target")
    if t.dtype != cp.int64 or t.shape != (rows,):
        raise ValueError(f"{op}: target must be a ({rows},) int64 array, got {t.shape} {t.dtype}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    w = _channel_vec(weight, classes, logp.dtype, op, "weight")
    return code, _dense(logp), _dense(t), w, _REDUCTIONS[reduction], rows, classes


def cross_entropy_forward(
    logp: Array,
    target: Array,
    weight: Optional[Array],
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
) -> Tuple[Array, Array]:
    """Cross entropy of log-probabilities (rows, classes) and int64 class targets (rows,), one
    kernel: (loss, aux). loss: (rows,) for reduction 'none', else 0-d ('mean': divided by the
    summed target weights); aux: float64 (summed target weights, summed class weights), the
    backward's input. Targets must be class indices or ignore_index: the caller checks them."""
    op = "cross_entropy"
    code, logp, t, w, red, rows, classes = _xent_args(op, logp, target, weight, reduction)
    loss = cp.empty((rows,) if red == 0 else (), dtype=logp.dtype)
    aux = cp.empty(2, dtype=cp.float64)
    _cuda.cross_entropy_forward(
        code, _ptr(logp), _ptr(t), _ptr(w), int(ignore_index), float(label_smoothing), red, rows,
        classes, _ptr(loss), _ptr(aux), _stream(),
    )  # fmt: skip
    return loss, aux


def cross_entropy_backward(
    grad: Array,
    logp: Array,
    target: Array,
    weight: Optional[Array],
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
    aux: Array,
) -> Array:
    """Gradient of cross_entropy_forward with respect to the logits, one kernel; grad: the loss
    gradient ((rows,) for 'none', else one value)."""
    op = "cross_entropy_backward"
    code, logp, t, w, red, rows, classes = _xent_args(op, logp, target, weight, reduction)
    g = _arr(grad, op, "grad")
    _same_dtype(op, g, "grad", logp, "logp")
    if g.size != (rows if red == 0 else 1):
        raise ValueError(f"{op}: grad {g.shape} does not fit reduction {reduction!r}")
    aux = _arr(aux, op, "aux")
    if aux.dtype != cp.float64 or aux.size != 2:
        raise ValueError(f"{op}: aux must be the forward's two float64 values")
    dx = cp.empty_like(logp)
    _cuda.cross_entropy_backward(
        code, _ptr(logp), _ptr(t), _ptr(w), int(ignore_index), float(label_smoothing), red, rows,
        classes, _ptr(_dense(g)), _ptr(_dense(aux)), _ptr(dx), _stream(),
    )  # fmt: skip
    return dx


def batch_norm_forward(
    x: Array,
    weight: Optional[Array] = None,
    bias: Optional[Array] = None,
    eps: float = 1e-5,
    running_mean: Optional[Array] = None,
    running_var: Optional[Array] = None,
    momentum: float = 0.1,
) -> Tuple[Array, Array, Array, Array]:
    """Batch norm in training mode over x (N, C, L): (y, mean, biased var, invstd), one kernel.
    running_mean / running_var (same dtype, (C,)), when given, are updated in place with the
    unbiased variance, as torch.nn.functional.batch_norm."""
    op = "batch_norm"
    x = _arr(x, op, "input")
    code = _code(x, op, "input")
    _rank(x, 3, op, "input", "(N, C, L)")
    n, c, length = x.shape
    if n * length == 0:
        raise ValueError(f"{op}: input {x.shape} has no values per channel")
    w = _channel_vec(weight, c, x.dtype, op, "weight")
    b = _channel_vec(bias, c, x.dtype, op, "bias")
    rm = _channel_vec(running_mean, c, x.dtype, op, "running_mean")
    rv = _channel_vec(running_var, c, x.dtype, op, "running_var")
    for name, given, used in (("running_mean", running_mean, rm), ("running_var", running_var, rv)):
        if used is not None and used is not given:
            raise ValueError(f"{op}: {name} must be contiguous (it is updated in place)")
    x = _dense(x)
    y = cp.empty_like(x)
    mean, var, invstd = (cp.empty(c, dtype=x.dtype) for _ in range(3))
    _cuda.batch_norm_forward(
        code, n, c, length, _ptr(x), _ptr(w), _ptr(b), float(eps), _ptr(y), _ptr(mean),
        _ptr(var), _ptr(invstd), _ptr(rm), _ptr(rv), float(momentum), _stream(),
    )  # fmt: skip
    return y, mean, var, invstd


def batch_norm_backward(
    grad_output: Array,
    x: Array,
    mean: Array,
    invstd: Array,
    weight: Optional[Array] = None,
    need_input_grad: bool = True,
) -> Tuple[Optional[Array], Array, Array]:
    """Gradient of batch_norm_forward: (grad_input or None, sum(g * xhat), sum(g)) per channel
    (the last two are the weight's and the bias's gradients)."""
    op = "batch_norm_backward"
    g, x = _arr(grad_output, op, "grad_output"), _arr(x, op, "input")
    code = _code(x, op, "input")
    _same_dtype(op, g, "grad_output", x, "input")
    _rank(x, 3, op, "input", "(N, C, L)")
    if g.shape != x.shape:
        raise ValueError(f"{op}: grad_output {g.shape} and input {x.shape} differ in shape")
    n, c, length = x.shape
    mean = _channel_vec(mean, c, x.dtype, op, "mean")
    invstd = _channel_vec(invstd, c, x.dtype, op, "invstd")
    w = _channel_vec(weight, c, x.dtype, op, "weight")
    g, x = _dense(g), _dense(x)
    gx = cp.empty_like(x) if need_input_grad else None
    sgx, sg = cp.empty(c, dtype=x.dtype), cp.empty(c, dtype=x.dtype)
    if n * length and c:
        _cuda.batch_norm_backward(
            code, n, c, length, _ptr(x), _ptr(g), _ptr(mean), _ptr(invstd), _ptr(w), _ptr(gx),
            _ptr(sgx), _ptr(sg), _stream(),
        )  # fmt: skip
    else:
        sgx.fill(0)
        sg.fill(0)
    return gx, sgx, sg
