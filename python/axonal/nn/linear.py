"""The fully-connected layer ``Linear`` (y = x W^T + b)."""

from __future__ import annotations

import math

import numpy as np

from .. import empty
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Linear"]


class Linear(Module):
    """``y = x @ weight.T + bias`` on the last dimension of ``x``.

    weight: ``(out_features, in_features)``, bias: ``(out_features,)``. Initialised like PyTorch:
    ``kaiming_uniform_(weight, a=sqrt(5))`` (i.e. U(-1/sqrt(in), 1/sqrt(in))) and
    bias ~ U(-1/sqrt(in), 1/sqrt(in)), from the library's seeded generator.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype=None, device=None
    ) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {v!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(empty((self.out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None and str(device) != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
