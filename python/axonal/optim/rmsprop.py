"""RMSprop, optionally centered and with momentum."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .optimizer import Optimizer, ParamsT, _check_nonneg, _effective_grad, _kernel, _lerp_

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (``torch.optim.RMSprop``).

    With ``g = grad + weight_decay * p``::

        v = alpha * v + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g;  avg = sqrt(v - a * a) + eps   (centered)
        avg = sqrt(v) + eps                                            (otherwise)
        b = momentum * b + g / avg;  p = p - lr * b                    (momentum > 0)
        p = p - lr * g / avg                                           (otherwise)
    """

    _state_keys = ("step", "square_avg", "grad_avg", "momentum_buffer")
    _scalar_state = {"step": int}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "eps", "epsilon value")
        _check_nonneg(self, group, "momentum", "momentum value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        _check_nonneg(self, group, "alpha", "alpha value")

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one RMSprop step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            alpha = float(group["alpha"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            momentum = float(group["momentum"])
            centered = bool(group["centered"])
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
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(d)
                    if centered:
                        state["grad_avg"] = np.zeros_like(d)
                state["step"] += 1
                a = b = None
                if centered:
                    a = state.get("grad_avg")
                    if a is None:  # centered switched on later
                        a = state["grad_avg"] = np.zeros_like(d)
                if momentum > 0:
                    b = state.get("momentum_buffer")
                    if b is None:
                        b = state["momentum_buffer"] = np.zeros_like(d)
                self._launch(
                    _rmsprop_kernel,
                    (d, g, state["square_avg"], a, b),
                    (lr, alpha, eps, wd, momentum, maximize),
                )
        return loss


@_kernel(scratch=2, passes=9)
def _rmsprop_kernel(d, g, v, a, b, t0, avg, lr, alpha, eps, wd, momentum, maximize):
    g = _effective_grad(d, g, t0, maximize, wd)
    np.multiply(v, alpha, out=v)
    np.multiply(g, 1.0 - alpha, out=avg)
    np.multiply(avg, g, out=avg)
    np.add(v, avg, out=v)
    if a is not None:  # centered: subtract the squared running mean of the gradient
        _lerp_(a, g, 1.0 - alpha, avg)
        np.multiply(a, a, out=avg)
        np.subtract(v, avg, out=avg)
        np.sqrt(avg, out=avg)
    else:
        np.sqrt(v, out=avg)
    np.add(avg, eps, out=avg)
    np.divide(g, avg, out=avg)
    if b is not None:
        np.multiply(b, momentum, out=b)
        np.add(b, avg, out=b)
        np.multiply(b, lr, out=avg)
    else:
        np.multiply(avg, lr, out=avg)
    np.subtract(d, avg, out=d)
