"""The CPU backend: thin adapters over the C++ kernels in ``axonal._cpu``."""

from __future__ import annotations

import numpy as np

from .. import _cpu

gemm = _cpu.gemm
gemm_batched = _cpu.gemm_batched
gemm_raw = _cpu.gemm_raw

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``numpy.matmul`` semantics (1-D promotion, broadcast batch dimensions) on the GEMM kernel.

    float32/float64 inputs of the same dtype go through ``_cpu.gemm``; anything else (integers,
    mixed dtypes) falls back to NumPy.
    """
    if a.dtype != b.dtype or a.dtype not in _KERNEL_DTYPES or a.ndim == 0 or b.ndim == 0:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul: {a.shape} @ {b.shape}: both operands need at least one dimension"
            )
        return np.matmul(a, b)
    if a.ndim == 2 and b.ndim == 2:
        if a.shape[1] != b.shape[0]:
            raise ValueError(
                f"matmul: {a.shape} @ {b.shape}: inner dimensions {a.shape[1]} != {b.shape[0]}"
            )
        return _cpu.gemm(a, b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: {a.shape} @ {b.shape}: inner dimensions {a2.shape[-1]} != {b2.shape[-2]}"
        )
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    if not batch:
        out = _cpu.gemm(a2, b2)
    elif b2.ndim == 2:
        # (..., m, k) @ (k, n): one big GEMM over the flattened leading dimensions (explicit
        # sizes: reshape(-1, ...) is ambiguous for empty arrays)
        rows = int(np.prod(batch)) * m
        out = _cpu.gemm(np.ascontiguousarray(a2).reshape(rows, k), b2).reshape(*batch, m, n)
    else:
        nbatch = int(np.prod(batch))
        a3 = np.broadcast_to(a2, (*batch, m, k)).reshape(nbatch, m, k)
        b3 = np.broadcast_to(b2, (*batch, k, n)).reshape(nbatch, k, n)
        out = _cpu.gemm_batched(a3, b3).reshape(*batch, m, n)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


# ---------------------------------------------------------------- conv2d / conv1d / pooling
# Thin wrappers over the C++ kernels (csrc/cpu/conv2d.cpp, pool.cpp): they validate every argument
# (ValueError / TypeError naming the op and the shapes) and copy non-contiguous inputs. The
# attribute lookup happens at call time, so importing this module never depends on the build.


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """y (N, K, P, Q) = cross-correlation of x (N, C, H, W) with w (K, C/groups, R, S) + b."""
    return _cpu.conv2d_forward(x, w, b, stride, padding, dilation, groups)


def conv2d_backward_input(
    grad_output, w, input_shape, stride=1, padding=0, dilation=1, groups=1
) -> np.ndarray:
    """dx with shape input_shape from grad_output (N, K, P, Q) and w."""
    args = (stride, padding, dilation, groups)
    return _cpu.conv2d_backward_input(grad_output, w, input_shape, *args)


def conv2d_backward_weight(
    grad_output, x, weight_shape, stride=1, padding=0, dilation=1, groups=1
) -> np.ndarray:
    """dw with shape weight_shape from grad_output (N, K, P, Q) and x."""
    args = (stride, padding, dilation, groups)
    return _cpu.conv2d_backward_weight(grad_output, x, weight_shape, *args)


def conv2d_backward_bias(grad_output) -> np.ndarray:
    """db (K,): grad_output (N, K, ...) summed over every axis but 1."""
    return _cpu.conv2d_backward_bias(grad_output)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(y, indices): window maxima of x (N, C, H, W), int64 flat indices ih * W + iw per plane."""
    return _cpu.max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_backward(grad_output, indices, input_shape) -> np.ndarray:
    """dx with shape input_shape: grad_output added at indices."""
    return _cpu.max_pool2d_backward(grad_output, indices, input_shape)


def avg_pool2d_forward(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
) -> np.ndarray:
    """y (N, C, P, Q): window averages of x with PyTorch's divisor."""
    return _cpu.avg_pool2d_forward(
        x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool2d_backward(
    grad_output,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
) -> np.ndarray:
    """dx with shape input_shape: grad_output / divisor spread back over every window."""
    return _cpu.avg_pool2d_backward(
        grad_output,
        input_shape,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def adaptive_avg_pool2d_forward(x, output_size) -> np.ndarray:
    """y (N, C, *output_size): averages over PyTorch's adaptive windows."""
    return _cpu.adaptive_avg_pool2d_forward(x, output_size)


def adaptive_avg_pool2d_backward(grad_output, input_shape) -> np.ndarray:
    """dx with shape input_shape: the transpose of the adaptive averaging."""
    return _cpu.adaptive_avg_pool2d_backward(grad_output, input_shape)


# ---------------------------------------------------------------- softmax / log_softmax
# csrc/cpu/softmax.cpp: one pass per line in C++ (AVX2 exp for float32), any rank, any dim; the
# extension validates dtype, dim and shapes and copies non-contiguous inputs.
def softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """softmax along ``dim`` (numerically stable; a line with a NaN, or all -inf, gives NaN)."""
    return _cpu.softmax_forward(x, dim, False)


def log_softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """log_softmax along ``dim``."""
    return _cpu.softmax_forward(x, dim, True)


def softmax_backward(grad_output: np.ndarray, output: np.ndarray, dim: int = -1) -> np.ndarray:
    """Gradient of softmax from its output y: y * (dy - sum(dy * y, dim))."""
    return _cpu.softmax_backward(grad_output, output, dim, False)


def log_softmax_backward(grad_output: np.ndarray, output: np.ndarray, dim: int = -1) -> np.ndarray:
    """Gradient of log_softmax from its output y: dy - exp(y) * sum(dy, dim)."""
    return _cpu.softmax_backward(grad_output, output, dim, True)


HAS_SOFTMAX = hasattr(_cpu, "softmax_forward")

from ._conv_ref import make_conv1d as _make_conv1d  # noqa: E402

# conv1d is conv2d with H = 1: x (N, C, L), w (K, C/groups, R)
conv1d_forward, conv1d_backward_input, conv1d_backward_weight = _make_conv1d(
    conv2d_forward, conv2d_backward_input, conv2d_backward_weight
)

# An extension built before these kernels existed: leave the names undefined (callers such as
# nn.functional_conv then fall back to the NumPy reference) rather than fail at call time.
_CONV_NAMES = (
    "conv2d_forward",
    "conv2d_backward_input",
    "conv2d_backward_weight",
    "conv2d_backward_bias",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
)
if not all(hasattr(_cpu, _name) for _name in _CONV_NAMES):
    _CONV1D_NAMES = ("conv1d_forward", "conv1d_backward_input", "conv1d_backward_weight")
    for _name in _CONV_NAMES + _CONV1D_NAMES:
        del globals()[_name]
