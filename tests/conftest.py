import os
import zlib

import numpy as np
import pytest

import axonal


@pytest.fixture
def rng():
    """A NumPy generator per test, seeded from the test's name: different data in every test,
    the same data on every run (a failure reproduces). ``AXONAL_TEST_SEED=N`` draws fresh data."""
    name = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    seed = zlib.crc32(name.encode()) ^ int(os.environ.get("AXONAL_TEST_SEED", "0"))
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
