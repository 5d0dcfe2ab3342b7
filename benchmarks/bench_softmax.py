"""softmax / log_softmax: axonal's C++ kernels vs NumPy (max, exp, sum, divide) vs PyTorch CPU.

    python benchmarks/bench_softmax.py [--threads N] [--seconds S] [--json PATH]

Each case is first checked against the float64 NumPy reference (forward and backward); then the
forward and forward+backward (the gradient from the output, as autograd runs it) are timed for
the libraries *interleaved* in one loop (bench_conv.time_interleaved). The table reports medians,
the ratios other / axonal (> 1: axonal faster) and axonal's forward bandwidth (bytes read +
written once). Shared machines are noisy: trust ratios, not absolute times.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # see bench_conv.py

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402

from axonal import _cpu, backend  # noqa: E402
from bench_conv import cpu_name, time_interleaved  # noqa: E402

ref = backend.get("numpy")

# (name, shape, dim)
CASES = [
    ("logits 256x10", (256, 10), -1),
    ("logits 4096x1000", (4096, 1000), -1),
    ("attention 32x8x128x128", (32, 8, 128, 128), -1),
    ("channels 64x32x28x28 dim 1", (64, 32, 28, 28), 1),
]


def check(x, dim, log) -> float:
    y = _cpu.softmax_forward(x, dim, log)
    x64 = x.astype(np.float64)
    f = ref.log_softmax_forward if log else ref.softmax_forward
    b = ref.log_softmax_backward if log else ref.softmax_backward
    want = f(x64, dim)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(x.dtype)
    dx = _cpu.softmax_backward(dy, want.astype(x.dtype), dim, log)
    want_dx = b(dy.astype(np.float64), want, dim)
    errs = [np.abs(y - want).max() / max(1.0, np.abs(want).max())]
    errs.append(np.abs(dx - want_dx).max() / max(1.0, np.abs(want_dx).max()))
    return float(max(errs))


def make_cases(x, dy, dim, log, torch) -> tuple:
    f = ref.log_softmax_forward if log else ref.softmax_forward
    b = ref.log_softmax_backward if log else ref.softmax_backward

    def ax_fb():
        y = _cpu.softmax_forward(x, dim, log)
        _cpu.softmax_backward(dy, y, dim, log)

    def np_fb():
        b(dy, f(x, dim), dim)

    fwd = {"axonal": lambda: _cpu.softmax_forward(x, dim, log), "numpy": lambda: f(x, dim)}
    fb = {"axonal": ax_fb, "numpy": np_fb}
    if torch is not None:
        tf = torch.log_softmax if log else torch.softmax
        xt, dyt = torch.from_numpy(x), torch.from_numpy(dy)
        xg = xt.clone().requires_grad_()

        def t_fwd():
            with torch.no_grad():
                tf(xt, dim)

        def t_fb():
            xg.grad = None
            tf(xg, dim).backward(dyt)

        fwd["torch"], fb["torch"] = t_fwd, t_fb
    return fwd, fb


def bench(target_s: float, threads) -> dict:
    if threads is not None:
        _cpu.set_num_threads(threads)
    try:
        import torch

        torch.set_num_threads(_cpu.get_num_threads())
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    print(
        f"{'case':>28} {'op':>11} {'ax fwd ms':>9} {'ax f+b ms':>9} {'xNP fwd':>7} {'xNP f+b':>7} "
        f"{'xPT fwd':>7} {'xPT f+b':>7} {'ax GB/s':>7}"
    )
    for name, shape, dim in CASES:
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        dy = rng.standard_normal(shape).astype(np.float32)
        for log in (False, True):
            op = "log_softmax" if log else "softmax"
            err = check(x, dim, log)
            if not err <= 1e-5:
                raise AssertionError(f"bench softmax: {name} {op}: relative error {err:.2e}")
            fwd, fb = make_cases(x, dy, dim, log, torch)
            tf = time_interleaved(fwd, target_s)
            tb = time_interleaved(fb, target_s)
            row = {
                "case": name,
                "op": op,
                "shape": list(shape),
                "dim": dim,
                "rel_error": err,
                "axonal_fwd_ms": tf["axonal"] * 1e3,
                "axonal_fb_ms": tb["axonal"] * 1e3,
                "vs_numpy_fwd": tf["numpy"] / tf["axonal"],
                "vs_numpy_fb": tb["numpy"] / tb["axonal"],
                "axonal_fwd_gbs": 2 * x.nbytes / tf["axonal"] / 1e9,
            }
            if torch is not None:
                row["vs_torch_fwd"] = tf["torch"] / tf["axonal"]
                row["vs_torch_fb"] = tb["torch"] / tb["axonal"]
            rows.append(row)
            pt = (
                f"{row['vs_torch_fwd']:7.2f} {row['vs_torch_fb']:7.2f}"
                if torch is not None
                else f"{'-':>7} {'-':>7}"
            )
            print(
                f"{name:>28} {op:>11} {row['axonal_fwd_ms']:9.3f} {row['axonal_fb_ms']:9.3f} "
                f"{row['vs_numpy_fwd']:7.2f} {row['vs_numpy_fb']:7.2f} {pt} "
                f"{row['axonal_fwd_gbs']:7.1f}",
                flush=True,
            )
    machine = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": _cpu.get_num_threads(),
        "simd": _cpu.simd_path(),
        "numpy": np.__version__,
        "torch": getattr(torch, "__version__", None),
    }
    print(
        f"# softmax float32 on {machine['cpu']} ({machine['cores']} cores), threads="
        f"{machine['threads']}, simd={machine['simd']}, numpy {machine['numpy']}, torch "
        f"{machine['torch']}; medians of interleaved runs; xNP / xPT = other time / axonal time"
    )
    return {"benchmark": "softmax", "machine": machine, "rows": rows}


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="bench_softmax")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    ap.add_argument("--seconds", type=float, default=1.0, help="timing budget per case")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = ap.parse_args(argv)
    if args.threads is not None:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    out = bench(args.seconds, args.threads)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
