"""GEMM: axonal's C++ kernel vs NumPy (OpenBLAS), interleaved in one run.

    python benchmarks/bench_gemm.py [--quick] [--threads N] [--json PATH]

Checks each result against the float64 product first, then prints GFLOP/s and the ratio
axonal / NumPy (> 1: axonal faster). For a fair comparison on machines that set
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they slow a current OpenBLAS), unset both for the run.
"""

import sys

from axonal.bench import run_benchmark

if __name__ == "__main__":
    raise SystemExit(run_benchmark("gemm", sys.argv[1:]))
