"""Argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse

from landscape.errors import ConfigError


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
