"""Per-step Python overhead of the autograd core: axonal vs PyTorch on a tiny graph.

One step = ``(x @ w + b).relu().sum()`` on 16x16 float32 plus ``backward()`` (and zeroing the
gradients), so the time is almost all framework overhead, not arithmetic. Both libraries run in
the same process, interleaved round by round; each round times a block of steps; the medians are
compared. First the two libraries' results and gradients are checked to agree.

    PYTHONPATH=python python benchmarks/bench_overhead.py [--rounds 30] [--steps 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import axonal


def make_axonal(x0, w0, b0):
    x = axonal.tensor(x0)
    w = axonal.tensor(w0, requires_grad=True)
    b = axonal.tensor(b0, requires_grad=True)

    def step():
        w.grad = None
        b.grad = None
        loss = (x @ w + b).relu().sum()
        loss.backward()
        return loss

    return step, w, b


def make_torch(torch, x0, w0, b0):
    x = torch.tensor(x0)
    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)

    def step():
        w.grad = None
        b.grad = None
        loss = (x @ w + b).relu().sum()
        loss.backward()
        return loss

    return step, w, b


def time_block(step, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--size", type=int, default=16)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    n = args.size
    x0 = rng.standard_normal((n, n)).astype(np.float32)
    w0 = rng.standard_normal((n, n)).astype(np.float32)
    b0 = rng.standard_normal(n).astype(np.float32)

    ax_step, aw, ab = make_axonal(x0, w0, b0)
    try:
        import torch

        torch.set_num_threads(axonal.get_num_threads())
        th_step, tw, tb = make_torch(torch, x0, w0, b0)
    except ImportError:
        torch = None

    # correctness first
    la = ax_step()
    if torch is not None:
        lt = th_step()
        np.testing.assert_allclose(la.item(), lt.item(), rtol=1e-5)
        np.testing.assert_allclose(aw.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ab.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-5)

    for _ in range(3):  # warm up
        time_block(ax_step, args.steps)
        if torch is not None:
            time_block(th_step, args.steps)

    ax_times, th_times = [], []
    for _ in range(args.rounds):
        ax_times.append(time_block(ax_step, args.steps))
        if torch is not None:
            th_times.append(time_block(th_step, args.steps))

    ax_med = statistics.median(ax_times) * 1e6
    print(f"graph: ({n}x{n} @ {n}x{n} + b).relu().sum() + backward, float32")
    print(f"axonal  {ax_med:8.1f} us/step (median of {args.rounds} x {args.steps} steps)")
    if torch is not None:
        th_med = statistics.median(th_times) * 1e6
        print(f"torch   {th_med:8.1f} us/step (torch {torch.__version__})")
        ratio = ax_med / th_med
        print(f"ratio axonal/torch = {ratio:.2f}x (target <= 1.5x)")
    else:
        print("torch not installed: no ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
