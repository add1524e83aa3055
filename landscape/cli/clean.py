"""``landscape clean RUNS``: remove stored analysis results (the only command that does)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "clean",
        help="remove stored analysis results (stale ones, or all)",
        description="Analysis results (distances, barrier curves, embeddings) are kept under "
        "RUNS/_analysis/results and reused by every later analysis. By default this removes only "
        "results whose masks are no longer in RUNS (re-searched, repaired or removed runs); while a "
        "run cannot be read it removes nothing and names the run, since its results would look "
        "stale. A folder shared by several roots (--out) keeps the results of the masks of "
        "every root analysed into it (listed in its roots.json). --all removes every result.",
    )
    p.add_argument("runs", nargs="?", default="runs", help="runs root (default runs/)")
    p.add_argument("--out", default=None, help="analysis folder (default RUNS/_analysis)")
    p.add_argument("--all", action="store_true", help="remove every stored result")


def _clean(args: argparse.Namespace) -> int:
    from landscape.analysis.clean import clean

    removed, kind = clean(args.runs, out=args.out, everything=args.all)
    print(f"removed {removed} analysis results ({kind})")
    return 0


COMMANDS = {"clean": _clean}
