#!/usr/bin/env bash
# gpu_check.sh: everything to check on the GPU machine in one go (shared/GPU.md), ~6 minutes:
#   1. build + install the package with the CUDA extension into /tmp/ax (no build isolation:
#      the build dependencies are installed there; only the GPU's own architecture is compiled)
#   2. pytest tests/cuda (every kernel against the CPU / NumPy results)
#   3. pytest tests/cuda/test_device_tensors.py (device="cuda" tensors, layers, training vs CPU)
#   4. benchmarks/bench_train_device.py (cnn-mnist training step, cuda vs cpu speed ratio; MNIST
#      from MNIST_DIR or .gpu_data/mnist, else synthetic data of the same shape)
#   5. benchmarks/bench_cuda.py (ours vs cuBLAS / cuDNN / torch / device copy), table last
# Full logs go to $OUT (default /tmp/axonal_gpu_check). Never changes clocks, power or modes.
# Usage: bash benchmarks/gpu_check.sh [--quick]      (GPU_CHECK_BUDGET=540: seconds for everything)
#        GPU_CHECK_ONLY=gemm bash benchmarks/gpu_check.sh: build, the GEMM tests and GEMM benchmarks
#        only (a kernel's quick round)
# Through the device tool: first `mkdir -p .gpu_data && cp -r ../shared/data/mnist .gpu_data/`
# here (git-ignored), then run `bash benchmarks/gpu_check.sh` with carry [".gpu_data"]; the
# logs land in $OUT, which the tool brings back.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/axonal_gpu_check}
mkdir -p "$OUT"
QUICK=${1:-}
ONLY=${GPU_CHECK_ONLY:-}
PY=${PYTHON:-python3}
T0=$(date +%s)
stamp() { echo "[gpu_check +$(( $(date +%s) - T0 ))s] $*"; }
# The whole script must end inside one device call (600 s at most): every step gets its own cap
# or what is left of BUDGET seconds, whichever is less; a step with under 20 s left is skipped
# (exit code 124 in the summary), so the summary is always printed.
BUDGET=${GPU_CHECK_BUDGET:-540}
left() {
  local cap=$1 rest=$(( BUDGET - ($(date +%s) - T0) ))
  if [ "$rest" -lt "$cap" ]; then echo "$rest"; else echo "$cap"; fi
}
run_step() {  # run_step CAP command...: runs under timeout, or skips when the budget is spent
  local t
  if [ $(( BUDGET - ($(date +%s) - T0) )) -lt 20 ]; then
    shift
    echo "SKIPPED (budget of ${BUDGET}s spent): $*"
    return 124
  fi
  t=$(left "$1"); shift
  timeout "$t" "$@"
}

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
if ! run_step 240 "$PY" -m pip install --no-build-isolation --no-deps -v --target /tmp/ax . \
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

# pytest-xdist where installed: a crashing test then fails alone instead of ending the run
XDIST=""
"$PY" -c "import xdist" 2>/dev/null && XDIST="-n 8"
# pytest-timeout where installed: a hung kernel ends its own test (and worker), not the step
"$PY" -c "import pytest_timeout" 2>/dev/null && XDIST="$XDIST --timeout=90"
stamp "tests: pytest tests/cuda $XDIST (kernels; log: $OUT/tests.log)"
if [ "$ONLY" = gemm ]; then TESTS="tests/cuda/test_cuda_gemm.py tests/cuda/test_cuda_emulation.py"
else TESTS="tests/cuda --ignore=tests/cuda/test_device_tensors.py"; fi
run_step 150 "$PY" -m pytest $TESTS -q -rs -p no:cacheprovider $XDIST > "$OUT/tests.log" 2>&1
TEST_RC=$?
tail -25 "$OUT/tests.log"
stamp "tests exit code $TEST_RC"

if [ -z "$ONLY" ]; then
stamp "tests: device='cuda' tensors vs CPU (tests/cuda/test_device_tensors.py; log: $OUT/tests_device.log)"
run_step 120 "$PY" -m pytest tests/cuda/test_device_tensors.py -q -rs -p no:cacheprovider $XDIST \
  > "$OUT/tests_device.log" 2>&1
DEV_RC=$?
tail -15 "$OUT/tests_device.log"
stamp "device tests exit code $DEV_RC"

# MNIST for the training timing: the shared folder beside the checkout does not travel to the GPU
# machine; carry a copy in an ignored folder of the repo (.gpu_data/mnist) or set MNIST_DIR.
MNIST=""
for d in "${MNIST_DIR:-}" .gpu_data/mnist ../shared/data/mnist /work/shared/data/mnist; do
  if [ -n "$d" ] && [ -f "$d/t10k-images-idx3-ubyte.gz" -o -f "$d/t10k-images-idx3-ubyte" ]; then
    MNIST=$d; break
  fi
done
[ -z "$MNIST" ] && echo "MNIST not found here: the training timing uses synthetic data of its shape"
stamp "training speed: cnn-mnist model on cuda vs cpu (log: $OUT/train_speed.log)"
run_step 120 "$PY" benchmarks/bench_train_device.py ${MNIST:+--data-dir "$MNIST"} \
  > "$OUT/train_speed.log" 2>&1
TRAIN_RC=$?
if [ $TRAIN_RC -ne 0 ]; then tail -20 "$OUT/train_speed.log"; fi
stamp "training speed exit code $TRAIN_RC"
else DEV_RC=0; TRAIN_RC=0; : > "$OUT/tests_device.log"; : > "$OUT/train_speed.log"; fi

stamp "benchmarks: bench_cuda.py (log: $OUT/bench_cuda.log)"
run_step 180 "$PY" benchmarks/bench_cuda.py $QUICK ${ONLY:+--only "$ONLY"} --out "$OUT" > "$OUT/bench_stdout.log" 2>&1
BENCH_RC=$?
if [ $BENCH_RC -ne 0 ]; then tail -30 "$OUT/bench_stdout.log"; fi
stamp "bench exit code $BENCH_RC"
echo
echo "== gpu_check summary =="
echo "kernel tests: $(grep -E "passed|failed|error" "$OUT/tests.log" | tail -1)"
echo "device tests: $(grep -E "passed|failed|error" "$OUT/tests_device.log" | tail -1)"
sed -n '/== summary/,$p' "$OUT/bench_stdout.log"
sed -n '/== summary/,$p' "$OUT/train_speed.log"
stamp "done: tests rc=$TEST_RC device tests rc=$DEV_RC train rc=$TRAIN_RC bench rc=$BENCH_RC," \
  "logs in $OUT"
[ $TEST_RC -eq 0 ] && [ $DEV_RC -eq 0 ] && [ $TRAIN_RC -eq 0 ] && [ $BENCH_RC -eq 0 ]
