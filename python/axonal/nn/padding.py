"""Padding layers (PyTorch names): ``ZeroPad1d/2d``, ``ConstantPad1d/2d``, ``ReflectionPad1d/2d``,
``ReplicationPad1d/2d``, ``CircularPad1d/2d``; ``padding`` an int (every side) or a tuple
(left, right[, top, bottom])."""

from __future__ import annotations

from typing import Any

from .. import ops
from ..tensor import Tensor
from .module import Module

__all__ = [
    "ZeroPad1d",
    "ZeroPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "CircularPad1d",
    "CircularPad2d",
]


class _PadNd(Module):
    _nd = 2
    _mode = "constant"

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        name, n = type(self).__name__, 2 * self._nd
        if isinstance(padding, int) and not isinstance(padding, bool):
            padding = (padding,) * n
        if (
            not isinstance(padding, (tuple, list))
            or len(padding) != n
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in padding)
        ):
            raise ValueError(
                f"{name}: padding must be an int or a tuple of {n} ints, got {padding!r}"
            )
        self.padding, self.value = tuple(padding), float(value)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() not in (self._nd + 1, self._nd + 2):
            name, nd = type(self).__name__, self._nd
            raise ValueError(
                f"{name}: expected a {nd + 1}-D or {nd + 2}-D input, got shape {tuple(x.shape)}"
            )
        if self._mode == "constant":
            return ops.pad(x, self.padding, "constant", self.value)
        return ops.pad(x, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if type(self).__name__.startswith(
            "ConstantPad") else "")  # fmt: skip


class ConstantPad1d(_PadNd):
    """Pad the last dimension of (N, C, L) / (C, L) inputs with ``value``."""

    _nd = 1


class ConstantPad2d(_PadNd):
    """Pad the last two dimensions of (N, C, H, W) / (C, H, W) inputs with ``value``."""

    _nd = 2


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class ReflectionPad1d(_PadNd):
    """Mirror the last dimension at its ends (the edge not repeated; padding < size)."""

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirror the last two dimensions at their ends (padding < size)."""

    _nd, _mode = 2, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dimension."""

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two dimensions."""

    _nd, _mode = 2, "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last dimension around (padding <= size)."""

    _nd, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Wrap the last two dimensions around (padding <= size)."""

    _nd, _mode = 2, "circular"
