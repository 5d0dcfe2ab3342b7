"""Data types. An axonal dtype *is* a ``numpy.dtype`` (``axonal.float32 == np.dtype("float32")``).

Names follow PyTorch: ``float32``/``float``, ``float64``/``double``, ``float16``/``half``,
``int64``/``long``, ``int32``/``int``, ``int16``/``short``, ``int8``, ``uint8``, ``bool``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_default_float = float32

_NAMES = {
    "float16": float16,
    "half": float16,
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
    "int8": int8,
    "int16": int16,
    "short": int16,
    "int32": int32,
    "int": int32,
    "int64": int64,
    "long": int64,
    "uint8": uint8,
    "bool": bool_,
}


def get_default_dtype() -> np.dtype:
    """The dtype of floating-point tensors created from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating-point dtype (``axonal.float32`` or ``axonal.float64``)."""
    global _default_float
    d = as_dtype(dtype)
    if d not in (float32, float64, float16):
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default_float = d


def as_dtype(dtype: Any) -> np.dtype:
    """Turn ``axonal.float32``, ``"float32"``, ``np.float32``, ``float`` or a torch dtype into a
    ``numpy.dtype``."""
    if type(dtype) is np.dtype or isinstance(dtype, np.dtype):
        return dtype
    if dtype is float:
        return _default_float
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str):
        d = _NAMES.get(dtype.replace("torch.", ""))
        if d is not None:
            return d
    mod = type(dtype).__module__
    if mod.startswith("torch"):
        name = str(dtype).replace("torch.", "")
        if name in _NAMES:
            return _NAMES[name]
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


def is_floating_point(dtype: np.dtype) -> bool:
    return dtype.kind == "f"
