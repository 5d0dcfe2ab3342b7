#!/usr/bin/env bash
# gpu_check.sh: everything to check on the GPU machine in one go (shared/GPU.md), ~6 minutes:
#   1. build + install the package with the CUDA extension into /tmp/ax (no build isolation:
#      the build dependencies are installed there; only the GPU's own architecture is compiled)
#   2. pytest tests/cuda (every kernel against the CPU / NumPy results)
#   3. benchmarks/bench_cuda.py (ours vs cuBLAS / cuDNN / torch / device copy), table last
# Full logs go to $OUT (default /tmp/axonal_gpu_check). Never changes clocks, power or modes.
# Usage: bash benchmarks/gpu_check.sh [--quick]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/axonal_gpu_check}
mkdir -p "$OUT"
QUICK=${1:-}
PY=${PYTHON:-python3}
T0=$(date +%s)
stamp() { echo "[gpu_check +$(( $(date +%s) - T0 ))s] $*"; }

stamp "GPU: $(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
if [ -z "${CUDAARCHS:-}" ]; then
  CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  export CUDAARCHS=${CC:-"80;90"}
fi
export AXONAL_CUDA=ON
# register / spill report of every kernel into the build log (scikit-build-core reads CMAKE_ARGS)
export CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_CUDA_FLAGS=-Xptxas=-v"
stamp "build: CUDAARCHS=$CUDAARCHS, pip install --target /tmp/ax (log: $OUT/build.log)"
rm -rf /tmp/ax
if ! timeout 240 "$PY" -m pip install --no-build-isolation --no-deps -v --target /tmp/ax . \
    > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  stamp "BUILD FAILED (see $OUT/build.log)"
  exit 1
fi
echo "ptxas: $(grep -c 'Used [0-9]* registers' "$OUT/build.log") kernels compiled;" \
  "with spills: $(grep 'bytes spill stores' "$OUT/build.log" | grep -vc ' 0 bytes spill stores')"
grep -iE "warning|error" "$OUT/build.log" | grep -v "0 error" | head -10 || true
export PYTHONPATH=/tmp/ax
stamp "built: $("$PY" -c 'import axonal, axonal.cuda as c; print("axonal", axonal.__version__, "cuda built", c.is_built(), "available", c.is_available(), c.get_device_name() if c.is_available() else "")' 2>&1)"

stamp "tests: pytest tests/cuda (log: $OUT/tests.log)"
timeout 150 "$PY" -m pytest tests/cuda -q -rs -p no:cacheprovider > "$OUT/tests.log" 2>&1
TEST_RC=$?
tail -25 "$OUT/tests.log"
stamp "tests exit code $TEST_RC"

stamp "benchmarks: bench_cuda.py (log: $OUT/bench_cuda.log)"
timeout 180 "$PY" benchmarks/bench_cuda.py $QUICK --out "$OUT" > "$OUT/bench_stdout.log" 2>&1
BENCH_RC=$?
if [ $BENCH_RC -ne 0 ]; then tail -30 "$OUT/bench_stdout.log"; fi
stamp "bench exit code $BENCH_RC"
echo
echo "== gpu_check summary =="
grep -E "passed|failed|error" "$OUT/tests.log" | tail -1
sed -n '/== summary/,$p' "$OUT/bench_stdout.log"
stamp "done: tests rc=$TEST_RC bench rc=$BENCH_RC, logs in $OUT"
[ $TEST_RC -eq 0 ] && [ $BENCH_RC -eq 0 ]
