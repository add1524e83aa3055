"""Which masks a named figure shows: searched masks, one width or one density held fixed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape.figures.registry import FigureSkipped

RANDOM, DENSE = "random", "dense"


def searched_masks(obs: pd.DataFrame) -> pd.Series:
    """Masks found by a search (the dense weight-trained reference left out)."""
    if "method" not in obs.columns:
        return pd.Series(True, index=obs.index)
    return obs["method"].astype(str) != DENSE


def not_random(obs: pd.DataFrame) -> pd.Series:
    """searched masks without the random-mask null runs"""
    keep = searched_masks(obs)
    return keep & (obs["method"].astype(str) != RANDOM) if "method" in obs.columns else keep


def methods_of(ms: Any) -> list[str]:
    """The methods present (for choosing what a figure shows)."""
    if "method" not in ms.obs.columns:
        return []
    return list(dict.fromkeys(ms.obs["method"].astype(str)))


def config_groups(ms: Any) -> dict[str, str]:
    """``{group label: method}`` of the configuration groups, largest first."""
    from landscape.grouping import group_masks

    groups = sorted(group_masks(ms.obs), key=lambda g: -g.n_masks)
    method = ms.obs["method"].astype(str).to_numpy() if "method" in ms.obs.columns else None
    return {g.label: (method[g.positions[0]] if method is not None else "") for g in groups}


def _hold_fixed(obs: pd.DataFrame, vary: str, fixed: str) -> pd.Series:
    """Rows at the value of ``fixed`` where ``vary`` takes the most values among searched masks;
    the dense weight-trained reference is kept at any density (it has no mask)."""
    if fixed not in obs.columns or vary not in obs.columns:
        return pd.Series(True, index=obs.index)
    searched = obs[searched_masks(obs)]
    if searched[fixed].dropna().empty:
        return pd.Series(True, index=obs.index)
    levels = searched.groupby(fixed)[vary].nunique()
    best = levels[levels == levels.max()].index
    value = searched[searched[fixed].isin(best)][fixed].value_counts().idxmax()
    keep = obs[fixed] == value
    if fixed == "density":
        keep |= obs["method"].astype(str) == DENSE
    return keep


def _hold_each(obs: pd.DataFrame, vary: str, fixed: Sequence[str]) -> pd.Series:
    """:func:`_hold_fixed` for each field of ``fixed`` in turn, each within the rows the ones
    before it kept."""
    keep = np.ones(len(obs), dtype=bool)
    for name in fixed:
        keep[keep] = _hold_fixed(obs[keep], vary, name).to_numpy()
    return pd.Series(keep, index=obs.index)


def at_main_width(obs: pd.DataFrame) -> pd.Series:
    """masks of the dataset, then the width multiplier, with the most densities (one test set
    and one width per density figure)"""
    return _hold_each(obs, "density", ("data.name", "model.width_mult"))


def at_main_density(obs: pd.DataFrame) -> pd.Series:
    """masks of the dataset, then the density, with the most widths, plus the dense
    weight-trained reference of that dataset"""
    return _hold_each(obs, "model.width_mult", ("data.name", "density"))


# what each selection holds fixed and why, for captions: accuracies on two test sets never
# share an axes
at_main_width.holds = {
    "dataset": "the dataset with the most densities",
    "width": "the width with the most densities",
}
at_main_density.holds = {
    "dataset": "the dataset with the most widths",
    "density": "the density with the most widths",
}


def need_levels(obs: pd.DataFrame, column: str, name: str, y: str | None = "test_acc") -> None:
    """Skip the figure unless searched masks take two or more values of ``column``."""
    for col in (column, y, "method"):
        if col is not None and col not in obs.columns:
            raise FigureSkipped(f"obs has no {col!r} column")
    searched = obs[searched_masks(obs)]
    if y is not None:
        searched = searched[searched[y].notna()]
    levels = sorted(pd.to_numeric(searched[column], errors="coerce").dropna().unique())
    if len(levels) < 2:
        shown = ", ".join(f"{v:g}" for v in levels) or "none"
        raise FigureSkipped(f"{name} needs searched masks at two or more values of {column} (found {shown})")
