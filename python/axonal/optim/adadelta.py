"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .optimizer import Optimizer, ParamsT, _check_nonneg, _effective_grad, _kernel

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (``torch.optim.Adadelta``).

    With ``g = grad + weight_decay * p``::

        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
    """

    _state_keys = ("step", "square_avg", "acc_delta")
    _scalar_state = {"step": int}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        if "rho" in group and not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value {group['rho']}; must be in [0, 1]")
        _check_nonneg(self, group, "eps", "epsilon value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one Adadelta step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            rho = float(group["rho"])
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
                    state["square_avg"] = np.zeros_like(d)
                    state["acc_delta"] = np.zeros_like(d)
                state["step"] += 1
                self._launch(
                    _adadelta_kernel,
                    (d, g, state["square_avg"], state["acc_delta"]),
                    (lr, rho, eps, wd, maximize),
                )
        return loss


@_kernel(scratch=3, passes=16)
def _adadelta_kernel(d, g, v, u, t0, std, delta, lr, rho, eps, wd, maximize):
    g = _effective_grad(d, g, t0, maximize, wd)
    np.multiply(v, rho, out=v)
    np.multiply(g, 1.0 - rho, out=std)
    np.multiply(std, g, out=std)
    np.add(v, std, out=v)
    np.add(v, eps, out=std)
    np.sqrt(std, out=std)
    np.add(u, eps, out=delta)
    np.sqrt(delta, out=delta)
    np.divide(delta, std, out=delta)
    np.multiply(delta, g, out=delta)
    np.multiply(u, rho, out=u)
    np.multiply(delta, 1.0 - rho, out=std)
    np.multiply(std, delta, out=std)
    np.add(u, std, out=u)
    np.multiply(delta, lr, out=delta)
    np.subtract(d, delta, out=d)
