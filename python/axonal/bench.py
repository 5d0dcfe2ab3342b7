"""Kernel benchmarks shipped with the package (``axonal bench gemm``).

Correctness is checked first; then axonal and the reference (NumPy's BLAS) are timed
*interleaved* in the same run, and the table reports medians and the ratio axonal / reference
(higher is better for axonal). Shared machines are noisy: trust ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

GEMM_SHAPES_F32 = [
    (64, 64, 64),
    (128, 784, 256),
    (128, 256, 10),
    (512, 512, 512),
    (1024, 1024, 1024),
    (2048, 2048, 2048),
]
GEMM_SHAPES_F64 = [(512, 512, 512), (1024, 1024, 1024)]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_name() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown BLAS"


def _time_interleaved(fns: list, target_s: float, min_reps: int = 5) -> list:
    """Median seconds per call of each function, measured in interleaved rounds.

    Each round runs every function in turn as a short block: first untimed calls for ``settle``
    seconds (another library's thread pool may still be spinning on the second core after its
    own block; the settling calls keep that out of the timings), then timed calls. The medians
    over all rounds are returned.
    """
    for f in fns:  # warm-up (page faults, thread pools, caches)
        f()
    t0 = time.perf_counter()
    fns[0]()
    est = max(time.perf_counter() - t0, 1e-7)
    settle = 0.02
    rounds = max(min_reps, min(25, int(target_s / max(est * 4, 0.01))))
    per_block = max(3, int(target_s / rounds / est))
    samples = [[] for _ in fns]
    for _ in range(rounds):
        for i, f in enumerate(fns):
            t_end = time.perf_counter() + settle
            while time.perf_counter() < t_end:
                f()
            for _ in range(per_block):
                t = time.perf_counter()
                f()
                samples[i].append(time.perf_counter() - t)
    return [float(np.median(s)) for s in samples]


def bench_gemm(quick: bool = False, target_s: float = 1.0, threads: int | None = None) -> dict:
    from . import _cpu

    if threads is not None:
        _cpu.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    cases = [(s, np.float32) for s in GEMM_SHAPES_F32] + [(s, np.float64) for s in GEMM_SHAPES_F64]
    if quick:
        cases = [c for c in cases if c[0][0] * c[0][1] * c[0][2] <= 512**3]
        target_s = min(target_s, 0.3)
    for (m, k, n), dt in cases:
        a = rng.standard_normal((m, k)).astype(dt)
        b = rng.standard_normal((k, n)).astype(dt)
        got = _cpu.gemm(a, b)
        want = a.astype(np.float64) @ b.astype(np.float64)
        err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))
        tol = 1e-5 if dt == np.float32 else 1e-12
        if not err <= tol:
            raise AssertionError(
                f"bench gemm: {m}x{k}x{n} {np.dtype(dt).name}: rel error {err:.2e}"
            )
        out = np.empty((m, n), dt)
        t_ax, t_np = _time_interleaved(
            [
                lambda a=a, b=b, out=out: _cpu.gemm(a, b, out),
                lambda a=a, b=b, out=out: np.matmul(a, b, out=out),
            ],
            target_s,
        )
        flops = 2.0 * m * n * k
        rows.append(
            {
                "shape": f"{m}x{k}x{n}",
                "dtype": np.dtype(dt).name,
                "axonal_gflops": flops / t_ax / 1e9,
                "numpy_gflops": flops / t_np / 1e9,
                "ratio": t_np / t_ax,
                "rel_error": err,
            }
        )
    return {
        "benchmark": "gemm",
        "machine": {
            "cpu": _cpu_name(),
            "cores": os.cpu_count(),
            "threads": _cpu.get_num_threads(),
            "simd": _cpu.simd_path(),
            "numpy": np.__version__,
            "blas": _blas_name(),
        },
        "rows": rows,
    }


def print_table(result: dict) -> None:
    mach = result["machine"]
    print(
        f"# gemm on {mach['cpu']} ({mach['cores']} cores), axonal threads={mach['threads']}, "
        f"simd={mach['simd']}, numpy {mach['numpy']} ({mach['blas']})"
    )
    print(f"{'M x K x N':>16} {'dtype':>8} {'axonal GF/s':>12} {'numpy GF/s':>11} {'ratio':>6}")
    for r in result["rows"]:
        print(
            f"{r['shape']:>16} {r['dtype']:>8} {r['axonal_gflops']:12.1f} "
            f"{r['numpy_gflops']:11.1f} {r['ratio']:6.2f}"
        )


def run_benchmark(family: str, argv: list) -> int:
    p = argparse.ArgumentParser(prog=f"axonal bench {family}")
    p.add_argument("--quick", action="store_true", help="small shapes only, short timings")
    p.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    p.add_argument("--seconds", type=float, default=1.0, help="timing budget per case and library")
    args = p.parse_args(argv)
    if family != "gemm":
        raise SystemExit(f"axonal bench: unknown family {family!r}")
    result = bench_gemm(quick=args.quick, target_s=args.seconds, threads=args.threads)
    print_table(result)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, args.json)
    return 0
