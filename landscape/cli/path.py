"""``landscape path CONFIG``: print the run directory a config maps to."""

from __future__ import annotations

import argparse
from pathlib import Path

from landscape.cli._common import add_config_args


def add_parser(sub) -> None:
    p = sub.add_parser("path", help="print the run directory a config maps to")
    add_config_args(p)
    p.add_argument("--runs", default="runs")


def _path(args: argparse.Namespace) -> int:
    from landscape.config import load_config

    cfg = load_config(args.config, args.overrides)
    print(Path(args.runs) / cfg.run_id)
    return 0


COMMANDS = {"path": _path}
