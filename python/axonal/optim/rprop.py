"""Rprop: resilient backpropagation, per-element step sizes driven by gradient signs."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from ..ops._util import xp_of
from .optimizer import Optimizer, ParamsT, _is_number, _kernel

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Rprop (``torch.optim.Rprop``), Riedmiller and Braun (1993).

    With ``g = grad`` (``-grad`` when ``maximize``), ``prev`` the previous step's (masked)
    gradient and ``eta`` each element's step size (``lr`` at first)::

        s = sign(g * prev)
        eta = clamp(eta * (etaplus if s > 0 else etaminus if s < 0 else 1), *step_sizes)
        g = 0 where s < 0          (the sign changed: no move, and no sign test next step)
        p = p - sign(g) * eta
        prev = g
    """

    _state_keys = ("step", "prev", "step_size")
    _scalar_state = {"step": int}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            etas=tuple(etas) if isinstance(etas, list) else etas,
            step_sizes=tuple(step_sizes) if isinstance(step_sizes, list) else step_sizes,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        name = type(self).__name__
        if "etas" in group:
            etas = group["etas"]
            if not isinstance(etas, (tuple, list)) or len(etas) != 2:
                raise ValueError(f"{name}: etas must be a pair (etaminus, etaplus), got {etas!r}")
            if not all(_is_number(e) for e in etas):
                raise TypeError(f"{name}: etas must be numbers, got {etas!r}")
            if not 0.0 < etas[0] < 1.0 < etas[1]:
                raise ValueError(
                    f"{name}: invalid eta values: {etas[0]}, {etas[1]}; "
                    "they must satisfy 0 < etaminus < 1 < etaplus"
                )
        if "step_sizes" in group:
            sizes = group["step_sizes"]
            if not isinstance(sizes, (tuple, list)) or len(sizes) != 2:
                raise ValueError(
                    f"{name}: step_sizes must be a pair (min_step, max_step), got {sizes!r}"
                )
            if not all(_is_number(s) for s in sizes):
                raise TypeError(f"{name}: step_sizes must be numbers, got {sizes!r}")

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one Rprop step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            etaminus, etaplus = (float(e) for e in group["etas"])
            step_min, step_max = (float(s) for s in group["step_sizes"])
            maximize = bool(group["maximize"])
            self._check_grads(group)  # all checked before any state changes
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                d, g = p._data, grad._data
                state = self.state[p]
                if not state:
                    xp = xp_of(d)
                    state["step"] = 0
                    state["prev"] = xp.zeros_like(d)
                    state["step_size"] = xp.full_like(d, float(group["lr"]))
                state["step"] += 1
                self._launch(
                    _rprop_kernel,
                    (d, g, state["prev"], state["step_size"]),
                    (etaminus, etaplus, step_min, step_max, maximize),
                )
        return loss


@_kernel(scratch=3, passes=19)
def _rprop_kernel(d, g, prev, eta, s, t1, t2, etaminus, etaplus, step_min, step_max, maximize):
    xp = xp_of(d)
    xp.multiply(g, prev, out=s)
    if maximize:  # (-g) * prev == -(g * prev)
        xp.negative(s, out=s)
    xp.sign(s, out=s)
    # the factor etaplus / etaminus / 1 for s = 1 / -1 / 0, built without boolean masks: in
    # each element exactly one of the three terms is nonzero, so the sum is exact
    xp.negative(s, out=t2)
    xp.maximum(t2, 0.0, out=t2)  # 1 where the sign changed, else 0
    xp.maximum(s, 0.0, out=t1)
    xp.multiply(t1, etaplus, out=t1)
    xp.abs(s, out=s)
    xp.subtract(1.0, s, out=s)
    xp.add(t1, s, out=t1)
    xp.multiply(t2, etaminus, out=s)
    xp.add(t1, s, out=t1)
    xp.multiply(eta, t1, out=eta)
    xp.maximum(eta, step_min, out=eta)  # clamp(step_min, step_max), NaN kept as torch
    xp.minimum(eta, step_max, out=eta)
    # where the sign changed the gradient counts as zero: no move now, no sign test next step.
    # prev = clamp(g, -big * keep, big * keep) with keep = 1 - t2 in {0, 1}: g where kept, 0
    # where not (unlike g * keep, also for an infinite g; a kept infinity is stored as the
    # largest finite number, which has the same sign)
    big = float(np.finfo(d.dtype).max)
    xp.subtract(1.0, t2, out=t2)
    xp.multiply(t2, big, out=t2)
    xp.minimum(g, t2, out=prev)
    xp.negative(t2, out=t2)
    xp.maximum(prev, t2, out=prev)
    if maximize:
        xp.negative(prev, out=prev)
    xp.sign(prev, out=t1)
    xp.multiply(t1, eta, out=t1)
    xp.subtract(d, t1, out=d)
