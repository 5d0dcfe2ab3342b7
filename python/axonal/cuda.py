"""``axonal.cuda``: is the CUDA backend built, and is a GPU usable? Safe to call anywhere."""

from __future__ import annotations

try:  # the _cuda extension exists only in CUDA builds
    from . import _cuda  # type: ignore[attr-defined]
except ImportError:  # CPU-only build, or the CUDA runtime library is missing
    _cuda = None


def is_built() -> bool:
    """True when this package was compiled with the CUDA extension."""
    return _cuda is not None


def device_count() -> int:
    """Number of CUDA devices visible (0 without a build, a driver or a GPU)."""
    if _cuda is None:
        return 0
    try:
        return int(_cuda.device_count())
    except RuntimeError:
        return 0


def is_available() -> bool:
    """True when the CUDA extension is built and at least one GPU can be used."""
    return device_count() > 0


def get_device_name(device: int = 0) -> str:
    if not is_available():
        raise RuntimeError("axonal.cuda.get_device_name: no CUDA device is available")
    return str(_cuda.device_properties(device)["name"])


def get_device_properties(device: int = 0) -> dict:
    if not is_available():
        raise RuntimeError("axonal.cuda.get_device_properties: no CUDA device is available")
    return dict(_cuda.device_properties(device))
