"""The pointwise half of one recurrent step as a single autograd op: the gate nonlinearities and
the state update of an LSTM or GRU cell (the two matrix products of a step stay GEMMs through
``F.linear``). Gate order and formulas are PyTorch's:

    LSTM  gates = x W_ih^T + b_ih + h W_hh^T + b_hh = [i | f | g | o]   (each H wide)
          c' = sigmoid(f) c + sigmoid(i) tanh(g),   h' = sigmoid(o) tanh(c')
    GRU   gi = x W_ih^T + b_ih = [r | z | n],  gh = h W_hh^T + b_hh (same split)
          r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z),  n = tanh(gi_n + r gh_n)
          h' = (1 - z) n + z h

Arrays are (N, 4H) / (N, 3H) and (N, H); the backward passes return the gradients of the
pre-activation gates, so one step costs one node instead of a dozen elementwise ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _cpu
from ..autograd.function import Function
from ..backend import kernels_for
from ._util import xp_of
from .activation import _sigmoid

_HAS_LSTM_KERNEL = hasattr(_cpu, "lstm_sequence_forward")


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _cpu_kernel(*arrays: Any) -> bool:
    """The C++ kernel takes NumPy float32/float64 arrays of one dtype (csrc/cpu/lstm_cell.cpp)."""
    a = arrays[0]
    return (
        _HAS_LSTM_KERNEL
        and type(a) is np.ndarray
        and a.dtype in (_F32, _F64)
        and all(type(b) is np.ndarray and b.dtype == a.dtype for b in arrays[1:])
    )


class LSTMCellPointwise(Function):
    """(gates (N, 4H), c (N, H)) -> (h' (N, H), c' (N, H)); on NumPy arrays one C++ pass
    (``_cpu.lstm_cell_forward``), on device arrays one CUDA kernel each way (csrc/cuda/cells.cu)
    where the ``_cuda`` extension is built, elsewhere the same equations with the array
    module."""

    @staticmethod
    def forward(ctx: Any, gates: Any, c: Any) -> tuple:
        if _cpu_kernel(gates, c):
            h2, c2, act = _cpu.lstm_cell_forward(gates, c)
            ctx.save_for_backward(act, c, c2)
            ctx.kernel = _cpu
            return h2, c2
        k = kernels_for(gates)
        res = k.lstm_cell_forward(gates, c) if k is not None else None
        if res is not None:  # one CUDA kernel (csrc/cuda/cells.cu)
            h2, c2, act = res
            ctx.save_for_backward(act, c, c2)
            ctx.kernel = k
            return h2, c2
        xp = xp_of(gates)
        H = c.shape[-1]
        i = _sigmoid(gates[:, :H])
        f = _sigmoid(gates[:, H : 2 * H])
        g = xp.tanh(gates[:, 2 * H : 3 * H])
        o = _sigmoid(gates[:, 3 * H :])
        c2 = f * c + i * g
        tc = xp.tanh(c2)
        ctx.save_for_backward(i, f, g, o, c, tc)
        ctx.kernel = None
        return o * tc, c2

    @staticmethod
    def backward(ctx: Any, dh: Any, dc: Any) -> tuple:
        if ctx.kernel is not None:
            act, c, c2 = ctx.saved_tensors
            res = ctx.kernel.lstm_cell_backward(dh, dc, act, c, c2)
            if res is not None:
                return tuple(res)
            # (gradients the kernel does not take, e.g. of another dtype: the equations below)
            H, xp = c.shape[-1], xp_of(c)
            i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
            tc = xp.tanh(c2)
        else:
            i, f, g, o, c, tc = ctx.saved_tensors
            xp = xp_of(dh)
        dct = dc + dh * o * (1.0 - tc * tc)  # through c' directly and through h' = o tanh(c')
        dgates = xp.concatenate(
            (
                dct * g * i * (1.0 - i),
                dct * c * f * (1.0 - f),
                dct * i * (1.0 - g * g),
                dh * tc * o * (1.0 - o),
            ),
            axis=1,
        )
        return dgates, dct * f


class GRUCellPointwise(Function):
    """(gi (N, 3H), gh (N, 3H), h (N, H)) -> h' (N, H); one CUDA kernel each way on device
    arrays where the ``_cuda`` extension is built, else the equations with the array module."""

    @staticmethod
    def forward(ctx: Any, gi: Any, gh: Any, h: Any) -> Any:
        k = kernels_for(gi)
        res = k.gru_cell_forward(gi, gh, h) if k is not None else None
        if res is not None:  # one CUDA kernel (csrc/cuda/cells.cu)
            h2, act = res
            ctx.save_for_backward(act, gh, h)
            ctx.kernel = k
            return h2
        ctx.kernel = None
        xp = xp_of(gi)
        H = h.shape[-1]
        r = _sigmoid(gi[:, :H] + gh[:, :H])
        z = _sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        ghn = gh[:, 2 * H :]
        n = xp.tanh(gi[:, 2 * H :] + r * ghn)
        ctx.save_for_backward(r, z, n, ghn, h)
        return (1.0 - z) * n + z * h

    @staticmethod
    def backward(ctx: Any, dh: Any) -> tuple:
        if ctx.kernel is not None:
            act, gh, h = ctx.saved_tensors
            res = ctx.kernel.gru_cell_backward(dh, act, gh, h)
            if res is not None:
                return tuple(res)
            # (a gradient the kernel does not take, e.g. of another dtype: the equations below)
            H = h.shape[-1]
            r, z, n, ghn = act[:, :H], act[:, H : 2 * H], act[:, 2 * H :], gh[:, 2 * H :]
        else:
            r, z, n, ghn, h = ctx.saved_tensors
        xp = xp_of(dh)
        dn = dh * (1.0 - z) * (1.0 - n * n)  # gradient of n's pre-activation
        dr = dn * ghn * r * (1.0 - r)
        dz = dh * (h - n) * z * (1.0 - z)
        dgi = xp.concatenate((dr, dz, dn), axis=1)
        dgh = xp.concatenate((dr, dz, dn * r), axis=1)
        return dgi, dgh, dh * z


class LSTMSequence(Function):
    """One LSTM layer and direction over a whole sequence, on NumPy float32/float64 arrays:
    (xproj (L, N, 4H) = x W_ih^T + b_ih + b_hh, h0 (N, H), c0 (N, H), w_hh (4H, H), reverse,
    lengths: (N,) non-increasing step counts of packed sequences, given only for them: each row
    then runs its own steps, its output zero past them) -> (out (L, N, H), h_n, c_n). The
    recurrence runs in C++ (``_cpu.lstm_sequence_forward``:
    per step one GEMM into a copy of xproj[t] and one cell-kernel call); the backward runs
    backpropagation through time there too and forms the gradient of w_hh as one GEMM over all
    steps, without a graph node per step."""

    @staticmethod
    def forward(
        ctx: Any, xproj: Any, h0: Any, c0: Any, w_hh: Any, reverse: bool, lengths: Any = None
    ) -> tuple:
        L = xproj.shape[0]
        wt = np.ascontiguousarray(w_hh.T)  # (H, 4H): the steps' GEMMs read it as is
        ctx.reverse, ctx.lengths = reverse, lengths
        if lengths is not None:  # row n runs its first lengths[n] steps (packed sequences)
            hs, cs, acts, out = _cpu.lstm_sequence_forward(xproj, h0, c0, wt, reverse, lengths)
        else:
            hs, cs, acts = _cpu.lstm_sequence_forward(xproj, h0, c0, wt, reverse)
            out = np.ascontiguousarray(hs[:0:-1] if reverse else hs[1:])  # -> time order
        ctx.save_for_backward(hs, cs, acts, w_hh.copy())
        return out, hs[L].copy(), cs[L].copy()

    @staticmethod
    def backward(ctx: Any, dout: Any, dhn: Any, dcn: Any) -> tuple:
        hs, cs, acts, w = ctx.saved_tensors
        dx, dh0, dc0, dw = _cpu.lstm_sequence_backward(
            dout, dhn, dcn, hs, cs, acts, w, ctx.reverse, ctx.lengths
        )
        # one gradient per argument given (lengths is passed only for packed sequences)
        return (dx, dh0, dc0, dw, None) + (() if ctx.lengths is None else (None,))


class GRUSequence(Function):
    """One GRU layer and direction over a whole sequence, on NumPy float32/float64 arrays:
    (xproj (L, N, 3H) = x W_ih^T + b_ih, h0 (N, H), w_hh (3H, H), b_hh (3H,) or None, reverse,
    lengths as LSTMSequence's) -> (out (L, N, H), h_n). The forward recurrence in C++
    (``_cpu.gru_sequence_forward``: per step one GEMM, h W_hh^T + b_hh, and the fused gate
    arithmetic) and backpropagation through time (``_cpu.gru_sequence_backward``), w_hh's
    gradient as one GEMM over all steps."""

    @staticmethod
    def forward(
        ctx: Any, xproj: Any, h0: Any, w_hh: Any, b_hh: Any, reverse: bool, lengths: Any = None
    ) -> tuple:
        L = xproj.shape[0]
        w = np.ascontiguousarray(w_hh)
        wt = np.ascontiguousarray(w_hh.T)  # (H, 3H): the steps' GEMMs read it as is
        # the recurrence in C++ (rows split over threads for the whole sequence; the cell's
        # gate arithmetic AVX2 for float32): hs (L + 1, N, H) in processing order, hs[0] = h0
        if lengths is not None:  # row n runs its first lengths[n] steps (packed sequences)
            hs, rz, ns, ghn, out = _cpu.gru_sequence_forward(xproj, h0, wt, b_hh, reverse, lengths)
        else:
            hs, rz, ns, ghn = _cpu.gru_sequence_forward(xproj, h0, wt, b_hh, reverse)
            out = np.ascontiguousarray(hs[:0:-1] if reverse else hs[1:])
        ctx.save_for_backward(hs, rz, ns, ghn, w.copy())
        ctx.reverse, ctx.has_bias, ctx.lengths = reverse, b_hh is not None, lengths
        return out, hs[L].copy()

    @staticmethod
    def backward(ctx: Any, dout: Any, dhn: Any) -> tuple:
        hs, rz, ns, ghn, w = ctx.saved_tensors
        # BPTT in C++ (rows split over threads for the whole sequence); w_hh's gradient one GEMM
        dxproj, dh0, dw, db = _cpu.gru_sequence_backward(
            dout, dhn, hs, rz, ns, ghn, w, ctx.reverse, ctx.has_bias, ctx.lengths
        )
        # one gradient per argument given (lengths is passed only for packed sequences)
        return (dxproj, dh0, dw, db, None) + (() if ctx.lengths is None else (None,))
