"""MLP training steps: axonal vs PyTorch (CPU), same model, init, data and optimizer.

A 784-256-128-10 ReLU MLP, cross-entropy, Adam(lr=1e-3), batch 128, float32. The initial
weights are drawn once and copied into both libraries; both see the same batches in the same
order (MNIST from --data-dir if the IDX files are there, else random data with random labels).
One step = zero_grad + forward + loss + backward + optimizer step; batches are prepared in
advance (zero-copy ``from_numpy`` in both), so data loading is not timed.

Correctness first: a few steps from the same init must give the same losses and weights in both
libraries. Then both train on, interleaved: each round runs a chunk of steps in one library and
then in the other (which goes first alternates), and the per-round medians are compared. The
machine may be shared; interleaving and medians keep the comparison fair under changing load.

    PYTHONPATH=python python benchmarks/bench_mlp.py [--steps 200] [--chunk 20] [--json PATH]
                                                       [--profile] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import axonal
from axonal import nn, optim

SIZES = (784, 256, 128, 10)


def load_data(data_dir: str, n: int, rng: np.random.Generator):
    if os.path.isdir(data_dir):
        try:
            from axonal.datasets import mnist_split

            (x, y), _ = mnist_split(data_dir, 8000, 2000, seed=0, flatten=True)
            x = x.numpy()
            x = (x - x.mean()) / x.std()
            return x.astype(np.float32), y.numpy().astype(np.int64), f"MNIST ({data_dir})"
        except (FileNotFoundError, ValueError):
            pass
    x = rng.standard_normal((n, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], n).astype(np.int64)
    return x, y, "random N(0,1) data, random labels"


def make_batches(x, y, batch, count, rng):
    """``count`` batches of a shuffled pass over the data (reshuffled each epoch)."""
    out = []
    order = rng.permutation(len(x))
    pos = 0
    while len(out) < count:
        if pos + batch > len(order):
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos : pos + batch]
        pos += batch
        out.append((np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])))
    return out


def init_weights(rng):
    """PyTorch's default Linear init, drawn once in NumPy: [(W (out, in), b (out,)), ...]."""
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        params.append((w, b))
    return params


class AxonalRunner:
    name = "axonal"

    def __init__(self, weights, lr):
        layers = []
        for i, (w, b) in enumerate(weights):
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight._data[...] = w
            lin.bias._data[...] = b
            layers.append(lin)
            if i < len(weights) - 1:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.opt = optim.Adam(self.model.parameters(), lr=lr)
        self.loss_fn = nn.CrossEntropyLoss()

    def prepare(self, batches):
        return [(axonal.from_numpy(xb), axonal.from_numpy(yb)) for xb, yb in batches]

    def step(self, xb, yb):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        return loss

    def weights(self):
        return [p.numpy().copy() for p in self.model.parameters()]


class TorchRunner:
    name = "torch"

    def __init__(self, torch, weights, lr):
        self.torch = torch
        layers = []
        for i, (w, b) in enumerate(weights):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(weights) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def prepare(self, batches):
        t = self.torch
        return [(t.from_numpy(xb), t.from_numpy(yb)) for xb, yb in batches]

    def step(self, xb, yb):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        return loss

    def weights(self):
        return [p.detach().numpy().copy() for p in self.model.parameters()]


def run_chunk(runner, batches, start, n):
    t0 = time.perf_counter()
    k = len(batches)
    for i in range(start, start + n):
        xb, yb = batches[i % k]
        runner.step(xb, yb)
    return time.perf_counter() - t0


def check_agreement(torch, weights, batches, lr, steps=5):
    """Same init + same batches: losses and weights must agree (float32 tolerance)."""
    a, t = AxonalRunner(weights, lr), TorchRunner(torch, weights, lr)
    ab, tb = a.prepare(batches[:steps]), t.prepare(batches[:steps])
    for i in range(steps):
        la = float(a.step(*ab[i]).item())
        lt = float(t.step(*tb[i]).item())
        if not np.isclose(la, lt, rtol=1e-4, atol=1e-5):
            raise AssertionError(f"step {i}: loss axonal {la} != torch {lt}")
    worst = 0.0
    for wa, wt in zip(a.weights(), t.weights()):
        np.testing.assert_allclose(wa, wt, rtol=1e-3, atol=1e-4)
        worst = max(worst, float(np.abs(wa - wt).max()))
    return worst


def profile_axonal(weights, batches, lr, steps, top):
    import cProfile
    import pstats

    r = AxonalRunner(weights, lr)
    b = r.prepare(batches)
    run_chunk(r, b, 0, 10)  # warm up
    prof = cProfile.Profile()
    prof.enable()
    run_chunk(r, b, 0, steps)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    print(
        f"\ncProfile of {steps} axonal steps ({total / steps * 1e3:.2f} ms/step under the "
        "profiler), top by own time:"
    )
    stats.sort_stats("tottime").print_stats(top)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="timed steps per library")
    ap.add_argument("--chunk", type=int, default=20, help="steps per interleaved round")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument(
        "--data-dir", default=os.environ.get("AXONAL_MNIST_DIR", "/work/shared/data/mnist")
    )
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--profile", action="store_true", help="cProfile axonal's step afterwards")
    ap.add_argument("--profile-steps", type=int, default=100)
    args = ap.parse_args(argv)

    if args.threads:
        axonal.set_num_threads(args.threads)
    threads = axonal.get_num_threads()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        torch = None

    rng = np.random.default_rng(0)
    x, y, source = load_data(args.data_dir, 8192, rng)
    n_batches = min(args.steps + 10, max(1, len(x) // args.batch) * 3)
    batches = make_batches(x, y, args.batch, n_batches, rng)
    weights = init_weights(rng)

    print(
        f"MLP {'-'.join(map(str, SIZES))} ReLU, CrossEntropy, Adam lr={args.lr}, "
        f"batch {args.batch}, float32; data: {source}"
    )
    print(
        f"threads: {threads}   machine: {platform.machine()}, {os.cpu_count()} CPUs   "
        f"load avg: {os.getloadavg()[0]:.2f}"
    )
    result = {
        "model": "-".join(map(str, SIZES)),
        "batch": args.batch,
        "steps": args.steps,
        "chunk": args.chunk,
        "threads": threads,
        "data": source,
        "axonal_version": axonal.__version__,
    }

    if torch is not None:
        worst = check_agreement(torch, weights, batches, args.lr)
        print(f"agreement: 5 steps from the same init match torch (max |dW| {worst:.1e})")
        result["max_weight_diff_5_steps"] = worst
        result["torch_version"] = torch.__version__

    runners = [AxonalRunner(weights, args.lr)]
    if torch is not None:
        runners.append(TorchRunner(torch, weights, args.lr))
    prepared = {r.name: r.prepare(batches) for r in runners}
    for r in runners:  # warm-up (first-call allocations, thread pools)
        run_chunk(r, prepared[r.name], 0, 5)

    rounds = max(1, args.steps // args.chunk)
    times = {r.name: [] for r in runners}
    start = 5
    for k in range(rounds):
        order = runners if k % 2 == 0 else runners[::-1]
        for r in order:
            times[r.name].append(run_chunk(r, prepared[r.name], start, args.chunk) / args.chunk)
        start += args.chunk
    final_loss = {}
    for r in runners:
        xb, yb = prepared[r.name][0]
        final_loss[r.name] = float(r.step(xb, yb).item())

    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, m in med.items():
        sps = 1.0 / m
        spread = (min(times[name]) * 1e3, max(times[name]) * 1e3)
        print(
            f"{name:<7} {sps:8.1f} steps/s  {m * 1e3:7.2f} ms/step  (median of {rounds} rounds "
            f"x {args.chunk} steps; min {spread[0]:.2f}, max {spread[1]:.2f} ms)  "
            f"loss after {rounds * args.chunk + 5} steps {final_loss[name]:.4f}"
        )
        result[f"{name}_steps_per_s"] = sps
        result[f"{name}_ms_per_step"] = m * 1e3
        result[f"{name}_round_ms"] = [t * 1e3 for t in times[name]]
    if torch is not None:
        ratio = med["torch"] / med["axonal"]
        result["ratio_axonal_over_torch"] = ratio
        print(f"ratio axonal/torch (steps/s) = {ratio:.2f}  (target >= 1.0)")
    else:
        print("PyTorch not installed: axonal only")
    result["load_avg_end"] = os.getloadavg()[0]

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    if args.profile:
        profile_axonal(weights, batches, args.lr, args.profile_steps, 25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
