"""Adam (optionally AMSGrad) with L2 weight decay, and AdamW with decoupled weight decay."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .. import _cpu
from .. import backend as _backend
from .optimizer import (
    Optimizer,
    ParamsT,
    _check_betas,
    _check_nonneg,
    _effective_grad,
    _kernel,
    _lerp_,
)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (``torch.optim.Adam``), bias-corrected, with optional AMSGrad.

    With ``g = grad + weight_decay * p`` (or ``p *= 1 - lr * weight_decay`` when
    ``decoupled_weight_decay``), at step ``t``::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                          (amsgrad; v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    _state_keys = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _scalar_state = {"step": int}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, list) else betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "eps", "epsilon value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        _check_betas(self, group)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one Adam step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            amsgrad = bool(group["amsgrad"])
            maximize = bool(group["maximize"])
            shrink = 1.0
            if group["decoupled_weight_decay"]:
                shrink, wd = 1.0 - lr * wd, 0.0
            self._check_grads(group)  # all checked before any state changes
            fused = []  # device parameters: one multi-tensor kernel for the group
            kern = None
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(d)
                    state["exp_avg_sq"] = np.zeros_like(d)
                    if amsgrad:
                        state["max_exp_avg_sq"] = np.zeros_like(d)
                vmax = None
                if amsgrad:
                    vmax = state.get("max_exp_avg_sq")
                    if vmax is None:  # amsgrad switched on after the first step
                        vmax = state["max_exp_avg_sq"] = np.zeros_like(d)
                state["step"] += 1
                step = state["step"]
                bias_correction1 = 1.0 - beta1**step
                bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
                step_size = lr / bias_correction1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if _fused_ok(d, g, m, v, vmax):  # one C++ pass instead of ~13 NumPy passes
                    _cpu.adam_update(
                        d, g, m, v, vmax, beta1, beta2, eps, step_size,
                        bias_correction2_sqrt, wd, maximize, shrink,
                    )  # fmt: skip
                    continue
                k = _backend.kernels_for(d)  # the CUDA build on device arrays
                if k is not None and k.adam_applies(d, g, m, v, vmax):
                    kern = k
                    fused.append((d, g, m, v, vmax, step_size, bias_correction2_sqrt))
                    continue
                self._launch(
                    _adam_kernel,
                    (d, g, m, v, vmax),
                    (beta1, beta2, eps, step_size, bias_correction2_sqrt, wd, maximize, shrink),
                )
            if fused:
                kern.adam_update_many(fused, beta1, beta2, eps, wd, maximize, shrink)
        return loss


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fused_ok(d: Any, *others: Any) -> bool:
    """The fused C++ update applies: CPU arrays, C-contiguous, one float32/float64 dtype."""
    if type(d) is not np.ndarray or d.dtype not in _FUSED_DTYPES or not d.flags.c_contiguous:
        return False
    dt = d.dtype
    return all(
        a is None or (type(a) is np.ndarray and a.dtype == dt and a.flags.c_contiguous)
        for a in others
    )


@_kernel(scratch=2, passes=13)
def _adam_kernel(
    d, g, m, v, vmax, t0, t1, beta1, beta2, eps, step_size, bc2_sqrt, wd, maximize, shrink
):
    if shrink != 1.0:  # decoupled weight decay (AdamW)
        np.multiply(d, shrink, out=d)
    g = _effective_grad(d, g, t0, maximize, wd)
    _lerp_(m, g, 1.0 - beta1, t1)  # m = beta1 * m + (1 - beta1) * g
    np.multiply(v, beta2, out=v)
    np.multiply(g, 1.0 - beta2, out=t1)
    np.multiply(t1, g, out=t1)
    np.add(v, t1, out=v)
    if vmax is not None:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    # p -= m / (sqrt(v) / bc2_sqrt + eps) * step_size: torch's order, and the fused C++ update's
    # (_cpu.adam_update), so that CPU and device parameters agree to the bit
    np.sqrt(v, out=t1)
    np.divide(t1, bc2_sqrt, out=t1)
    np.add(t1, eps, out=t1)
    np.divide(m, t1, out=t1)
    np.multiply(t1, step_size, out=t1)
    np.subtract(d, t1, out=d)


class AdamW(Adam):
    r"""AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay.

    Before the Adam update each parameter shrinks: ``p = p * (1 - lr * weight_decay)``;
    the gradient itself is not changed.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
