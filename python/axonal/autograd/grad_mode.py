"""Gradient recording mode: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

The mode is one module global (``grad_mode.enabled``) read by every op: cheap to check. It is
process-wide, not per thread.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

enabled = True  # read directly by Function.apply


def is_grad_enabled() -> bool:
    """True when ops record autograd history."""
    return enabled


class _Mode:
    """Base for the mode context managers; each instance also works as a function decorator."""

    _value = True

    def __new__(cls, func: Any = None) -> Any:
        self = super().__new__(cls)
        self._prev = []
        if func is not None and callable(func):  # used as a bare decorator: @no_grad
            return self(func)
        return self

    def __init__(self, func: Any = None) -> None:
        pass

    def __enter__(self) -> None:
        global enabled
        self._prev.append(enabled)
        enabled = self._value

    def __exit__(self, *exc: Any) -> None:
        global enabled
        enabled = self._prev.pop()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_Mode):
    """Context manager / decorator: ops inside record no history (outputs don't require grad)."""

    _value = False


class enable_grad(_Mode):
    """Context manager / decorator: turn recording back on (e.g. inside ``no_grad``)."""

    _value = True


class inference_mode(_Mode):
    """Like ``no_grad`` (kept for PyTorch compatibility; ``inference_mode(False)`` is a no-op)."""

    _value = False

    def __new__(cls, mode: Any = True) -> Any:
        self = object.__new__(cls)
        self._prev = []
        self._on = True
        if callable(mode):  # bare decorator: @inference_mode
            return self(mode)
        return self

    def __init__(self, mode: Any = True) -> None:
        self._on = True if callable(mode) else bool(mode)

    def __enter__(self) -> None:
        global enabled
        self._prev.append(enabled)
        if self._on:
            enabled = False

    def __call__(self, fn: F) -> F:
        on = self._on

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(on):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class set_grad_enabled:
    """``set_grad_enabled(False)`` as a call switches recording off; as a context manager it
    restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        global enabled
        self._prev = enabled
        enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        global enabled
        enabled = self._prev
