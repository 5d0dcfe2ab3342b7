"""More activation modules (PyTorch's names, arguments and reprs): thin wrappers over
``axonal.nn.functional_activation``. ``PReLU`` holds a learnable ``weight``."""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional

from .. import empty
from ..tensor import Tensor
from . import functional_activation as FA
from . import init as _init
from .module import Module
from .parameter import Parameter

__all__ = [
    "ReLU6",
    "Hardtanh",
    "SELU",
    "CELU",
    "Mish",
    "Softsign",
    "LogSigmoid",
    "Hardswish",
    "Hardsigmoid",
    "Softmin",
    "Tanhshrink",
    "Softshrink",
    "Hardshrink",
    "Threshold",
    "GLU",
    "PReLU",
]


def _inplace_str(inplace: bool, lead: str = ", ") -> str:
    return f"{lead}inplace=True" if inplace else ""


class Hardtanh(Module):
    """``min(max(x, min_val), max_val)``. ``min_value`` / ``max_value`` are PyTorch's deprecated
    spellings of ``min_val`` / ``max_val``."""

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: Optional[float] = None,
        max_value: Optional[float] = None,
    ) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn(
                "keyword argument `min_value` is deprecated and renamed to `min_val`",
                FutureWarning,
                stacklevel=2,
            )
            min_val = min_value
        if max_value is not None:
            warnings.warn(
                "keyword argument `max_value` is deprecated and renamed to `max_val`",
                FutureWarning,
                stacklevel=2,
            )
            max_val = max_value
        for name, v in (("min_val", min_val), ("max_val", max_val)):
            FA._real_arg(type(self).__name__, name, v)
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise AssertionError(
                f"{type(self).__name__}: max_val ({self.max_val}) must be greater than min_val "
                f"({self.min_val})"
            )

    def forward(self, x: Tensor) -> Tensor:
        return FA.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, x: Tensor) -> Tensor:
        return FA.relu6(x, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class SELU(Module):
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` (self-normalising)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return FA.selu(x, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class CELU(Module):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        FA._real_arg("CELU", "alpha", alpha)
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return FA.celu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class Mish(Module):
    """``x * tanh(softplus(x))``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return FA.mish(x, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_str(self.inplace, "")


class Softsign(Module):
    """``x / (1 + |x|)``."""

    def forward(self, x: Tensor) -> Tensor:
        return FA.softsign(x)


class LogSigmoid(Module):
    """``log(sigmoid(x))``."""

    def forward(self, x: Tensor) -> Tensor:
        return FA.logsigmoid(x)


class Hardswish(Module):
    """``x * relu6(x + 3) / 6``. (No ``extra_repr``, like PyTorch.)"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return FA.hardswish(x, self.inplace)


class Hardsigmoid(Module):
    """``relu6(x + 3) / 6``. (No ``extra_repr``, like PyTorch.)"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return FA.hardsigmoid(x, self.inplace)


class Softmin(Module):
    """``softmax(-x)`` along ``dim`` (None: PyTorch's deprecated implicit choice, with a
    warning)."""

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return FA.softmin(x, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Tanhshrink(Module):
    """``x - tanh(x)``."""

    def forward(self, x: Tensor) -> Tensor:
        return FA.tanhshrink(x)


class Softshrink(Module):
    """Soft shrinkage by ``lambd`` (>= 0)."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        FA._real_arg("Softshrink", "lambd", lambd)
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return FA.softshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Module):
    """Hard shrinkage: ``x`` where ``|x| > lambd``, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        FA._real_arg("Hardshrink", "lambd", lambd)
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return FA.hardshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Threshold(Module):
    """``x`` where ``x > threshold``, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        FA._real_arg("Threshold", "threshold", threshold)
        FA._real_arg("Threshold", "value", value)
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return FA.threshold(x, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_str(self.inplace)}"


class GLU(Module):
    """Gated linear unit: the input halved along ``dim`` into ``a, b``; ``a * sigmoid(b)``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return FA.glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """``max(0, x) + weight * min(0, x)`` with a learnable ``weight`` of ``num_parameters``
    elements, all set to ``init``: one shared slope (1), or one per channel along dim 1 (C)."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        if (
            isinstance(num_parameters, bool)
            or not isinstance(num_parameters, numbers.Integral)
            or num_parameters < 0
        ):
            raise ValueError(
                f"PReLU: num_parameters must be a non-negative int, got {num_parameters!r}"
            )
        FA._real_arg("PReLU", "init", init)
        self.num_parameters = int(num_parameters)
        self.init = init
        self.weight = Parameter(empty((num_parameters,), dtype=dtype))
        self.reset_parameters()
        if device is not None and str(device) != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        _init.constant_(self.weight, self.init)

    def forward(self, x: Tensor) -> Tensor:
        return FA.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
