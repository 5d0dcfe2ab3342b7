"""Scaled dot-product attention: axonal's fused C++ kernel vs the composed path (batched GEMMs +
softmax, which keeps the attention matrix) vs PyTorch CPU, forward + backward, causal mask.

    python benchmarks/bench_attention.py [--threads N] [--seconds S] [--json PATH]

Each shape is first checked (fused against composed: outputs and input gradients), then the three
are timed interleaved (bench_conv.time_interleaved). Ratios other / fused (> 1: fused faster);
the attention matrix the composed path holds is reported as its size. Trust ratios, not times.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # see bench_conv.py

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402

import axonal  # noqa: E402
import axonal.nn.attention as attn  # noqa: E402
import axonal.nn.functional as F  # noqa: E402
from axonal import _cpu  # noqa: E402
from bench_conv import cpu_name, time_interleaved  # noqa: E402

SHAPES = [(8, 8, 128, 64), (4, 8, 512, 64), (2, 4, 1024, 32)]  # (batch, heads, L = S, head dim)


def _step(arrays, fused: bool):
    attn._HAS_KERNEL = fused
    try:
        ts = [axonal.tensor(a, requires_grad=True) for a in arrays]
        out = F.scaled_dot_product_attention(*ts, is_causal=True)
        out.sum().backward()
        return [out.numpy()] + [t.grad.numpy() for t in ts]
    finally:
        attn._HAS_KERNEL = True


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="bench_attention")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.threads is not None:
        _cpu.set_num_threads(args.threads)
    try:
        import torch

        torch.set_num_threads(_cpu.get_num_threads())
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'B,H,L,E':>16} {'fused ms':>9} {'xComposed':>9} {'xPT':>6} {'attn matrix MiB':>15}")
    for b, h, n, e in SHAPES:
        arrays = [rng.standard_normal((b, h, n, e)).astype(np.float32) for _ in range(3)]
        got, want = _step(arrays, True), _step(arrays, False)
        err = max(float(np.abs(a - w).max() / max(1.0, np.abs(w).max())) for a, w in zip(got, want))
        if not err <= 1e-4:
            raise AssertionError(f"bench attention: {(b, h, n, e)}: fused vs composed {err:.2e}")
        fns = {
            "fused": lambda a=arrays: _step(a, True),
            "composed": lambda a=arrays: _step(a, False),
        }
        if torch is not None:
            tt = [torch.tensor(a, requires_grad=True) for a in arrays]

            def t_step(tt=tt):
                for t in tt:
                    t.grad = None
                torch.nn.functional.scaled_dot_product_attention(
                    *tt, is_causal=True
                ).sum().backward()

            fns["torch"] = t_step
        t = time_interleaved(fns, args.seconds)
        row = {
            "shape": [b, h, n, e],
            "fused_ms": t["fused"] * 1e3,
            "vs_composed": t["composed"] / t["fused"],
            "vs_torch": t["torch"] / t["fused"] if torch is not None else None,
            "attention_matrix_mib": b * h * n * n * 4 / 2**20,
            "rel_error": err,
        }
        rows.append(row)
        pt = f"{row['vs_torch']:6.2f}" if torch is not None else f"{'-':>6}"
        print(
            f"{f'{b},{h},{n},{e}':>16} {row['fused_ms']:9.2f} {row['vs_composed']:9.2f} {pt} "
            f"{row['attention_matrix_mib']:15.1f}",
            flush=True,
        )
    machine = {"cpu": cpu_name(), "threads": _cpu.get_num_threads(), "simd": _cpu.simd_path()}
    print(
        f"# float32, causal, forward + backward on {machine['cpu']}, threads={machine['threads']}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"benchmark": "attention", "machine": machine, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
