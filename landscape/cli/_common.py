"""Argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse


def parse_seeds(text: str, flag: str = "seeds") -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``; errors name ``--flag`` (the rules of sweep files)."""
    from landscape.search.seeds import parse_seed_spec

    return parse_seed_spec(str(text), f"--{flag}")


def add_overrides(p: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): override config fields."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.epochs=2 --set method.density=0.3",
    )


def add_config_args(p: argparse.ArgumentParser) -> None:
    """A config file argument and its ``--set`` overrides."""
    p.add_argument("config", help="YAML or TOML config file (see configs/)")
    add_overrides(p)
