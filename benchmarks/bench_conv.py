"""conv2d: axonal's C++ kernels vs NumPy (sliding-window + tensordot) vs PyTorch CPU.

    python benchmarks/bench_conv.py [--quick] [--depthwise] [--threads N] [--seconds S]
                                    [--json PATH]

Each shape is first checked against the float64 NumPy reference (forward and the three
gradients); then forward and forward+backward (grad input + grad weight + grad bias) are timed
for the three libraries *interleaved* in one loop, and the table reports medians and the ratios
other / axonal (> 1: axonal faster). The machine may be shared: trust ratios, not absolute times.
The last columns give the workspace one axonal call allocates (the largest of forward /
backward-input / backward-weight, from the planner), the peak resident memory one call was
measured to add beyond its output (Linux), and the algorithm the planner picked per pass.
--depthwise times depthwise convolutions instead (groups = C = K: one input channel per group).
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
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from axonal import _cpu, backend  # noqa: E402

# (N, C, H, W, K, R, stride, padding, groups)
SHAPES = [
    (64, 1, 28, 28, 32, 3, 1, 1, 1),
    (64, 32, 14, 14, 64, 3, 1, 1, 1),
    (32, 64, 32, 32, 64, 3, 1, 1, 1),
    (8, 64, 56, 56, 64, 3, 1, 1, 1),
    (8, 64, 56, 56, 128, 1, 2, 0, 1),
    (8, 3, 224, 224, 64, 7, 2, 3, 1),
]
# depthwise (--depthwise): groups = C = K, the planner's "direct" algorithm
DEPTHWISE_SHAPES = [
    (32, 64, 56, 56, 64, 3, 1, 1, 64),
    (32, 128, 28, 28, 128, 3, 2, 1, 128),
    (8, 256, 14, 14, 256, 3, 1, 1, 256),
    (16, 32, 112, 112, 32, 3, 1, 1, 32),
    (8, 64, 56, 56, 64, 5, 1, 2, 64),
]


# ---------------------------------------------------------------- NumPy baseline (input dtype)
def np_forward(x, w, b, s, p, g=1):
    k, _, r, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    win = sliding_window_view(xp, (r, r), axis=(2, 3))[:, :, ::s, ::s]  # (N, C, P, Q, R, R)
    if g > 1:  # per group: (N, G, Cg, P, Q, R, R) x (G, Kg, Cg, R, R)
        n, c, pp, qq = win.shape[:4]
        wg = win.reshape(n, g, c // g, pp, qq, r, r)
        y = np.einsum("ngcpqrs,gkcrs->ngkpq", wg, w.reshape(g, k // g, c // g, r, r))
        return y.reshape(n, k, pp, qq) + b[None, :, None, None]
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, P, Q, K)
    return y.transpose(0, 3, 1, 2) + b[None, :, None, None]


def np_backward(x, w, dy, s, p, g=1):
    n, c, h, wd = x.shape
    k, _, r, _ = w.shape
    pq = dy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    win = sliding_window_view(xp, (r, r), axis=(2, 3))[:, :, ::s, ::s][:, :, : pq[0], : pq[1]]
    if g > 1:
        dyg = dy.reshape(n, g, k // g, *pq)
        wing = win.reshape(n, g, c // g, *pq, r, r)
        dw = np.einsum("ngkpq,ngcpqrs->gkcrs", dyg, wing).reshape(k, c // g, r, r)
    else:
        dw = np.tensordot(dy, win, axes=([0, 2, 3], [0, 2, 3]))  # (K, C, R, R)
    # grad input: dy upsampled by the stride, padded, correlated with the flipped kernel
    up = np.zeros((n, k, (pq[0] - 1) * s + 1, (pq[1] - 1) * s + 1), dy.dtype)
    up[:, :, ::s, ::s] = dy
    full = (h + 2 * p, wd + 2 * p)
    pad = (
        (0, 0),
        (0, 0),
        (r - 1, max(0, full[0] - up.shape[2])),
        (r - 1, max(0, full[1] - up.shape[3])),
    )
    uw = sliding_window_view(np.pad(up, pad), (r, r), axis=(2, 3))[:, :, : full[0], : full[1]]
    if g > 1:
        uwg = uw.reshape(n, g, k // g, *full, r, r)
        wf = w[:, :, ::-1, ::-1].reshape(g, k // g, c // g, r, r)
        dxp = np.einsum("ngkijrs,gkcrs->ngcij", uwg, wf).reshape(n, c, *full)
        dx = dxp[:, :, p : p + h, p : p + wd]
        return dx, dw, dy.sum(axis=(0, 2, 3))
    dxp = np.tensordot(uw, w[:, :, ::-1, ::-1], axes=([1, 4, 5], [0, 2, 3]))  # (N, Hp, Wp, C)
    dx = dxp.transpose(0, 3, 1, 2)[:, :, p : p + h, p : p + wd]
    return dx, dw, dy.sum(axis=(0, 2, 3))


# ---------------------------------------------------------------- timing
def time_interleaved(fns: dict, target_s: float, min_rounds: int = 5) -> dict:
    """Median seconds per call of each function. Every round calls every function, the fast ones
    several times in a row so that each takes about as long as the slowest; ~target_s per
    function in all."""
    est = {}
    for name, f in fns.items():  # warm-up and a first estimate
        f()
        t = time.perf_counter()
        f()
        est[name] = max(time.perf_counter() - t, 1e-6)
    slowest = max(est.values())
    inner = {name: max(1, min(20, round(slowest / e))) for name, e in est.items()}
    rounds = max(min_rounds, min(100, int(target_s / slowest)))
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t = time.perf_counter()
            for _ in range(inner[name]):
                f()
            samples[name].append((time.perf_counter() - t) / inner[name])
    return {name: float(np.median(v)) for name, v in samples.items()}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise OSError(field)


def peak_extra_bytes(fn) -> int | None:
    """Peak resident memory a call adds beyond what it returns (Linux: resets the high-water mark
    through /proc/self/clear_refs); None where that is not available."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed heap pages must not hide new allocations
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = _status_kib("VmHWM")
        out = fn()
        peak = _status_kib("VmHWM")
    except OSError:
        return None
    return max(0, (peak - base) * 1024 - int(out.nbytes))


def rel_err(got, want):
    want = np.asarray(want, np.float64)
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
    return float(np.abs(np.asarray(got, np.float64) - want).max(initial=0.0)) / scale


def check(x, w, b, s, p, g, dy):
    """Max relative error of axonal's forward and gradients against the float64 reference."""
    ref = backend.get("numpy")
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
    a = (s, p, 1, g)
    errs = [
        rel_err(_cpu.conv2d_forward(x, w, b, *a), ref.conv2d_forward(x64, w64, b64, *a)),
        rel_err(
            _cpu.conv2d_backward_input(dy, w, x.shape, *a),
            ref.conv2d_backward_input(dy64, w64, x.shape, *a),
        ),
        rel_err(
            _cpu.conv2d_backward_weight(dy, x, w.shape, *a),
            ref.conv2d_backward_weight(dy64, x64, w.shape, *a),
        ),
        rel_err(_cpu.conv2d_backward_bias(dy), dy64.sum(axis=(0, 2, 3))),
    ]
    return max(errs)


def make_cases(x, w, b, dy, s, p, g, torch) -> tuple:
    """The timed callables: {library: forward}, {library: forward + backward}."""

    def ax_fwd():
        _cpu.conv2d_forward(x, w, b, s, p, 1, g)

    def ax_fb():
        _cpu.conv2d_forward(x, w, b, s, p, 1, g)
        _cpu.conv2d_backward_input(dy, w, x.shape, s, p, 1, g)
        _cpu.conv2d_backward_weight(dy, x, w.shape, s, p, 1, g)
        _cpu.conv2d_backward_bias(dy)

    def np_fwd():
        np_forward(x, w, b, s, p, g)

    def np_fb():
        np_forward(x, w, b, s, p, g)
        np_backward(x, w, dy, s, p, g)

    fwd = {"axonal": ax_fwd, "numpy": np_fwd}
    fb = {"axonal": ax_fb, "numpy": np_fb}
    if torch is not None:
        xt, wt, bt, dyt = (torch.from_numpy(a) for a in (x, w, b, dy))
        xg, wg, bg = (a.clone().requires_grad_() for a in (xt, wt, bt))

        def t_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(xt, wt, bt, s, p, 1, g)

        def t_fb():
            xg.grad = wg.grad = bg.grad = None
            torch.nn.functional.conv2d(xg, wg, bg, s, p, 1, g).backward(dyt)

        fwd["torch"], fb["torch"] = t_fwd, t_fb
    return fwd, fb


def measure_memory(x, w, b, dy, s, p, g) -> dict:
    """Measured peak extra bytes of one axonal call per pass."""
    a = (s, p, 1, g)
    return {
        "forward": peak_extra_bytes(lambda: _cpu.conv2d_forward(x, w, b, *a)),
        "backward_input": peak_extra_bytes(lambda: _cpu.conv2d_backward_input(dy, w, x.shape, *a)),
        "backward_weight": peak_extra_bytes(
            lambda: _cpu.conv2d_backward_weight(dy, x, w.shape, *a)
        ),
    }


def bench(quick: bool, target_s: float, threads: int | None, depthwise: bool = False) -> dict:
    if threads is not None:
        _cpu.set_num_threads(threads)
    try:
        import torch

        torch.set_num_threads(_cpu.get_num_threads())
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    shapes = DEPTHWISE_SHAPES if depthwise else SHAPES
    shapes = shapes[:3] if quick else shapes
    for n, c, h, wd, k, r, s, p, g in shapes:
        cg = c // g
        x = rng.standard_normal((n, c, h, wd), np.float32)
        w = (rng.standard_normal((k, cg, r, r)) / np.sqrt(cg * r * r)).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32)
        y = _cpu.conv2d_forward(x, w, b, s, p, 1, g)
        dy = rng.standard_normal(y.shape, np.float32)
        err = check(x, w, b, s, p, g, dy)
        if not err <= 1e-4:
            raise AssertionError(f"bench conv: {(n, c, h, wd, k, r)}: relative error {err:.2e}")
        got = np_forward(x, w, b, s, p, g)
        if rel_err(got, y) > 1e-4:
            raise AssertionError("bench conv: the NumPy baseline disagrees with axonal")
        np_dx, np_dw, _ = np_backward(x, w, dy, s, p, g)
        a = (s, p, 1, g)
        if (
            max(
                rel_err(np_dx, _cpu.conv2d_backward_input(dy, w, x.shape, *a)),
                rel_err(np_dw, _cpu.conv2d_backward_weight(dy, x, w.shape, *a)),
            )
            > 1e-4
        ):
            raise AssertionError("bench conv: the NumPy baseline's gradients disagree with axonal")

        fwd, fb = make_cases(x, w, b, dy, s, p, g, torch)
        # NumPy is slow: give it the budget of a few of its calls, not a fixed repetition count
        t_fwd_all = time_interleaved(fwd, target_s)
        t_fb_all = time_interleaved(fb, target_s)
        work, algos = {}, {}
        for pass_ in ("forward", "backward_input", "backward_weight"):
            plan = _cpu.conv2d_plan(x.shape, w.shape, s, p, 1, g, pass_, np.float32)
            work[pass_] = plan["workspace_bytes"]
            algos[pass_] = plan["algorithm"]
        measured = measure_memory(x, w, b, dy, s, p, g)
        flops = 2.0 * n * k * cg * r * r * y.shape[2] * y.shape[3]
        row = {
            "shape": f"{n},{c},{h},{wd},{k},{r}"
            + (f" s{s}" if s != 1 else "")
            + f" p{p}"
            + (f" g{g}" if g != 1 else ""),
            "gflop_forward": flops / 1e9,
            "rel_error": err,
            "axonal_fwd_ms": t_fwd_all["axonal"] * 1e3,
            "axonal_fb_ms": t_fb_all["axonal"] * 1e3,
            "numpy_fwd_ms": t_fwd_all["numpy"] * 1e3,
            "numpy_fb_ms": t_fb_all["numpy"] * 1e3,
            "vs_numpy_fwd": t_fwd_all["numpy"] / t_fwd_all["axonal"],
            "vs_numpy_fb": t_fb_all["numpy"] / t_fb_all["axonal"],
            "workspace_bytes": work,
            "measured_peak_extra_bytes": measured,
            "algorithm": algos,
        }
        if torch is not None:
            row.update(
                torch_fwd_ms=t_fwd_all["torch"] * 1e3,
                torch_fb_ms=t_fb_all["torch"] * 1e3,
                vs_torch_fwd=t_fwd_all["torch"] / t_fwd_all["axonal"],
                vs_torch_fb=t_fb_all["torch"] / t_fb_all["axonal"],
            )
        rows.append(row)
        print_row(row, torch is not None)
    return {
        "benchmark": "conv2d",
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "threads": _cpu.get_num_threads(),
            "simd": _cpu.simd_path(),
            "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
            "python": sys.version.split()[0],
        },
        "rows": rows,
    }


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


HEADER = (
    f"{'N,C,H,W,K,R':>24} {'ax fwd ms':>9} {'ax f+b ms':>9} {'np f+b ms':>9} "
    f"{'xNP fwd':>7} {'xNP f+b':>7} {'pt fwd ms':>9} {'pt f+b ms':>9} {'xPT fwd':>7} "
    f"{'xPT f+b':>7} {'ws MiB':>6} {'peak MiB':>8}  algorithm (fwd / bwd-in / bwd-w)"
)


def print_row(r: dict, has_torch: bool) -> None:
    if not getattr(print_row, "header", False):
        print(HEADER)
        print_row.header = True
    pt = (
        f"{r['torch_fwd_ms']:9.2f} {r['torch_fb_ms']:9.2f} {r['vs_torch_fwd']:7.2f} "
        f"{r['vs_torch_fb']:7.2f}"
        if has_torch
        else f"{'-':>9} {'-':>9} {'-':>7} {'-':>7}"
    )
    ws = max(r["workspace_bytes"].values()) / 2**20
    peaks = [v for v in r["measured_peak_extra_bytes"].values() if v is not None]
    peak = f"{max(peaks) / 2**20:8.2f}" if peaks else f"{'-':>8}"
    algo = " / ".join(r["algorithm"].values())
    print(
        f"{r['shape']:>24} {r['axonal_fwd_ms']:9.2f} {r['axonal_fb_ms']:9.2f} "
        f"{r['numpy_fb_ms']:9.1f} {r['vs_numpy_fwd']:7.1f} {r['vs_numpy_fb']:7.1f} {pt} "
        f"{ws:6.2f} {peak}  {algo}",
        flush=True,
    )


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="bench_conv")
    ap.add_argument("--quick", action="store_true", help="the first three shapes only")
    ap.add_argument(
        "--depthwise", action="store_true", help="depthwise shapes (groups = C = K) instead"
    )
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    ap.add_argument("--seconds", type=float, default=2.0, help="timing budget per case")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = ap.parse_args(argv)
    res = bench(args.quick, args.seconds, args.threads, args.depthwise)
    m = res["machine"]
    print(
        f"# conv2d{' depthwise' if args.depthwise else ''} float32 on {m['cpu']} "
        f"({m['cores']} cores), threads={m['threads']}, "
        f"simd={m['simd']}, numpy {m['numpy']}, torch {m['torch']}; medians of interleaved runs; "
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
