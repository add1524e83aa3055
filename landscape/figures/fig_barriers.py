"""Named figures of loss barriers between masks (from ``landscape analyze --barriers N``)."""

from __future__ import annotations

from typing import Any

from landscape import pl
from landscape.figures import steps as _steps  # noqa: F401  (registers the steps used below)
from landscape.figures.registry import figure
from landscape.figures.select import searched_masks


@figure(
    "interpolation", needs=("barriers",), where=searched_masks, one_density=True, params={"metric": "loss"}
)
def interpolation(ms: Any) -> Any:
    """Loss along the interpolation paths between masks (mean ± sd over pairs)."""
    split = ms.uns["barrier"].get("params", {}).get("split")
    return pl.interpolation(ms, metric="loss", split=split, groupby="config")


@figure(
    "barrier_matrix", needs=("barriers",), where=searched_masks, one_density=True, width="double", aspect=0.35
)
def barrier_matrix(ms: Any) -> Any:
    """Loss barrier of every interpolated pair, one matrix per configuration."""
    return pl.barrier_matrix(ms, groupby="config")


@figure(
    "barrier_vs_distance",
    needs=("barriers",),
    where=searched_masks,
    one_density=True,
    params={"metric": "loss"},
)
def barrier_vs_distance(ms: Any) -> Any:
    """Loss barrier of each interpolated pair against the pair's normalised Hamming distance."""
    split = ms.uns["barrier"].get("params", {}).get("split") or "test"
    return pl.barrier_vs_distance(ms, metric="loss", split=split, groupby="config")
