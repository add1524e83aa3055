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
    p.add_argument("--search-seeds", default=None, help="masks per network, e.g. 0-15 (default 0)")
    p.add_argument(
        "--score-seeds",
        "--score-seed",
        default=None,
        help="score initialisations, with --data-seed(s): vary one, hold the other, e.g. "
        "--score-seeds 0-7 --data-seed 0 (instead of --search-seeds)",
    )
    p.add_argument(
        "--data-seeds",
        "--data-seed",
        default=None,
        help="data orders (and augmentation), with --score-seed(s), e.g. --score-seed 0 --data-seeds 0-7",
    )
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
    cfg, search_seeds = _seeds(cfg, args)
    if args.masks_in_flight is not None and args.masks_in_flight < 1:
        raise ConfigError("--masks-in-flight: must be >= 1")
    summary = run_search(cfg, args.runs, weight_seeds, search_seeds, args.device, args.masks_in_flight,
                         progress=not args.quiet, store_weights=args.store_weights)  # fmt: skip
    stored = f", {summary.weights_stored} random networks stored" if args.store_weights else ""
    print(
        f"run {summary.run_id} ({cfg.describe()}): {summary.done} masks searched, "
        f"{summary.skipped} already done, {summary.busy} held by other workers{stored} -> {summary.path}"
    )
    if summary.without_snapshots:
        print(
            f"  {summary.without_snapshots} of the masks already done were searched without snapshots "
            "and are not searched again, so they have none (remove the run with landscape rm to "
            "search them anew with snapshots)"
        )
    return 0


def _seeds(cfg, args: argparse.Namespace):
    """The config (holding a source fixed when asked) and the search seeds."""
    from landscape.search.seeds import hold_one_source

    split = args.score_seeds is not None or args.data_seeds is not None
    if not split:
        return cfg, parse_seeds(args.search_seeds or "0", "search-seeds")
    if args.search_seeds is not None:
        raise ConfigError(
            "--search-seeds: give either search seeds or --score-seeds with --data-seeds, not both"
        )
    if args.score_seeds is None or args.data_seeds is None:
        given, other = (
            ("--score-seeds", "--data-seed") if args.score_seeds else ("--data-seeds", "--score-seed")
        )
        raise ConfigError(
            f"{given}: also give {other} (the seed held fixed), e.g. --score-seeds 0-7 --data-seed 0"
        )
    overrides, seeds = hold_one_source(args.score_seeds, args.data_seeds, "--score-seeds/--data-seeds")
    held = {"method.score_seed", "train.data_seed"}
    clash = [o.split("=", 1)[0].strip() for o in args.overrides if o.split("=", 1)[0].strip() in held]
    if clash:
        raise ConfigError(f"--set {clash[0]}: already set by --score-seeds/--data-seeds; give one of them")
    return cfg.replace(**overrides), seeds


COMMANDS = {"search": _search}
