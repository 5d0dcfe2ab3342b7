"""Gradient clipping, weight penalties and parameter <-> vector conversion."""

from __future__ import annotations

import math
import sys
from typing import Any, Iterable, List, Union

import numpy as np

from ...tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "l1_penalty",
    "l2_penalty",
    "elastic_net_penalty",
    "parameters_to_vector",
    "vector_to_parameters",
]

_TensorOrTensors = Union[Tensor, Iterable[Tensor]]


def _as_list(parameters: _TensorOrTensors) -> List[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _xp(arr):
    """NumPy for host arrays, the array's own module (CuPy) otherwise."""
    if isinstance(arr, np.ndarray):
        return np
    return sys.modules[type(arr).__module__.split(".")[0]]


def _clip_on_device(
    xp: Any, grads: list, max_norm: float, norm_type: float, error_if_nonfinite: bool
) -> Tensor:
    """clip_grad_norm_ on device arrays without waiting for the device: the total norm and the
    clip factor min(1, max_norm / (norm + 1e-6)) stay device scalars and every gradient is
    scaled by it (as PyTorch does on CUDA). Only ``error_if_nonfinite`` reads the norm back."""
    from ...tensor import _new

    if norm_type == math.inf:
        total = xp.max(xp.stack([xp.max(xp.abs(g)) for g in grads if g.size] or [xp.zeros(())]))
        total = total.astype(np.float64)
    elif norm_type == 2.0:
        total = xp.sqrt(sum(xp.vdot(g.ravel(), g.ravel()).real.astype(np.float64) for g in grads))
    elif norm_type > 0:
        s = sum(xp.sum(xp.abs(g.astype(np.float64)) ** norm_type) for g in grads)
        total = s ** (1.0 / norm_type)
    else:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"non-finite ({float(total)}); pass error_if_nonfinite=False to clip anyway"
        )
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= coef.astype(g.dtype)
    return _new(total.astype(grads[0].dtype))


def clip_grad_norm_(
    parameters: _TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most ``max_norm``.

    Returns the total norm before clipping as a 0-d Tensor of the gradients' dtype.
    ``norm_type`` may be ``inf``. With ``error_if_nonfinite=True`` a NaN/inf total norm
    raises ``RuntimeError`` instead of silently producing NaN weights.
    """
    from ... import tensor as _tensor

    params = _as_list(parameters)
    grads = [p.grad._data for p in params if p.grad is not None]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return _tensor(0.0)
    xp = _xp(grads[0])
    if type(grads[0]) is not np.ndarray:
        return _clip_on_device(xp, grads, max_norm, norm_type, error_if_nonfinite)
    if norm_type == math.inf:
        norms = [xp.max(xp.abs(g)) if g.size else xp.asarray(0.0) for g in grads]
        total = max(float(n) for n in norms)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(xp.vdot(g.ravel(), g.ravel()).real) for g in grads))
    elif norm_type > 0:
        s = sum(float(xp.sum(xp.abs(g.astype(np.float64)) ** norm_type)) for g in grads)
        total = s ** (1.0 / norm_type)
    else:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"non-finite ({total}); pass error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return _tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: _TensorOrTensors, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for p in _as_list(parameters):
        if p.grad is not None:
            g = p.grad._data
            _xp(g).clip(g, -clip_value, clip_value, out=g)


def _sum_terms(fn: str, params: List[Tensor], term) -> Tensor:
    if not params:
        raise ValueError(f"{fn}: got no parameters")
    total = None
    for p in params:
        t = term(p)
        total = t if total is None else total + t
    return total


def l1_penalty(parameters: _TensorOrTensors) -> Tensor:
    """``sum_i |w_i|`` over all parameters: a differentiable scalar to add to a loss."""
    return _sum_terms("l1_penalty", _as_list(parameters), lambda p: p.abs().sum())


def l2_penalty(parameters: _TensorOrTensors) -> Tensor:
    """``sum_i w_i^2`` over all parameters (no 1/2 factor): a differentiable scalar.

    Add ``lam * l2_penalty(model.parameters())`` to the loss; its gradient is ``2 * lam * w``.
    """
    return _sum_terms("l2_penalty", _as_list(parameters), lambda p: (p * p).sum())


def elastic_net_penalty(parameters: _TensorOrTensors, l1: float, l2: float) -> Tensor:
    """``l1 * sum|w| + l2 * sum w^2``: the elastic-net penalty, a differentiable scalar."""
    params = _as_list(parameters)
    if l1 < 0 or l2 < 0:
        raise ValueError(f"elastic_net_penalty: l1 and l2 must be non-negative, got {l1}, {l2}")
    return l1_penalty(params) * float(l1) + l2_penalty(params) * float(l2)


def parameters_to_vector(parameters: _TensorOrTensors) -> Tensor:
    """Concatenate the flattened parameters into one 1-D Tensor (a differentiable copy)."""
    from ... import cat

    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: _TensorOrTensors) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place, no autograd)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    params = _as_list(parameters)
    need = sum(int(np.prod(p.shape)) for p in params)
    if need != vec.shape[0]:
        raise ValueError(
            f"vector_to_parameters: vec has {vec.shape[0]} elements but the parameters need {need}"
        )
    src = vec._data
    offset = 0
    for p in params:
        n = int(np.prod(p.shape))
        p._data[...] = src[offset : offset + n].reshape(p.shape)
        p._vc[0] += 1
        offset += n
