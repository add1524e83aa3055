"""``landscape`` command line: a thin layer over library calls.

Every user error (:class:`landscape.errors.LandscapeError`) is printed as one line, without
a traceback, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from landscape.errors import ConfigError, LandscapeError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


def parse_seeds(text: str, flag: str = "seeds") -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ConfigError(f"--{flag} {text!r}: expected seeds like 0-7 or 0,3,5") from None
    if not seeds or any(s < 0 for s in seeds):
        raise ConfigError(f"--{flag} {text!r}: expected non-negative seeds like 0-7")
    return sorted(set(seeds))


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="YAML or TOML config file (see configs/)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.epochs=2 --set method.density=0.3",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="landscape", description="The mask landscape of strong lottery tickets."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("search", help="search masks of one configuration into the run store")
    _add_config_args(p)
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("ls", help="list runs and their status")
    p.add_argument("runs", nargs="?", default="runs")

    p = sub.add_parser("verify", help="check every stored file against its checksum")
    p.add_argument("runs", nargs="?", default="runs", help="runs root or one run (default runs/)")
    p.add_argument(
        "--weights",
        action="store_true",
        help="also regenerate each random network and compare with its stored checksum",
    )

    p = sub.add_parser("path", help="print the run directory a config maps to")
    _add_config_args(p)
    p.add_argument("--runs", default="runs")

    for extra in _extra_parsers():
        extra(sub)
    return parser


def _extra_parsers() -> list[Callable]:
    """Sub-commands that live in their own modules (analysis, figures, sweeps, demo)."""
    import importlib

    found = []
    for module in (
        "landscape.cli_analysis",
        "landscape.cli_sweep",
        "landscape.cli_figures",
        "landscape.cli_demo",
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        found.append(mod.add_parser)
        COMMANDS.update(mod.COMMANDS)
    return found


@command("search")
def _search(args: argparse.Namespace) -> int:
    from landscape.config import load_config
    from landscape.search.runner import run_search

    cfg = load_config(args.config, args.overrides)
    weight_seeds = parse_seeds(args.weight_seeds, "weight-seeds")
    search_seeds = parse_seeds(args.search_seeds, "search-seeds")
    if args.masks_in_flight is not None and args.masks_in_flight < 1:
        raise ConfigError("--masks-in-flight: must be >= 1")
    summary = run_search(
        cfg, args.runs, weight_seeds, search_seeds, args.device, args.masks_in_flight, progress=not args.quiet
    )
    print(
        f"run {summary.run_id} ({cfg.describe()}): {summary.done} masks searched, "
        f"{summary.skipped} already done, {summary.busy} held by other workers -> {summary.path}"
    )
    return 0


@command("ls")
def _ls(args: argparse.Namespace) -> int:
    from landscape.store import list_runs

    infos = list_runs(args.runs)
    if not infos:
        print(f"{args.runs}: no runs")
        return 0
    print(f"{'run_id':<14} {'status':<12} {'masks':>11}  config")
    for info in infos:
        done = f"{info.n_masks}/{info.n_planned}"
        detail = info.summary if info.ok else info.error
        if info.status.startswith("corrupt"):  # say why, not just that it is
            detail = f"{info.summary}: {info.status.split(':', 1)[1].strip()}"
        print(f"{info.run_id:<14} {info.status.split(':')[0]:<12} {done:>11}  {detail}")
    return 0


@command("verify")
def _verify(args: argparse.Namespace) -> int:
    from landscape.errors import StoreError
    from landscape.store import RunStore
    from landscape.store.catalog import run_dirs

    bad = 0
    paths = run_dirs(args.runs)
    for path in paths:
        try:
            store = RunStore.open(path)
            store.verify()
            detail = f"{store.n_masks} masks"
            if args.weights:
                from landscape.store.rebuild import verify_weights

                detail += f", weights of seeds {verify_weights(store)} regenerate exactly"
            print(f"ok       {path.name:<14} {detail}")
        except StoreError as exc:
            bad += 1
            print(f"CORRUPT  {path.name:<14} {exc}")
    if bad:
        raise StoreError(f"{args.runs}: {bad} of {len(paths)} runs failed verification")
    return 0


@command("path")
def _path(args: argparse.Namespace) -> int:
    from landscape.config import load_config

    cfg = load_config(args.config, args.overrides)
    print(Path(args.runs) / cfg.run_id)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args) or 0
    except LandscapeError as exc:
        print(f"landscape {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            f"landscape {args.command}: interrupted; finished masks are kept, run again to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
