"""axonal.nn.functional conv / pooling with geometry that overflows 64-bit index arithmetic or
PyTorch's 32-bit pooling arguments: a ValueError naming the op, before any kernel runs."""

from __future__ import annotations

import pytest
from isolated import raises

import axonal
import axonal.nn.functional as F


def _no_kernel(name, a=None):
    raise AssertionError(f"kernel {name} reached: the Python layer must reject the arguments")


@pytest.fixture
def xw(monkeypatch):
    # validated in Python, so that every backend (NumPy, CPU, CUDA) is protected
    monkeypatch.setattr("axonal.nn.functional_conv._kernel", _no_kernel)
    axonal.manual_seed(0)
    return axonal.randn(2, 3, 8, 8), axonal.randn(4, 3, 5, 5)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        # 2 * padding wrapped in the kernel: a (2, 4, 2, 2) tensor of zeros came back
        (dict(padding=2**63 - 1), "padding"),
        (dict(padding=2**61), "padding"),  # NumPy's "array is too big", no op named
        (dict(padding=(0, 2**62)), "padding"),
    ],
)
def test_conv2d_padding_beyond_2_62(xw, kwargs, fragment):
    x, w = xw
    with pytest.raises(ValueError, match=rf"conv2d: .*{fragment}.*below 2\^62"):
        F.conv2d(x, w, **kwargs)


def test_conv2d_stride_beyond_int64(xw):
    x, w = xw  # was pybind11's RuntimeError "Unable to cast Python instance of type int ..."
    with pytest.raises(ValueError, match=r"conv2d: stride .* 64-bit"):
        F.conv2d(x, w, stride=2**64)


def test_conv1d_padding_beyond_2_62(monkeypatch):
    x, w = axonal.randn(1, 2, 40), axonal.randn(3, 2, 1)
    # a 1-tap kernel has extent 1 whatever the dilation: fine ...
    assert F.conv1d(x, w, dilation=2**62).shape == (1, 3, 40)
    # ... padding to 2^62 is not (the padded size wraps in the kernels)
    monkeypatch.setattr("axonal.nn.functional_conv._kernel", _no_kernel)
    with pytest.raises(ValueError, match=r"conv1d: .*below 2\^62"):
        F.conv1d(x, w, padding=2**61)


@pytest.mark.parametrize(
    "call",
    [
        "F.max_pool2d(x, 2**40, padding=2**39)",  # a hang: the window check walked 2^39 taps
        "F.avg_pool2d(x, 2**40, padding=2**39)",  # MemoryError (std::bad_alloc) in the kernel
        "F.max_pool2d(x, 2, stride=2**31)",
        "F.max_pool2d(x, 3, dilation=2**62)",
    ],
)
def test_pool_arguments_beyond_int32(call):
    code = (
        "import axonal.nn.functional as F\n"
        "import axonal.nn.functional_conv as FC\n"
        "FC._kernel = lambda *a: sys.exit('kernel reached')\n"
        f"x = axonal.randn(2, 3, 8, 8)\n{call}"
    )
    raises(code, "ValueError", call[2:12].rstrip("("), "2^31 - 1", timeout=30)


def test_avg_pool2d_divisor_override_beyond_int64(monkeypatch):
    monkeypatch.setattr("axonal.nn.functional_conv._kernel", _no_kernel)
    x = axonal.randn(1, 1, 4, 4)  # was pybind11's RuntimeError "Unable to cast ..."
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override .* 64-bit"):
        F.avg_pool2d(x, 2, divisor_override=2**64)


def test_pool_limits_keep_valid_arguments():
    x = axonal.randn(1, 1, 5, 5)
    assert F.max_pool2d(x, 2, stride=2**31 - 1).shape == (1, 1, 1, 1)
    assert F.avg_pool2d(x, 2, divisor_override=2**62).shape == (1, 1, 2, 2)
