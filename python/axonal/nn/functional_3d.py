"""Volumetric (N, C, D, H, W) operations for CT / MRI volumes, built on the 2-D kernels:
``conv3d`` runs one conv2d per kernel depth over the batch of the depth slices it reads (gathered
along D), the pools pool each slice in 2-D and then across depth windows. PyTorch's sizes,
arguments and gradients."""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import numpy as np

from .. import ops
from ..ops.creation import to_device_array
from ..ops.indexing import IndexSelect
from ..tensor import Tensor, check_same_device
from .functional_conv import (
    _as_batched,
    _check_pool_padding,
    _float,
    _is_int,
    _pool_input,
    _pool_kernel_stride,
    _pool_out,
    _same_dtype,
    _tensor,
    _tuple,
    adaptive_avg_pool2d,
    avg_pool2d,
    conv2d,
    max_pool2d,
)

__all__ = ["conv3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d"]


def _take(x: Tensor, axis: int, index: np.ndarray) -> Tensor:
    return IndexSelect.apply(x, axis, to_device_array(index.astype(np.int64), x.device), True)


def _slices_2d(x: Tensor) -> Tensor:
    """(N, C, D, H, W) -> (N * D, C, H, W)."""
    n, c, d, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(n * d, c, h, w)


def _volume(y: Tensor, n: int, d: int) -> Tensor:
    """(N * D, C, H, W) -> (N, C, D, H, W)."""
    _, c, h, w = y.shape
    return y.reshape(n, d, c, h, w).permute(0, 2, 1, 3, 4)


def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution (cross-correlation) of ``input`` (N, C, D, H, W) or (C, D, H, W) with
    ``weight`` (K, C / groups, kD, kH, kW) plus ``bias`` (K,); ``padding`` an int, a triple,
    ``'valid'`` or ``'same'`` (stride 1, the extra plane after, as PyTorch)."""
    op = "conv3d"
    _tensor(op, "input", input)
    _tensor(op, "weight", weight)
    _float(op, "input", input)
    check_same_device(op, input, weight, bias)
    if weight.ndim != 5:
        raise ValueError(
            f"{op}: weight must be 5-D (out_channels, in_channels / groups, kD, kH, kW), got "
            f"{tuple(weight.shape)}"
        )
    _same_dtype(op, input, weight=weight, bias=bias)
    unbatched = _as_batched(op, input, 3)
    x = input.unsqueeze(0) if unbatched else input
    if not _is_int(groups) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    s = _tuple(op, "stride", stride, 3, 1)
    d = _tuple(op, "dilation", dilation, 3, 1)
    k = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a triple, got "
                             f"{padding!r}")  # fmt: skip
        if padding == "same" and any(v != 1 for v in s):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
        tot = [di * (ki - 1) if padding == "same" else 0 for ki, di in zip(k, d)]
        pads = [(t // 2, t - t // 2) for t in tot]
    else:
        pads = [(p, p) for p in _tuple(op, "padding", padding, 3, 0)]
    n, c = x.shape[0], x.shape[1]
    if c != weight.shape[1] * groups:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} has {c} channels, but weight "
            f"{tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}"
        )
    if weight.shape[0] % groups:
        raise ValueError(
            f"{op}: out_channels {weight.shape[0]} is not divisible by groups={groups}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"{op}: bias shape {tuple(bias.shape)} != (out_channels,) = ({weight.shape[0]},)"
        )
    padded = [m + lo + hi for m, (lo, hi) in zip(x.shape[2:], pads)]
    eff = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    if any(e > m for e, m in zip(eff, padded)) or 0 in k:
        raise ValueError(
            f"{op}: input {tuple(input.shape)} with padding {tuple(lo for lo, _ in pads)} is "
            f"smaller than the kernel {tuple(eff)}"
        )
    if any(lo or hi for lo, hi in pads):
        flat: List[int] = []
        for lo, hi in reversed(pads):
            flat += [lo, hi]
        x = ops.pad(x, flat)
    d_out = (padded[0] - eff[0]) // s[0] + 1
    out = None
    for kd in range(k[0]):
        rows = np.arange(d_out) * s[0] + kd * d[0]
        xs = _slices_2d(_take(x, 2, rows))
        y = conv2d(xs, weight[:, :, kd], None, s[1:], 0, d[1:], groups)
        out = y if out is None else out + y
    out = _volume(out, n, d_out)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _depth_windows(
    d: int, k: int, s: int, p: int, dil: int, ceil_mode: bool
) -> Tuple[int, List[np.ndarray], int]:
    """(output depth, for each kernel tap the padded-input rows it reads, rows to pad after)."""
    d_out = _pool_out(d, k, s, p, dil, ceil_mode)
    taps = [np.arange(d_out) * s + t * dil for t in range(k)]
    need = (d_out - 1) * s + dil * (k - 1) + 1
    return d_out, taps, max(need - (d + 2 * p), 0)


def _pool_args3(op: str, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode):
    k, s = _pool_kernel_stride(op, kernel_size, stride, 3)
    p = _tuple(op, "padding", padding, 3, 0)
    dl = _tuple(op, "dilation", dilation, 3, 1)
    _check_pool_padding(op, p, k)
    outs = [_pool_out(m, *a, bool(ceil_mode)) for m, a in zip(x.shape[2:], zip(k, s, p, dl))]
    if min(x.shape[2:]) < 1 or min(outs) < 1:
        raise ValueError(
            f"{op}: input {tuple(x.shape)} with padding {p} is smaller than the kernel {k} "
            f"(output size {tuple(outs)})"
        )
    return k, s, p, dl


def max_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    """3-D max pooling of ``input`` (N, C, D, H, W) or (C, D, H, W): each slice max-pooled in
    2-D, then the maximum over each depth window (padding -inf)."""
    op = "max_pool3d"
    if return_indices:
        raise NotImplementedError(f"{op}: return_indices is not supported")
    x, unbatched = _pool_input(op, input, 3)
    k, s, p, dl = _pool_args3(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    n, d = x.shape[0], x.shape[2]
    y = _volume(max_pool2d(_slices_2d(x), k[1:], s[1:], p[1:], dl[1:], ceil_mode), n, d)
    d_out, taps, extra = _depth_windows(d, k[0], s[0], p[0], dl[0], bool(ceil_mode))
    if p[0] or extra:
        y = ops.pad(y, (0, 0, 0, 0, p[0], p[0] + extra), value=-math.inf)
    out = None
    for rows in taps:
        t = _take(y, 2, rows)
        out = t if out is None else ops.maximum(out, t)
    return out.squeeze(0) if unbatched else out


def avg_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: Optional[int] = None,
) -> Tensor:
    """3-D average pooling: each slice averaged in 2-D, then across each depth window, with
    PyTorch's divisors (``count_include_pad``; windows overhanging in ``ceil_mode`` counted
    up to the padded edge)."""
    op = "avg_pool3d"
    if divisor_override is not None:
        raise NotImplementedError(f"{op}: divisor_override is not supported")
    x, unbatched = _pool_input(op, input, 3)
    k, s, p, _ = _pool_args3(op, x, kernel_size, stride, padding, 1, ceil_mode)
    n, d = x.shape[0], x.shape[2]
    y = _volume(avg_pool2d(_slices_2d(x), k[1:], s[1:], p[1:], ceil_mode, count_include_pad), n, d)
    d_out, taps, extra = _depth_windows(d, k[0], s[0], p[0], 1, bool(ceil_mode))
    if p[0] or extra:
        y = ops.pad(y, (0, 0, 0, 0, p[0], p[0] + extra))
    total = None
    for rows in taps:
        t = _take(y, 2, rows)
        total = t if total is None else total + t
    start = np.arange(d_out) * s[0] - p[0]  # each depth window in input coordinates
    end = np.minimum(start + k[0], d + p[0])
    if count_include_pad:
        div = end - start
    else:
        div = np.minimum(end, d) - np.maximum(start, 0)
    scale = (1.0 / div).astype(np.dtype(input.dtype)).reshape(1, 1, d_out, 1, 1)
    out = total * Tensor(to_device_array(scale, input.device))
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to ``output_size`` (int or triple; None keeps a dimension): each slice
    adaptively pooled in 2-D, then across the depth windows ``[floor(i D / out), ceil((i + 1)
    D / out))``."""
    op = "adaptive_avg_pool3d"
    x, unbatched = _pool_input(op, input, 3)
    sizes = (output_size,) * 3 if _is_int(output_size) else tuple(output_size)
    if len(sizes) != 3:
        raise ValueError(f"{op}: output_size must be an int or a triple, got {output_size!r}")
    sizes = tuple(m if v is None else v for v, m in zip(sizes, x.shape[2:]))
    if not all(_is_int(v) and v > 0 for v in sizes):
        raise ValueError(f"{op}: output_size must be positive ints or None, got {output_size!r}")
    n, d = x.shape[0], x.shape[2]
    y = _volume(adaptive_avg_pool2d(_slices_2d(x), sizes[1:]), n, d)
    parts = []
    for i in range(sizes[0]):
        lo, hi = (i * d) // sizes[0], -((-(i + 1) * d) // sizes[0])
        parts.append(y[:, :, lo:hi].mean(2, keepdim=True))
    out = ops.cat(parts, 2)
    return out.squeeze(0) if unbatched else out
