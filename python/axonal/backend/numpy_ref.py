"""The pure-NumPy reference backend: the oracle every kernel is tested against.

Same names and signatures as ``backend.cpu``; written for clarity, not speed.
"""

from __future__ import annotations

import numpy as np

_FLOATS = (np.float32, np.float64)


def _check(op: str, a: np.ndarray, b: np.ndarray, nds: tuple) -> None:
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__name__}")
        if x.dtype.type not in _FLOATS:
            raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype}")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: dtypes differ: a is {a.dtype}, b is {b.dtype}")
    if a.ndim not in nds or b.ndim not in nds:
        raise ValueError(f"{op}: {a.shape} @ {b.shape}: expected arrays with ndim in {nds}")


def _gemm_core(op, a, b, out, alpha, beta, trans_a, trans_b):
    opa = np.swapaxes(a, -1, -2) if trans_a else a
    opb = np.swapaxes(b, -1, -2) if trans_b else b
    if opa.shape[-1] != opb.shape[-2]:
        raise ValueError(
            f"{op}: {opa.shape[-2:]} @ {opb.shape[-2:]}: inner dimensions "
            f"{opa.shape[-1]} != {opb.shape[-2]}"
        )
    prod = np.matmul(opa.astype(np.float64), opb.astype(np.float64))
    if out is None:
        if beta != 0:
            raise ValueError(f"{op}: beta = {beta} needs an out array to read C from")
        return (alpha * prod).astype(a.dtype)
    res = alpha * prod
    if beta != 0:
        res = res + beta * out.astype(np.float64)
    out[...] = res
    return out


def gemm(a, b, out=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """out = alpha * op(a) @ op(b) + beta * out, 2-D (products accumulated in float64)."""
    _check("gemm", a, b, (2,))
    return _gemm_core("gemm", a, b, out, alpha, beta, trans_a, trans_b)


def gemm_batched(a, b, out=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """Batched gemm over 3-D arrays; a 2-D operand is broadcast over the batch."""
    _check("gemm_batched", a, b, (2, 3))
    return _gemm_core("gemm_batched", a, b, out, alpha, beta, trans_a, trans_b)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NumPy ``matmul`` semantics (1-D promotion, broadcast batch dimensions)."""
    return np.matmul(a, b)


# ---------------------------------------------------------------- softmax / log_softmax
# Computed in the input's dtype, the textbook way: shift by the max, exponentiate, normalise.
def softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """softmax along ``dim``."""
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax_forward(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """log_softmax along ``dim``."""
    s = x - x.max(axis=dim, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))


def softmax_backward(grad_output: np.ndarray, output: np.ndarray, dim: int = -1) -> np.ndarray:
    """Gradient of softmax from its output y: y * (dy - sum(dy * y, dim))."""
    return output * (grad_output - (grad_output * output).sum(axis=dim, keepdims=True))


def log_softmax_backward(grad_output: np.ndarray, output: np.ndarray, dim: int = -1) -> np.ndarray:
    """Gradient of log_softmax from its output y: dy - exp(y) * sum(dy, dim)."""
    return grad_output - np.exp(output) * grad_output.sum(axis=dim, keepdims=True)


# conv2d / conv1d / pooling references (loop-free NumPy, see _conv_ref.py)
from ._conv_ref import (  # noqa: E402, F401
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv1d_backward_input,
    conv1d_backward_weight,
    conv1d_forward,
    conv2d_backward_bias,
    conv2d_backward_input,
    conv2d_backward_weight,
    conv2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
