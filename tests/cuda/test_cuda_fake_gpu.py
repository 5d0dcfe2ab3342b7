"""The GPU test modules and the training step's launch count, run without a GPU through the host
emulator and the NumPy stand-in for CuPy (tests/cuda/emulated, see fake_gpu.py there), each in a
subprocess (the stand-in pretends a device for the whole process). They need the ``_cuda``
extension (a CUDA build) but no GPU; where a real CuPy is installed the stand-in cannot replace
it and they skip."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from axonal import cuda

if not cuda.is_built():
    pytest.skip("the _cuda extension is not built (CPU-only build)", allow_module_level=True)
try:
    import cupy  # noqa: F401

    pytest.skip(
        "a real CuPy is installed: the NumPy stand-in cannot replace it", allow_module_level=True
    )
except ImportError:
    pass

HERE = Path(__file__).resolve().parent
EMULATED = HERE / "emulated"
PACKAGE_ROOT = Path(cuda.__file__).resolve().parent.parent  # the axonal under test


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), str(EMULATED)])
    return env


def test_gpu_tests_pass_through_the_emulator():
    # every kernel entry routed to its emulated phase functions (or a NumPy reference where no
    # emulator exists: batch norm, Adam), the Python device paths (validation, layouts,
    # dispatch, layers, training) run for real
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "fake_gpu", "-x",
         str(HERE / "test_cuda_gemm.py"), str(HERE / "test_cuda_conv.py"),
         str(HERE / "test_cuda_pool_softmax.py"), str(HERE / "test_cuda_optim.py"),
         str(HERE / "test_cuda_batchnorm.py"), str(HERE / "test_device_tensors.py"),
         str(HERE / "test_cuda_cells.py")],
        capture_output=True, text=True, env=_env(), cwd=str(HERE), timeout=600,
    )  # fmt: skip
    tail = (r.stdout + r.stderr)[-3000:]
    assert r.returncode == 0, tail
    m = re.search(r"(\d+) passed", r.stdout)
    assert m and int(m.group(1)) >= 220, tail  # 230 at the time of writing


def test_training_step_launch_count():
    # the cnn-mnist step on "cuda" is bound by host work per launch: 76 launches at stop 10,
    # 42 with the fused cross entropy, multi-tensor Adam and ReLU backward; more is a regression
    r = subprocess.run(
        [sys.executable, str(EMULATED / "launches_per_step.py")],
        capture_output=True, text=True, env=_env(), cwd=str(HERE), timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(r"launches per training step .*: (\d+)", r.stdout)
    assert m, r.stdout
    assert int(m.group(1)) <= 42, r.stdout
