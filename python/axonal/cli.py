"""The ``axonal`` command line: ``axonal info``, ``axonal bench gemm``, ``axonal train``."""

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


def _cmd_train(args: argparse.Namespace) -> int:
    import json
    import os

    from .training.recipes import RECIPES, run_recipe, run_repeats

    common = dict(
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        data_dir=args.data_dir,
        patience=args.patience,
        split_seed=args.split_seed,
        threads=args.threads,
        verbose=not args.quiet,
        device=args.device,
    )
    if args.device is not None and args.device != "cpu":
        from .ops.creation import cupy_module
        from .tensor import device

        try:
            if device(args.device).type == "cuda":
                cupy_module()
        except RuntimeError as e:
            print(f"axonal train: error: --device {args.device}: {e}", file=sys.stderr)
            return 2
    repeats = args.repeats
    if repeats is None:
        # the recipe's default evaluation (breast cancer: 10 splits), unless one split or a
        # checkpoint (which needs a single run) was asked for
        explicit_single = args.split_seed is not None or args.checkpoint
        repeats = 1 if explicit_single else RECIPES[args.recipe].repeats
    try:
        if repeats > 1:
            if args.checkpoint:
                print(
                    "axonal train: --checkpoint needs a single run (no --repeats)", file=sys.stderr
                )
                return 2
            result = run_repeats(args.recipe, repeats=repeats, **common)
        else:
            result = run_recipe(args.recipe, checkpoint=args.checkpoint, **common)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"axonal train: error: {e}", file=sys.stderr)
        return 2
    if args.quiet:
        print(json.dumps(result))
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(folder, exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def _positive_float(text: str) -> float:
    v = float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="axonal", description="axonal deep-learning library")
    sub = p.add_subparsers(dest="command")
    sp = sub.add_parser("info", help="version, CUDA status, SIMD path, threads")
    sp.set_defaults(func=_cmd_info)
    sp = sub.add_parser("bench", help="run a kernel benchmark (axonal bench gemm [--quick])")
    sp.add_argument("family", choices=["gemm"], help="kernel family to benchmark")
    sp.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark")
    sp.set_defaults(func=_cmd_bench)

    from .training.recipes import RECIPES

    recipes = "\n".join(f"  {n:<20}{r.description}" for n, r in RECIPES.items())
    sp = sub.add_parser(
        "train",
        help="train a ready-made recipe (default: mlp-breast-cancer)",
        description="Train a recipe and report its test metrics.\n\nrecipes:\n" + recipes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sp.add_argument(
        "recipe", nargs="?", default="mlp-breast-cancer", choices=list(RECIPES), metavar="recipe"
    )
    sp.add_argument("--epochs", type=_positive_int, help="maximum epochs (recipe default)")
    sp.add_argument("--seed", type=int, default=0, help="seed for init, shuffling, val split")
    sp.add_argument("--batch-size", type=_positive_int, help="training batch size")
    sp.add_argument("--lr", type=_positive_float, help="initial learning rate (AdamW)")
    sp.add_argument("--patience", type=_positive_int, help="early-stopping patience (epochs)")
    sp.add_argument(
        "--split-seed",
        type=int,
        help="seed of the (first) train/test split (default 0); alone, it means one split",
    )
    sp.add_argument(
        "--repeats",
        type=_positive_int,
        help="repeated hold-out: run on N train/test splits (seeds split-seed, +1, ...), report "
        "mean/std/min/max (default: 10 for mlp-breast-cancer, 1 for the others)",
    )
    sp.add_argument("--data-dir", help="folder with the dataset files (mlp-mnist: MNIST IDX)")
    sp.add_argument("--checkpoint", help="save the best weights here (safetensors)")
    sp.add_argument(
        "--threads",
        type=_positive_int,
        help="CPU threads (default: 1 for the tabular recipes, all cores for mlp-mnist)",
    )
    sp.add_argument(
        "--device",
        default=None,
        help="cpu (default), cuda or cuda:N: where the model and the batches live",
    )
    sp.add_argument("--json", help="write the results as JSON to this file")
    sp.add_argument("--quiet", action="store_true", help="no per-epoch lines; print JSON")
    sp.set_defaults(func=_cmd_train)
    return p


def main(argv: list | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)
