"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .optimizer import Optimizer, ParamsT, _check_nonneg, _effective_grad, _kernel

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (``torch.optim.SGD``).

    With ``g = grad + weight_decay * p`` (``-grad`` when ``maximize``)::

        b = g                                  (first step)
        b = momentum * b + (1 - dampening) * g (later steps)
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g
    """

    _state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "momentum", "momentum value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        _check_nonneg(self, group, "dampening", "dampening value")
        if group.get("nesterov", False) and (
            group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0
        ):
            raise ValueError(
                "SGD: Nesterov momentum requires a momentum > 0 and zero dampening "
                f"(got momentum={group.get('momentum', 0)}, dampening={group.get('dampening', 0)})"
            )

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one SGD step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            wd = float(group["weight_decay"])
            nesterov = bool(group["nesterov"])
            maximize = bool(group["maximize"])
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                self._check_grad(d, g)
                buf = None
                first = False
                if momentum != 0.0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = np.empty_like(d)
                        first = True
                self._launch(
                    _sgd_kernel,
                    (d, g, buf),
                    (lr, momentum, dampening, wd, nesterov, maximize, first),
                )
        return loss


@_kernel(scratch=2, passes=3)
def _sgd_kernel(d, g, buf, t0, t1, lr, momentum, dampening, wd, nesterov, maximize, first):
    g = _effective_grad(d, g, t0, maximize, wd)
    if buf is not None:
        if first:
            np.copyto(buf, g)
        else:
            np.multiply(buf, momentum, out=buf)
            if dampening == 0.0:
                np.add(buf, g, out=buf)
            else:
                np.multiply(g, 1.0 - dampening, out=t1)
                np.add(buf, t1, out=buf)
        if nesterov:
            np.multiply(buf, momentum, out=t1)
            np.add(g, t1, out=t1)
            g = t1
        else:
            g = buf
    out = g if (g is t0 or g is t1) else t1
    np.multiply(g, lr, out=out)
    np.subtract(d, out, out=d)
