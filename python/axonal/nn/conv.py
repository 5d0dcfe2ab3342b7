"""Convolution layers ``Conv1d``, ``Conv2d`` and the transposed ``ConvTranspose1d``,
``ConvTranspose2d`` (PyTorch names, arguments and initialisation)."""

from __future__ import annotations

import math
from typing import Any, Tuple, Union

import numpy as np

from .. import empty
from ..tensor import Tensor
from . import functional_conv as FC
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "Dropout2d"]


def _check_channels(name: str, in_channels: Any, out_channels: Any, groups: Any) -> None:
    """Channel counts and ``groups``: positive ints, both counts divisible by ``groups``."""
    for what, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not FC._is_int(v) or v <= 0:
            raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
    if not FC._is_int(groups) or groups <= 0:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    for what, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        if v % groups:
            raise ValueError(f"{name}: {what}={v} must be divisible by groups={groups}")


def _init_weight_bias(m: Module, shape: tuple, bias: bool, dtype: Any, device: Any) -> None:
    """``m.weight`` of ``shape`` and ``m.bias`` (``(m.out_channels,)`` or None), initialised by
    ``m.reset_parameters()``, then moved to ``device``."""
    dtype = np.float32 if dtype is None else dtype
    m.weight = Parameter(empty(shape, dtype=dtype))
    if bias:
        m.bias = Parameter(empty((m.out_channels,), dtype=dtype))
    else:
        m.register_parameter("bias", None)
    m.reset_parameters()
    if device is not None and str(device) != "cpu":
        m.to(device)


class _ConvNd(Module):
    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        _check_channels(name, in_channels, out_channels, groups)
        self.kernel_size = FC._tuple(name, "kernel_size", kernel_size, nd, 1)
        self.stride = FC._tuple(name, "stride", stride, nd, 1)
        self.dilation = FC._tuple(name, "dilation", dilation, nd, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions "
                    f"(stride {self.stride})"
                )
            self.padding: Union[str, Tuple[int, ...]] = padding
        else:
            self.padding = FC._tuple(name, "padding", padding, nd, 0)
        if padding_mode not in FC._PAD_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {list(FC._PAD_MODES)}, got {padding_mode!r}"
            )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        _init_weight_bias(self, shape, bias, dtype, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)), and the bias from the same range; fan_in = C/groups * prod(kernel)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return FC._conv(
            type(self).__name__,
            self._nd,
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.padding_mode,
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._nd:
            s += (
                f", padding={self.padding!r}"
                if isinstance(self.padding, str)
                else (f", padding={self.padding}")
            )
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``) inputs.

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True, padding_mode='zeros')``. ``padding``: int, pair, ``'valid'`` or ``'same'``;
    ``groups=in_channels`` gives a depthwise convolution; ``padding_mode`` may also be
    ``'reflect'``, ``'replicate'`` or ``'circular'``. Weight ``(C_out, C_in / groups, kH, kW)``.
    """

    _nd = 2


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)`` (or unbatched ``(C_in, L)``) inputs; the same
    arguments as :class:`Conv2d` with one spatial dimension. Weight ``(C_out, C_in / groups, k)``.
    """

    _nd = 1


class Conv3d(_ConvNd):
    """3-D convolution over ``(N, C_in, D, H, W)`` (or unbatched ``(C_in, D, H, W)``) volumes
    (CT, MRI): the arguments of :class:`Conv2d` with three spatial dimensions (``padding_mode``
    'zeros' only). Weight ``(C_out, C_in / groups, kD, kH, kW)``. Runs one conv2d per kernel depth
    on the conv2d kernels (``F.conv3d``)."""

    _nd = 3

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        mode = kwargs.get("padding_mode", args[8] if len(args) > 8 else "zeros")
        if mode != "zeros":
            raise ValueError(f"Conv3d: only padding_mode='zeros' is supported, got {mode!r}")
        super().__init__(*args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        from .functional_3d import conv3d

        return conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)  # fmt: skip


class _ConvTransposeNd(Module):
    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        _check_channels(name, in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(
                f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}"
            )
        self.kernel_size = FC._tuple(name, "kernel_size", kernel_size, nd, 1)
        self.stride = FC._tuple(name, "stride", stride, nd, 1)
        self.padding = FC._tuple(name, "padding", padding, nd, 0)
        self.output_padding = FC._tuple(name, "output_padding", output_padding, nd, 0)
        self.dilation = FC._tuple(name, "dilation", dilation, nd, 1)
        for v, st, di in zip(self.output_padding, self.stride, self.dilation):
            if v >= max(st, di):
                raise ValueError(
                    f"{name}: output_padding {self.output_padding} must be smaller than either "
                    f"stride {self.stride} or dilation {self.dilation}"
                )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.groups, self.padding_mode = int(groups), padding_mode
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        _init_weight_bias(self, shape, bias, dtype, device)

    reset_parameters = _ConvNd.reset_parameters  # fan_in = weight.shape[1] * prod(kernel), as torch

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        return FC._conv_transpose(type(self).__name__, self._nd, x, self.weight, self.bias,
                                  self.stride, self.padding, self.output_padding, self.groups,
                                  self.dilation, output_size)  # fmt: skip

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over ``(N, C_in, H, W)`` (or ``(C_in, H, W)``) inputs: the
    learned up-sampling of U-Nets and decoders. ``ConvTranspose2d(in_channels, out_channels,
    kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1)``;
    weight ``(C_in, C_out / groups, kH, kW)``; ``forward(x, output_size=None)`` picks the output
    padding that gives ``output_size``. Output size per axis ``(n - 1) stride - 2 padding +
    dilation (k - 1) + output_padding + 1``."""

    _nd = 2


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over ``(N, C_in, L)`` (or ``(C_in, L)``) inputs; the same
    arguments as :class:`ConvTranspose2d` with one spatial dimension."""

    _nd = 1


class Dropout2d(Module):
    """Channel dropout: zero whole channels of ``(N, C, H, W)`` (or ``(C, H, W)``) inputs with
    probability ``p`` in training and scale the others by ``1 / (1 - p)``; identity in eval mode.
    Masks come from the library generator, so ``axonal.manual_seed`` makes them repeatable."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: dropout probability has to be between 0 and 1, got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return FC.dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
