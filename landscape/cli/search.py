"""``landscape search CONFIG``: search masks of one configuration into the run store."""

from __future__ import annotations

import argparse

from landscape.cli._common import add_config_args, parse_seeds
from landscape.errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="search masks of one configuration into the run store")
    add_config_args(p)
    p.add_argument("--runs", default="runs", help="runs root (default: runs/)")
    p.add_argument("--weight-seeds", default="0", help="random networks, e.g. 0-3 (default 0)")
    p.add_argument("--search-seeds", default="0", help="masks per network, e.g. 0-15 (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default cpu)")
    p.add_argument(
        "--masks-in-flight",
        type=int,
        default=None,
        help="masks trained at once in one batched model (default: from free memory)",
    )
    p.add_argument(
        "--store-weights",
        action="store_true",
        help="also store each random network in the run (random_weights/), so it rebuilds under "
        "any torch version; does not change the run id",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _search(args: argparse.Namespace) -> int:
    from landscape.config import load_config
    from landscape.search.runner import run_search

    cfg = load_config(args.config, args.overrides)
    weight_seeds = parse_seeds(args.weight_seeds, "weight-seeds")
    search_seeds = parse_seeds(args.search_seeds, "search-seeds")
    if args.masks_in_flight is not None and args.masks_in_flight < 1:
        raise ConfigError("--masks-in-flight: must be >= 1")
    summary = run_search(cfg, args.runs, weight_seeds, search_seeds, args.device, args.masks_in_flight,
                         progress=not args.quiet, store_weights=args.store_weights)  # fmt: skip
    stored = f", {summary.weights_stored} random networks stored" if args.store_weights else ""
    print(
        f"run {summary.run_id} ({cfg.describe()}): {summary.done} masks searched, "
        f"{summary.skipped} already done, {summary.busy} held by other workers{stored} -> {summary.path}"
    )
    return 0


COMMANDS = {"search": _search}
