"""Seed lists as sweep files and the command line write them: ``3``, ``"0-7"``, ``"0-3,9"``, lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from landscape.config.validate import SEED_LIMIT
from landscape.errors import ConfigError


def parse_seed_spec(value: Any, where: str = "seeds") -> list[int]:
    """Seeds from ``3``, ``"0-7"``, ``"0-3,9"`` or ``[0, 1, "4-6"]``; sorted, unique.

    Raises
    ------
    ConfigError
        Naming ``where`` when a part is not a non-negative integer or range.
    """
    parts: Sequence[Any] = value if isinstance(value, list) else [value]
    seeds: set[int] = set()
    for part in parts:
        if isinstance(part, bool):
            raise ConfigError(f"{where}: expected seeds like 0-7 or [0, 3, 5], got {value!r}")
        if isinstance(part, int):
            seeds.add(part)
            continue
        for piece in str(part).split(","):
            seeds.update(_seed_range(piece.strip(), value, where))
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"{where}: expected non-negative seeds like 0-7, got {value!r}")
    if max(seeds) >= SEED_LIMIT:
        raise ConfigError(f"{where}: seeds must be below 2**63, got {max(seeds)}")
    return sorted(seeds)


def seed_label(seeds: Sequence[int]) -> str:
    """``[0, 1, 2, 3]`` -> ``"0-3"``; anything else comma-separated."""
    seeds = list(seeds)
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _seed_range(piece: str, value: Any, where: str) -> range:
    try:
        if "-" in piece[1:]:
            lo, hi = (int(x) for x in piece.split("-", 1))
        else:
            lo = hi = int(piece)
    except ValueError:
        raise ConfigError(f"{where}: expected seeds like 0-7 or [0, 3, 5], got {value!r}") from None
    if hi < lo:
        raise ConfigError(f"{where}: expected seeds like 0-7 or [0, 3, 5], got {value!r}")
    if hi >= SEED_LIMIT:  # before the range is expanded
        raise ConfigError(f"{where}: seeds must be below 2**63, got {hi}")
    return range(lo, hi + 1)


def hold_one_source(score_seeds: Any, data_seeds: Any, where: str = "") -> tuple[dict[str, int], list[int]]:
    """A search that varies one source of randomness and holds the other.

    ``score_seeds`` and ``data_seeds`` are seed specs (``"0-7"``, ``0``, lists); one of them is
    a single seed (the source held fixed for every mask), the other the seeds to vary. Both
    single: the data seed is held.

    Returns
    -------
    overrides, search_seeds
        ``{"train.data_seed": d}`` or ``{"method.score_seed": s}`` for the config, and the
        search seeds, which then drive only the varied source (see
        :mod:`landscape.config.seeds`).
    """
    prefix = f"{where}: " if where else ""
    scores = parse_seed_spec(score_seeds, f"{prefix}score seeds")
    data = parse_seed_spec(data_seeds, f"{prefix}data seeds")
    if len(scores) > 1 and len(data) > 1:
        raise ConfigError(
            f"{prefix}score seeds {seed_label(scores)} and data seeds {seed_label(data)}: hold one of "
            "them at a single seed (to vary both, give search seeds)"
        )
    if len(data) == 1:
        return {"train.data_seed": data[0]}, scores
    return {"method.score_seed": scores[0]}, data
