"""RAdam: Adam with a rectified (variance-corrected) adaptive learning rate."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..ops._util import xp_of
from .optimizer import (
    Optimizer,
    ParamsT,
    _check_betas,
    _check_nonneg,
    _effective_grad,
    _kernel,
    _lerp_,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam (``torch.optim.RAdam``), Liu et al., "On the Variance of the Adaptive Learning
    Rate and Beyond" (2020).

    With ``g = grad + weight_decay * p`` (or ``p *= 1 - lr * weight_decay`` first when
    ``decoupled_weight_decay``; ``-grad`` when ``maximize``), at step ``t``::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - m / (1 - beta1**t) * lr * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r
        else:
            p = p - m / (1 - beta1**t) * lr
    """

    _state_keys = ("step", "exp_avg", "exp_avg_sq")
    _scalar_state = {"step": int}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas) if isinstance(betas, list) else betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        _check_nonneg(self, group, "eps", "epsilon value")
        _check_nonneg(self, group, "weight_decay", "weight_decay value")
        _check_betas(self, group)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one RAdam step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            maximize = bool(group["maximize"])
            shrink = 1.0
            if group["decoupled_weight_decay"]:
                if wd != 0.0:
                    shrink = 1.0 - lr * wd
                wd = 0.0
            self._check_grads(group)  # all checked before any state changes
            rho_inf = 2.0 / (1.0 - beta2) - 1.0
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                state = self.state[p]
                if not state:
                    xp = xp_of(d)
                    state["step"] = 0
                    state["exp_avg"] = xp.zeros_like(d)
                    state["exp_avg_sq"] = xp.zeros_like(d)
                state["step"] += 1
                step = float(state["step"])  # torch keeps the step count as a float
                bias_correction1 = 1.0 - beta1**step
                bias_correction2 = 1.0 - beta2**step
                rho_t = rho_inf - 2.0 * step * (beta2**step) / bias_correction2
                if rho_t > 5.0:
                    rect = (
                        (rho_t - 4.0)
                        * (rho_t - 2.0)
                        * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
                    ) ** 0.5
                    bc2_sqrt = bias_correction2**0.5
                else:
                    rect = bc2_sqrt = None  # not rectified: a plain momentum step
                self._launch(
                    _radam_kernel,
                    (d, g, state["exp_avg"], state["exp_avg_sq"]),
                    (beta1, beta2, eps, lr, bias_correction1, bc2_sqrt, rect, wd, maximize, shrink),
                )
        return loss


@_kernel(scratch=3, passes=14)
def _radam_kernel(
    d, g, m, v, t0, t1, t2, beta1, beta2, eps, lr, bc1, bc2_sqrt, rect, wd, maximize, shrink
):
    xp = xp_of(d)
    if shrink != 1.0:  # decoupled weight decay
        xp.multiply(d, shrink, out=d)
    g = _effective_grad(d, g, t0, maximize, wd)
    _lerp_(m, g, 1.0 - beta1, t1)  # m = beta1 * m + (1 - beta1) * g
    xp.multiply(v, beta2, out=v)
    xp.multiply(g, 1.0 - beta2, out=t1)
    xp.multiply(t1, g, out=t1)
    xp.add(v, t1, out=v)
    # torch's order: ((m / bc1) * lr) [* (sqrt(1 - beta2**t) / (sqrt(v) + eps)) * rect]
    xp.divide(m, bc1, out=t2)
    xp.multiply(t2, lr, out=t2)
    if rect is not None:
        xp.sqrt(v, out=t1)
        xp.add(t1, eps, out=t1)
        xp.divide(bc2_sqrt, t1, out=t1)
        xp.multiply(t2, t1, out=t2)
        xp.multiply(t2, rect, out=t2)
    xp.subtract(d, t2, out=d)
