"""Accuracy against how typical a mask is of its group, from :func:`landscape.tl.typicality`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    accuracy_label,
    attach,
    group_labels,
    group_methods,
    legend_names,
    legend_outside,
    metric_label,
    new_axes,
    ordered_groups,
    require_obs,
)
from landscape.pl.style import MARKERS, group_colors
from landscape.tl.typicality import MEASURES

_FIX = "landscape.tl.typicality(ms)"


def _prepare_accuracy_vs_typicality(
    obs: pd.DataFrame, table: pd.DataFrame, labels: pd.Series, measure: str, accuracy: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per mask ``group, weight_seed, x`` (the measure), ``y`` (accuracy); per group its
    Spearman correlation, p-value and how many masks and networks it covers (the
    across-network row where the group has several networks)."""
    if measure not in MEASURES:
        raise AnalysisError(f"measure: expected one of {', '.join(MEASURES)}, got {measure!r}")
    x = pd.to_numeric(require_obs(obs, measure), errors="coerce")
    y = pd.to_numeric(require_obs(obs, accuracy), errors="coerce")
    points = pd.DataFrame(
        {
            "group": pd.Series(labels).astype(str).to_numpy(),
            "weight_seed": obs["weight_seed"].to_numpy() if "weight_seed" in obs else 0,
            "x": x.to_numpy(),
            "y": y.to_numpy(),
        },
        index=obs.index,
    ).dropna(subset=["x", "y"])
    if points.empty:
        raise AnalysisError(f"no masks with both {measure!r} and {accuracy!r}: run {_FIX} first")
    rows = []
    part = table[table["measure"] == measure]
    for group in ordered_groups(points["group"]):
        mine = part[part["group"].astype(str) == group]
        pick = mine[mine["weight_seed"].astype(str) == "all"]
        pick = pick if len(pick) else mine
        if pick.empty:
            continue
        r = pick.iloc[0]
        rows.append(
            {"group": group, "spearman": r["spearman"], "p_value": r["p_value"], "n_masks": int(r["n_masks"]),
             "n_networks": int(r["n_networks"])}
        )  # fmt: skip
    return points, pd.DataFrame(rows, columns=["group", "spearman", "p_value", "n_masks", "n_networks"])


def accuracy_vs_typicality(
    ms: Any,
    *,
    measure: str = "typicality",
    accuracy: str = "test_acc",
    groupby: Any = "config",
    key: str = "typicality",
    ax: Any = None,
) -> Any:
    """Accuracy of each mask against its typicality (mean similarity to the other masks of its
    group and network) or its similarity to the consensus of the others; the legend gives
    each group's Spearman correlation and permutation p-value.

    Parameters
    ----------
    ms
        MaskSet with ``uns[key]`` and the obs columns of ``landscape.tl.typicality``.
    measure
        ``"typicality"`` or ``"consensus_similarity"``.
    accuracy
        obs column on the y axis (the one the tool correlated).
    groupby
        Must be the grouping the tool used (``"config"`` by default).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    slot = ms.uns.get(key)
    if not isinstance(slot, dict) or "table" not in slot:
        raise AnalysisError(f'uns["{key}"] is missing: run {_FIX} first')
    labels = group_labels(ms.obs, groupby)
    points, stats = _prepare_accuracy_vs_typicality(ms.obs, slot["table"], labels, measure, accuracy)
    metric = slot.get("params", {}).get("metric", "jaccard")
    ax = new_axes(ax)
    groups = ordered_groups(points["group"])
    colors = group_colors(groups, group_methods(ms.obs, labels))
    by_group = stats.set_index("group") if len(stats) else pd.DataFrame()
    names, recipe = legend_names(groups)
    for k, group in enumerate(groups):
        part = points[points["group"] == group]
        label = names[group]
        if group in by_group.index and np.isfinite(by_group.loc[group, "spearman"]):
            r = by_group.loc[group]
            label += f" (ρ = {r['spearman']:+.2f}, p = {r['p_value']:.2g})"
        ax.scatter(part["x"], part["y"], s=10, color=colors[group], marker=MARKERS[k % len(MARKERS)],
                   linewidths=0.3, edgecolors="white", label=label)  # fmt: skip
    sim = metric_label(metric, True)
    ax.set_xlabel(
        f"{sim} to the other masks (mean)"
        if measure == "typicality"
        else f"{sim} to the consensus of the others"
    )
    ax.set_ylabel(accuracy_label(accuracy, points["y"]))
    legend_outside(ax, where="top", ncols=1)
    note = "ρ: Spearman correlation within each network (mean over networks); p: permutation test of the accuracies"
    return attach(
        ax, points.reset_index(names="mask").merge(stats, on="group", how="left"), note + ".", recipe
    )
