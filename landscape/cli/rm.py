"""``landscape rm RUN...``: remove runs, whole or not at all."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "rm",
        help="remove runs (named, or selected by config fields with --where)",
        description="Remove runs from a runs root. Each run is renamed to a hidden trash folder "
        "in one atomic step, then deleted, so no half-removed run is ever read; a removal that "
        "was killed is finished by the next one. Runs a search is filling are refused without --force.",
    )
    p.add_argument(
        "run_ids",
        nargs="*",
        metavar="RUN",
        help="run ids under --runs, or run directories given as paths (with a /, e.g. ./ID)",
    )
    p.add_argument("--runs", default="runs", help="runs root (default runs/)")
    p.add_argument(
        "--where",
        default=None,
        metavar="QUERY",
        help='select runs by config fields, e.g. "`train.epochs` == 2 and density == 0.3"',
    )
    p.add_argument(
        "--force", action="store_true", help="remove runs even while a search holds claims in them"
    )
    p.add_argument("--dry-run", action="store_true", help="print what would be removed and exit")


def _rm(args: argparse.Namespace) -> int:
    from landscape.errors import ConfigError, StoreError
    from landscape.search.runner import CLAIM_STALE_S
    from landscape.store.catalog import inspect_run
    from landscape.store.remove import live_claims, remove_run, sweep_trash

    if args.run_ids and args.where is not None:
        raise ConfigError("give run ids or --where, not both")
    if not args.run_ids and args.where is None:
        raise ConfigError("name the runs to remove (run ids or run directories) or select them with --where")
    paths = _named(args.run_ids, args.runs) if args.run_ids else _selected(args.runs, args.where)
    if not args.force:  # refuse before removing anything, so a refusal never removes half a list
        for path in paths:
            owners = live_claims(path, CLAIM_STALE_S)
            if owners:
                raise StoreError(
                    f"run {path.name}: a search is running in it ({len(owners)} live claims, e.g. "
                    f"{owners[0]}); stop it first, or remove anyway with --force"
                )
    for root in sorted({p.parent for p in paths}):
        for trash in sweep_trash(root):
            print(f"swept    {trash} (left by an interrupted rm)")
    for path in paths:
        info = inspect_run(path)
        what = f"{info.run_id:<14} {info.summary or info.error} ({info.n_masks} masks) at {path}"
        if args.dry_run:
            print(f"would remove {what}")
            continue
        remove_run(path, CLAIM_STALE_S, force=True)  # claims were checked above
        print(f"removed  {what}")
    return 0


def _named(run_ids: list[str], root: str) -> list[Path]:
    from landscape.errors import StoreError
    from landscape.store.catalog import is_run_dir

    paths = []
    for name in dict.fromkeys(run_ids):
        # a bare id names a run of --runs, never a folder of the same name where rm is called
        as_path = "/" in name or os.sep in name
        path = Path(name) if as_path else Path(root) / name
        if not is_run_dir(path):
            here = "" if as_path or not is_run_dir(Path(name)) else f" (to remove ./{name}, give ./{name})"
            where = "not a run directory" if as_path else f"no such run under {root}"
            raise StoreError(f"{name}: {where}{here}")
        paths.append(path)
    return paths


def _selected(root: str, where: str) -> list[Path]:
    from landscape.errors import StoreError
    from landscape.maskset import select_obs
    from landscape.store.catalog import list_runs, runs_table

    infos = list_runs(root)
    keep = select_obs(runs_table(infos), where)
    paths = [info.path for info, k in zip(infos, keep) if k]
    if not paths:
        raise StoreError(f"{root}: --where {where!r} selects no runs")
    return paths


COMMANDS = {"rm": _rm}
