"""Adversarial arguments to the raw ``axonal._cpu`` entry points: each must raise a Python exception
naming the op, never crash, hang or compute from memory outside its buffers."""

from __future__ import annotations

import pytest
from isolated import raises

pytest.importorskip("axonal._cpu")

_BUFS = "A = np.ones(10, np.float32); B = np.ones(10, np.float32); C = np.zeros(100, np.float32)"


@pytest.mark.parametrize(
    "call",
    [
        # (rows - 1) * ld wraps past 2^63: the size check passed and the kernel addressed memory
        # 2^65 bytes away (wrapped back into A) or 8 MiB past the end of C (segfault)
        "_cpu.gemm_raw(False, False, 3, 1, 1, 1.0, A, 2**62, B, 1, 0.0, C, 1)",
        "_cpu.gemm_raw(False, False, 3, 1, 1, 1.0, A, 2**62 + 2**24, B, 1, 0.0, C, 1)",
        "_cpu.gemm_raw(False, False, 3, 1, 1, 1.0, A, 1, B, 1, 0.0, C, 2**62 + 2**22)",
        "_cpu.gemm_raw(True, True, 1, 3, 1, 1.0, A, 1, B, 2**62, 0.0, C, 3)",
    ],
)
def test_gemm_raw_leading_dimension_overflow(call):
    line = raises(f"{_BUFS}\n{call}", "ValueError", "gemm_raw")
    assert "ld" in line


_CONV = (
    "x = np.random.rand(2, 3, 8, 8).astype(np.float32)\n"
    "w = np.random.rand(4, 3, 5, 5).astype(np.float32)\n"
    "dy = np.ones((2, 4, 8, 8), np.float32)\n"
)


@pytest.mark.parametrize(
    "call, fragment",
    [
        # 2 * padding wrapped to -2: a (2, 4, 2, 2) output of zeros came back
        ("_cpu.conv2d_forward(x, w, padding=2**63 - 1)", "padding"),
        # dilation * (5 - 1) wrapped to 0: an (8, 8) output computed from the centre tap only
        ("_cpu.conv2d_forward(x, w, dilation=2**62)", "dilation"),
        ("_cpu.conv2d_backward_input(dy, w, x.shape, dilation=2**62)", "dilation"),
        ("_cpu.conv2d_backward_weight(dy, x, w.shape, dilation=2**62)", "dilation"),
        ("_cpu.conv2d_forward(x, w, padding=2**61)", "padding"),
    ],
)
def test_conv2d_overflowing_geometry_raises(call, fragment):
    op = call.split("(")[0].split(".")[1].replace("_forward", "")
    line = raises(_CONV + call, "ValueError", op, fragment)
    assert "2^62" in line


@pytest.mark.parametrize(
    "call, fragment",
    [
        # ints beyond 64 bits: pybind11's "Unable to cast Python instance ..." RuntimeError
        ("_cpu.conv2d_forward(x, w, stride=2**70)", "stride"),
        ("_cpu.conv2d_forward(x, w, padding=(1, -(2**70)))", "padding"),
        ("_cpu.avg_pool2d_forward(x, 2, divisor_override=2**70)", "divisor_override"),
        ("_cpu.adaptive_avg_pool2d_forward(x, (2**64, 2))", "output_size"),
    ],
)
def test_ints_beyond_64_bits_raise_value_error(call, fragment):
    op = call.split("(")[0].split(".")[1].replace("_forward", "")
    raises(_CONV + call, "ValueError", op, fragment, "64-bit")


@pytest.mark.parametrize(
    "call, fragment",
    [
        # the window check walked the kernel's taps one by one: 2^39 steps (a hang)
        ("_cpu.max_pool2d_forward(x, 2**40, padding=2**39)", "kernel_size"),
        # dilation * (kernel - 1) wrapped to 0: every window was its first element
        ("_cpu.max_pool2d_forward(x, 5, stride=1, dilation=2**62)", "dilation"),
        ("_cpu.avg_pool2d_forward(x, 2**40, padding=2**39)", "kernel_size"),  # std::bad_alloc
        ("_cpu.avg_pool2d_backward(dy, x.shape, 2**62, 1, 2**61)", "kernel_size"),
    ],
)
def test_pool_arguments_beyond_int32_raise(call, fragment):
    op = call.split("(")[0].split(".")[1].replace("_forward", "")
    raises(_CONV + call, "ValueError", op, fragment, "2^31 - 1", timeout=30)
