"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d`` and their 1-D forms for
(N, C, L) signals (PyTorch semantics)."""

from __future__ import annotations

from typing import Any, Optional

from ..tensor import Tensor
from . import functional_conv as FC
from .module import Module

__all__ = [
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "MaxPool1d",
    "AvgPool1d",
    "AdaptiveAvgPool1d",
    "MaxPool3d",
    "AvgPool3d",
    "AdaptiveAvgPool3d",
]


def _check_static(name: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> tuple:
    k = FC._tuple(name, "kernel_size", kernel_size, 2, 1)
    if stride is not None:
        FC._tuple(name, "stride", stride, 2, 1)
    p = FC._tuple(name, "padding", padding, 2, 0)
    FC._tuple(name, "dilation", dilation, 2, 1)
    FC._check_pool_padding(name, p, k)
    return k


def _check_static_1d(name: str, kernel_size: Any, padding: Any) -> None:
    k = FC._tuple(name, "kernel_size", kernel_size, 1, 1)[0]
    if FC._tuple(name, "padding", padding, 1, 0)[0] > k // 2:
        raise ValueError(f"{name}: padding {padding} must be at most half of kernel_size {k}")


class _MaxPoolNd(Module):
    """The arguments and repr shared by ``MaxPool1d/2d/3d`` (validated by the subclass)."""

    def __init__(
        self, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = bool(ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class _AvgPoolNd(Module):
    """The arguments and repr shared by ``AvgPool1d/2d/3d`` (validated by the subclass)."""

    def __init__(
        self, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, count_include_pad: bool
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool2d(_MaxPoolNd):
    """Max over ``kernel_size`` windows of ``(N, C, H, W)`` or ``(C, H, W)`` inputs.

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) pads with -inf;
    ``ceil_mode`` rounds the output size up (the last window must start inside the input);
    ``return_indices`` also returns the flat ``h * W + w`` index of every maximum (int64).
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        _check_static("MaxPool2d", kernel_size, stride, padding, dilation)
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = bool(return_indices)

    def forward(self, x: Tensor) -> Any:
        return FC._max_pool2d(
            "MaxPool2d",
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )


class AvgPool2d(_AvgPoolNd):
    """Mean over ``kernel_size`` windows. ``count_include_pad`` (default True) divides by the
    full window size, zero padding included; ``divisor_override`` replaces the divisor."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: Optional[int] = None,
    ) -> None:
        _check_static("AvgPool2d", kernel_size, stride, padding, 1)
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return FC._avg_pool2d(
            "AvgPool2d",
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed ``output_size`` (int or pair; None keeps that dimension):
    ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def forward(self, x: Tensor) -> Tensor:
        return FC._adaptive_avg_pool2d("AdaptiveAvgPool2d", x, self.output_size)


class MaxPool1d(_MaxPoolNd):
    """Max over ``kernel_size`` windows of ``(N, C, L)`` or ``(C, L)`` inputs (``stride``
    defaults to ``kernel_size``; ``padding`` at most half the kernel, -inf; ``return_indices``
    also returns each maximum's position along L)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        _check_static_1d("MaxPool1d", kernel_size, padding)
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = bool(return_indices)

    def forward(self, x: Tensor) -> Any:
        return FC.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, self.return_indices)  # fmt: skip


class AvgPool1d(_AvgPoolNd):
    """Mean over ``kernel_size`` windows of ``(N, C, L)`` or ``(C, L)`` inputs;
    ``count_include_pad`` (default True) divides by the full window, zero padding included."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        _check_static_1d("AvgPool1d", kernel_size, padding)
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        return FC.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad)  # fmt: skip


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of ``(N, C, L)`` signals to ``output_size`` positions:
    ``AdaptiveAvgPool1d(1)`` is global average pooling over time."""

    def forward(self, x: Tensor) -> Tensor:
        return FC.adaptive_avg_pool1d(x, self.output_size)


class MaxPool3d(_MaxPoolNd):
    """Max over ``kernel_size`` windows of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` volumes
    (``return_indices`` not supported)."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        if return_indices:
            raise NotImplementedError("MaxPool3d: return_indices is not supported")
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)

    def forward(self, x: Tensor) -> Tensor:
        from .functional_3d import max_pool3d

        return max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode)  # fmt: skip


class AvgPool3d(_AvgPoolNd):
    """Mean over ``kernel_size`` windows of ``(N, C, D, H, W)`` volumes; ``count_include_pad``
    (default True) divides by the window size, zero padding included."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: Optional[int] = None,
    ) -> None:
        if divisor_override is not None:
            raise NotImplementedError("AvgPool3d: divisor_override is not supported")
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        from .functional_3d import avg_pool3d

        return avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)  # fmt: skip


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average pooling of volumes to a fixed ``output_size`` (int or triple; None keeps a
    dimension): ``AdaptiveAvgPool3d(1)`` is global average pooling."""

    def forward(self, x: Tensor) -> Tensor:
        from .functional_3d import adaptive_avg_pool3d

        return adaptive_avg_pool3d(x, self.output_size)
