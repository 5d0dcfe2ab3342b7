"""2-D pooling: axonal's C++ kernels vs the NumPy reference (sliding windows) vs PyTorch CPU.

    python benchmarks/bench_pool.py [--threads N] [--seconds S] [--json PATH]

Each case is first checked against the NumPy reference (and PyTorch when installed: values,
max-pool indices, gradients); then forward and forward+backward are timed for the libraries
*interleaved* in one loop. The table reports medians and the ratios other / axonal (> 1: axonal
faster). Shared machines are noisy: trust ratios, not absolute times.
"""

from __future__ import annotations

import os
import sys

# NumPy's OpenBLAS worker threads busy-wait for ~0.1 s after every BLAS call; on a small machine
# that steals a core from whichever library is timed next in the interleaved loop. Let them go to
# sleep at once (this changes nothing in NumPy's own compute; an explicit setting wins). It must
# be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")


def _threads_arg(argv: list):
    """The value of --threads, read before NumPy is imported so that its BLAS gets the same
    thread count as axonal and PyTorch."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


if __name__ == "__main__" and _threads_arg(sys.argv[1:]):
    os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_arg(sys.argv[1:]))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from axonal import _cpu, backend  # noqa: E402

# (name, input shape, op, arguments)
CASES = [
    ("max 2x2 s2", (64, 32, 28, 28), "max", dict(kernel_size=2, stride=2, padding=0)),
    ("max 3x3 s2 p1", (8, 64, 112, 112), "max", dict(kernel_size=3, stride=2, padding=1)),
    ("avg 2x2 s2", (64, 32, 28, 28), "avg", dict(kernel_size=2, stride=2, padding=0)),
    ("avg 3x3 s2 p1", (8, 64, 112, 112), "avg", dict(kernel_size=3, stride=2, padding=1)),
    ("global avg", (32, 512, 7, 7), "adaptive", dict(output_size=1)),
    ("adaptive 7x7", (8, 64, 56, 56), "adaptive", dict(output_size=7)),
]


def time_interleaved(fns: dict, target_s: float, min_rounds: int = 5) -> dict:
    """Median seconds per call of each function; every round calls every function, the fast ones
    several times in a row so that each takes about as long as the slowest."""
    est = {}
    for name, f in fns.items():
        f()
        t = time.perf_counter()
        f()
        est[name] = max(time.perf_counter() - t, 1e-7)
    slowest = max(est.values())
    inner = {name: max(1, min(200, round(slowest / e))) for name, e in est.items()}
    rounds = max(min_rounds, min(200, int(target_s / (len(fns) * slowest))))
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t = time.perf_counter()
            for _ in range(inner[name]):
                f()
            samples[name].append((time.perf_counter() - t) / inner[name])
    return {name: float(np.median(v)) for name, v in samples.items()}


def ops(be, op: str, args: dict):
    """(forward(x) -> (y, saved), backward(dy, saved, x_shape) -> dx) of one backend; saved is
    the max-pool indices (None for the average poolings)."""
    if op == "max":
        a = (args["kernel_size"], args["stride"], args["padding"])
        return (
            lambda x: be.max_pool2d_forward(x, *a),
            lambda dy, saved, shape: be.max_pool2d_backward(dy, saved, shape),
        )
    if op == "avg":
        a = (args["kernel_size"], args["stride"], args["padding"])
        return (
            lambda x: (be.avg_pool2d_forward(x, *a), None),
            lambda dy, saved, shape: be.avg_pool2d_backward(dy, shape, *a),
        )
    o = args["output_size"]
    return (
        lambda x: (be.adaptive_avg_pool2d_forward(x, o), None),
        lambda dy, saved, shape: be.adaptive_avg_pool2d_backward(dy, shape),
    )


def torch_ops(torch, op: str, args: dict):
    F = torch.nn.functional
    if op == "max":
        return lambda x: F.max_pool2d(x, args["kernel_size"], args["stride"], args["padding"])
    if op == "avg":
        return lambda x: F.avg_pool2d(x, args["kernel_size"], args["stride"], args["padding"])
    return lambda x: F.adaptive_avg_pool2d(x, args["output_size"])


def max_rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max(initial=0.0)) / max(float(np.abs(b).max(initial=0.0)), 1.0)


def make_cases(x, dy, op, args, torch) -> tuple:
    """The timed callables: {library: forward}, {library: forward + backward}."""
    fwd, fb = {}, {}
    for name, be in (("axonal", backend.get("cpu")), ("numpy", backend.get("numpy"))):
        f, b = ops(be, op, args)

        def run_fwd(f=f):
            f(x)

        def run_fb(f=f, b=b):
            b(dy, f(x)[1], x.shape)

        fwd[name], fb[name] = run_fwd, run_fb
    if torch is not None:
        tf = torch_ops(torch, op, args)
        xt, dyt = torch.from_numpy(x), torch.from_numpy(dy)
        xg = xt.clone().requires_grad_()

        def t_fwd():
            with torch.no_grad():
                tf(xt)

        def t_fb():
            xg.grad = None
            tf(xg).backward(dyt)

        fwd["torch"], fb["torch"] = t_fwd, t_fb
    return fwd, fb


def check(x, dy, op, args, torch) -> float:
    cpu, ref = backend.get("cpu"), backend.get("numpy")
    f, b = ops(cpu, op, args)
    rf, rb = ops(ref, op, args)
    y, saved = f(x)
    y_ref, saved_ref = rf(x)
    err = max(max_rel(y, y_ref), max_rel(b(dy, saved, x.shape), rb(dy, saved_ref, x.shape)))
    if op == "max" and not np.array_equal(saved, saved_ref):
        raise AssertionError(f"bench pool: {op} {args}: indices differ from the reference")
    if torch is not None:
        xg = torch.from_numpy(x).requires_grad_()
        yt = torch_ops(torch, op, args)(xg)
        yt.backward(torch.from_numpy(dy))
        err = max(err, max_rel(y, yt.detach().numpy()), max_rel(b(dy, saved, x.shape), xg.grad))
    return err


def bench(target_s: float, threads: int | None) -> dict:
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
        f"{'case':>16} {'input':>18} {'ax fwd ms':>9} {'ax f+b ms':>9} {'np f+b ms':>9} "
        f"{'xNP f+b':>7} {'pt fwd ms':>9} {'pt f+b ms':>9} {'xPT fwd':>7} {'xPT f+b':>7}"
    )
    for name, shape, op, args in CASES:
        x = rng.standard_normal(shape, np.float32)
        y, _ = ops(backend.get("cpu"), op, args)[0](x)
        dy = rng.standard_normal(y.shape, np.float32)
        err = check(x, dy, op, args, torch)
        if not err <= 1e-5:
            raise AssertionError(f"bench pool: {name} {shape}: relative error {err:.2e}")
        fwd, fb = make_cases(x, dy, op, args, torch)
        tf, tb = time_interleaved(fwd, target_s), time_interleaved(fb, target_s)
        row = {
            "case": name,
            "input": list(shape),
            "rel_error": err,
            "axonal_fwd_ms": tf["axonal"] * 1e3,
            "axonal_fb_ms": tb["axonal"] * 1e3,
            "numpy_fwd_ms": tf["numpy"] * 1e3,
            "numpy_fb_ms": tb["numpy"] * 1e3,
            "vs_numpy_fwd": tf["numpy"] / tf["axonal"],
            "vs_numpy_fb": tb["numpy"] / tb["axonal"],
        }
        pt = f"{'-':>9} {'-':>9} {'-':>7} {'-':>7}"
        if torch is not None:
            row.update(
                torch_fwd_ms=tf["torch"] * 1e3,
                torch_fb_ms=tb["torch"] * 1e3,
                vs_torch_fwd=tf["torch"] / tf["axonal"],
                vs_torch_fb=tb["torch"] / tb["axonal"],
            )
            pt = (
                f"{row['torch_fwd_ms']:9.3f} {row['torch_fb_ms']:9.3f} {row['vs_torch_fwd']:7.2f} "
                f"{row['vs_torch_fb']:7.2f}"
            )
        rows.append(row)
        print(
            f"{name:>16} {str(shape):>18} {row['axonal_fwd_ms']:9.3f} {row['axonal_fb_ms']:9.3f} "
            f"{row['numpy_fb_ms']:9.2f} {row['vs_numpy_fb']:7.1f} {pt}",
            flush=True,
        )
    return {
        "benchmark": "pool2d",
        "machine": {
            "cores": os.cpu_count(),
            "threads": _cpu.get_num_threads(),
            "simd": _cpu.simd_path(),
            "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
        },
        "rows": rows,
    }


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="bench_pool")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    ap.add_argument("--seconds", type=float, default=1.0, help="timing budget per case")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = ap.parse_args(argv)
    res = bench(args.seconds, args.threads)
    m = res["machine"]
    print(
        f"# pooling float32, {m['cores']} cores, threads={m['threads']}, simd={m['simd']}, "
        f"numpy {m['numpy']}, torch {m['torch']}; medians of interleaved runs; "
        "xNP / xPT = other time / axonal time"
    )
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f, indent=2)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
