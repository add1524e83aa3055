"""Per-layer overlap of masks: mean pairwise similarity with a min–max band per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._baseline import chance_distance
from landscape.pl._common import (
    group_labels,
    legend_outside,
    metric_label,
    networks_of,
    new_axes,
    ordered_groups,
    require_obsp,
    rotate_if_crowded,
    within_pairs,
)
from landscape.pl._counts import layer_counts
from landscape.pl.style import GREY, group_colors


def _prepare_layer_overlap(
    dist_layers: np.ndarray,
    labels: pd.Series,
    layer_names: Sequence[str],
    similarity: bool = True,
    networks: np.ndarray | None = None,
) -> pd.DataFrame:
    """Mean, sd, min and max over the pairs of each group, layer by layer (pairs within one
    network when ``networks``, the weight seed of each mask, is given).

    Returns
    -------
    DataFrame
        One row per (group, layer): ``group, layer, layer_index, mean, sd, min, max, n_pairs``.
        Groups with fewer than two masks have no pairs and are left out.
    """
    dist_layers = np.asarray(dist_layers, dtype=float)
    labels = pd.Series(labels).astype(str).to_numpy()
    n, _, n_layers = dist_layers.shape
    if n != len(labels) or n_layers != len(layer_names):
        raise AnalysisError(
            f"per-layer distances {dist_layers.shape} do not match {len(labels)} masks x {len(layer_names)} layers"
        )
    rows = []
    for group in ordered_groups(labels):
        i, j = within_pairs(np.flatnonzero(labels == group), networks)
        if not len(i):
            continue
        values = dist_layers[i, j, :]
        if similarity:
            values = 1.0 - values
        for li, name in enumerate(layer_names):
            v = values[:, li]
            rows.append(
                {
                    "group": group,
                    "layer": name,
                    "layer_index": li,
                    "mean": v.mean(),
                    "sd": v.std(ddof=1) if len(v) > 1 else 0.0,
                    "min": v.min(),
                    "max": v.max(),
                    "n_pairs": len(v),
                }
            )
    return pd.DataFrame(
        rows, columns=["group", "layer", "layer_index", "mean", "sd", "min", "max", "n_pairs"]
    )


def _prepare_layer_baseline(
    counts: np.ndarray,
    sizes: Sequence[int],
    labels: pd.Series,
    layer_names: Sequence[str],
    metric: str = "jaccard",
    similarity: bool = True,
    tol: float = 0.005,
) -> pd.DataFrame:
    """Chance level of each layer: two random masks with a group's mean per-layer kept counts.

    Groups whose per-layer densities agree within ``tol`` share one chance level (computed from
    their pooled counts), so equal-density methods get a single reference line.

    Returns
    -------
    DataFrame
        One row per (class, layer): ``groups`` (the groups sharing it, comma-separated),
        ``layer, layer_index, mean, sd, lo, hi`` where ``lo``–``hi`` is the central 95%
        interval of a single random pair.
    """
    counts = np.asarray(counts, dtype=float)
    labels = pd.Series(labels).astype(str).to_numpy()
    sizes = np.asarray(sizes, dtype=float)
    classes: list[list[str]] = []
    for group in ordered_groups(labels):
        density = counts[labels == group].mean(axis=0) / sizes
        for members in classes:
            ref = counts[np.isin(labels, members)].mean(axis=0) / sizes
            if np.max(np.abs(density - ref)) <= tol:
                members.append(group)
                break
        else:
            classes.append([group])
    rows = []
    for members in classes:
        k = np.rint(counts[np.isin(labels, members)].mean(axis=0)).astype(np.int64)
        for li, name in enumerate(layer_names):
            level = chance_distance(metric, int(sizes[li]), k[li], k[li])
            if similarity:
                level = level.as_similarity()
            rows.append(
                {
                    "groups": ", ".join(members),
                    "layer": name,
                    "layer_index": li,
                    "mean": level.mean,
                    "sd": level.sd,
                    "lo": level.lo,
                    "hi": level.hi,
                }
            )
    return pd.DataFrame(rows, columns=["groups", "layer", "layer_index", "mean", "sd", "lo", "hi"])


def layer_overlap(
    ms: Any,
    *,
    metric: str = "jaccard",
    groupby: Any = "config",
    baseline: bool = True,
    similarity: bool = True,
    ax: Any = None,
) -> Any:
    """Mean pairwise similarity per layer (min–max band over pairs) against random masks.

    Parameters
    ----------
    ms
        MaskSet with ``obsp["dist_<metric>_layers"]`` (from ``landscape.tl.distances``).
    metric
        ``"jaccard"`` or ``"hamming"``.
    groupby
        ``"config"`` (default): one group per configuration (one line each), labelled by the
        fields that differ; obs columns pool configurations; None pools all masks.
    baseline
        Draw the chance level of two random masks with each group's per-layer kept counts
        (dashed line and 95% band of a single pair). Groups sharing a chance level share one
        grey line.
    similarity
        Plot ``1 - distance`` (default) or the distance.
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    key = f"dist_{metric}_layers"
    dist_layers = require_obsp(ms, key, f"landscape.tl.distances(ms, metric={metric!r}, per_layer=True)")
    labels = group_labels(ms.obs, groupby)
    names = list(ms.layout.names)
    data = _prepare_layer_overlap(dist_layers, labels, names, similarity, networks_of(ms.obs))
    if data.empty:
        raise AnalysisError(f"layer overlap: every group of {groupby!r} has fewer than two masks")
    ax = new_axes(ax)
    colors = group_colors(data["group"])
    if baseline:
        keep = labels.isin(colors).to_numpy()
        sizes = [s.numel for s in ms.layout]
        base = _prepare_layer_baseline(layer_counts(ms)[keep], sizes, labels[keep], names, metric, similarity)
        _draw_baseline(ax, base, colors)
    for group, frame in data.groupby("group", sort=False):
        x = frame["layer_index"].to_numpy()
        ax.fill_between(x, frame["min"], frame["max"], color=colors[group], alpha=0.2, linewidth=0)
        ax.plot(x, frame["mean"], marker="o", color=colors[group], label=group)
    ax.set_xticks(range(len(names)), names)
    rotate_if_crowded(ax, names)
    ax.set_xlabel("layer")
    ax.set_ylabel(f"{metric_label(metric, similarity)} (pairs)")
    legend_outside(ax)
    return ax


def _draw_baseline(ax: Any, base: pd.DataFrame, colors: dict[str, str]) -> None:
    classes = list(base.groupby("groups", sort=False))
    for members, frame in classes:
        first = members.split(", ")[0]
        color = GREY if len(classes) == 1 else colors.get(first, GREY)
        label = "random masks (95%)" if len(classes) == 1 else f"random masks ({members})"
        x = frame["layer_index"].to_numpy()
        ax.fill_between(x, frame["lo"], frame["hi"], color=color, alpha=0.15, linewidth=0)
        ax.plot(x, frame["mean"], linestyle="--", color=color, label=label)
