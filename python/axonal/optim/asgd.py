"""ASGD: averaged stochastic gradient descent (Polyak-Ruppert averaging)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from ..ops._util import xp_of
from .optimizer import Optimizer, ParamsT, _check_nonneg, _is_number, _kernel

__all__ = ["ASGD"]


def _f32(x: float) -> float:
    """``x`` rounded to float32: torch keeps ``eta`` and ``mu`` in float32 scalar tensors."""
    return float(np.float32(x))


class ASGD(Optimizer):
    r"""ASGD (``torch.optim.ASGD``), Polyak and Juditsky (1992).

    With ``g = grad + weight_decay * p`` (``-grad`` when ``maximize``), at step ``t``, using
    the ``eta`` and ``mu`` of the previous step (``lr`` and 1 at first)::

        p = p * (1 - lambd * eta) - eta * g
        ax = p  if mu == 1  else  ax + mu * (p - ax)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)

    ``ax`` is the running average of the iterates (used after ``t0`` steps). Like torch,
    ``eta`` and ``mu`` are kept rounded to float32.
    """

    _state_keys = ("step", "eta", "mu", "ax")
    _scalar_state = {"step": int, "eta": float, "mu": float}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        name = type(self).__name__
        for key in ("lambd", "alpha", "t0"):
            v = group.get(key, 0.0)
            if not _is_number(v):
                raise TypeError(f"{name}: {key} must be a number, got {v!r}")

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one ASGD step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            lambd = float(group["lambd"])
            alpha = float(group["alpha"])
            t0 = float(group["t0"])
            wd = float(group["weight_decay"])
            maximize = bool(group["maximize"])
            self._check_grads(group)  # all checked before any state changes
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["eta"] = _f32(lr)
                    state["mu"] = 1.0
                    state["ax"] = xp_of(d).zeros_like(d)
                state["step"] += 1
                eta = float(state["eta"])
                mu = float(state["mu"])
                self._launch(
                    _asgd_kernel,
                    (d, g, state["ax"]),
                    (eta, 1.0 - lambd * eta, mu, wd, maximize),
                )
                step = float(state["step"])
                state["eta"] = _f32(lr / ((1.0 + lambd * lr * step) ** alpha))
                state["mu"] = _f32(1.0 / max(1.0, step - t0))
        return loss


@_kernel(scratch=2, passes=7)
def _asgd_kernel(d, g, ax, t0, t1, eta, decay, mu, wd, maximize):
    xp = xp_of(d)
    if maximize:
        xp.negative(g, out=t0)
        g = t0
    if wd != 0.0:  # g + weight_decay * p
        xp.multiply(d, wd, out=t1)
        xp.add(g, t1, out=t0)
        g = t0
    xp.multiply(d, decay, out=d)  # decay term
    xp.multiply(g, eta, out=t1)
    xp.subtract(d, t1, out=d)
    if mu != 1.0:  # averaging
        xp.subtract(d, ax, out=t1)
        xp.multiply(t1, mu, out=t1)
        xp.add(ax, t1, out=ax)
    else:
        xp.copyto(ax, d)
