"""Backend registry: "numpy" (the pure-NumPy oracle), "cpu" (the C++ kernels), "cuda" (later).

Every backend module exposes the same function names and signatures, so tests can compare any
backend with ``numpy`` on the same inputs::

    from axonal import backend
    ref, cpu = backend.get("numpy"), backend.get("cpu")
    np.testing.assert_allclose(cpu.gemm(a, b), ref.gemm(a, b), rtol=1e-5)
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

_MODULES = {"numpy": "numpy_ref", "cpu": "cpu", "cuda": "cuda"}


def available() -> list:
    """Names of the backends that can run here."""
    names = ["numpy", "cpu"]
    from .. import cuda

    if cuda.is_available():
        names.append("cuda")
    return names


def get(name: str) -> ModuleType:
    """The backend module called ``name`` ("numpy", "cpu" or "cuda")."""
    if name not in _MODULES:
        raise ValueError(f"backend.get: unknown backend {name!r}; expected one of {list(_MODULES)}")
    if name == "cuda":
        from .. import cuda

        if not cuda.is_available():
            raise RuntimeError("backend.get('cuda'): no CUDA build or no GPU is available")
    return importlib.import_module(f".{_MODULES[name]}", __name__)


# ------------------------------------------------------------------ kernel dispatch
# (CuPy ndarray type, backend.cuda) once resolved; () when our CUDA kernels cannot run here.
_KERNELS: Any = None


def _resolve_kernels() -> Any:
    global _KERNELS
    from .. import cuda

    found: Any = ()
    if cuda.is_built() and cuda.is_available():
        try:
            import cupy

            found = (cupy.ndarray, importlib.import_module(".cuda", __name__))
        except ImportError:
            found = ()
    _KERNELS = found
    return found


def kernels_for(a: Any) -> Any:
    """The backend module whose hand-written kernels should compute an op on array ``a``:
    ``backend.cuda`` for a CuPy array when the ``_cuda`` extension is built and a GPU is usable,
    else None (NumPy arrays take the ops' own CPU paths; CuPy arrays without our kernels take the
    generic ``xp`` code). One cached decision, so the cost per op is two type checks."""
    if type(a) is np.ndarray:
        return None
    k = _KERNELS
    if k is None:
        k = _resolve_kernels()
    if k and type(a) is k[0]:
        return k[1]
    return None
