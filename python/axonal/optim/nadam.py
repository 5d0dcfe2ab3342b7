"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule."""

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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam (``torch.optim.NAdam``).

    With ``g = grad + weight_decay * p`` (or ``p *= 1 - lr * weight_decay`` when
    ``decoupled_weight_decay``) at step ``t``::

        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        prod_t = mu_1 * ... * mu_t
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - prod_t) * g / denom
              - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

    Like torch, the running product ``mu_product`` is kept in float32.
    """

    _state_keys = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    _scalar_state = {"step": int, "mu_product": float}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, list) else betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "eps", "epsilon value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        _check_nonneg(self, group, "momentum_decay", "momentum_decay value")
        _check_betas(self, group)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one NAdam step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        f32 = np.float32
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            momentum_decay = float(group["momentum_decay"])
            maximize = bool(group["maximize"])
            shrink = 1.0
            if group["decoupled_weight_decay"]:
                shrink, wd = 1.0 - lr * wd, 0.0
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                self._check_grad(d, g)
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["mu_product"] = 1.0
                    state["exp_avg"] = np.zeros_like(d)
                    state["exp_avg_sq"] = np.zeros_like(d)
                state["step"] += 1
                step = state["step"]
                bias_correction2 = 1.0 - beta2**step
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product = float(f32(state["mu_product"]) * f32(mu))  # float32, like torch
                state["mu_product"] = mu_product
                mu_product_next = mu_product * mu_next
                c_grad = lr * (1.0 - mu) / (1.0 - mu_product)
                c_avg = lr * mu_next / (1.0 - mu_product_next)
                self._launch(
                    _nadam_kernel,
                    (d, g, state["exp_avg"], state["exp_avg_sq"]),
                    (beta1, beta2, eps, bias_correction2, c_grad, c_avg, wd, maximize, shrink),
                )
        return loss


@_kernel(scratch=3, passes=16)
def _nadam_kernel(
    d, g, m, v, t0, denom, t, beta1, beta2, eps, bc2, c_grad, c_avg, wd, maximize, shrink
):
    if shrink != 1.0:  # decoupled weight decay
        np.multiply(d, shrink, out=d)
    g = _effective_grad(d, g, t0, maximize, wd)
    _lerp_(m, g, 1.0 - beta1, t)
    np.multiply(v, beta2, out=v)
    np.multiply(g, 1.0 - beta2, out=t)
    np.multiply(t, g, out=t)
    np.add(v, t, out=v)
    np.divide(v, bc2, out=denom)
    np.sqrt(denom, out=denom)
    np.add(denom, eps, out=denom)
    np.divide(g, denom, out=t)
    np.multiply(t, c_grad, out=t)
    np.subtract(d, t, out=d)
    np.divide(m, denom, out=t)
    np.multiply(t, c_avg, out=t)
    np.subtract(d, t, out=d)
