"""Recurrent layers: axonal's LSTM / GRU vs PyTorch CPU, and the LSTM cell kernel vs NumPy.

    python benchmarks/bench_rnn.py [--threads N] [--seconds S] [--json PATH]

Layers: each configuration is first checked against PyTorch (same weights: outputs and the
input gradient), then forward (no grad) and forward+backward (gradient of the output sum) are
timed interleaved (bench_conv.time_interleaved). The cell: ``_cpu.lstm_cell_forward`` /
``lstm_cell_backward`` against the same equations in NumPy (float32), checked first. Ratios are
other / axonal (> 1: axonal faster). Shared machines are noisy: trust ratios, not times.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # see bench_conv.py

import argparse  # noqa: E402
import json  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402

import axonal  # noqa: E402
import axonal.nn as nn  # noqa: E402
from axonal import _cpu  # noqa: E402
from bench_conv import cpu_name, time_interleaved  # noqa: E402

# (layer, seq_len L, batch N, input size, hidden size, extra arguments)
LAYERS = [
    ("LSTM", 50, 32, 64, 128, {}),
    ("LSTM", 100, 64, 32, 256, {}),
    ("LSTM", 50, 32, 64, 128, {"num_layers": 2, "bidirectional": True}),
    ("GRU", 50, 32, 64, 128, {}),
]
CELLS = [(32, 128), (64, 256), (256, 512)]  # (batch, hidden)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_cell(gates, c):
    H = c.shape[1]
    i, f = _sig(gates[:, :H]), _sig(gates[:, H : 2 * H])
    g, o = np.tanh(gates[:, 2 * H : 3 * H]), _sig(gates[:, 3 * H :])
    c2 = f * c + i * g
    return o * np.tanh(c2), c2, np.concatenate([i, f, g, o], axis=1)


def numpy_cell_backward(dh, dc, act, c, c2):
    H = c.shape[1]
    i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
    tc = np.tanh(c2)
    dct = dc + dh * o * (1 - tc * tc)
    dg = np.concatenate(
        [
            dct * g * i * (1 - i),
            dct * c * f * (1 - f),
            dct * i * (1 - g * g),
            dh * tc * o * (1 - o),
        ],
        axis=1,
    )
    return dg, dct * f


def bench_layers(torch, target_s: float) -> list:
    rows = []
    rng = np.random.default_rng(0)
    for cls, L, N, inp, hid, kw in LAYERS:
        pt = getattr(torch.nn, cls)(inp, hid, **kw)
        ax = getattr(nn, cls)(inp, hid, **kw)
        ax.load_state_dict(
            {k: axonal.tensor(v.detach().numpy().copy()) for k, v in pt.state_dict().items()}
        )
        x = rng.standard_normal((L, N, inp)).astype(np.float32)
        xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        oa, ot = ax(xa)[0], pt(xt)[0]
        oa.sum().backward()
        ot.sum().backward()
        err = max(
            float(np.abs(oa.numpy() - ot.detach().numpy()).max()),
            float(np.abs(xa.grad.numpy() - xt.grad.numpy()).max()),
        )
        if not err <= 1e-4:
            raise AssertionError(f"bench rnn: {cls} {kw}: differs from torch by {err:.2e}")
        xa, xt = axonal.tensor(x), torch.tensor(x)
        xg, xtg = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

        def ax_fwd(ax=ax, xa=xa):
            with axonal.no_grad():
                ax(xa)

        def pt_fwd(pt=pt, xt=xt):
            with torch.no_grad():
                pt(xt)

        def ax_fb(ax=ax, xg=xg):
            ax.zero_grad()
            ax(xg)[0].sum().backward()

        def pt_fb(pt=pt, xtg=xtg):
            pt.zero_grad()
            pt(xtg)[0].sum().backward()

        t = time_interleaved({"af": ax_fwd, "pf": pt_fwd, "ab": ax_fb, "pb": pt_fb}, target_s)
        name = f"{cls} L{L} N{N} {inp}->{hid}" + "".join(f" {k}={v}" for k, v in kw.items())
        row = {
            "case": name,
            "max_abs_diff": err,
            "axonal_fwd_ms": t["af"] * 1e3,
            "axonal_fb_ms": t["ab"] * 1e3,
            "vs_torch_fwd": t["pf"] / t["af"],
            "vs_torch_fb": t["pb"] / t["ab"],
        }
        rows.append(row)
        print(
            f"{name:>46} {row['axonal_fwd_ms']:9.2f} {row['axonal_fb_ms']:9.2f} "
            f"{row['vs_torch_fwd']:7.2f} {row['vs_torch_fb']:7.2f}",
            flush=True,
        )
    return rows


def bench_packed(torch, target_s: float) -> list:
    """A bidirectional 2-layer LSTM over a packed batch of 32 sequences of lengths 10-100 (forward
    + backward): axonal packed vs torch packed, and axonal packed vs axonal on the padded batch
    (57% of whose steps are padding)."""
    from torch.nn.utils import rnn as trnn

    from axonal.nn.utils import rnn as arnn

    rng = np.random.default_rng(0)
    batch, inp, hid = 32, 32, 64
    lens = rng.integers(10, 101, batch)
    lens[0] = 100
    x = rng.standard_normal((100, batch, inp)).astype(np.float32)
    pt = torch.nn.LSTM(inp, hid, num_layers=2, bidirectional=True)
    ax = nn.LSTM(inp, hid, num_layers=2, bidirectional=True)
    ax.load_state_dict(
        {k: axonal.tensor(v.detach().numpy().copy()) for k, v in pt.state_dict().items()}
    )

    def run_ax(packed=True):
        xa = axonal.tensor(x, requires_grad=True)
        ax.zero_grad()
        if packed:
            o, (h, _) = ax(arnn.pack_padded_sequence(xa, lens, enforce_sorted=False))
            (o.data.sum() + h.sum()).backward()
            return arnn.pad_packed_sequence(o)[0].numpy(), xa.grad.numpy()
        o, (h, _) = ax(xa)
        (o.sum() + h.sum()).backward()
        return None, None

    def run_pt():
        xt = torch.tensor(x, requires_grad=True)
        pt.zero_grad()
        o, (h, _) = pt(trnn.pack_padded_sequence(xt, torch.tensor(lens), enforce_sorted=False))
        (o.data.sum() + h.sum()).backward()
        # (compared padded, in the caller's order: ties in the lengths may sort differently)
        return trnn.pad_packed_sequence(o)[0].detach().numpy(), xt.grad.numpy()

    (oa, ga), (ot, gt) = run_ax(), run_pt()
    err = max(float(np.abs(oa - ot).max()), float(np.abs(ga - gt).max()))
    if not err <= 1e-4:
        raise AssertionError(f"bench rnn: packed LSTM differs from torch by {err:.2e}")
    t = time_interleaved({"ap": run_ax, "pp": run_pt, "ad": lambda: run_ax(False)}, target_s)
    row = {
        "case": "LSTM packed B32 32->64 layers=2 bidirectional, lengths 10-100",
        "max_abs_diff": err,
        "axonal_fb_ms": t["ap"] * 1e3,
        "vs_torch_packed_fb": t["pp"] / t["ap"],
        "vs_axonal_padded_fb": t["ad"] / t["ap"],
    }
    print(
        f"{row['case']}: f+b {row['axonal_fb_ms']:.1f} ms, xPT(packed) "
        f"{row['vs_torch_packed_fb']:.2f}, x(axonal padded) {row['vs_axonal_padded_fb']:.2f}",
        flush=True,
    )
    return [row]


def bench_cells(target_s: float) -> list:
    rows = []
    rng = np.random.default_rng(1)
    for n, h in CELLS:
        gates = (rng.standard_normal((n, 4 * h)) * 2).astype(np.float32)
        c, dh, dc = (rng.standard_normal((n, h)).astype(np.float32) for _ in range(3))
        h2, c2, act = _cpu.lstm_cell_forward(gates, c)
        want = numpy_cell(gates.astype(np.float64), c.astype(np.float64))
        err = max(float(np.abs(a - b).max()) for a, b in zip((h2, c2, act), want))
        dg, dcp = _cpu.lstm_cell_backward(dh, dc, act, c, c2)
        wdg, wdc = numpy_cell_backward(dh, dc, *(a.astype(np.float64) for a in (act, c, c2)))
        err = max(err, float(np.abs(dg - wdg).max()), float(np.abs(dcp - wdc).max()))
        if not err <= 1e-5:
            raise AssertionError(f"bench rnn: cell {(n, h)}: error {err:.2e}")
        t = time_interleaved(
            {
                "af": partial(_cpu.lstm_cell_forward, gates, c),
                "nf": partial(numpy_cell, gates, c),
                "ab": partial(_cpu.lstm_cell_backward, dh, dc, act, c, c2),
                "nb": partial(numpy_cell_backward, dh, dc, act, c, c2),
            },
            target_s,
        )
        row = {
            "case": f"cell N{n} H{h}",
            "axonal_fwd_us": t["af"] * 1e6,
            "axonal_bwd_us": t["ab"] * 1e6,
            "vs_numpy_fwd": t["nf"] / t["af"],
            "vs_numpy_bwd": t["nb"] / t["ab"],
        }
        rows.append(row)
        print(
            f"{row['case']:>16} {row['axonal_fwd_us']:9.1f} {row['axonal_bwd_us']:9.1f} "
            f"{row['vs_numpy_fwd']:7.2f} {row['vs_numpy_bwd']:7.2f}",
            flush=True,
        )
    return rows


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(prog="bench_rnn")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    ap.add_argument("--seconds", type=float, default=1.5, help="timing budget per case")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = ap.parse_args(argv)
    if args.threads is not None:
        _cpu.set_num_threads(args.threads)
    out = {"benchmark": "rnn", "layers": [], "cells": []}
    try:
        import torch

        torch.set_num_threads(_cpu.get_num_threads())
    except ImportError:
        torch = None
    if torch is not None:
        print(f"{'layer':>46} {'ax fwd ms':>9} {'ax f+b ms':>9} {'xPT fwd':>7} {'xPT f+b':>7}")
        out["layers"] = bench_layers(torch, args.seconds)
        out["packed"] = bench_packed(torch, args.seconds)
    else:
        print("PyTorch is not installed: layer timings skipped")
    print(f"{'LSTM cell':>16} {'fwd us':>9} {'bwd us':>9} {'xNP fwd':>7} {'xNP bwd':>7}")
    out["cells"] = bench_cells(args.seconds)
    out["machine"] = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": _cpu.get_num_threads(),
        "simd": _cpu.simd_path(),
        "torch": getattr(torch, "__version__", None),
    }
    print(
        f"# float32 on {out['machine']['cpu']} ({out['machine']['cores']} cores), threads="
        f"{out['machine']['threads']}, simd={out['machine']['simd']}; medians of interleaved "
        "runs; xPT / xNP = other time / axonal time"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
