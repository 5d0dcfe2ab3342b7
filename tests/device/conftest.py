"""Fixtures of the device tests: a NumPy-backed fake CuPy (fake_cupy.py) stands in for the GPU.

Every test here runs with ``cupy`` / ``cupyx`` in ``sys.modules`` pointing at the fake,
``axonal.cuda.is_available()`` answering True and ``axonal.cuda.is_built()`` False; all are
undone after each test, so the rest of the suite never sees them. Where the ``_cuda`` extension
is built (CI builds it wherever nvcc exists) its kernels would be handed the fake's host
pointers, so the fake also hides the build: ops take the generic CuPy (``xp``) path, and
tests/device/test_dispatch.py checks the kernel dispatch with a recording stand-in.
A test marked ``@pytest.mark.real_cuda_state`` runs without the fake (e.g. "no CUDA" errors).
"""

import sys

import fake_cupy
import numpy as np
import pytest

import axonal
import axonal.backend


def pytest_configure(config):
    config.addinivalue_line("markers", "real_cuda_state: run without the fake CuPy")


@pytest.fixture(autouse=True)
def fake_cuda(request, monkeypatch):
    """Install the fake CuPy as ``cupy`` for one test (skipped for real_cuda_state tests)."""
    if request.node.get_closest_marker("real_cuda_state"):
        yield None
        return
    if "cupy" in sys.modules and sys.modules["cupy"] is not fake_cupy:
        pytest.skip("a real CuPy is imported in this process; the fake cannot replace it")
    for name, mod in fake_cupy.MODULES.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(axonal.cuda, "is_available", lambda: True)
    monkeypatch.setattr(axonal.cuda, "is_built", lambda: False)  # no real kernels on the fake
    monkeypatch.setattr(axonal.backend, "_KERNELS", None)  # resolve the dispatch again
    yield fake_cupy
    # monkeypatch removes the modules again; the dispatch cache must not keep the fake
    monkeypatch.setattr(axonal.backend, "_KERNELS", None)


@pytest.fixture
def host():
    """``host(x)``: a Tensor / fake-cupy array / array as a NumPy array (explicit transfer)."""

    def f(x):
        if isinstance(x, axonal.Tensor):
            x = x.detach()._data
        if type(x) is fake_cupy.ndarray:
            return x.get()
        return np.asarray(x)

    return f
