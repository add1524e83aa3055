"""Per-layer overlap of masks: mean pairwise similarity with a min–max band per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.grouping import group_masks
from landscape.pl._baseline import chance_distance
from landscape.pl._common import (
    attach,
    group_labels,
    group_methods,
    interval_text,
    legend_names,
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
from landscape.pl.names import display_names, layer_labels
from landscape.pl.style import GREY, group_colors

RANDOM = "random"
NULL_COLOR = "#555555"  # random-mask runs: darker than the analytic band, open markers


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


def _prepare_network_intervals(
    summary: pd.DataFrame, full_labels: dict[str, str], metric: str
) -> pd.DataFrame:
    """Per (group, layer) the mean over networks and its 95% interval from a ``tl.diversity``
    summary (``group`` renamed to the labels the plot shows)."""
    rows = summary[(summary["metric"] == metric) & (summary["layer"] != "whole")]
    rows = rows[rows["group"].astype(str).isin(full_labels)]
    return pd.DataFrame(
        {
            "group": rows["group"].astype(str).map(full_labels).to_numpy(),
            "layer": rows["layer"].to_numpy(),
            "network_mean": rows["similarity"].to_numpy(float),
            "ci_low": rows["similarity_ci_low"].to_numpy(float),
            "ci_high": rows["similarity_ci_high"].to_numpy(float),
            "n_networks": rows["n_networks"].to_numpy(),
            "interval": rows["interval"].to_numpy(),
        }
    )


def _summary_for(ms: Any, groupby: Any, metric: str) -> pd.DataFrame | None:
    """The per-layer ``tl.diversity`` summary of ``ms`` when it used this grouping and metric."""
    from landscape.tl.baseline import _describe_groupby

    for key in (f"diversity_{metric}", "diversity"):
        slot = ms.uns.get(key)
        if not isinstance(slot, dict) or not isinstance(slot.get("summary"), pd.DataFrame):
            continue
        params = slot.get("params", {})
        if params.get("metric") == metric and params.get("groupby") == _describe_groupby(groupby):
            return slot["summary"]
    return None


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
        When ``uns["diversity"]`` (``tl.diversity`` with the same metric and grouping) is
        present and a group spans several networks, its points are the mean over networks
        with the 95% interval over networks as error bars.
    metric
        ``"jaccard"`` or ``"hamming"``.
    groupby
        ``"config"`` (default): one group per configuration (one line each), labelled by the
        fields that differ; obs columns pool configurations; None pools all masks.
    baseline
        Draw the analytic chance level of two independent random masks with each group's
        per-layer kept counts (dashed grey line, 95% band of a single pair). Groups sharing
        a chance level share one line. Random-mask runs (``method == "random"``, the searched
        null) are drawn as a group of their own with open markers, a different mark.
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
    summary = _summary_for(ms, groupby, metric) if similarity and groupby is not None else None
    if summary is not None:
        full = {g.label: _full_label(g) for g in group_masks(ms.obs, groupby)}
        data = data.merge(
            _prepare_network_intervals(summary, full, metric), on=["group", "layer"], how="left"
        )
    ax = new_axes(ax)
    methods = group_methods(ms.obs, labels)
    colors = group_colors(list(dict.fromkeys(data["group"])), methods)
    if baseline:
        from landscape.tl.baseline import in_a_source

        # no analytic band for masks searched inside a source (it does not describe them)
        keep = labels.isin(colors).to_numpy() & ~in_a_source(ms.obs)
        sizes = [s.numel for s in ms.layout]
        base = _prepare_layer_baseline(layer_counts(ms)[keep], sizes, labels[keep], names, metric, similarity)
        _draw_baseline(ax, base, colors)
    shown, recipe = legend_names(list(dict.fromkeys(data["group"])))
    several = "n_networks" in data and (data["n_networks"].fillna(1) > 1).any()
    for group, frame in data.groupby("group", sort=False):
        x = frame["layer_index"].to_numpy()
        null = methods.get(group) == RANDOM
        color = NULL_COLOR if null else colors[group]
        y = frame["network_mean"].fillna(frame["mean"]) if several else frame["mean"]
        if not null:
            ax.fill_between(x, frame["min"], frame["max"], color=color, alpha=0.2, linewidth=0)
        style = {"marker": "s", "markerfacecolor": "white", "linestyle": ":"} if null else {"marker": "o"}
        label = "random-mask runs (searched null)" if null else shown[group]
        ax.plot(x, y, color=color, label=label, **style)
        if several:
            err = np.nan_to_num(np.vstack([y - frame["ci_low"], frame["ci_high"] - y]), nan=0.0)
            ax.errorbar(x, y, yerr=err, color=color, linestyle="none", capsize=1.5, elinewidth=0.6)
    ticks = layer_labels(ms.layout)
    ax.set_xticks(range(len(names)), ticks)
    rotate_if_crowded(ax, ticks)
    ax.set_xlabel("layer")
    ax.set_ylabel(f"{metric_label(metric, similarity)} (pairs)")
    # groups of one network carry an interval over masks: say so rather than "over N networks"
    rows = data[data["interval"].notna()] if several else data
    what = (
        f"points: {interval_text(rows)}; bands: min–max over pairs"
        if several
        else "bands: min–max over pairs"
    )
    legend_outside(ax, title=what)
    return attach(ax, data, f"Pairs: two masks of one network; {what}.", recipe)


def _full_label(g: Any) -> str:
    text = g.pooled_text()
    return f"{g.label} (pools {text})" if text else g.label


def _draw_baseline(ax: Any, base: pd.DataFrame, colors: dict[str, str]) -> None:
    classes = list(base.groupby("groups", sort=False))
    for members, frame in classes:
        first = members.split(", ")[0]
        color = GREY if len(classes) == 1 else colors.get(first, GREY)
        label = "independent random masks\n(analytic, 95% of pairs)"
        if len(classes) > 1:
            label = f"analytic chance ({', '.join(display_names(members.split(', ')).values())})"
        x = frame["layer_index"].to_numpy()
        ax.fill_between(x, frame["lo"], frame["hi"], color=color, alpha=0.3, linewidth=0, zorder=0)
        ax.plot(x, frame["mean"], linestyle="--", color=color, linewidth=1.2, label=label, zorder=1)
