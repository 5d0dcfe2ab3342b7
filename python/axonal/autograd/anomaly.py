"""``detect_anomaly``: raise at the first op whose forward or backward produces NaN or Inf.

While enabled, every op checks its output (forward) and its input gradients (backward) for
non-finite values and raises ``RuntimeError`` naming the op, the input shapes and, for backward,
where the op was created in the forward pass. It slows every op down: debugging only.
"""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np

enabled = False  # read directly by Function.apply and the engine


def is_anomaly_enabled() -> bool:
    return enabled


class detect_anomaly:
    """Context manager (and decorator): turn NaN/Inf detection on inside the block."""

    def __init__(self, check_nan: bool = True) -> None:
        self._on = bool(check_nan)
        self._prev: list = []

    def __enter__(self) -> None:
        global enabled
        self._prev.append(enabled)
        enabled = self._on

    def __exit__(self, *exc: Any) -> None:
        global enabled
        enabled = self._prev.pop()

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self._on):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """``set_detect_anomaly(True)`` switches detection on (as a call or a context manager)."""

    def __init__(self, mode: bool) -> None:
        global enabled
        self._prev = enabled
        enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        global enabled
        enabled = self._prev


def _nonfinite(x: Any) -> bool:
    dt = getattr(x, "dtype", None)
    if dt is None or dt.kind not in "fc":
        return False
    xp = np if isinstance(x, np.ndarray) else _xp_of(x)
    return not bool(xp.isfinite(x).all())


def _xp_of(x: Any):
    import sys

    return sys.modules[type(x).__module__.split(".")[0]]


def _shapes(arrays: Any) -> str:
    parts = []
    for a in arrays:
        shp = getattr(a, "shape", None)
        parts.append(str(tuple(shp)) if shp is not None else type(a).__name__)
    return ", ".join(parts)


def check_forward(ctx: Any, arrays: Any, out: Any) -> None:
    """Called by ``Function.apply`` in anomaly mode: remember the creation site; check ``out``."""
    name = type(ctx).__name__
    ctx._anomaly = (name, _shapes(arrays), "".join(traceback.format_stack(limit=12)[:-3]))
    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        if _nonfinite(o):
            kind = "NaN" if bool(_xp_of(o).isnan(o).any()) else "Inf"
            raise RuntimeError(
                f"detect_anomaly: forward of {name} produced {kind} values "
                f"(input shapes: {_shapes(arrays)})"
            )


def check_backward(node: Any, grads: Any) -> None:
    """Called by the engine in anomaly mode after a node's backward."""
    for i, g in enumerate(grads):
        if g is not None and _nonfinite(getattr(g, "_data", g)):
            info = getattr(node, "_anomaly", None)
            name = info[0] if info else type(node).__name__
            shapes = info[1] if info else "?"
            where = f"\nThe op was created at:\n{info[2]}" if info else ""
            raise RuntimeError(
                f"detect_anomaly: backward of {name} returned NaN/Inf in the gradient of input {i}"
                f" (input shapes: {shapes}){where}"
            )
