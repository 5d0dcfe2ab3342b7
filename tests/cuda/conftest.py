"""Fixtures of the CUDA tests. The GPU modules skip themselves (with the reason) when there is no
CUDA build, no GPU or no CuPy; test_cuda_emulation.py and test_cuda_flags.py run without a GPU."""

import pytest


@pytest.fixture
def tf32():
    """Turns axonal.backends.cuda.matmul.allow_tf32 on for one test, and back afterwards."""
    from axonal.backends import cuda as flags

    old = flags.matmul.allow_tf32
    flags.matmul.allow_tf32 = True
    yield
    flags.matmul.allow_tf32 = old


@pytest.fixture
def no_tf32():
    from axonal.backends import cuda as flags

    old = flags.matmul.allow_tf32
    flags.matmul.allow_tf32 = False
    yield
    flags.matmul.allow_tf32 = old
