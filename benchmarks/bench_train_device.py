"""Training speed of the cnn-mnist recipe's model on "cuda" vs "cpu", measured in one run.

The model, loss, optimizer and batch size of ``axonal train cnn-mnist`` (LeNet-style CNN, cross
entropy, AdamW, batch 64) train on the MNIST t10k images when ``--data-dir`` holds them (the
recipe's 8,000-image training split), else on a synthetic dataset of the same shape (8,000 x
1x28x28 float32, 10 classes; the speed does not depend on the pixel values). Each device first
runs warm-up steps, then ``--steps`` timed steps (forward, backward, optimizer step; batches
moved from host memory with ``.to(device)`` as a DataLoader loop does); the GPU is synchronised
once at the end of the timed block. The first steps of both devices are checked to give the same
loss (float32 tolerance) before anything is timed.

    PYTHONPATH=/tmp/ax python benchmarks/bench_train_device.py [--data-dir DIR] [--steps N]

The last lines are the summary: ms/step per device and the speed ratio cpu/cuda.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import axonal
import axonal.nn.functional as F
from axonal import optim
from axonal.training.recipes_cnn import mnist_cnn


def load(data_dir: str | None) -> tuple:
    if data_dir and os.path.isdir(data_dir):
        try:
            from axonal.datasets import mnist_split

            (x, y), _ = mnist_split(data_dir, 8000, 2000, seed=0)
            x = x.numpy().reshape(-1, 1, 28, 28).astype(np.float32)
            x = (x - x.mean()) / (x.std() + 1e-6)
            return x, y.numpy().astype(np.int64), f"MNIST t10k from {data_dir}"
        except (OSError, ValueError) as e:
            print(f"bench_train_device: cannot read MNIST from {data_dir} ({e}); synthetic data")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8000, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8000).astype(np.int64)
    return x, y, "synthetic 8000 x 1x28x28 (MNIST not available here)"


def make(device: str) -> tuple:
    axonal.manual_seed(0)
    model = mnist_cnn((1, 28, 28), 10).to(device)
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    return model, opt


def step(model, opt, xb: np.ndarray, yb: np.ndarray, device: str):
    x = axonal.from_numpy(xb).to(device)
    y = axonal.from_numpy(yb).to(device)
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def sync(device: str) -> None:
    if device != "cpu":
        axonal.cuda.synchronize()


def timed(device: str, x: np.ndarray, y: np.ndarray, steps: int, warmup: int, bs: int) -> float:
    model, opt = make(device)
    n = len(x)
    order = np.random.default_rng(1).permutation(n)
    k = 0

    def batch():
        nonlocal k
        idx = order[(k * bs) % (n - bs) :][:bs]
        k += 1
        return np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])

    for _ in range(warmup):
        step(model, opt, *batch(), device)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step(model, opt, *batch(), device)
    sync(device)
    dt = (time.perf_counter() - t0) / steps
    if not np.isfinite(float(loss.item())):
        raise SystemExit(f"bench_train_device: non-finite loss on {device}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--steps", type=int, default=100, help="timed GPU steps (CPU: --cpu-steps)")
    ap.add_argument("--cpu-steps", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    if not axonal.cuda.is_available():
        print("bench_train_device: no CUDA build or no GPU here; nothing to compare")
        return 1
    x, y, what = load(args.data_dir)
    bs = args.batch_size
    print(f"data: {what}; model: cnn-mnist (mnist_cnn), AdamW, batch {bs}")
    print(f"GPU: {axonal.cuda.get_device_name()}")
    # the same first steps on both devices
    losses = {}
    for dev in ("cpu", "cuda"):
        model, opt = make(dev)
        losses[dev] = [
            float(step(model, opt, x[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs], dev).item())
            for i in range(3)
        ]
    print(f"check: first 3 losses cpu {losses['cpu']} cuda {losses['cuda']}")
    if not np.allclose(losses["cpu"], losses["cuda"], rtol=2e-3, atol=2e-3):
        print("bench_train_device: FAILED: cpu and cuda losses differ")
        return 1
    t_cpu = timed("cpu", x, y, args.cpu_steps, 2, bs)
    t_gpu = timed("cuda", x, y, args.steps, 10, bs)
    epoch = len(x) // bs
    print("== summary (train step = forward + backward + AdamW, batch from host) ==")
    print(f"cpu   {t_cpu * 1e3:9.2f} ms/step  ({epoch * t_cpu:7.2f} s/epoch of {epoch} steps)")
    print(f"cuda  {t_gpu * 1e3:9.2f} ms/step  ({epoch * t_gpu:7.2f} s/epoch)")
    ratio = t_cpu / t_gpu
    print(f"speed ratio cpu/cuda = {ratio:.1f}x (issue #6 target >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
