"""Resizing layers: ``Upsample`` (``F.interpolate`` as a module), ``UpsamplingNearest2d``,
``UpsamplingBilinear2d`` (PyTorch names and arguments)."""

from __future__ import annotations

from typing import Any, Optional

from ..tensor import Tensor
from .functional_resample import _MODES, interpolate
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Resize ``(N, C, L)`` / ``(N, C, H, W)`` inputs to ``size`` or by ``scale_factor``;
    ``mode`` 'nearest' (default), 'nearest-exact', 'linear' or 'bilinear' (see
    ``F.interpolate``). The non-learned up-sampling of U-Net decoders."""

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: Optional[bool] = None,
        recompute_scale_factor: Optional[bool] = None,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"Upsample: mode must be one of {sorted(_MODES)}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: exactly one of size and scale_factor must be given")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)  # fmt: skip

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode='nearest')`` for ``(N, C, H, W)`` inputs."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode='bilinear', align_corners=True)`` for ``(N, C, H, W)`` inputs."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, "bilinear", align_corners=True)
