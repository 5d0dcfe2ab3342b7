"""GEMM: axonal's C++ kernel vs NumPy (OpenBLAS), interleaved in one run.

    python benchmarks/bench_gemm.py [--quick] [--threads N] [--json PATH]

Checks each result against the float64 product first, then prints GFLOP/s and the ratio
axonal / NumPy (> 1: axonal faster). For a fair comparison on machines that set
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they slow a current OpenBLAS), unset both for the run.
"""

import os
import sys

# OpenBLAS worker threads busy-wait for ~0.1 s after each call (THREAD_TIMEOUT 28) and would take
# the second core from whatever runs next; 4 lets them sleep at once. NumPy's own compute is
# unchanged, an explicit setting wins, and it must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from axonal.bench import run_benchmark  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(run_benchmark("gemm", sys.argv[1:]))
