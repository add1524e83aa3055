"""Helpers shared by the analysis tools: targets, slots, prerequisites and groups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError

DEFAULT_GROUPBY = ("method", "density", "model.width_mult", "weight_seed")
DISTANCE_METRICS = ("jaccard", "hamming")


def target(ms, copy: bool):
    """The object a tool writes to: ``ms`` itself or a copy of it."""
    return ms.copy() if copy else ms


def distance_slot(ms, metric: str, layers: bool = False, use: str | None = None) -> np.ndarray:
    """``obsp["dist_<metric>"]`` (or ``use``), or an error naming the call that fills it."""
    if metric not in DISTANCE_METRICS and use is None:
        raise AnalysisError(f"metric={metric!r} is not a distance; choose one of {DISTANCE_METRICS}")
    key = use or f"dist_{metric}"
    if layers:
        key += "_layers"
    if key not in ms.obsp:
        extra = ", per_layer=True" if layers else ""
        raise AnalysisError(
            f"obsp[{key!r}] is missing; run landscape.tl.distances(ms, metric={metric!r}{extra}) first"
        )
    return np.asarray(ms.obsp[key], dtype=np.float64)


def intersection_slot(ms) -> np.ndarray:
    if "intersection" not in ms.obsp:
        raise AnalysisError("obsp['intersection'] is missing; run landscape.tl.distances(ms) first")
    return np.asarray(ms.obsp["intersection"])


def group_columns(ms, groupby: str | Sequence[str] | None, default: bool) -> list[str]:
    """Columns to group by. With the default tuple, columns absent from ``obs`` are skipped."""
    if groupby is None:
        return []
    cols = [groupby] if isinstance(groupby, str) else list(groupby)
    missing = [c for c in cols if c not in ms.obs.columns]
    if missing and not default:
        raise AnalysisError(
            f"groupby: obs has no column {missing[0]!r} (columns: {', '.join(ms.obs.columns)})"
        )
    return [c for c in cols if c in ms.obs.columns]


def groups(ms, cols: list[str]) -> list[tuple[str, dict, np.ndarray]]:
    """``(label, {column: value}, positions)`` per group, in order of first appearance."""
    n = len(ms)
    if not cols:
        return [("all", {}, np.arange(n))]
    keys = ms.obs[cols].astype(object).where(ms.obs[cols].notna(), None)
    table = pd.DataFrame({"key": list(map(tuple, keys.to_numpy())), "pos": np.arange(n)})
    out = []
    for key, part in table.groupby("key", sort=False)["pos"]:
        values = dict(zip(cols, key))
        label = ", ".join(f"{c}={v}" for c, v in values.items())
        out.append((label, values, part.to_numpy()))
    return out


def random_state(rng) -> int:
    """An int seed for libraries that take ``random_state``, from an int or a Generator."""
    if rng is None:
        raise AnalysisError("rng is required for random embeddings (an int or a numpy Generator)")
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**31 - 1))
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    raise AnalysisError(f"rng must be an int or a numpy Generator, got {type(rng).__name__}")


def pairs(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``i < j`` pairs of ``positions``."""
    a, b = np.triu_indices(len(positions), 1)
    return positions[a], positions[b]
