"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``.

Each runs as one fused autograd node (``axonal.nn.functional_conv``). BatchNorm keeps running
statistics like PyTorch: ``running = (1 - momentum) * running + momentum * batch_stat`` (variance
unbiased), ``momentum=None`` for a cumulative average, and uses them in eval mode.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from .. import ones, zeros
from ..tensor import Tensor, _new
from . import functional_conv as FC
from .module import Module
from .parameter import Parameter

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
]


def _positive_int(name: str, what: str, v: Any) -> int:
    if not FC._is_int(v) or v <= 0:
        raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
    return int(v)


def _eps(name: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f"{name}: eps must be a non-negative number, got {eps!r}")
    return float(eps)


def _affine_params(m: Module, affine: bool, c: int, dtype: Any) -> None:
    """``m.weight`` (ones) and ``m.bias`` (zeros) of ``c`` channels, or both None."""
    if affine:
        m.weight = Parameter(ones(c, dtype=dtype))
        m.bias = Parameter(zeros(c, dtype=dtype))
    else:
        m.register_parameter("weight", None)
        m.register_parameter("bias", None)


def _running_stats(m: Module, track: bool, c: int, dtype: Any, count: bool) -> None:
    """Buffers ``running_mean`` (zeros) and ``running_var`` (ones) of ``c`` channels, and with
    ``count`` an int64 ``num_batches_tracked``; all None when not ``track``."""
    m.register_buffer("running_mean", zeros(c, dtype=dtype) if track else None)
    m.register_buffer("running_var", ones(c, dtype=dtype) if track else None)
    if count:
        n = _new(np.array(0, dtype=np.int64)) if track else None
        m.register_buffer("num_batches_tracked", n)


def _reset_affine(m: Module) -> None:
    if m.affine:
        m.weight._data[...] = 1
        m.bias._data[...] = 0


class _BatchNorm(Module):
    _ranks: Tuple[int, ...] = (4,)
    _layout = "(N, C, H, W)"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: Optional[float] = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(name, "num_features", num_features)
        self.eps = _eps(name, eps)
        if momentum is not None and (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float))
            or not 0 <= momentum <= 1
        ):
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = np.float32 if dtype is None else dtype
        _affine_params(self, self.affine, self.num_features, dtype)
        _running_stats(self, self.track_running_stats, self.num_features, dtype, count=True)
        if device is not None and str(device) != "cpu":
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0
            for t in (self.running_mean, self.running_var, self.num_batches_tracked):
                t._vc[0] += 1

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        FC._tensor(name, "input", x)
        if x.ndim not in self._ranks:
            raise ValueError(
                f"{name}: expected a {' or '.join(f'{r}-D' for r in self._ranks)} input "
                f"{self._layout}, got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: input {tuple(x.shape)} has {x.shape[1]} channels, expected "
                f"num_features={self.num_features}"
            )
        factor = 0.0 if self.momentum is None else float(self.momentum)
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._vc[0] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return FC._batch_norm(
            name,
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs over N (and L), per channel.

    ``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``.
    Training with one value per channel raises ``ValueError``.
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs over N, H and W, per channel.

    Training: batch mean and biased variance, running statistics updated (unbiased variance,
    ``momentum`` or, with ``momentum=None``, a cumulative average). Eval: running statistics
    (or batch statistics when ``track_running_stats=False``).
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of ``(N, C, D, H, W)`` volumes over N, D, H and W per channel (the
    arguments and running statistics of :class:`BatchNorm2d`)."""

    _ranks = (5,)
    _layout = "(N, C, D, H, W)"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions of every sample, then an
    elementwise affine (``weight`` ones, ``bias`` zeros, shape ``normalized_shape``)."""

    def __init__(
        self,
        normalized_shape: Union[int, Sequence[int]],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        ns = (normalized_shape,) if FC._is_int(normalized_shape) else tuple(normalized_shape)
        if not ns or not all(FC._is_int(v) and v > 0 for v in ns):
            raise ValueError(
                f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}"
            )
        self.normalized_shape = tuple(int(v) for v in ns)
        self.eps = _eps("LayerNorm", eps)
        self.elementwise_affine = bool(elementwise_affine)
        dtype = np.float32 if dtype is None else dtype
        if self.elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if device is not None and str(device) != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        FC._tensor("LayerNorm", "input", x)
        shape = tuple(x.shape)
        ns = self.normalized_shape
        if len(shape) < len(ns) or shape[len(shape) - len(ns) :] != ns:
            raise ValueError(f"LayerNorm: input {shape} does not end with normalized_shape {ns}")
        return FC.layer_norm(x, ns, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class GroupNorm(Module):
    """Normalise ``(N, C, *)`` inputs over groups of ``C / num_groups`` channels (and every
    position) per sample, then a per-channel affine."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        g = _positive_int("GroupNorm", "num_groups", num_groups)
        c = _positive_int("GroupNorm", "num_channels", num_channels)
        if c % g:
            raise ValueError(f"GroupNorm: num_channels={c} must be divisible by num_groups={g}")
        self.num_groups, self.num_channels = g, c
        self.eps = _eps("GroupNorm", eps)
        self.affine = bool(affine)
        dtype = np.float32 if dtype is None else dtype
        _affine_params(self, self.affine, c, dtype)
        if device is not None and str(device) != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        FC._tensor("GroupNorm", "input", x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected an input (N, {self.num_channels}, ...), "
                f"got shape {tuple(x.shape)}"
            )
        return FC.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    _nd = 2

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        c = _positive_int(name, "num_features", num_features)
        self.num_features, self.eps = c, _eps(name, eps)
        self.momentum = momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = np.float32 if dtype is None else dtype
        _affine_params(self, self.affine, c, dtype)
        _running_stats(self, self.track_running_stats, c, dtype, count=False)
        if device is not None and str(device) != "cpu":
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        name, nd = type(self).__name__, self._nd
        FC._tensor(name, "input", x)
        unbatched = FC._as_batched(name, x, nd)
        xb = x.unsqueeze(0) if unbatched else x
        if xb.shape[1] != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(
                    f"{name}: expected {self.num_features} channels (num_features), got input "
                    f"{tuple(x.shape)}"
                )
            warnings.warn(
                f"{name}: input {tuple(x.shape)} has {xb.shape[1]} channels, num_features is "
                f"{self.num_features} (ignored without affine or running statistics)",
                stacklevel=2,
            )
        use_input_stats = self.training or not self.track_running_stats
        y = FC.instance_norm(xb, self.running_mean, self.running_var, self.weight, self.bias,
                             use_input_stats, self.momentum, self.eps)  # fmt: skip
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class InstanceNorm1d(_InstanceNorm):
    """Per-sample, per-channel normalisation of ``(N, C, L)`` or ``(C, L)`` signals over L
    (``affine`` and ``track_running_stats`` off by default, as PyTorch)."""

    _nd = 1


class InstanceNorm2d(_InstanceNorm):
    """Per-sample, per-channel normalisation of ``(N, C, H, W)`` or ``(C, H, W)`` images over
    H x W (the normalisation of nnU-Net-style segmentation networks and style transfer)."""

    _nd = 2
