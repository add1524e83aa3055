"""Distribution of pairwise distances per group, against the random-mask null."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._baseline import chance_distance
from landscape.pl._common import (
    attach,
    group_labels,
    group_methods,
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
from landscape.pl.names import method_part
from landscape.pl.style import GREY, group_colors

NULLS = ("random", "analytic", "both", None)
RANDOM = "random"


def _prepare_distance_distribution(
    dist: np.ndarray, labels: pd.Series, similarity: bool = False, networks: np.ndarray | None = None
) -> pd.DataFrame:
    """Every within-group pair (within one network when ``networks`` is given): ``group, i,
    j, value`` (positions of the masks, distance or 1 - distance)."""
    dist = np.asarray(dist, dtype=float)
    labels = pd.Series(labels).astype(str).to_numpy()
    frames = []
    for group in ordered_groups(labels):
        i, j = within_pairs(np.flatnonzero(labels == group), networks)
        value = dist[i, j]
        frames.append(
            pd.DataFrame({"group": group, "i": i, "j": j, "value": 1.0 - value if similarity else value})
        )
    if not frames:
        return pd.DataFrame(columns=["group", "i", "j", "value"])
    return pd.concat(frames, ignore_index=True)


def _prepare_chance_levels(
    counts: np.ndarray,
    sizes: np.ndarray,
    labels: pd.Series,
    metric: str = "jaccard",
    similarity: bool = False,
) -> pd.DataFrame:
    """Whole-network chance level per group, from the group's mean per-layer kept counts.

    Returns ``group, mean, sd, lo, hi`` with ``lo, hi = mean ∓ 2 sd`` (the band drawn).
    """
    counts = np.asarray(counts, dtype=float)
    labels = pd.Series(labels).astype(str).to_numpy()
    rows = []
    for group in ordered_groups(labels):
        k = np.rint(counts[labels == group].mean(axis=0)).astype(np.int64)
        level = chance_distance(metric, np.asarray(sizes), k, k)
        mean = 1.0 - level.mean if similarity else level.mean
        rows.append(
            {
                "group": group,
                "mean": mean,
                "sd": level.sd,
                "lo": mean - 2 * level.sd,
                "hi": mean + 2 * level.sd,
            }
        )
    return pd.DataFrame(rows, columns=["group", "mean", "sd", "lo", "hi"])


def _null_labels(obs: pd.DataFrame, groupby: str | None) -> pd.Series:
    """Group labels, where random-mask runs (``method == "random"``) are never pooled with other
    masks whatever ``groupby`` is, nor with random masks of another configuration (another
    density is another chance level): one group per configuration, labelled by the fields
    that differ between the random configurations (``random · density 0.3``)."""
    labels = group_labels(obs, groupby)
    if "method" not in obs.columns:
        return labels
    null = (obs["method"].astype(str) == RANDOM).to_numpy()
    if null.any():
        own = group_labels(obs[null], "config").astype(str)
        own = own.where(own.map(method_part) == RANDOM, RANDOM + " · " + own)
        labels = labels.astype(object)
        labels[null] = own.to_numpy()
    return labels


def _null_groups(obs: pd.DataFrame, labels: pd.Series) -> list[str]:
    """The labels of the random-mask groups, in order of first appearance."""
    if "method" not in obs.columns:
        return []
    return ordered_groups(pd.Series(labels).astype(str)[(obs["method"].astype(str) == RANDOM).to_numpy()])


def distance_distribution(
    ms: Any,
    *,
    metric: str = "jaccard",
    groupby: Any = "config",
    null: str | None = "random",
    similarity: bool = False,
    ax: Any = None,
) -> Any:
    """Violin plot of the within-group pairwise distances, with the random-mask null beside it.

    Parameters
    ----------
    ms
        MaskSet with ``obsp["dist_<metric>"]``.
    metric
        ``"jaccard"`` or ``"hamming"``.
    groupby
        obs column naming the groups; random-mask runs (``method == "random"``) always form
        groups of their own, one per configuration (``"random · density 0.3"``).
    null
        ``"random"``: the matched random-mask runs, drawn as a grey violin (they must exist);
        ``"analytic"``: the hypergeometric chance level of each group (mean ± 2 sd band over its
        violin); ``"both"``; or None.
    similarity
        Plot ``1 - distance`` instead of the distance.
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if null not in NULLS:
        raise AnalysisError(f"null: expected one of random, analytic, both or None, got {null!r}")
    dist = require_obsp(ms, f"dist_{metric}", f"landscape.tl.distances(ms, metric={metric!r})")
    labels = _null_labels(ms.obs, groupby)
    nulls = _null_groups(ms.obs, labels)
    data = _prepare_distance_distribution(dist, labels, similarity, networks_of(ms.obs))
    is_null = data["group"].isin(nulls)
    if null in ("random", "both") and not is_null.any():
        raise AnalysisError(
            "null='random': no pairs of masks with method == 'random'; search some or use null='analytic'"
        )
    if null not in ("random", "both"):
        data = data[~is_null]
    if data.empty:
        raise AnalysisError(f"distance distribution: every group of {groupby!r} has fewer than two masks")
    drawn = ordered_groups(data["group"])
    groups = [g for g in drawn if g not in nulls] + [g for g in nulls if g in drawn]
    ax = new_axes(ax)
    colors = group_colors(groups, group_methods(ms.obs, labels))
    for x, group in enumerate(groups):
        _draw_violin(ax, x, data.loc[data["group"] == group, "value"].to_numpy(), colors[group])
    chance = None
    if null in ("analytic", "both"):
        counts = layer_counts(ms)
        sizes = np.array([s.numel for s in ms.layout])
        from landscape.tl.baseline import in_a_source

        # no analytic level for masks searched inside a source (it does not describe them)
        keep = labels.isin([g for g in groups if g not in nulls]).to_numpy() & ~in_a_source(ms.obs)
        chance = _prepare_chance_levels(counts[keep], sizes, labels[keep], metric, similarity)
        _draw_chance(ax, chance, groups)
        legend_outside(ax, where="top")
    names, recipe = legend_names([g for g in groups if g not in nulls])
    ticks = ["random-mask runs" + g[len(RANDOM) :] if g in nulls else names[g] for g in groups]
    ax.set_xticks(range(len(groups)), ticks)
    rotate_if_crowded(ax, ticks)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    nets = networks_of(ms.obs)
    n_nets = len(set(nets.tolist())) if nets is not None else 1
    ax.set_ylabel(f"{metric_label(metric, similarity)} (pairs)")
    summary = data.groupby("group", sort=False)["value"].agg(["count", "mean", "median", "min", "max"])
    summary = summary.rename(columns={"count": "n_pairs"}).reset_index()
    if chance is not None:
        summary = summary.merge(
            chance.add_prefix("chance_").rename(columns={"chance_group": "group"}), on="group", how="left"
        )
    note = "Violins and dots: pairs of masks within one network"
    note += f" ({n_nets} networks pooled)" if n_nets > 1 else ""
    note += "; black bar: median"
    if chance is not None:
        note += "; grey band: analytic chance of independent random masks (mean ± 2 sd of one pair)"
    return attach(ax, summary, note + ".", recipe)


def _draw_violin(ax: Any, x: float, values: np.ndarray, color: str) -> None:
    if len(values) >= 3 and np.ptp(values) > 0:
        parts = ax.violinplot([values], positions=[x], widths=0.7, showextrema=False)
        for body in parts["bodies"]:
            body.set_facecolor(color)
            body.set_edgecolor(color)
            body.set_alpha(0.45)
    # the pairs themselves, thinned so that thousands of pairs stay legible
    shown = values if len(values) <= 400 else np.quantile(values, np.linspace(0, 1, 400))
    jitter = np.linspace(-0.12, 0.12, len(shown)) if len(shown) > 1 else np.zeros(1)
    ax.scatter(x + jitter, shown, s=2, color=color, alpha=0.6, linewidths=0, zorder=3)
    ax.hlines(np.median(values), x - 0.2, x + 0.2, color="black", linewidth=1.0, zorder=4)


def _draw_chance(ax: Any, chance: pd.DataFrame, groups: list[str]) -> None:
    # above the violins (a narrow band would vanish behind them), edged so that it stays visible
    for n, (_, row) in enumerate(chance.iterrows()):
        x = groups.index(row["group"])
        label = "independent random masks, analytic (mean ± 2 sd)" if n == 0 else None
        ax.fill_between([x - 0.42, x + 0.42], row["lo"], row["hi"], color=GREY, alpha=0.35, linewidth=0,
                        zorder=5, label=label)  # fmt: skip
        for edge in (row["lo"], row["hi"]):
            ax.hlines(edge, x - 0.42, x + 0.42, color="#666666", linewidth=0.5, zorder=6)
        ax.hlines(row["mean"], x - 0.42, x + 0.42, color="#333333", linestyle="--", linewidth=0.9, zorder=6)
