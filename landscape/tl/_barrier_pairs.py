"""Argument checks and pair selection of :func:`landscape.tl.barriers`: which pairs of masks
are interpolated, drawn in an order that depends only on the seed and the masks' labels, and
which pairs are refused (masks over different weights on the swap path, runs of different
networks or data)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape.config.schema import NOT_IDENTITY_FIELDS
from landscape.errors import AnalysisError
from landscape.grouping import _missing

PATHS = ("linear", "swap")
SPLITS = ("train", "val", "test")


def _check_paths(path: str | Sequence[str]) -> tuple[str, ...]:
    paths = (path,) if isinstance(path, str) else tuple(path)
    if not paths:
        raise AnalysisError("path: give at least one of 'linear', 'swap'")
    for p in paths:
        if p not in PATHS:
            raise AnalysisError(f"path: unknown path {p!r} (choose from {', '.join(PATHS)})")
    return tuple(dict.fromkeys(paths))


def _check_args(n_points, split, bn_batches, batch_size, batch_points) -> None:
    if int(n_points) != n_points or n_points < 2:
        raise AnalysisError(f"n_points: need an integer >= 2 (both ends), got {n_points!r}")
    if split not in SPLITS:
        raise AnalysisError(f"split: unknown split {split!r} (choose from {', '.join(SPLITS)})")
    if bn_batches is not None and (int(bn_batches) != bn_batches or bn_batches < 1):
        raise AnalysisError(f"bn_batches: need a positive integer or None, got {bn_batches!r}")
    if int(batch_size) != batch_size or batch_size < 2:
        raise AnalysisError(f"batch_size: need an integer >= 2, got {batch_size!r}")
    if batch_points is not None and (int(batch_points) != batch_points or batch_points < 1):
        raise AnalysisError(f"batch_points: need a positive integer or None, got {batch_points!r}")


def _check_obs(ms) -> pd.DataFrame:
    obs = ms.obs
    for col in ("run_id", "weight_seed", "search_seed"):
        if col not in obs.columns:
            raise AnalysisError(
                f"obs lacks column {col!r}: barriers rebuild each mask's network from its run "
                "(read masks with ls.read_runs)"
            )
        if obs[col].isna().any():
            raise AnalysisError(f"obs column {col!r} has missing values; barriers need it for every mask")
    if len(obs) < 1:
        raise AnalysisError("the MaskSet holds no masks")
    return obs


def _base_seed(rng: int | np.random.Generator) -> int:
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**62))
    if isinstance(rng, (bool, float)) or not isinstance(rng, (int, np.integer)):
        raise AnalysisError(f"rng: need an int seed or a numpy Generator, got {rng!r}")
    return int(rng)


def _group_labels(obs: pd.DataFrame) -> list[str]:
    return [f"{r}/w{int(w)}" for r, w in zip(obs["run_id"].astype(str), obs["weight_seed"])]


def _select_pairs(obs: pd.DataFrame, groups: list[str], pairs, across_seeds: bool, seed: int):
    n = len(obs)
    if isinstance(pairs, bool):
        raise AnalysisError(f"pairs: expected None, a number of pairs or a list of (i, j), got {pairs!r}")
    if pairs is None or isinstance(pairs, (int, np.integer)):
        if pairs is not None and pairs < 1:
            raise AnalysisError(f"pairs: need a positive number of pairs per group, got {pairs}")
        blocks = _pair_blocks(obs, groups, across_seeds)
        if not any(len(pos) > 1 for pos in blocks.values()):
            where = "" if across_seeds else " within a (run_id, weight_seed) group"
            raise AnalysisError(f"no pairs of masks{where}: every group holds a single mask")
        names = obs.index.astype(str)
        chosen = []
        for pos in blocks.values():
            candidates = _ordered_pairs(pos, names, seed)
            chosen += candidates if pairs is None else candidates[: int(pairs)]
        return sorted(chosen)
    out = []
    for p in pairs:
        try:
            i, j = (int(v) for v in p)
        except (TypeError, ValueError):
            raise AnalysisError(f"pairs: expected (i, j) obs positions, got {p!r}") from None
        if not (0 <= i < n and 0 <= j < n):
            raise AnalysisError(f"pairs: ({i}, {j}) is out of range for {n} masks")
        if groups[i] != groups[j] and not across_seeds:
            raise AnalysisError(
                f"pairs: ({i}, {j}) mixes {groups[i]} and {groups[j]}; masks over different random "
                "weights interpolate different weights, not just masks (pass across_seeds=True to allow)"
            )
        out.append((i, j))
    if not out:
        raise AnalysisError("pairs: the list of pairs is empty")
    return out


# model fields that only say how the random weights were drawn
WEIGHT_DRAW = ("model.weight_init", "model.scale_fan")


def _check_cross_run(obs: pd.DataFrame, pairs: list[tuple[int, int]]) -> None:
    """A pair across runs is evaluated in one network built from the first run's config, on
    that run's data: refuse pairs whose runs differ in a model or data field (how the random
    weights were drawn may differ: each end brings its own weights)."""
    fields = [
        c
        for c in obs.columns
        if c.startswith(("model.", "data.")) and c not in WEIGHT_DRAW and c not in NOT_IDENTITY_FIELDS
    ]
    runs = obs["run_id"].astype(str).to_numpy()
    for i, j in pairs:
        if runs[i] == runs[j]:
            continue
        for f in fields:
            a, b = obs[f].iloc[i], obs[f].iloc[j]
            if not _same(a, b):
                raise AnalysisError(
                    f"pair ({i}, {j}): runs {runs[i]} and {runs[j]} differ in {f} ({a!r} vs {b!r}); "
                    "a path between them would be evaluated in one run's network and data"
                )


def _same(a: Any, b: Any) -> bool:
    if _missing(a) or _missing(b):  # a field one run's config does not record
        return _missing(a) and _missing(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays or lists stored in obs
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))


def _pair_blocks(obs: pd.DataFrame, groups: list[str], across_seeds: bool) -> dict[tuple, np.ndarray]:
    """Positions of the masks that may be paired: per (run, weight seed), or per run."""
    keys = obs["run_id"].astype(str).tolist() if across_seeds else groups
    blocks: dict[tuple, list[int]] = {}
    for pos, key in enumerate(keys):
        blocks.setdefault((key,), []).append(pos)
    return {k: np.asarray(v) for k, v in blocks.items()}


def _ordered_pairs(pos: np.ndarray, names: pd.Index, seed: int) -> list[tuple[int, int]]:
    """Every pair of ``pos`` in a random order set by ``seed`` and the two masks' labels only,
    so the first N pairs contain the first M < N, and masks added to a run later do not
    reshuffle the pairs of the others."""

    def rank(pair: tuple[int, int]) -> bytes:
        a, b = sorted((names[pair[0]], names[pair[1]]))
        return hashlib.sha256(f"{int(seed)}:barrier_pair:{a}:{b}".encode()).digest()

    pos = pos.tolist()
    every = [(a, b) for k, a in enumerate(pos) for b in pos[k + 1 :]]
    return sorted(every, key=rank)


def _canonical(p: tuple[int, int], names: list[str]) -> tuple[int, int]:
    """The orientation a pair is computed in: ordered by obs label (then position)."""
    i, j = p
    return (i, j) if (names[i], i) <= (names[j], j) else (j, i)


def _describe_pairs(pairs) -> Any:
    if pairs is None:
        return "all"
    if isinstance(pairs, (int, np.integer)):
        return int(pairs)
    return [[int(a), int(b)] for a, b in pairs]
