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
