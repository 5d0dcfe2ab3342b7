"""``matmul`` through the GEMM kernels: ``axonal._cpu.gemm`` on CPU, ``axonal.backend.cuda`` on CuPy
arrays when the CUDA build runs (``backend.kernels_for``), ``xp.matmul`` otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _cpu
from ..autograd.function import Function
from ..backend import cpu as _cpu_backend
from ..backend import kernels_for
from ._util import unbroadcast

_gemm = _cpu.gemm
_cpu_matmul = _cpu_backend.matmul
_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _inner_error(a: Any, b: Any) -> ValueError:
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    return ValueError(f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}: inner dimensions {ka} != {kb}")


def _kernel_ok(a: Any, b: Any) -> bool:
    dt = a.dtype
    return (
        type(a) is _ndarray and type(b) is _ndarray and dt is b.dtype and (dt is _F32 or dt is _F64)
    )


def _canon(a: Any) -> Any:
    """The same array with the canonical dtype object (unpickled arrays carry an equal but
    distinct float32/float64 dtype, which the kernel's identity check rejects)."""
    dt = a.dtype
    if dt == _F32 and dt is not _F32:
        return a.view(_F32)
    if dt == _F64 and dt is not _F64:
        return a.view(_F64)
    return a


def mm_arrays(a: Any, b: Any) -> Any:
    """``a @ b`` (NumPy matmul semantics) on arrays: the C++ GEMM on CPU, ``xp.matmul`` else."""
    if type(a) is _ndarray and type(b) is _ndarray:
        return _cpu_matmul(_canon(a), _canon(b))
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: {a.shape} @ {b.shape}: both operands need at least one dimension"
        )
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != kb:
        raise _inner_error(a, b)
    k = kernels_for(a)
    if k is not None and type(b) is type(a):
        return k.matmul(a, b)  # our GEMM kernels on the GPU
    return a @ b


class Matmul(Function):
    differentiable_backward = True

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        if a.ndim == 2 and b.ndim == 2 and _kernel_ok(a, b):
            if a.shape[1] != b.shape[0]:
                raise _inner_error(a, b)
            return _gemm(a, b)
        try:
            return mm_arrays(a, b)
        except ValueError as e:
            if "matmul" in str(e):
                raise
            raise ValueError(
                f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}: batch dimensions "
                f"{tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} cannot broadcast"
            ) from None

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        p = ctx._parents
        na, nb = p[0] is not None, p[1] is not None
        if type(g) is _ndarray and a.ndim == 2 and b.ndim == 2 and _kernel_ok(a, b):
            if g.dtype is not a.dtype:
                g = g.astype(a.dtype)
            ga = _gemm(g, b, trans_b=True) if na else None
            gb = _gemm(a, g, trans_a=True) if nb else None
            return ga, gb
        if hasattr(g, "_data"):
            return _backward_tensors(a, b, g, na, nb)
        return _backward_general(a, b, g, na, nb)


def _backward_general(a: Any, b: Any, g: Any, na: bool, nb: bool) -> tuple:
    if type(a) is _ndarray and type(b) is _ndarray and type(g) is _ndarray:
        a, b, g = _canon(a), _canon(b), _canon(g)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a.ndim == 1:
        g = g[..., None, :] if b.ndim != 1 else g[..., None]
    if b.ndim == 1:
        g = g[..., None]
    if a.ndim == 1 and b.ndim == 1:  # dot: g is 0-d
        g = g.reshape(1, 1)
    ga = gb = None
    kernel = _kernel_ok(a2, b2) and type(g) is _ndarray
    if kernel and g.dtype is not a2.dtype:
        g = g.astype(a2.dtype)
    if kernel and b2.ndim == 2 and a2.ndim >= 2:
        # (..., m, k) @ (k, n): flatten the batch into one GEMM each way
        k, n = b2.shape
        g2 = g.reshape(-1, n)
        if na:
            ga = _gemm(g2, b2, trans_b=True).reshape(g.shape[:-1] + (k,))
            ga = unbroadcast(ga, a2.shape)
        if nb:
            gb = _gemm(
                np.ascontiguousarray(a2).reshape(-1, k) if a2.ndim > 2 else a2, g2, trans_a=True
            )
    else:
        if na:
            ga = unbroadcast(mm_arrays(g, b2.swapaxes(-1, -2)), a2.shape)
        if nb:
            gb = unbroadcast(mm_arrays(a2.swapaxes(-1, -2), g), b2.shape)
    if ga is not None:
        ga = ga.reshape(a.shape)
    if gb is not None:
        gb = gb.reshape(b.shape)
    return ga, gb


def _backward_tensors(a: Any, b: Any, g: Any, na: bool, nb: bool) -> tuple:
    """Double backward: the same maths with Tensor ops (so it records a graph)."""
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a.ndim == 1 and b.ndim == 1:
        g = g.reshape(1, 1)
    else:
        if a.ndim == 1:
            g = g.unsqueeze(-2)
        if b.ndim == 1:
            g = g.unsqueeze(-1)
    ga = unbroadcast(g @ b2.transpose(-1, -2), tuple(a2.shape)).reshape(a.shape) if na else None
    gb = unbroadcast(a2.transpose(-1, -2) @ g, tuple(b2.shape)).reshape(b.shape) if nb else None
    return ga, gb
