"""``gradcheck``: compare autograd gradients with float64 central differences."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..tensor import Tensor, _new
from . import grad_mode as _gm


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(
    fn: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
) -> bool:
    """Check the gradients of ``fn(*inputs)`` w.r.t. every input that requires grad.

    Each output is reduced against a fixed random weight (``sum(out * w)``) and its gradient is
    compared with central differences ``(f(x + eps) - f(x - eps)) / (2 eps)``, element by element.
    Inputs should be float64. Returns True, or raises :class:`GradcheckError` with the largest
    difference, its position and both values (returns False if ``raise_exception=False``).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    check = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not check:
        raise ValueError("gradcheck: no input requires grad")
    for i in check:
        if inputs[i].dtype != np.float64:
            import warnings

            warnings.warn(
                f"gradcheck: input {i} is {inputs[i].dtype}, not float64: expect failures",
                stacklevel=2,
            )
    rng = np.random.default_rng(0)
    with _gm.enable_grad():
        outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]

    def scalar_value() -> float:
        with _gm.no_grad():
            os = _outputs(fn, inputs)
        total = 0.0
        for o, w in zip(os, weights):
            total += float((np.asarray(o._data, dtype=np.float64) * w).sum())
        return total

    # analytical
    from .engine import grad as _grad

    with _gm.enable_grad():
        outs = _outputs(fn, inputs)
        diff_outs = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
        if diff_outs:
            got = _grad(
                [o for o, _ in diff_outs],
                [inputs[i] for i in check],
                [_new(w) for _, w in diff_outs],
                allow_unused=True,
            )
        else:
            got = [None] * len(check)

    for gi, i in zip(got, check):
        x = inputs[i]
        data = x._data
        analytical = np.zeros(data.shape) if gi is None else np.asarray(gi._data, np.float64)
        numerical = np.zeros(data.shape)
        flat = data.reshape(-1)  # a view when contiguous
        if flat.size and not np.shares_memory(flat, data):
            raise ValueError("gradcheck: inputs must be contiguous")
        for j in range(flat.size):
            orig = flat[j].item()
            flat[j] = orig + eps
            fp = scalar_value()
            flat[j] = orig - eps
            fm = scalar_value()
            flat[j] = orig
            numerical.reshape(-1)[j] = (fp - fm) / (2 * eps)
        bad = ~np.isclose(analytical, numerical, rtol=rtol, atol=atol, equal_nan=False)
        if bad.any():
            err = np.abs(analytical - numerical)
            err = np.where(np.isnan(err), np.inf, err)
            k = np.unravel_index(int(np.argmax(err)), data.shape) if data.ndim else ()
            msg = (
                f"gradcheck: gradient mismatch for input {i} of shape {tuple(data.shape)}: "
                f"max difference {float(err[k]):.3e} at index {tuple(int(v) for v in k)} "
                f"(analytical {float(analytical[k]):.8g}, numerical {float(numerical[k]):.8g}; "
                f"{int(bad.sum())} of {bad.size} elements outside atol={atol}, rtol={rtol})"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) gradient of ``fn``."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    check = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    rng = np.random.default_rng(1)
    with _gm.no_grad():
        outs = _outputs(fn, inputs)
    ws = [_new(rng.standard_normal(o.shape)) for o in outs]

    def first_grads(*xs: Any) -> tuple:
        from .engine import grad as _grad

        with _gm.enable_grad():
            os = _outputs(fn, xs)
            gs = _grad(os, [xs[i] for i in check], ws, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs, eps, atol, rtol, raise_exception)
