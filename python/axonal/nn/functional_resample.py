"""``interpolate``: resizing (N, C, L) and (N, C, H, W) tensors, PyTorch's sampling rules, as
gathers of rows along each spatial axis (the backward adds each output's gradient into the rows
it read). Modes: 'nearest', 'nearest-exact', 'linear' (1-D), 'bilinear' (2-D)."""

from __future__ import annotations

import math
from typing import Any, List, Optional

import numpy as np

from ..nn.utils.rnn import _take
from ..ops.creation import to_device_array
from ..tensor import Tensor

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 2, "bicubic": 2}


def _sizes(op: str, shape: tuple, size: Any, scale_factor: Any, recompute: Optional[bool]):
    """(output sizes, the scales PyTorch samples with: None = in / out) per spatial axis."""
    nd = len(shape) - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size and scale_factor must be given")
    if size is not None:
        sizes = [size] * nd if not isinstance(size, (tuple, list)) else list(size)
        if len(sizes) != nd or not all(isinstance(v, (int, np.integer)) and v > 0 for v in sizes):
            raise ValueError(
                f"{op}: size must be a positive int or {nd} of them for input {shape}, got {size!r}"
            )
        return [int(v) for v in sizes], [None] * nd
    sf = [scale_factor] * nd if not isinstance(scale_factor, (tuple, list)) else list(scale_factor)
    if len(sf) != nd or not all(isinstance(v, (int, float)) and v > 0 for v in sf):
        raise ValueError(
            f"{op}: scale_factor must be a positive number or {nd} of them for input {shape}, "
            f"got {scale_factor!r}"
        )
    out = [int(math.floor(n * float(f))) for n, f in zip(shape[2:], sf)]
    if min(out) < 1:
        raise ValueError(f"{op}: input {shape} scaled by {scale_factor} is empty")
    scales = [None if recompute else 1.0 / float(f) for f in sf]
    return out, scales


def _axis_rows(n_in: int, n_out: int, scale: Optional[float], mode: str, align: bool):
    """For one axis: (first rows, second rows, weights of the second) or (rows, None, None)."""
    dst = np.arange(n_out, dtype=np.float64)
    s = n_in / n_out if scale is None else scale
    if mode in ("nearest", "nearest-exact"):
        off = 0.5 if mode == "nearest-exact" else 0.0
        src = np.minimum(np.floor((dst + off) * s).astype(np.int64), n_in - 1)
        return src, None, None
    if align:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((dst + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
) -> Tensor:
    """Resize ``input`` (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor``.

    'nearest' takes row ``floor(i * in / out)`` ('nearest-exact': ``floor((i + 0.5) * in /
    out)``); 'linear' / 'bilinear' blend the two nearest rows, sampling at ``i * (in - 1) /
    (out - 1)`` with ``align_corners=True``, else at ``(i + 0.5) * in / out - 0.5`` (clamped at
    0). With ``scale_factor`` the sampling uses ``1 / scale_factor`` unless
    ``recompute_scale_factor``, as PyTorch."""
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {sorted(_MODES)}, got {mode!r}")
    if mode == "bicubic":
        raise NotImplementedError(f"{op}: mode 'bicubic' is not supported")
    if antialias:
        raise NotImplementedError(f"{op}: antialias is not supported")
    shape = tuple(input.shape)
    nd = len(shape) - 2
    if nd not in (1, 2):
        raise ValueError(f"{op}: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got {shape}")
    if np.dtype(input.dtype).kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {input.dtype}")
    linear = _MODES[mode]
    if linear and linear != nd:
        want = "3-D (N, C, L)" if mode == "linear" else "4-D (N, C, H, W)"
        raise ValueError(f"{op}: mode {mode!r} expects a {want} input, got {shape}")
    if align_corners is not None and not linear:
        raise ValueError(
            f"{op}: align_corners only applies to the linear modes, not to mode {mode!r}"
        )
    sizes, scales = _sizes(op, shape, size, scale_factor, recompute_scale_factor)
    y = input
    for axis, (n_in, n_out, s) in enumerate(zip(shape[2:], sizes, scales), start=2):
        i0, i1, w = _axis_rows(n_in, n_out, s, mode, bool(align_corners))
        if i1 is None:
            y = _take(y, axis, i0)
            continue
        bshape: List[int] = [1] * len(shape)
        bshape[axis] = n_out
        wt = Tensor(to_device_array(w.astype(input.dtype).reshape(bshape), input.device))
        a = _take(y, axis, i0)
        y = a + (_take(y, axis, i1) - a) * wt
    return y


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: Optional[bool] = None) -> Tensor:  # fmt: skip
    """``interpolate`` (PyTorch's older name)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Bilinear with ``align_corners=True`` (what PyTorch's old function did)."""
    return interpolate(input, size, scale_factor, "bilinear", align_corners=True)
