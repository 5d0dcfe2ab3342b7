"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .optimizer import (
    Optimizer,
    ParamsT,
    _check_betas,
    _check_nonneg,
    _effective_grad,
    _kernel,
    _lerp_,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (``torch.optim.Adamax``).

    With ``g = grad + weight_decay * p`` at step ``t``::

        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u
    """

    _state_keys = ("step", "exp_avg", "exp_inf")
    _scalar_state = {"step": int}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, list) else betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "eps", "epsilon value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        _check_betas(self, group)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one Adamax step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            maximize = bool(group["maximize"])
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                self._check_grad(d, g)
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(d)
                    state["exp_inf"] = np.zeros_like(d)
                state["step"] += 1
                clr = lr / (1.0 - beta1 ** state["step"])
                self._launch(
                    _adamax_kernel,
                    (d, g, state["exp_avg"], state["exp_inf"]),
                    (beta1, beta2, eps, clr, wd, maximize),
                )
        return loss


@_kernel(scratch=2, passes=9)
def _adamax_kernel(d, g, m, u, t0, t1, beta1, beta2, eps, clr, wd, maximize):
    g = _effective_grad(d, g, t0, maximize, wd)
    _lerp_(m, g, 1.0 - beta1, t1)
    np.multiply(u, beta2, out=u)
    np.abs(g, out=t1)
    np.add(t1, eps, out=t1)
    np.maximum(u, t1, out=u)
    np.divide(m, u, out=t1)
    np.multiply(t1, clr, out=t1)
    np.subtract(d, t1, out=d)
