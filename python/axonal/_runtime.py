"""Runtime facts about the compiled extensions: threads, SIMD path, CUDA availability."""

from __future__ import annotations

import os
import platform
import sys

from . import _cpu
from ._version import __version__


def get_num_threads() -> int:
    """Threads the CPU kernels use (default: all cores, or env ``AXONAL_NUM_THREADS``)."""
    return int(_cpu.get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the thread count of the CPU kernels (``n >= 1``)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    _cpu.set_num_threads(n)


def info(file=None) -> dict:
    """Print (and return) the version, CUDA status, SIMD path and thread count."""
    from . import cuda

    facts = {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "simd": _cpu.simd_path(),
        "cpu_avx2_fma": bool(_cpu.has_avx2_fma()),
        "openmp": bool(_cpu.built_with_openmp()),
        "num_threads": get_num_threads(),
        "cores": int(_cpu.hardware_threads()),
        "cuda_built": cuda.is_built(),
        "cuda_available": cuda.is_available(),
        "cuda_devices": cuda.device_count(),
    }
    if cuda.is_available():
        facts["cuda_device"] = cuda.get_device_name(0)
    import numpy

    facts["numpy"] = numpy.__version__
    lines = [f"axonal {facts['version']}"]
    lines.append(f"  python        {facts['python']} on {facts['platform']}")
    lines.append(f"  numpy         {facts['numpy']}")
    lines.append(f"  simd path     {facts['simd']} (cpu avx2+fma: {facts['cpu_avx2_fma']})")
    lines.append(
        f"  threads       {facts['num_threads']} of {facts['cores']} cores"
        f" (openmp: {facts['openmp']})"
    )
    cuda_line = "built" if facts["cuda_built"] else "not built (CPU-only package)"
    if facts["cuda_built"]:
        cuda_line += f", usable: {facts['cuda_available']} ({facts['cuda_devices']} devices)"
        if "cuda_device" in facts:
            cuda_line += f", {facts['cuda_device']}"
    lines.append(f"  cuda          {cuda_line}")
    env = os.environ.get("AXONAL_NUM_THREADS")
    if env:
        lines.append(f"  AXONAL_NUM_THREADS={env}")
    print("\n".join(lines), file=file)
    return facts
