"""Fixtures shared by the kernel tests: ``simd`` runs a test once per SIMD path the CPU supports
(portable C++, AVX2/FMA, AVX-512F: each path's kernels and its dispatch), ``threads`` once on one
and once on two threads; both restore the previous setting."""

import pytest

from axonal import _cpu

SIMD_PATHS = (
    ["portable"]
    + (["avx2"] if _cpu.has_avx2_fma() else [])
    + (["avx512"] if _cpu.has_avx512f() else [])
)


@pytest.fixture(params=SIMD_PATHS)
def simd(request):
    old = _cpu.simd_path()
    _cpu.set_simd_path(request.param)
    yield request.param
    _cpu.set_simd_path(old)


@pytest.fixture(params=[1, 2])
def threads(request):
    old = _cpu.get_num_threads()
    _cpu.set_num_threads(request.param)
    yield request.param
    _cpu.set_num_threads(old)
