"""axonal.cuda utilities and axonal.backends.cuda flags: the parts that hold on any machine, and
the device utilities where a GPU and CuPy exist."""

import numpy as np
import pytest

import axonal
import axonal.backends.cuda as flags
from axonal import backend


def test_status_is_consistent():
    assert isinstance(axonal.cuda.is_built(), bool)
    assert axonal.cuda.is_available() == (axonal.cuda.device_count() > 0)
    if not axonal.cuda.is_built():
        assert axonal.cuda.device_count() == 0
    assert ("cuda" in backend.available()) == axonal.cuda.is_available()


def test_allow_tf32_flag():
    old = flags.matmul.allow_tf32
    try:
        assert old is False  # the default: full float32
        flags.matmul.allow_tf32 = True
        assert flags.matmul.allow_tf32 is True
        assert "allow_tf32=True" in repr(flags.matmul)
        with pytest.raises(TypeError, match="allow_tf32 must be a bool"):
            flags.matmul.allow_tf32 = "yes"
        with pytest.raises(AttributeError):
            flags.matmul.allow_fp16 = True  # a typo must not pass silently
    finally:
        flags.matmul.allow_tf32 = old


@pytest.mark.skipif(axonal.cuda.is_available(), reason="checks the behaviour without a GPU")
def test_without_gpu():
    for fn in (
        axonal.cuda.synchronize,
        axonal.cuda.memory_allocated,
        axonal.cuda.mem_get_info,
        axonal.cuda.max_memory_allocated,
        axonal.cuda.current_device,
    ):
        with pytest.raises(RuntimeError, match="no CUDA device is available"):
            fn()
    axonal.cuda.manual_seed(3)  # ignored without a GPU, as torch.cuda.manual_seed
    axonal.cuda.manual_seed_all(3)
    axonal.cuda.empty_cache()
    with pytest.raises(RuntimeError, match="no CUDA build or no GPU"):
        backend.get("cuda")


@pytest.mark.skipif(not axonal.cuda.is_available(), reason="no CUDA build or no GPU")
def test_device_utilities():
    cp = pytest.importorskip("cupy", reason="CuPy is not installed")
    axonal.cuda.synchronize()
    free, total = axonal.cuda.mem_get_info()
    assert 0 < free <= total
    axonal.cuda.manual_seed(7)
    a = cp.asnumpy(cp.random.standard_normal(5))
    axonal.cuda.manual_seed(7)
    np.testing.assert_array_equal(a, cp.asnumpy(cp.random.standard_normal(5)))
    axonal.cuda.reset_peak_memory_stats()  # starts the peak tracking
    before = axonal.cuda.memory_allocated()
    x = cp.empty(1 << 24, dtype=cp.uint8)
    assert axonal.cuda.memory_allocated() >= before + (1 << 24)
    peak = axonal.cuda.max_memory_allocated()
    del x
    assert axonal.cuda.max_memory_allocated() == peak >= before + (1 << 24)
    axonal.cuda.reset_peak_memory_stats()
    assert axonal.cuda.max_memory_allocated() < peak
    assert axonal.cuda.get_device_name()
