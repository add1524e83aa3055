"""``landscape ls RUNS``: list runs, their status and when they were last verified."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("ls", help="list runs, their status and when each was last verified")
    p.add_argument("runs", nargs="?", default="runs")


def _ls(args: argparse.Namespace) -> int:
    from landscape.store import list_runs

    infos = list_runs(args.runs)
    if not infos:
        print(f"{args.runs}: no runs")
        return 0
    apart = _what_tells_apart(infos)
    width = max(len("verified"), *(len(i.verified) for i in infos))
    print(f"{'run_id':<14} {'status':<12} {'masks':>11}  {'verified':<{width}}  config")
    for info in infos:
        done = f"{info.n_masks}/{info.n_planned}"
        detail = info.summary if info.ok else info.error
        if info.path in apart:
            detail = f"{detail} ({apart[info.path]})"
        if info.status.startswith("corrupt"):  # say why, not just that it is
            detail = f"{info.summary}: {info.status.split(':', 1)[1].strip()}"
        verified = info.verified if info.ok else ""
        print(f"{info.run_id:<14} {info.status.split(':')[0]:<12} {done:>11}  {verified:<{width}}  {detail}")
    return 0


def _what_tells_apart(infos) -> dict:
    """For runs of one summary line (``edge_popup mlp digits d=0.3`` with and without
    recycling), the fields that differ between them, labelled as the analysis labels groups."""
    from landscape.grouping import group_masks
    from landscape.store.catalog import runs_table

    alike: dict[str, list] = {}
    for info in infos:
        if info.ok:
            alike.setdefault(info.summary, []).append(info)
    apart = {}
    for same in alike.values():
        if len(same) > 1:
            for group in group_masks(runs_table(same).reset_index(drop=True)):
                for pos in group.positions:
                    apart[same[pos].path] = group.label
    return apart


COMMANDS = {"ls": _ls}
