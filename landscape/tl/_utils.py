"""Helpers shared by the analysis tools: targets, slots and prerequisites (groups live in
:mod:`landscape.grouping`)."""

from __future__ import annotations

import numpy as np

from landscape.errors import AnalysisError

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


def random_state(rng) -> int:
    """An int seed for libraries that take ``random_state``, from an int or a Generator."""
    if rng is None:
        raise AnalysisError("rng is required for random embeddings (an int or a numpy Generator)")
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**31 - 1))
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    raise AnalysisError(f"rng must be an int or a numpy Generator, got {type(rng).__name__}")
