"""Counts the device launches of one training step of the cnn-mnist recipe's model on "cuda",
through the NumPy stand-in (fake_gpu.py): CuPy array operations and ``_cuda`` kernel calls, each
of which is one kernel launch (and its host-side cost) on a real GPU. The GPU training step is
bound by that host work (benchmarks/GPU_NOTES.md), so this count is its proxy on machines without
a GPU; timing still needs the GPU (benchmarks/bench_train_device.py).

    PYTHONPATH=python:tests/cuda/emulated python tests/cuda/emulated/launches_per_step.py [--by-op]
"""

import argparse
import collections
import sys

import fake_gpu  # noqa: F401  (pretends a GPU, routes the kernels to the emulator)
import numpy as np

import cupy  # the stand-in  # isort: skip

import axonal  # noqa: E402
import axonal.nn.functional as F  # noqa: E402
from axonal import optim  # noqa: E402
from axonal.training.recipes_cnn import mnist_cnn  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--by-op", action="store_true", help="also count launches per calling line")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    axonal.manual_seed(0)
    model = mnist_cnn((1, 28, 28), 10).to("cuda")
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32)
    yb = rng.integers(0, 10, args.batch)

    def step():
        x = axonal.from_numpy(xb).to("cuda")
        y = axonal.from_numpy(yb).to("cuda")
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    step()  # first step: optimizer state
    counts = collections.Counter()
    if args.by_op:  # attribute each launch to the innermost axonal line that caused it

        class Counting(list):
            def __setitem__(self, i, v):
                f = sys._getframe(1)
                while f is not None and "/axonal/" not in f.f_code.co_filename:
                    f = f.f_back
                name = f.f_code.co_filename.split("/axonal/")[-1] if f else "?"
                counts[f"{name}:{f.f_lineno}" if f else name] += v - self[i]
                super().__setitem__(i, v)

        cupy.launches = Counting(cupy.launches)
        for mod in list(sys.modules.values()):  # the modules that imported the counter
            if mod is not cupy and isinstance(getattr(mod, "launches", None), list):
                mod.launches = cupy.launches
    start = cupy.launches[0]
    step()
    n = cupy.launches[0] - start
    print(f"launches per training step (cnn-mnist model, batch {args.batch}): {n}")
    for where, c in counts.most_common():
        print(f"  {c:4d}  {where}")


if __name__ == "__main__":
    main()
