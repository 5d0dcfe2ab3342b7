"""CUDA kernels vs cuBLAS / cuDNN / PyTorch and the device copy bandwidth, in one run.

    python benchmarks/bench_cuda.py [--quick] [--out DIR] [--reps N]

Each case checks the result first (against cuBLAS / cuDNN / a float64 reference), then times
both sides with CUDA events (median of --reps runs after warm-up) and reports TFLOP/s (GEMM,
conv2d) or GB/s (pooling, softmax: bytes read + written once). Cases: SGEMM fp32 at 4096^3 and
8192^3 vs cuBLAS (cupy.matmul, torch.matmul), TF32 vs cuBLAS TF32 (torch), BF16 vs torch bf16,
conv2d fp32 N128 C64 56x56 K64 3x3 (forward, backward-input, backward-weight) vs cuDNN with TF32
off (and the TF32-on figure for reference), max/avg pool and softmax / log_softmax vs torch and
the device-to-device copy. A short table is printed last; with --out (or $OUT) the full log and
a JSON file are written there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

LOG: List[str] = []


def log(msg: str) -> None:
    print(msg, flush=True)
    LOG.append(msg)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    ap.add_argument("--reps", type=int, default=0, help="timed repetitions per case")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the script runs")
    ap.add_argument("--out", default=os.environ.get("OUT", ""), help="folder for the full logs")
    ap.add_argument(
        "--only",
        choices=["gemm", "conv", "pool", "softmax", "lstm"],
        default="",
        help="run one group of cases (and the device copy) only",
    )
    args = ap.parse_args(argv)

    import axonal

    if not axonal.cuda.is_available():
        print("bench_cuda: no CUDA build or no GPU on this machine: nothing to measure")
        return 0
    try:
        import cupy as cp
    except ImportError:
        print("bench_cuda: CuPy is not installed: nothing to measure")
        return 0
    try:
        import torch

        have_torch = torch.cuda.is_available()
    except ImportError:
        torch, have_torch = None, False

    from axonal import backend
    from axonal.backends import cuda as flags

    cu = backend.get("cuda")
    reps = args.reps or (1 if args.smoke else 5 if args.quick else 15)
    args.quick = args.quick or args.smoke
    props = axonal.cuda.get_device_properties()
    log(
        f"device: {props['name']} (sm_{props['major']}{props['minor']}, "
        f"{props['multi_processor_count']} SMs), CuPy {cp.__version__}, "
        f"torch {torch.__version__ if torch else 'absent'}, reps {reps} (median)"
    )
    rows: List[Dict] = []

    # inner > 1: that many calls back to back between the two events (time per call), so the
    # host's per-call work (argument checks, allocation, launch) overlaps the device's as in a
    # training loop, and the figure is the kernel's device time; used for the memory-bound
    # cases, whose kernels take a few hundred microseconds. Both libraries are timed alike.
    def t_cupy(fn: Callable[[], object], inner: int = 1) -> float:
        for _ in range(2):
            fn()
        s, e = cp.cuda.Event(), cp.cuda.Event()
        ts = []
        for _ in range(reps):
            s.record()
            for _ in range(inner):
                fn()
            e.record()
            e.synchronize()
            ts.append(cp.cuda.get_elapsed_time(s, e) / inner)
        return statistics.median(ts)

    def t_torch(fn: Callable[[], object], inner: int = 1) -> float:
        for _ in range(2):
            fn()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        ts = []
        for _ in range(reps):
            s.record()
            for _ in range(inner):
                fn()
            e.record()
            e.synchronize()
            ts.append(s.elapsed_time(e) / inner)
        return statistics.median(ts)

    def rel_err(got, want) -> float:
        got = cp.asarray(got, dtype=cp.float64)
        want = cp.asarray(want, dtype=cp.float64)
        scale = float(cp.abs(want).max()) or 1e-30
        return float(cp.abs(got - want).max()) / scale

    def add(case, shape, ours_ms, unit_amount, unit, ref_name, ref_ms, err, note=""):
        scale = 1e12 if unit == "TFLOP/s" else 1e9
        ours = unit_amount / (ours_ms * 1e-3) / scale
        ref = unit_amount / (ref_ms * 1e-3) / scale if ref_ms else float("nan")
        row = dict(
            case=case,
            shape=shape,
            unit=unit,
            ours_ms=ours_ms,
            ours=ours,
            ref_name=ref_name,
            ref_ms=ref_ms,
            ref=ref,
            ratio=ours / ref if ref_ms else None,
            max_rel_err=err,
            note=note,
        )
        rows.append(row)
        log(
            f"  {case:<24} {shape:<26} ours {ours_ms:9.3f} ms {ours:8.1f} {unit:<7} | "
            f"{ref_name} {ref_ms if ref_ms else float('nan'):9.3f} ms {ref:8.1f} | "
            f"ratio {row['ratio'] if row['ratio'] else float('nan'):.2f} | err {err:.1e} {note}"
        )

    TF32_KERNELS = [
        (0, "gemm TF32 (mma, auto)"),
        (2, "gemm TF32 (mma 128x256 s3)"),
        (3, "gemm TF32 (mma 128x128 s4)"),
        (4, "gemm TF32 (WMMA)"),
        (5, "gemm TF32 (wgmma 128x128 s5)"),
        (6, "gemm TF32 (wgmma 128x256 s4)"),
        (7, "gemm TF32 (wgmma TMA 128x256 s4)"),
        (8, "gemm TF32 (wgmma TMA 128x128 s6)"),
    ]
    rng = cp.random.default_rng(0)
    t0 = time.time()
    F = torch.nn.functional if have_torch else None

    # ---------------------------------------------------------------- device copy bandwidth
    def bench_copy() -> float:
        nbytes = (1 << 16) if args.smoke else (1 << 26) if args.quick else (1 << 28)
        src = cp.ones(nbytes // 4, cp.float32)
        dst = cp.empty_like(src)
        ms = t_cupy(lambda: dst.data.copy_from_device_async(src.data, nbytes))  # memcpy D2D
        gbs = 2 * nbytes / (ms * 1e-3) / 1e9
        log(
            f"device-to-device copy: {2 * nbytes / 2**20:.0f} MiB moved in {ms:.3f} ms = "
            f"{gbs:.0f} GB/s (read + write)"
        )
        return gbs

    copy_gbs = bench_copy()

    # ---------------------------------------------------------------- GEMM
    def bench_gemm(n: int) -> None:
        a = rng.standard_normal((n, n), dtype=cp.float32)
        b = rng.standard_normal((n, n), dtype=cp.float32)
        flops = 2.0 * n**3
        flags.matmul.allow_tf32 = False
        c = cu.gemm(a, b)
        ref = cp.matmul(a, b)
        err = rel_err(c, ref)
        ours = t_cupy(lambda: cu.gemm(a, b, c))
        cub = t_cupy(lambda: cp.matmul(a, b, out=ref))
        add("sgemm fp32 (SIMT)", f"{n}^3", ours, flops, "TFLOP/s", "cuBLAS(cupy)", cub, err)
        if not have_torch:
            return
        ta, tb = torch.as_tensor(a, device="cuda"), torch.as_tensor(b, device="cuda")
        torch.backends.cuda.matmul.allow_tf32 = False
        tt = t_torch(lambda: torch.matmul(ta, tb))
        add("sgemm fp32 (SIMT)", f"{n}^3", ours, flops, "TFLOP/s", "cuBLAS(torch)", tt, err)
        torch.backends.cuda.matmul.allow_tf32 = True
        tt32 = t_torch(lambda: torch.matmul(ta, tb))
        tt32_t = t_torch(lambda: torch.matmul(ta, tb.T))
        torch.backends.cuda.matmul.allow_tf32 = False
        # every TF32 kernel (0 = what gemm picks by itself), and the x @ W^T layout of nn.Linear
        from axonal import _cuda

        flags.matmul.allow_tf32 = True
        try:
            for which, label in TF32_KERNELS:
                _cuda.set_tf32_kernel(which)
                c2 = cu.gemm(a, b)
                err32 = rel_err(c2, ref)
                ours32 = t_cupy(lambda c2=c2: cu.gemm(a, b, c2))
                add(label, f"{n}^3", ours32, flops, "TFLOP/s", "cuBLAS TF32", tt32, err32)
                if which == 0:
                    c2t = cu.gemm(a, b, trans_b=True)
                    err_t = rel_err(c2t, cp.matmul(a, b.T))
                    ours_t = t_cupy(lambda c2t=c2t: cu.gemm(a, b, c2t, trans_b=True))
                    add(label + " A@B^T", f"{n}^3", ours_t, flops, "TFLOP/s", "cuBLAS TF32", tt32_t,
                        err_t)  # fmt: skip
        finally:
            _cuda.set_tf32_kernel(0)
            flags.matmul.allow_tf32 = False
        tab, tbb = ta.to(torch.bfloat16), tb.to(torch.bfloat16)
        abits = cp.asarray(tab.view(torch.int16)).view(cp.uint16)
        bbits = cp.asarray(tbb.view(torch.int16)).view(cp.uint16)
        want16 = cp.asarray(torch.matmul(tab.float(), tbb.float()))
        tt16 = t_torch(lambda: torch.matmul(tab, tbb))
        try:  # 0: what gemm picks (the TMA-fed wgmma kernel on Hopper), 1: WMMA
            for which, label in ((0, "gemm BF16 (auto)"), (1, "gemm BF16 (WMMA)")):
                _cuda.set_bf16_kernel(which)
                name = _cuda.gemm_kernel_name(2)
                c3 = cu.gemm_bf16_bits(abits, bbits)
                err16 = rel_err(c3, want16)
                ours16 = t_cupy(lambda c3=c3: cu.gemm_bf16_bits(abits, bbits, c3))
                add(label, f"{n}^3", ours16, flops, "TFLOP/s", "cuBLAS BF16", tt16, err16,
                    f"fp32 out; {name}")  # fmt: skip
        finally:
            _cuda.set_bf16_kernel(0)

    def wanted(group: str) -> bool:
        return not args.only or args.only == group

    for n in ([130] if args.smoke else [2048] if args.quick else [4096, 8192]) * wanted("gemm"):
        bench_gemm(n)
        cp.get_default_memory_pool().free_all_blocks()

    # ---------------------------------------------------------------- conv2d
    def bench_conv() -> None:
        N = 1 if args.smoke else 32 if args.quick else 128
        x = rng.standard_normal((N, 64, 56, 56), dtype=cp.float32)
        w = rng.standard_normal((64, 64, 3, 3), dtype=cp.float32) * 0.05
        flops = 2.0 * N * 64 * 56 * 56 * 64 * 9
        shape = f"N{N} C64 56x56 K64 3x3 p1"
        y = cu.conv2d_forward(x, w, None, 1, 1)
        dy = rng.standard_normal(y.shape, dtype=cp.float32)
        ours_f = t_cupy(lambda: cu.conv2d_forward(x, w, None, 1, 1))
        ours_bi = t_cupy(lambda: cu.conv2d_backward_input(dy, w, x.shape, 1, 1))
        ours_bw = t_cupy(lambda: cu.conv2d_backward_weight(dy, x, w.shape, 1, 1))
        if not have_torch:
            add("conv2d fwd fp32", shape, ours_f, flops, "TFLOP/s", "-", 0.0, float("nan"))
            return
        tx, tw, tdy = (torch.as_tensor(v, device="cuda") for v in (x, w, dy))
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        err = rel_err(y, cp.asarray(F.conv2d(tx, tw, padding=1)))
        tf = t_torch(lambda: F.conv2d(tx, tw, padding=1))
        add("conv2d fwd fp32", shape, ours_f, flops, "TFLOP/s", "cuDNN", tf, err)
        dx = cu.conv2d_backward_input(dy, w, x.shape, 1, 1)
        tdx = torch.nn.grad.conv2d_input(tx.shape, tw, tdy, padding=1)
        tbi = t_torch(lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, padding=1))
        add(
            "conv2d bwd-input fp32",
            shape,
            ours_bi,
            flops,
            "TFLOP/s",
            "cuDNN",
            tbi,
            rel_err(dx, cp.asarray(tdx)),
            "stride 1: forward kernel" if cu._DGRAD_VIA_FORWARD else "",
        )
        # the dedicated backward-input kernel, for comparison (stride 1 takes the forward one)
        old_flag = cu._DGRAD_VIA_FORWARD
        cu._DGRAD_VIA_FORWARD = False
        try:
            dx_k = cu.conv2d_backward_input(dy, w, x.shape, 1, 1)
            ours_bik = t_cupy(lambda: cu.conv2d_backward_input(dy, w, x.shape, 1, 1))
        finally:
            cu._DGRAD_VIA_FORWARD = old_flag
        add(
            "conv2d bwd-input fp32",
            shape,
            ours_bik,
            flops,
            "TFLOP/s",
            "cuDNN",
            tbi,
            rel_err(dx_k, cp.asarray(tdx)),
            "dgrad kernel",
        )
        dw = cu.conv2d_backward_weight(dy, x, w.shape, 1, 1)
        tdw = torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, padding=1)
        tbw = t_torch(lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, padding=1))
        add(
            "conv2d bwd-weight fp32",
            shape,
            ours_bw,
            flops,
            "TFLOP/s",
            "cuDNN",
            tbw,
            rel_err(dw, cp.asarray(tdw)),
        )
        torch.backends.cudnn.allow_tf32 = True
        tf32 = t_torch(lambda: F.conv2d(tx, tw, padding=1))
        add(
            "conv2d fwd fp32",
            shape,
            ours_f,
            flops,
            "TFLOP/s",
            "cuDNN(TF32 on)",
            tf32,
            err,
            "reference only",
        )

    if wanted("conv"):
        bench_conv()
    cp.get_default_memory_pool().free_all_blocks()

    # ---------------------------------------------------------------- pooling
    INNER = 1 if args.smoke else 8

    def bench_pool() -> None:
        N = 1 if args.smoke else 32 if args.quick else 128
        x = rng.standard_normal((N, 64, 112, 112), dtype=cp.float32)
        shape = f"N{N} C64 112x112"
        bytes_max = x.nbytes + x.nbytes // 4 * 3  # x read; y (float32) + idx (int64) written
        y, idx = cu.max_pool2d_forward(x, 2)
        ours = t_cupy(lambda: cu.max_pool2d_forward(x, 2), INNER)
        note = f"{bytes_max / (ours * 1e-3) / 1e9 / copy_gbs:.0%} of copy"
        if not have_torch:
            add("max_pool2d 2x2 fwd", shape, ours, bytes_max, "GB/s", "-", 0.0, 0.0, note)
            return
        tx = torch.as_tensor(x, device="cuda")
        ty, tidx = F.max_pool2d(tx, 2, return_indices=True)
        err = rel_err(y, cp.asarray(ty)) + float(cp.any(idx != cp.asarray(tidx)))
        tt = t_torch(lambda: F.max_pool2d(tx, 2, return_indices=True), INNER)
        add("max_pool2d 2x2 fwd", shape, ours, bytes_max, "GB/s", "torch", tt, err, note)
        bytes_avg = x.nbytes + x.nbytes // 4
        ya = cu.avg_pool2d_forward(x, 2)
        oa = t_cupy(lambda: cu.avg_pool2d_forward(x, 2), INNER)
        ta = t_torch(lambda: F.avg_pool2d(tx, 2), INNER)
        add(
            "avg_pool2d 2x2 fwd",
            shape,
            oa,
            bytes_avg,
            "GB/s",
            "torch",
            ta,
            rel_err(ya, cp.asarray(F.avg_pool2d(tx, 2))),
            f"{bytes_avg / (oa * 1e-3) / 1e9 / copy_gbs:.0%} of copy",
        )

    if wanted("pool"):
        bench_pool()
    cp.get_default_memory_pool().free_all_blocks()

    # ---------------------------------------------------------------- softmax
    def bench_softmax(rows_: int, cols_: int, log_: bool) -> None:
        x = rng.standard_normal((rows_, cols_), dtype=cp.float32)
        nb = 2 * x.nbytes
        fwd = cu.log_softmax_forward if log_ else cu.softmax_forward
        name = ("log_softmax" if log_ else "softmax") + " fwd"
        y = fwd(x)
        ours = t_cupy(lambda: fwd(x), INNER)
        note = f"{nb / (ours * 1e-3) / 1e9 / copy_gbs:.0%} of copy"
        if have_torch:
            tx = torch.as_tensor(x, device="cuda")
            tfn = torch.log_softmax if log_ else torch.softmax
            err = rel_err(y, cp.asarray(tfn(tx, -1)))
            tt = t_torch(lambda: tfn(tx, -1), INNER)
            add(name, f"{rows_}x{cols_}", ours, nb, "GB/s", "torch", tt, err, note)
        else:
            add(name, f"{rows_}x{cols_}", ours, nb, "GB/s", "-", 0.0, 0.0, note)
        if not log_:
            dy = rng.standard_normal(x.shape, dtype=cp.float32)
            dx = cu.softmax_backward(dy, y)
            ob = t_cupy(lambda: cu.softmax_backward(dy, y), INNER)
            nb3 = 3 * x.nbytes
            note = f"{nb3 / (ob * 1e-3) / 1e9 / copy_gbs:.0%} of copy"
            if have_torch:
                tdy, ty = torch.as_tensor(dy, device="cuda"), torch.as_tensor(y, device="cuda")

                def tbwd():
                    return torch._softmax_backward_data(tdy, ty, -1, torch.float32)

                errb = rel_err(dx, cp.asarray(tbwd()))
                tb = t_torch(tbwd, INNER)
                add("softmax bwd", f"{rows_}x{cols_}", ob, nb3, "GB/s", "torch", tb, errb, note)
            else:
                add("softmax bwd", f"{rows_}x{cols_}", ob, nb3, "GB/s", "-", 0.0, 0.0, note)

    sm_sizes = (
        [(8, 100), (4, 2000)]
        if args.smoke
        else [(4096, 1000), (1024, 8192)]
        if args.quick
        else [(65536, 1024), (8192, 8192), (524288, 128)]
    )
    for rows_, cols_ in sm_sizes * wanted("softmax"):
        for log_ in (False, True):
            bench_softmax(rows_, cols_, log_)
        cp.get_default_memory_pool().free_all_blocks()

    # ---------------------------------------------------------------- LSTM cell
    def bench_lstm() -> None:
        import axonal.nn as nn
        from axonal.backends import cuda as flags_

        B, I, H = (4, 8, 16) if args.smoke else (64, 256, 512) if args.quick else (256, 512, 1024)
        shape = f"B{B} I{I} H{H}"
        # the pointwise kernel alone: gates and c read, h', c' and the activations written
        gates = rng.standard_normal((B, 4 * H), dtype=cp.float32)
        c = rng.standard_normal((B, H), dtype=cp.float32)
        h2, c2, act = cu.lstm_cell_forward(gates, c)
        g64, c64 = gates.astype(cp.float64), c.astype(cp.float64)
        sg = 1 / (1 + cp.exp(-g64))
        want_c2 = sg[:, H : 2 * H] * c64 + sg[:, :H] * cp.tanh(g64[:, 2 * H : 3 * H])
        err = max(rel_err(c2, want_c2), rel_err(h2, sg[:, 3 * H :] * cp.tanh(want_c2)))
        nb = (gates.nbytes + c.nbytes) * 2 + 2 * c.nbytes  # in: gates, c; out: act, h', c'
        ours = t_cupy(lambda: cu.lstm_cell_forward(gates, c), INNER)
        note = f"{nb / (ours * 1e-3) / 1e9 / copy_gbs:.0%} of copy"
        add("lstm cell pointwise fwd", shape, ours, nb, "GB/s", "-", 0.0, err, note)
        if not have_torch:
            return
        # the whole cell (two GEMMs + the pointwise kernel), forward, fp32 (TF32 off on both)
        axonal.manual_seed(0)
        cell = nn.LSTMCell(I, H).to("cuda")
        tcell = torch.nn.LSTMCell(I, H).cuda()
        with torch.no_grad():
            for (_, p), tp in zip(cell.named_parameters(), tcell.parameters()):
                tp.copy_(torch.as_tensor(cp.asnumpy(p.detach()._data), device="cuda"))
        x = axonal.randn(B, I).to("cuda")
        h0, c0 = axonal.randn(B, H).to("cuda"), axonal.randn(B, H).to("cuda")
        tx, th, tc = (torch.as_tensor(cp.asnumpy(t._data), device="cuda") for t in (x, h0, c0))
        flags_.matmul.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        with axonal.no_grad():
            hy, _ = cell(x, (h0, c0))
        with torch.no_grad():
            thy, _ = tcell(tx, (th, tc))
            err = rel_err(hy._data, cp.asarray(thy))
            tt = t_torch(lambda: tcell(tx, (th, tc)), INNER)
        with axonal.no_grad():
            ours = t_cupy(lambda: cell(x, (h0, c0)), INNER)
        flops = 2.0 * B * (I + H) * 4 * H
        add("lstm cell fwd (2 GEMM+cell)", shape, ours, flops, "TFLOP/s", "torch", tt, err)

    if wanted("lstm"):
        bench_lstm()

    log(f"\nbench_cuda: {time.time() - t0:.0f} s")
    log("\n== summary (ours vs reference; ratio > 1: axonal faster) ==")
    head = f"{'case':<24} {'shape':<26} {'axonal':>16} {'reference':>24} {'ratio':>6} {'err':>8}"
    log(head)
    for r in rows:
        ref = f"{r['ref_name']} {r['ref']:.1f}" if r["ref_ms"] else r["ref_name"]
        ratio = f"{r['ratio']:.2f}" if r["ratio"] else "-"
        ours = f"{r['ours']:.1f} {r['unit']}"
        log(
            f"{r['case']:<24} {r['shape']:<26} {ours:>16} {ref:>24} {ratio:>6} "
            f"{r['max_rel_err']:>8.1e} {r['note']}"
        )
    log(f"device copy: {copy_gbs:.0f} GB/s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench_cuda.log"), "w") as f:
            f.write("\n".join(LOG) + "\n")
        with open(os.path.join(args.out, "bench_cuda.json"), "w") as f:
            json.dump(
                {"device": props, "copy_gbs": copy_gbs, "rows": rows}, f, indent=1, default=float
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
