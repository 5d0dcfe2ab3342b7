"""L-BFGS: limited-memory BFGS on the flat vector of all parameters, with an optional
strong-Wolfe line search.

The search direction comes from the two-loop recursion (Nocedal & Wright, "Numerical
Optimization", 2nd ed., Algorithm 7.4) over the last ``history_size`` curvature pairs
``(s, y)``; the line search is the bracketing / zoom method of Algorithms 3.5 and 3.6 with
safeguarded cubic interpolation (eq. 3.59). Step-size and stopping conventions follow
``torch.optim.LBFGS`` (itself modelled on minFunc), so that both take the same iterates.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from ..ops._util import xp_of
from .optimizer import Optimizer, ParamsT, _check_nonneg

__all__ = ["LBFGS"]

# Curvature pairs with s.y at or below this are skipped (the BFGS update would not stay
# positive definite).
_MIN_CURVATURE = 1e-10
# Sufficient-decrease (Armijo) and curvature constants of the strong-Wolfe conditions.
_C1 = 1e-4
_C2 = 0.9
# The line search stops shrinking its bracket below this width (times max|d|). Like torch, it
# is this fixed value, not the group's tolerance_change.
_LS_TOLERANCE = 1e-9

_LINE_SEARCHES = (None, "strong_wolfe")


def _is_int(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, np.integer))


def _to_float(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    return float(v)


# ---------------------------------------------------------------------- line search
def _cubic_min(
    a: float,
    fa: float,
    ga: float,
    b: float,
    fb: float,
    gb: float,
    lo: Optional[float] = None,
    hi: Optional[float] = None,
) -> float:
    """The minimizer of the cubic through (a, fa), (b, fb) with slopes ga, gb, clamped to
    [lo, hi] (by default the interval between a and b); the middle of [lo, hi] if the cubic
    has no minimizer (or the formula breaks down)."""
    if lo is None or hi is None:
        lo, hi = (a, b) if a <= b else (b, a)
    if a > b:  # the formula below measures from the right-hand point
        a, fa, ga, b, fb, gb = b, fb, gb, a, fa, ga
    with np.errstate(all="ignore"):
        # NumPy scalars: a zero denominator gives inf / nan instead of raising
        a, fa, ga, b, fb, gb = (np.float64(v) for v in (a, fa, ga, b, fb, gb))
        d1 = ga + gb - 3.0 * (fa - fb) / (a - b)
        disc = d1 * d1 - ga * gb
        if disc >= 0.0:
            d2 = np.sqrt(disc)
            x = b - (b - a) * ((gb + d2 - d1) / (gb - ga + 2.0 * d2))
            if math.isfinite(x):
                return float(min(max(x, lo), hi))
    return (lo + hi) / 2.0


class _Point:
    """A trial step length ``t`` with the loss ``f``, flat gradient ``g`` and slope ``gtd``."""

    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t: float, f: float, g: Any, gtd: float) -> None:
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _strong_wolfe(
    phi: Callable[[float], tuple[float, Any, float]],
    start: _Point,
    t: float,
    d_norm: float,
    max_evals: int,
) -> tuple[_Point, int]:
    """Find a step length satisfying the strong Wolfe conditions along a descent direction.

    ``phi(t)`` evaluates the objective at ``x + t * d`` and returns ``(f, flat grad, slope)``;
    ``start`` is the point ``t = 0``; ``t`` the first trial. At most ``max_evals`` further
    trials follow the first. Returns the accepted point and the number of evaluations.
    """
    f0, slope0 = start.f, start.gtd

    def armijo_fails(p: _Point) -> bool:
        return p.f > f0 + _C1 * p.t * slope0

    def curvature_ok(p: _Point) -> bool:
        return abs(p.gtd) <= -_C2 * slope0

    f, g, gtd = phi(t)
    cur = _Point(t, f, g, gtd)
    evals = 1
    prev = start
    trials = 0
    bracket: Optional[list[_Point]] = None
    found: Optional[_Point] = None

    # Phase 1 (Algorithm 3.5): grow the step until it brackets an acceptable one.
    while trials < max_evals:
        if armijo_fails(cur) or (trials > 1 and cur.f >= prev.f):
            bracket = [prev, cur]
            break
        if curvature_ok(cur):
            found = cur
            break
        if cur.gtd >= 0:
            bracket = [prev, cur]
            break
        # extrapolate: the cubic minimizer, at least 1% past the current step, at most 10x it
        t_next = _cubic_min(
            prev.t,
            prev.f,
            prev.gtd,
            cur.t,
            cur.f,
            cur.gtd,
            lo=cur.t + 0.01 * (cur.t - prev.t),
            hi=cur.t * 10.0,
        )
        prev = cur
        f, g, gtd = phi(t_next)
        cur = _Point(t_next, f, g, gtd)
        evals += 1
        trials += 1
    if found is not None:
        return found, evals
    if bracket is None:  # out of evaluations: the better of the start and the last trial
        return (start if start.f <= cur.f else cur), evals

    # Phase 2 (Algorithm 3.6, "zoom"): shrink the bracket; ``low`` is its end with the lower
    # loss, and the accepted step lies between ``low`` and ``high``.
    low = 0 if bracket[0].f <= bracket[1].f else 1
    near_edge = False
    while trials < max_evals:
        left, right = min(bracket[0].t, bracket[1].t), max(bracket[0].t, bracket[1].t)
        if (right - left) * d_norm < _LS_TOLERANCE:
            break
        b0, b1 = bracket
        t_new = _cubic_min(b0.t, b0.f, b0.gtd, b1.t, b1.f, b1.gtd)
        # safeguard: a trial too close to an end of the bracket is pushed 10% inside it when
        # the previous trial was also that close, or when it sits on an end
        margin = 0.1 * (right - left)
        if min(right - t_new, t_new - left) < margin:
            if near_edge or t_new >= right or t_new <= left:
                t_new = right - margin if abs(t_new - right) < abs(t_new - left) else left + margin
                near_edge = False
            else:
                near_edge = True
        else:
            near_edge = False
        f, g, gtd = phi(t_new)
        cur = _Point(t_new, f, g, gtd)
        evals += 1
        trials += 1
        high = 1 - low
        if armijo_fails(cur) or cur.f >= bracket[low].f:
            bracket[high] = cur  # too high: it closes the bracket from the high side
            low = 0 if bracket[0].f <= bracket[1].f else 1
            continue
        if curvature_ok(cur):
            bracket[low] = cur
            return cur, evals
        if cur.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]  # the minimum lies on the other side of cur
        bracket[low] = cur
    return bracket[low], evals


# ---------------------------------------------------------------------- optimizer
class LBFGS(Optimizer):
    r"""L-BFGS (``torch.optim.LBFGS``) over the flat vector of all parameters.

    Each :meth:`step` (which needs a ``closure`` that clears the gradients, re-evaluates the
    model, calls ``backward`` and returns the loss) runs up to ``max_iter`` iterations:

    * direction ``d = -H g`` from the two-loop recursion over the last ``history_size`` pairs
      ``s = x_{k+1} - x_k``, ``y = g_{k+1} - g_k`` (pairs with ``s.y <= 1e-10`` are skipped),
      with the initial inverse Hessian ``(s.y / y.y) I`` from the newest pair; ``d = -g`` on
      the very first iteration;
    * step ``t = lr`` (``min(1, 1 / sum|g|) * lr`` on the very first iteration), taken as is,
      or refined by a strong-Wolfe line search (``line_search_fn="strong_wolfe"``);
    * it stops early when ``max|g| <= tolerance_grad``, when ``g.d > -tolerance_change``, when
      ``max|t d|`` or the change of the loss is below ``tolerance_change``, or after
      ``max_eval`` closure calls (``max_iter * 5 // 4`` by default).

    Only one parameter group is supported. The optimizer state (history, direction, counters)
    is kept under the first parameter, as in torch. Returns the loss of the first closure call.
    """

    _state_keys = (
        "func_evals",
        "n_iter",
        "d",
        "t",
        "old_dirs",
        "old_stps",
        "ro",
        "H_diag",
        "prev_flat_grad",
        "prev_loss",
        "al",
    )
    _scalar_state = {"func_evals": int, "n_iter": int}
    _flat_state = ("d", "prev_flat_grad")
    _flat_list_state = ("old_dirs", "old_stps")
    _float_state = ("t", "H_diag", "prev_loss")
    _float_list_state = ("ro", "al")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: Optional[int] = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: Optional[str] = None,
    ) -> None:
        if max_eval is None and _is_int(max_iter):
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        super()._validate_group(group, partial)
        name = type(self).__name__
        _check_nonneg(self, group, "tolerance_grad", "tolerance_grad value")
        _check_nonneg(self, group, "tolerance_change", "tolerance_change value")
        for key in ("max_iter", "max_eval", "history_size"):
            if key in group:
                v = group[key]
                if not _is_int(v):
                    raise TypeError(f"{name}: {key} must be an int, got {v!r}")
                if v < 1:
                    raise ValueError(f"{name}: invalid {key} value: {v}; must be >= 1")
        if "line_search_fn" in group and group["line_search_fn"] not in _LINE_SEARCHES:
            raise ValueError(
                f"{name}: line_search_fn must be None or 'strong_wolfe', "
                f"got {group['line_search_fn']!r}"
            )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError(
                f"{type(self).__name__} doesn't support per-parameter options "
                "(parameter groups): give it all parameters in one group"
            )
        super().add_param_group(param_group)

    # ------------------------------------------------------------------ flat vectors
    @property
    def _params(self) -> list:
        return self.param_groups[0]["params"]

    def _xp_dtype(self) -> tuple[Any, Any]:
        params = self._params
        xp = xp_of(params[0]._data)
        for p in params[1:]:
            if xp_of(p._data) is not xp:
                raise ValueError(
                    f"{type(self).__name__}: all parameters must be arrays of one kind "
                    "(all NumPy or all CuPy)"
                )
        dtype = np.result_type(*[p._data.dtype for p in params])
        return xp, dtype

    def _numel(self) -> int:
        return sum(int(p._data.size) for p in self._params)

    def _flat_grad(self, xp: Any, dtype: Any) -> Any:
        """All gradients, flattened and concatenated (zeros for a parameter without one)."""
        out = xp.empty(self._numel(), dtype=dtype)
        offset = 0
        for p in self._params:
            n = int(p._data.size)
            if p.grad is None:
                out[offset : offset + n] = 0
            else:
                g = p.grad._data
                self._check_grad(p._data, g)
                out[offset : offset + n] = g.reshape(-1)
            offset += n
        return out

    def _move(self, t: float, d: Any) -> None:
        """x = x + t * d, in place on every parameter (a new version of each)."""
        offset = 0
        for p in self._params:
            data = p._data
            n = int(data.size)
            if n:
                xp = xp_of(data)
                (tmp,) = self._scratch(data, 1)
                xp.multiply(d[offset : offset + n].reshape(data.shape), t, out=tmp)
                xp.add(data, tmp, out=data)
            p._vc[0] += 1
            offset += n

    def _save(self) -> list:
        return [p._data.copy() for p in self._params]

    def _restore(self, saved: list) -> None:
        for p, a in zip(self._params, saved):
            xp_of(p._data).copyto(p._data, a)
            p._vc[0] += 1

    @staticmethod
    def _amax(xp: Any, a: Any) -> float:
        return float(xp.abs(a).max()) if a.size else 0.0

    # ------------------------------------------------------------------ step
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss of the first closure call.

        ``closure`` is required: L-BFGS evaluates the model several times per step. It must
        clear the gradients, compute the loss, call ``backward()`` and return the loss.
        """
        name = type(self).__name__
        if closure is None or not callable(closure):
            raise TypeError(
                f"{name}.step needs a closure that re-evaluates the model: "
                "def closure(): opt.zero_grad(); loss = model_loss(); loss.backward(); "
                "return loss -- then call opt.step(closure)"
            )
        if len(self.param_groups) != 1:  # pragma: no cover - add_param_group prevents it
            raise ValueError(f"{name} supports exactly one parameter group")
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter = int(group["max_iter"])
        max_eval = int(group["max_eval"])
        tolerance_grad = float(group["tolerance_grad"])
        tolerance_change = float(group["tolerance_change"])
        history_size = int(group["history_size"])
        line_search = group["line_search_fn"]
        xp, dtype = self._xp_dtype()

        def evaluate() -> tuple[Any, float, Any]:
            out = self._run_closure(closure)
            return out, float(out), self._flat_grad(xp, dtype)

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss, flat_grad = evaluate()
        evals = 1
        state["func_evals"] += 1
        if self._amax(xp, flat_grad) <= tolerance_grad:  # already optimal
            return orig_loss

        d = state.get("d")
        t = state.get("t")
        ys_list = state.get("old_dirs")  # y_i = g_{i+1} - g_i
        ss_list = state.get("old_stps")  # s_i = x_{i+1} - x_i
        rho = state.get("ro")  # 1 / (y_i . s_i)
        gamma = state.get("H_diag")  # initial inverse Hessian H0 = gamma * I
        prev_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        it = 0
        while it < max_iter:
            it += 1
            state["n_iter"] += 1

            # ---------------------------------------------------------- direction
            if state["n_iter"] == 1:
                d = -flat_grad
                ys_list, ss_list, rho = [], [], []
                gamma = 1.0
            else:
                y = flat_grad - prev_grad
                s = d * t
                sy = float(xp.dot(y, s))
                if sy > _MIN_CURVATURE:
                    while len(ys_list) >= history_size:  # forget the oldest pair
                        ys_list.pop(0)
                        ss_list.pop(0)
                        rho.pop(0)
                    ys_list.append(y)
                    ss_list.append(s)
                    rho.append(1.0 / sy)
                    gamma = sy / float(xp.dot(y, y))
                d = self._two_loop(xp, state, history_size, flat_grad, ys_list, ss_list, rho, gamma)

            prev_grad = flat_grad.copy()
            prev_loss = loss

            # ---------------------------------------------------------- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            slope = float(xp.dot(flat_grad, d))
            if slope > -tolerance_change:  # not a descent direction (any more)
                break

            used = 0
            if line_search is not None:
                start_x = self._save()

                def phi(step: float, d: Any = d, start_x: list = start_x) -> tuple:
                    self._move(step, d)
                    _, f_new, g_new = evaluate()
                    self._restore(start_x)
                    return f_new, g_new, float(xp.dot(g_new, d))

                best, used = _strong_wolfe(
                    phi,
                    _Point(0.0, loss, flat_grad, slope),
                    t,
                    self._amax(xp, d),
                    max_eval - evals,
                )
                t, loss, flat_grad = best.t, best.f, best.g
                self._move(t, d)
                optimal = self._amax(xp, flat_grad) <= tolerance_grad
            else:
                self._move(t, d)
                optimal = False
                if it != max_iter:  # the last move is not evaluated (as torch)
                    _, loss, flat_grad = evaluate()
                    optimal = self._amax(xp, flat_grad) <= tolerance_grad
                    used = 1
            evals += used
            state["func_evals"] += used

            # ---------------------------------------------------------- stopping tests
            if it == max_iter or evals >= max_eval or optimal:
                break
            if abs(t) * self._amax(xp, d) <= tolerance_change:  # the step hardly moved x
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss hardly changed
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = ys_list
        state["old_stps"] = ss_list
        state["ro"] = rho
        state["H_diag"] = gamma
        state["prev_flat_grad"] = prev_grad
        state["prev_loss"] = prev_loss
        return orig_loss

    @staticmethod
    def _two_loop(
        xp: Any,
        state: dict,
        history_size: int,
        grad: Any,
        ys: list,
        ss: list,
        rho: list,
        gamma: float,
    ) -> Any:
        """-H grad for the L-BFGS inverse Hessian H of the pairs (s_i, y_i) (Algorithm 7.4)."""
        k = len(ys)
        alpha = state.get("al")
        if alpha is None:  # kept in the state like torch (one slot per history entry)
            alpha = state["al"] = [None] * history_size
        if len(alpha) < k:
            alpha.extend([None] * (k - len(alpha)))
        q = -grad
        tmp = xp.empty_like(q)
        for i in range(k - 1, -1, -1):  # newest pair first
            a = float(xp.dot(ss[i], q)) * rho[i]
            alpha[i] = a
            xp.multiply(ys[i], a, out=tmp)
            xp.subtract(q, tmp, out=q)
        r = q
        xp.multiply(q, gamma, out=r)
        for i in range(k):  # oldest pair first
            b = float(xp.dot(ys[i], r)) * rho[i]
            xp.multiply(ss[i], alpha[i] - b, out=tmp)
            xp.add(r, tmp, out=r)
        return r

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        for st in sd["state"].values():
            for k, v in st.items():
                if isinstance(v, list):  # the history: a snapshot, not the live lists
                    st[k] = [
                        a.copy() if hasattr(a, "copy") and hasattr(a, "shape") else a for a in v
                    ]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        name = type(self).__name__
        states = state_dict.get("state") if isinstance(state_dict, dict) else None
        if isinstance(states, dict):
            for idx, st in states.items():
                if not isinstance(st, dict):
                    continue
                lengths = {k: len(st[k]) for k in ("old_dirs", "old_stps", "ro") if k in st}
                if len(set(lengths.values())) > 1:
                    raise ValueError(
                        f"{name}.load_state_dict: the history of parameter {idx} is "
                        f"inconsistent (lengths {lengths})"
                    )
        super().load_state_dict(state_dict)

    def _load_state_value(self, idx: Any, p: Any, key: str, value: Any) -> Any:
        name = type(self).__name__
        if key in self._float_state:
            return _to_float(value)
        if key in self._float_list_state:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"{name}.load_state_dict: state entry {key!r} must be a list")
            return [_to_float(v) for v in value]
        if key in self._flat_state:
            return None if value is None else self._load_flat(idx, key, value)
        if key in self._flat_list_state:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"{name}.load_state_dict: state entry {key!r} must be a list")
            return [self._load_flat(idx, key, v) for v in value]
        return super()._load_state_value(idx, p, key, value)

    def _load_flat(self, idx: Any, key: str, value: Any) -> Any:
        xp, dtype = self._xp_dtype()
        if hasattr(value, "_data"):  # an axonal Tensor
            value = value._data
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = value.detach().cpu().numpy()
        arr = xp.asarray(value)
        n = self._numel()
        if arr.size != n or arr.ndim != 1:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state entry {key!r} of parameter "
                f"{idx} has shape {tuple(arr.shape)}; expected a flat vector of the "
                f"{n} parameter elements"
            )
        return xp.array(arr, dtype=dtype, copy=True)
