import os

import numpy as np
import pytest

import axonal


@pytest.fixture
def rng():
    """A fresh NumPy generator per test, seeded from the test's name (repeatable, varied)."""
    seed = abs(hash(os.environ.get("PYTEST_CURRENT_TEST", ""))) % (2**32)
    return np.random.default_rng(seed)


def _cuda_params():
    marks = []
    if not axonal.cuda.is_available():
        marks.append(pytest.mark.skip(reason="no CUDA build or no GPU on this machine"))
    return pytest.param("cuda", marks=marks)


@pytest.fixture(params=["cpu", _cuda_params()])
def device(request):
    """Run a test on every device: "cpu" always, "cuda" where a GPU and the CUDA build exist."""
    return request.param
