"""Where the cnn-mnist training step's time goes on "cuda" (a diagnosis aid for
bench_train_device.py, not a benchmark of record).

Prints, for the model, loss, optimizer and batch of ``axonal train cnn-mnist``:
  1. ms/step as bench_train_device.py times it (batches moved from host memory each step);
  2. ms/step with the batches already on the device (the host-to-device copies' share);
  3. the Python functions that take the host's time (cProfile over --profile-steps steps);
  4. with --kernels: one step between cudaProfilerStart / Stop, for
     ``ncu --profile-from-start off --metrics gpu__time_duration.sum`` to sum the device time.

    PYTHONPATH=/tmp/ax python benchmarks/profile_train_device.py [--steps N] [--kernels]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

import numpy as np

import axonal
import axonal.nn.functional as F
from axonal import optim
from axonal.training.recipes_cnn import mnist_cnn


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--profile-steps", type=int, default=50)
    ap.add_argument("--kernels", action="store_true", help="one step inside a profiler range")
    args = ap.parse_args()
    if not axonal.cuda.is_available():
        print("profile_train_device: no CUDA build or no GPU here")
        return 1
    rng = np.random.default_rng(0)
    bs = 64
    xs = [rng.standard_normal((bs, 1, 28, 28)).astype(np.float32) for _ in range(8)]
    ys = [rng.integers(0, 10, bs).astype(np.int64) for _ in range(8)]
    axonal.manual_seed(0)
    model = mnist_cnn((1, 28, 28), 10).to("cuda")
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def host(i):
        return axonal.from_numpy(xs[i % 8]).to("cuda"), axonal.from_numpy(ys[i % 8]).to("cuda")

    dev = [host(i) for i in range(8)]

    def run(n, moved):
        axonal.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(n):
            loss = step(*(dev[i % 8] if moved else host(i)))
        axonal.cuda.synchronize()
        assert np.isfinite(float(loss.item()))
        return (time.perf_counter() - t0) / n * 1e3

    run(20, False)
    for label, moved in (("batches from host", False), ("batches on device", True)):
        print(f"{label:20s} {run(args.steps, moved):7.3f} ms/step")
    print(f"{'batches from host':20s} {run(args.steps, False):7.3f} ms/step (again)")

    pr = cProfile.Profile()
    pr.enable()
    run(args.profile_steps, False)
    pr.disable()
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats(key).print_stats(30)
        text = s.getvalue()
        print(f"== cProfile by {key}, {args.profile_steps} steps ==")
        print(text[text.find("ncalls") :])

    if args.kernels:
        import cupy

        run(5, False)
        cupy.cuda.profiler.start()
        step(*host(0))
        axonal.cuda.synchronize()
        cupy.cuda.profiler.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
