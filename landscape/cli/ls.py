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
    width = max(len("verified"), *(len(i.verified) for i in infos))
    print(f"{'run_id':<14} {'status':<12} {'masks':>11}  {'verified':<{width}}  config")
    for info in infos:
        done = f"{info.n_masks}/{info.n_planned}"
        detail = info.summary if info.ok else info.error
        if info.status.startswith("corrupt"):  # say why, not just that it is
            detail = f"{info.summary}: {info.status.split(':', 1)[1].strip()}"
        verified = info.verified if info.ok else ""
        print(f"{info.run_id:<14} {info.status.split(':')[0]:<12} {done:>11}  {verified:<{width}}  {detail}")
    return 0


COMMANDS = {"ls": _ls}
