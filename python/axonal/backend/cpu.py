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
        # (..., m, k) @ (k, n): one big GEMM over the flattened leading dimensions
        out = _cpu.gemm(np.ascontiguousarray(a2).reshape(-1, k), b2).reshape(*batch, m, n)
    else:
        a3 = np.broadcast_to(a2, (*batch, m, k)).reshape(-1, m, k)
        b3 = np.broadcast_to(b2, (*batch, k, n)).reshape(-1, k, n)
        out = _cpu.gemm_batched(a3, b3).reshape(*batch, m, n)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out
