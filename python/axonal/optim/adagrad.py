"""Adagrad: per-element learning rates from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .optimizer import Optimizer, ParamsT, _check_nonneg, _effective_grad, _kernel

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (``torch.optim.Adagrad``).

    With ``g = grad + weight_decay * p`` at step ``t`` (the sum starts at
    ``initial_accumulator_value``)::

        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (sqrt(s) + eps)
    """

    _state_keys = ("step", "sum")
    _scalar_state = {"step": int}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        # like torch, the state exists from construction on (see add_param_group)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        if hasattr(self, "state"):
            self._init_state(self.param_groups[-1])

    def _init_state(self, group: dict[str, Any]) -> None:
        init = float(group["initial_accumulator_value"])
        for p in group["params"]:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["sum"] = np.full_like(p._data, init)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "lr_decay", "lr_decay value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        _check_nonneg(self, group, "initial_accumulator_value", "initial_accumulator_value")
        _check_nonneg(self, group, "eps", "epsilon value")

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one Adagrad step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            lr_decay = float(group["lr_decay"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            maximize = bool(group["maximize"])
            init = float(group["initial_accumulator_value"])
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                self._check_grad(d, g)
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["sum"] = np.full_like(d, init)
                state["step"] += 1
                clr = lr / (1.0 + (state["step"] - 1) * lr_decay)
                self._launch(_adagrad_kernel, (d, g, state["sum"]), (clr, eps, wd, maximize))
        return loss


@_kernel(scratch=2, passes=7)
def _adagrad_kernel(d, g, s, t0, t1, clr, eps, wd, maximize):
    g = _effective_grad(d, g, t0, maximize, wd)
    np.multiply(g, g, out=t1)
    np.add(s, t1, out=s)
    np.sqrt(s, out=t1)
    np.add(t1, eps, out=t1)
    np.divide(g, t1, out=t1)
    np.multiply(t1, clr, out=t1)
    np.subtract(d, t1, out=d)
