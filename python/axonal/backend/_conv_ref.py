"""NumPy reference formulations of conv2d and 2-D pooling (the oracle for the C++ kernels).

Loop-free NumPy: every forward is a contraction over a strided ``sliding_window_view`` of the
(padded) input; every backward is the transpose written the same way (for conv, the gradient
upsampled by the stride, padded, and correlated with the flipped kernel) or an ``np.add.at``
scatter (max pooling). Products accumulate in float64; results come back in the input dtype.
Layout NCHW; the names, arguments and semantics match ``axonal._cpu`` and PyTorch.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

IntPair = Union[int, Sequence[int]]
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- argument helpers
def _pair(v: IntPair, op: str, name: str) -> Tuple[int, int]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    try:
        t = tuple(int(e) for e in v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None
    if len(t) == 1:
        return t[0], t[0]
    if len(t) != 2:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return t


def _check_array(a: np.ndarray, op: str, name: str, ndim: int) -> None:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in _FLOATS:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{op}: expected a {ndim}-D {name}, got shape {a.shape}")


def _conv_geometry(op, x_shape, w_shape, stride, padding, dilation, groups):
    (sh, sw), (ph, pw), (dh, dw) = (
        _pair(stride, op, "stride"),
        _pair(padding, op, "padding"),
        _pair(dilation, op, "dilation"),
    )
    if min(sh, sw) <= 0 or min(dh, dw) <= 0 or min(ph, pw) < 0 or groups <= 0:
        raise ValueError(
            f"{op}: stride {(sh, sw)}, dilation {(dh, dw)} and groups {groups} must be positive, "
            f"padding {(ph, pw)} non-negative"
        )
    n, c, h, w = x_shape
    k, cg, r, s = w_shape
    if c % groups or k % groups or cg * groups != c:
        raise ValueError(
            f"{op}: input {tuple(x_shape)} and weight {tuple(w_shape)} do not fit groups={groups}"
        )
    eh, ew = dh * (r - 1) + 1, dw * (s - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        raise ValueError(
            f"{op}: input {tuple(x_shape)} padded to {(h + 2 * ph, w + 2 * pw)} is smaller than "
            f"the kernel {(eh, ew)}"
        )
    p, q = (h + 2 * ph - eh) // sh + 1, (w + 2 * pw - ew) // sw + 1
    return (sh, sw), (ph, pw), (dh, dw), (p, q)


def _windows(xp: np.ndarray, kernel, stride, dilation, out) -> np.ndarray:
    """(..., Hp, Wp) -> (..., P, Q, R, S): element [p, q, r, s] = xp[p*sh + r*dh, q*sw + s*dw]."""
    (r, s), (sh, sw), (dh, dw), (p, q) = kernel, stride, dilation, out
    v = sliding_window_view(xp, ((r - 1) * dh + 1, (s - 1) * dw + 1), axis=(-2, -1))
    return v[..., ::sh, ::sw, ::dh, ::dw][..., :p, :q, :, :]


def _transposed_windows(g: np.ndarray, kernel, stride, dilation, full) -> np.ndarray:
    """The transpose of ``_windows``: (..., P, Q) -> (..., Hf, Wf, R, S) with
    element [i, j, r, s] = g[p, q] where i = p*sh + r*dh, j = q*sw + s*dw (0 where none), so that
    sum_{r, s} of it times kernel[r, s] scatters g back over the windows. Hf, Wf = full."""
    (r, s), (sh, sw), (dh, dw) = kernel, stride, dilation
    p, q = g.shape[-2:]
    eh, ew = (r - 1) * dh + 1, (s - 1) * dw + 1
    up = np.zeros(g.shape[:-2] + ((p - 1) * sh + 1, (q - 1) * sw + 1), g.dtype)
    up[..., ::sh, ::sw] = g
    # pad so that the flipped, dilated kernel sees every position of the full output
    bot = max(0, full[0] - up.shape[-2])
    right = max(0, full[1] - up.shape[-1])
    pad = [(0, 0)] * (g.ndim - 2) + [(eh - 1, bot), (ew - 1, right)]
    upp = np.pad(up, pad)
    v = sliding_window_view(upp, (eh, ew), axis=(-2, -1))[..., : full[0], : full[1], :, :]
    return v[..., ::-1, ::-1][..., ::dh, ::dw]


# ---------------------------------------------------------------- conv2d
def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """y (N, K, P, Q) = cross-correlation of x (N, C, H, W) with w (K, C/groups, R, S) + b."""
    op = "conv2d"
    _check_array(x, op, "input", 4)
    _check_array(w, op, "weight", 4)
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(f"{op}: dtypes differ: input {x.dtype}, weight {w.dtype}")
    st, (ph, pw), dil, out = _conv_geometry(op, x.shape, w.shape, stride, padding, dilation, groups)
    n, c, _, _ = x.shape
    k, cg, r, s = w.shape
    if b is not None and b.shape != (k,):
        raise ValueError(f"{op}: bias has shape {b.shape}, expected ({k},)")
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = _windows(xp, (r, s), st, dil, out).reshape(n, groups, cg, *out, r, s)
    wg = w.astype(np.float64).reshape(groups, k // groups, cg, r, s)
    y = np.einsum("ngcpqrs,gkcrs->ngkpq", win, wg, optimize=True).reshape(n, k, *out)
    if b is not None:
        y = y + b.astype(np.float64)[None, :, None, None]
    return y.astype(x.dtype)


def conv2d_backward_input(
    grad_output: np.ndarray,
    w: np.ndarray,
    input_shape: Sequence[int],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """dx (input_shape) = transposed convolution of grad_output (N, K, P, Q) with w."""
    op = "conv2d_backward_input"
    _check_array(grad_output, op, "grad_output", 4)
    _check_array(w, op, "weight", 4)
    n, c, h, wd = (int(d) for d in input_shape)
    st, (ph, pw), dil, out = _conv_geometry(
        op, (n, c, h, wd), w.shape, stride, padding, dilation, groups
    )
    k, cg, r, s = w.shape
    if grad_output.shape != (n, k, *out):
        want = (n, k, *out)
        raise ValueError(f"{op}: grad_output has shape {grad_output.shape}, expected {want}")
    g = grad_output.astype(np.float64).reshape(n, groups, k // groups, *out)
    full = (h + 2 * ph, wd + 2 * pw)
    win = _transposed_windows(g, (r, s), st, dil, full)  # (n, G, Kg, Hp, Wp, r, s)
    wg = w.astype(np.float64).reshape(groups, k // groups, cg, r, s)
    dxp = np.einsum("ngkijrs,gkcrs->ngcij", win, wg, optimize=True).reshape(n, c, *full)
    return dxp[:, :, ph : ph + h, pw : pw + wd].astype(grad_output.dtype)


def conv2d_backward_weight(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight_shape: Sequence[int],
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """dw (weight_shape) = sum over images and output positions of grad_output x input window."""
    op = "conv2d_backward_weight"
    _check_array(grad_output, op, "grad_output", 4)
    _check_array(x, op, "input", 4)
    k, cg, r, s = (int(d) for d in weight_shape)
    st, (ph, pw), dil, out = _conv_geometry(
        op, x.shape, (k, cg, r, s), stride, padding, dilation, groups
    )
    n = x.shape[0]
    if grad_output.shape != (n, k, *out):
        want = (n, k, *out)
        raise ValueError(f"{op}: grad_output has shape {grad_output.shape}, expected {want}")
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = _windows(xp, (r, s), st, dil, out).reshape(n, groups, cg, *out, r, s)
    g = grad_output.astype(np.float64).reshape(n, groups, k // groups, *out)
    dw = np.einsum("ngkpq,ngcpqrs->gkcrs", g, win, optimize=True)
    return dw.reshape(k, cg, r, s).astype(grad_output.dtype)


def conv2d_backward_bias(grad_output: np.ndarray) -> np.ndarray:
    """db (K,) = grad_output (N, K, ...) summed over every axis but 1."""
    if not isinstance(grad_output, np.ndarray) or grad_output.ndim < 2:
        raise ValueError("conv2d_backward_bias: expected grad_output (N, K, ...)")
    axes = (0,) + tuple(range(2, grad_output.ndim))
    return grad_output.astype(np.float64).sum(axis=axes).astype(grad_output.dtype)


# ---------------------------------------------------------------- conv1d (H = 1)
def _one(v, op: str, name: str) -> int:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    t = tuple(v)
    if len(t) != 1:
        raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
    return int(t[0])


def make_conv1d(fwd: Callable, bwd_input: Callable, bwd_weight: Callable) -> tuple:
    """conv1d forward / backward-input / backward-weight over a backend's conv2d (H = 1):
    x (N, C, L), w (K, C/groups, R) -> y (N, K, Lout)."""

    def args(op, stride, padding, dilation):
        return (
            (1, _one(stride, op, "stride")),
            (0, _one(padding, op, "padding")),
            (1, _one(dilation, op, "dilation")),
        )

    def rank3(a, op, name):
        if not isinstance(a, np.ndarray) or a.ndim != 3:
            shape = getattr(a, "shape", None)
            raise ValueError(f"{op}: expected a 3-D {name} (N, C, L), got shape {shape}")

    def conv1d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        rank3(x, "conv1d", "input")
        rank3(w, "conv1d", "weight")
        s, p, d = args("conv1d", stride, padding, dilation)
        return fwd(x[:, :, None, :], w[:, :, None, :], b, s, p, d, groups)[:, :, 0, :]

    def conv1d_backward_input(
        grad_output, w, input_shape, stride=1, padding=0, dilation=1, groups=1
    ):
        op = "conv1d_backward_input"
        rank3(grad_output, op, "grad_output")
        rank3(w, op, "weight")
        n, c, length = (int(v) for v in input_shape)
        s, p, d = args(op, stride, padding, dilation)
        dx = bwd_input(
            grad_output[:, :, None, :], w[:, :, None, :], (n, c, 1, length), s, p, d, groups
        )
        return dx[:, :, 0, :]

    def conv1d_backward_weight(
        grad_output, x, weight_shape, stride=1, padding=0, dilation=1, groups=1
    ):
        op = "conv1d_backward_weight"
        rank3(grad_output, op, "grad_output")
        rank3(x, op, "input")
        k, cg, r = (int(v) for v in weight_shape)
        s, p, d = args(op, stride, padding, dilation)
        dy4, x4 = grad_output[:, :, None, :], x[:, :, None, :]
        dw = bwd_weight(dy4, x4, (k, cg, 1, r), s, p, d, groups)
        return dw[:, :, 0, :]

    return conv1d_forward, conv1d_backward_input, conv1d_backward_weight


conv1d_forward, conv1d_backward_input, conv1d_backward_weight = make_conv1d(
    conv2d_forward, conv2d_backward_input, conv2d_backward_weight
)


# ---------------------------------------------------------------- pooling geometry
def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and out > 0 and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_geometry(op, x_shape, kernel_size, stride, padding, dilation, ceil_mode):
    kh, kw = _pair(kernel_size, op, "kernel_size")
    sh, sw = (kh, kw) if stride is None or stride == () else _pair(stride, op, "stride")
    ph, pw = _pair(padding, op, "padding")
    dh, dw = _pair(dilation, op, "dilation")
    if min(kh, kw, sh, sw, dh, dw) <= 0 or min(ph, pw) < 0:
        raise ValueError(f"{op}: kernel_size, stride, dilation must be positive, padding >= 0")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half of kernel {(kh, kw)}")
    h, w = x_shape[2], x_shape[3]
    p = _pool_out(h, kh, sh, ph, dh, ceil_mode)
    q = _pool_out(w, kw, sw, pw, dw, ceil_mode)
    if p < 1 or q < 1 or h < 1 or w < 1:
        raise ValueError(f"{op}: input {tuple(x_shape)}: output size {(p, q)} is too small")
    # padding at the far end: the symmetric padding plus what ceil mode's last window needs
    extra_h = max(ph, (p - 1) * sh + dh * (kh - 1) + 1 - h - ph)
    extra_w = max(pw, (q - 1) * sw + dw * (kw - 1) + 1 - w - pw)
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (p, q), (extra_h, extra_w)


# ---------------------------------------------------------------- max pool
def max_pool2d_forward(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> Tuple[np.ndarray, np.ndarray]:
    """(y, indices): window maxima of x (N, C, H, W) and their flat indices ih*W + iw (int64).
    Ties keep the first element of the window (row-major), a NaN wins (the last NaN)."""
    op = "max_pool2d"
    _check_array(x, op, "input", 4)
    k, st, (ph, pw), dil, out, (eh, ew) = _pool_geometry(
        op, x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    h, w = x.shape[2:]
    pads = ((ph, eh), (pw, ew))
    vals = _windows(np.pad(x, ((0, 0), (0, 0)) + pads, constant_values=-np.inf), k, st, dil, out)
    flat = np.pad(np.arange(h * w, dtype=np.int64).reshape(h, w), pads, constant_values=-1)
    idx = _windows(flat, k, st, dil, out)  # (P, Q, kh, kw)
    vals = vals.reshape(*vals.shape[:4], -1)
    idx = np.broadcast_to(idx.reshape(*idx.shape[:2], -1), vals.shape)
    valid = idx >= 0
    if not valid.any(axis=-1).all():
        raise ValueError(f"{op}: input {x.shape}: a window lies entirely in the padding")
    m = np.max(np.where(valid, vals, -np.inf), axis=-1, keepdims=True)
    first_max = np.argmax(valid & (vals == m), axis=-1)
    isnan = valid & np.isnan(vals)
    last_nan = isnan.shape[-1] - 1 - np.argmax(isnan[..., ::-1], axis=-1)
    pos = np.where(isnan.any(axis=-1), last_nan, first_max)[..., None]
    y = np.take_along_axis(vals, pos, axis=-1)[..., 0]
    return y.astype(x.dtype), np.take_along_axis(idx, pos, axis=-1)[..., 0].copy()


def max_pool2d_backward(
    grad_output: np.ndarray, indices: np.ndarray, input_shape: Sequence[int]
) -> np.ndarray:
    """dx (input_shape): grad_output added at the flat plane positions in indices."""
    op = "max_pool2d_backward"
    _check_array(grad_output, op, "grad_output", 4)
    if indices.shape != grad_output.shape:
        raise ValueError(
            f"{op}: grad_output {grad_output.shape} and indices {indices.shape} differ in shape"
        )
    n, c, h, w = (int(d) for d in input_shape)
    if indices.size and (indices.min() < 0 or indices.max() >= h * w):
        raise ValueError(f"{op}: indices lie outside [0, {h * w})")
    dx = np.zeros((n * c, h * w), np.float64)
    planes = np.arange(n * c)[:, None]
    np.add.at(dx, (planes, indices.reshape(n * c, -1)), grad_output.reshape(n * c, -1))
    return dx.reshape(n, c, h, w).astype(grad_output.dtype)


# ---------------------------------------------------------------- avg pool
def _avg_divisor(h, w, k, st, pads, out, ceil_extra, count_include_pad, divisor_override):
    """(P, Q) divisors of PyTorch's avg_pool2d."""
    if divisor_override is not None:
        return np.full(out, float(divisor_override))
    (ph, pw), (eh, ew) = pads, ceil_extra
    # 1 over the input (and over the symmetric padding when it counts), 0 beyond
    mask = np.zeros((h + ph + eh, w + pw + ew))
    if count_include_pad:
        mask[: h + 2 * ph, : w + 2 * pw] = 1
    else:
        mask[ph : ph + h, pw : pw + w] = 1
    return _windows(mask, k, st, (1, 1), out).sum(axis=(-2, -1))


def avg_pool2d_forward(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> np.ndarray:
    """y (N, C, P, Q): window sums of x over PyTorch's divisor."""
    op = "avg_pool2d"
    _check_array(x, op, "input", 4)
    k, st, (ph, pw), _, out, (eh, ew) = _pool_geometry(
        op, x.shape, kernel_size, stride, padding, 1, ceil_mode
    )
    h, w = x.shape[2:]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, eh), (pw, ew)))
    sums = _windows(xp, k, st, (1, 1), out).sum(axis=(-2, -1))
    div = _avg_divisor(h, w, k, st, (ph, pw), out, (eh, ew), count_include_pad, divisor_override)
    return (sums / div).astype(x.dtype)


def avg_pool2d_backward(
    grad_output: np.ndarray,
    input_shape: Sequence[int],
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> np.ndarray:
    """dx (input_shape): grad_output / divisor spread back over every window."""
    op = "avg_pool2d_backward"
    _check_array(grad_output, op, "grad_output", 4)
    n, c, h, w = (int(d) for d in input_shape)
    k, st, (ph, pw), _, out, (eh, ew) = _pool_geometry(
        op, (n, c, h, w), kernel_size, stride, padding, 1, ceil_mode
    )
    if grad_output.shape != (n, c, *out):
        want = (n, c, *out)
        raise ValueError(f"{op}: grad_output has shape {grad_output.shape}, expected {want}")
    div = _avg_divisor(h, w, k, st, (ph, pw), out, (eh, ew), count_include_pad, divisor_override)
    g = grad_output.astype(np.float64) / div
    full = (h + ph + eh, w + pw + ew)
    dxp = _transposed_windows(g, k, st, (1, 1), full).sum(axis=(-2, -1))
    return dxp[:, :, ph : ph + h, pw : pw + w].astype(grad_output.dtype)


# ---------------------------------------------------------------- adaptive avg pool
def _adaptive_matrix(n: int, out: int) -> np.ndarray:
    """(out, n): row i averages [floor(i n / out), ceil((i + 1) n / out))."""
    i = np.arange(out)
    start = (i * n) // out
    end = -((-(i + 1) * n) // out)
    j = np.arange(n)
    m = ((j >= start[:, None]) & (j < end[:, None])).astype(np.float64)
    return m / (end - start)[:, None]


def _adaptive_size(op, output_size, h, w):
    if isinstance(output_size, (int, np.integer)):
        p = q = int(output_size)
    else:
        p, q = output_size
        p, q = (h if p is None else int(p)), (w if q is None else int(q))
    if p <= 0 or q <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {(p, q)}")
    return p, q


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size) -> np.ndarray:
    """y (N, C, P, Q): averages over PyTorch's adaptive windows (output_size int or pair)."""
    op = "adaptive_avg_pool2d"
    _check_array(x, op, "input", 4)
    h, w = x.shape[2:]
    p, q = _adaptive_size(op, output_size, h, w)
    y = np.einsum(
        "ph,nchw,qw->ncpq", _adaptive_matrix(h, p), x.astype(np.float64), _adaptive_matrix(w, q)
    )
    return y.astype(x.dtype)


def adaptive_avg_pool2d_backward(grad_output: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """dx (input_shape): the transpose of the adaptive averaging."""
    op = "adaptive_avg_pool2d_backward"
    _check_array(grad_output, op, "grad_output", 4)
    n, c, h, w = (int(d) for d in input_shape)
    p, q = grad_output.shape[2:]
    dx = np.einsum(
        "ph,ncpq,qw->nchw",
        _adaptive_matrix(h, p),
        grad_output.astype(np.float64),
        _adaptive_matrix(w, q),
    )
    return dx.astype(grad_output.dtype)


__all__ = [
    "conv1d_backward_input",
    "conv1d_backward_weight",
    "conv1d_forward",
    "conv2d_backward_bias",
    "conv2d_backward_input",
    "conv2d_backward_weight",
    "conv2d_forward",
    "make_conv1d",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
]
