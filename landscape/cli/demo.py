"""``landscape demo``: the main job on the embedded default (digits)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="search, analyse and plot mask ensembles on the bundled digits data")
    p.add_argument("--runs", default="runs", help="runs root (default runs/)")
    p.add_argument("--out", default="figures", help="figure folder (default figures/)")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs (default: config's 30)")
    p.add_argument("--masks", type=int, default=8, help="masks per ensemble (default 8)")
    p.add_argument("--barriers", type=int, default=4, help="mask pairs per run for loss barriers (default 4)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _demo(args: argparse.Namespace) -> int:
    from landscape.demo import run_demo
    from landscape.errors import ConfigError

    if args.masks < 2:
        raise ConfigError("--masks: an ensemble needs at least 2 masks")
    if args.barriers < 0:
        raise ConfigError("--barriers: must be >= 0")
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError("--epochs: must be >= 1")

    print(run_demo(args.runs, args.out, args.epochs, args.masks, args.barriers, args.device, not args.quiet))
    return 0


COMMANDS = {"demo": _demo}
