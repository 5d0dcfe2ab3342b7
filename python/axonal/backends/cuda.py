"""``axonal.backends.cuda``: flags of the CUDA backend (importable without a GPU or CuPy).

import axonal.backends.cuda
axonal.backends.cuda.matmul.allow_tf32 = True   # float32 GEMMs on TF32 tensor cores
"""

from __future__ import annotations


class _MatmulFlags:
    """``allow_tf32``: float32 GEMM / matmul on the GPU may use TF32 tensor cores (inputs rounded
    to 10 mantissa bits, float32 accumulation). Default False: full float32 (SIMT kernel)."""

    __slots__ = ("_allow_tf32",)

    def __init__(self) -> None:
        self._allow_tf32 = False

    @property
    def allow_tf32(self) -> bool:
        return self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        if not isinstance(value, (bool, int)):
            raise TypeError(
                f"axonal.backends.cuda.matmul.allow_tf32 must be a bool, got {type(value).__name__}"
            )
        self._allow_tf32 = bool(value)

    def __repr__(self) -> str:
        return f"matmul(allow_tf32={self._allow_tf32})"


matmul = _MatmulFlags()

__all__ = ["matmul"]
