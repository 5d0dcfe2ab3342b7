#!/usr/bin/env bash
# gpu_profile_step.sh: builds the package (as gpu_check.sh) and runs profile_train_device.py,
# then sums one training step's kernel times with Nsight Compute (clocks left as they are).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/axonal_gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export AXONAL_CUDA=ON CUDAARCHS=${CUDAARCHS:-90}
rm -rf /tmp/ax
if ! timeout 240 "$PY" -m pip install --no-build-isolation --no-deps -q --target /tmp/ax . \
    > "$OUT/build.log" 2>&1; then
  tail -30 "$OUT/build.log"; exit 1
fi
export PYTHONPATH=/tmp/ax
timeout 120 "$PY" benchmarks/profile_train_device.py > "$OUT/profile.log" 2>&1
echo "profile rc=$?"
head -90 "$OUT/profile.log"
if command -v ncu > /dev/null; then
  timeout 120 ncu --profile-from-start off --clock-control none --metrics gpu__time_duration.sum \
    --csv "$PY" benchmarks/profile_train_device.py --steps 5 --profile-steps 1 --kernels \
    > "$OUT/ncu.csv" 2> "$OUT/ncu.err"
  echo "ncu rc=$?"
  "$PY" - "$OUT/ncu.csv" <<'PYEOF'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows:
    print("no ncu rows"); sys.exit()
h = rows[0]; ki = h.index("Kernel Name"); vi = h.index("Metric Value"); ui = h.index("Metric Unit")
tot = collections.Counter(); cnt = collections.Counter()
for r in rows[1:]:
    v = float(r[vi].replace(",", "")); u = r[ui]
    v = v / 1000 if u == "nsecond" else v if u == "usecond" else v * 1000 if u == "msecond" else v
    name = r[ki][:70]; tot[name] += v; cnt[name] += 1
print(f"kernels in one step: {sum(cnt.values())}, device time {sum(tot.values()):.1f} us")
for n, v in tot.most_common(25):
    print(f"{v:8.1f} us  x{cnt[n]:3d}  {n}")
PYEOF
fi
