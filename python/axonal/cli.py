"""The ``axonal`` command line: ``axonal info``, ``axonal bench gemm``."""

from __future__ import annotations

import argparse
import sys


def _cmd_info(args: argparse.Namespace) -> int:
    from . import info

    info()
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_benchmark

    return run_benchmark(args.family, args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="axonal", description="axonal deep-learning library")
    sub = p.add_subparsers(dest="command")
    sp = sub.add_parser("info", help="version, CUDA status, SIMD path, threads")
    sp.set_defaults(func=_cmd_info)
    sp = sub.add_parser("bench", help="run a kernel benchmark (axonal bench gemm [--quick])")
    sp.add_argument("family", choices=["gemm"], help="kernel family to benchmark")
    sp.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark")
    sp.set_defaults(func=_cmd_bench)
    return p


def main(argv: list | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)
