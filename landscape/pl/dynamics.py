"""Masks during their search and where their differences come from.

- :func:`similarity_over_training`: within-group similarity at each kept epoch against
  chance (and, where computed, the cross-method "twins" of the same seeds);
- :func:`distance_from_start`: similarity of each mask with its own initial top-k (and with
  its own final mask) over training;
- :func:`bits_flipped`: fraction of the weights whose bit changes per epoch;
- :func:`seed_attribution`: within-family similarity of pairs by what varies between them
  (scores and data order, only the scores, only the data order), against chance.

The first three read ``uns["trajectory"]`` (:func:`landscape.tl.trajectory` on snapshots),
the last ``uns["seed_sources"]`` (:func:`landscape.tl.seed_sources`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    attach,
    interval_text,
    legend_names,
    legend_outside,
    metric_label,
    new_axes,
    ordered_groups,
)
from landscape.pl.names import method_name
from landscape.pl.style import GREY, group_colors

#: order and look of the classes of :func:`seed_attribution`
ATTRIBUTION = {
    "scores + data order": ("both vary", "o"),
    "scores": ("only scores vary", "s"),
    "data order": ("only data order varies", "^"),
}
_VARIES_COLORS = {"scores + data order": "#000000", "scores": "#0072B2", "data order": "#D55E00"}


def _slot(ms: Any, key: str, fix: str) -> dict:
    slot = ms.uns.get(key)
    if not isinstance(slot, dict):
        raise AnalysisError(f'uns["{key}"] is missing: run {fix} first')
    return slot


def _prepare_similarity_over_training(
    summary: pd.DataFrame, layer: str = "whole", twins: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Within-group similarity per group and epoch (``tl.trajectory``'s ``similarity`` table).

    Returns
    -------
    DataFrame
        ``group, epoch, similarity, low, high, chance, kind`` sorted by epoch, ``kind`` being
        ``"within"`` or ``"twins"`` (pairs of the two selections of ``tl.seed_sources`` that
        share both seeds, when ``twins`` is given).
    """
    rows = summary[summary["layer"] == layer]
    out = pd.DataFrame(
        {
            "group": rows["group"].astype(str),
            "epoch": rows["epoch"].astype(int),
            "similarity": rows["similarity"],
            "low": rows["similarity_ci_low"],
            "high": rows["similarity_ci_high"],
            "chance": rows["chance_similarity"],
            "kind": "within",
            "interval": rows.get("interval", "masks"),
            "n_networks": rows.get("n_networks", 1),
        }
    )
    if twins is not None and not twins.empty:
        t = twins[(twins["layer"] == layer) & (twins["shared"] == "both")]
        if {"method", "b_method"} <= set(t.columns):
            names = t["method"].map(method_name) + " × " + t["b_method"].map(method_name)
        else:
            names = t["group"].astype(str)
        out = pd.concat(
            [
                out,
                pd.DataFrame(
                    {
                        "group": names + ", same seeds",
                        "epoch": t["epoch"].astype(int),
                        "similarity": t["similarity"],
                        "low": t["similarity_ci_low"],
                        "high": t["similarity_ci_high"],
                        "chance": t["chance_similarity"],
                        "kind": "twins",
                        "interval": t.get("interval", "masks"),
                        "n_networks": t.get("n_networks", 1),
                    }
                ),
            ],
            ignore_index=True,
        )
    return out.sort_values(["kind", "group", "epoch"], kind="stable").reset_index(drop=True)


def _draw_lines(ax: Any, data: pd.DataFrame, y: str, low: str, high: str, colors: dict, **kw) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    names, _ = legend_names(ordered_groups(data["group"]))
    for group in ordered_groups(data["group"]):
        part = data[data["group"] == group].sort_values("epoch")
        color = colors[group]
        ax.fill_between(part["epoch"], part[low], part[high], color=color, alpha=0.2, linewidth=0)
        ax.plot(part["epoch"], part[y], color=color, label=names[group], marker="o", markersize=2.5, **kw)


def _draw_chance(ax: Any, data: pd.DataFrame) -> None:
    """One dashed grey chance line (per distinct level: densities differ between groups)."""
    levels = data.groupby("epoch")["chance"].agg(["min", "max"])
    if (levels["max"] - levels["min"]).max() < 0.005:
        ax.plot(levels.index, levels["min"], linestyle="--", color=GREY, label="random masks")
        return
    for group in ordered_groups(data["group"]):
        part = data[data["group"] == group].sort_values("epoch")
        ax.plot(part["epoch"], part["chance"], linestyle="--", color=GREY, linewidth=0.7)
    ax.plot([], [], linestyle="--", color=GREY, label="random masks (each group's counts)")


def similarity_over_training(ms: Any, *, layer: str = "whole", twins: bool = True, ax: Any = None) -> Any:
    """Mean within-group similarity of the masks at each kept epoch (95% interval band)
    against independent random masks (dashed).

    Parameters
    ----------
    ms
        A MaskSet with ``uns["trajectory"]`` (:func:`landscape.tl.trajectory`); where
        ``uns["trajectory_twins"]`` holds :func:`landscape.tl.seed_sources` across two
        selections of the same snapshots, the pairs sharing both seeds are drawn too.
    layer
        ``"whole"`` or a layer name.
    """
    slot = _slot(ms, "trajectory", "landscape.tl.trajectory(snapshots)")
    twin_slot = ms.uns.get("trajectory_twins") if twins else None
    twin_table = twin_slot.get("summary") if isinstance(twin_slot, dict) else None
    data = _prepare_similarity_over_training(slot["similarity"], layer, twin_table)
    if data.empty:
        raise AnalysisError("similarity over training: no group has two masks at any kept epoch")
    ax = new_axes(ax)
    colors = group_colors(ordered_groups(data["group"]))
    _draw_chance(ax, data[data["kind"] == "within"])
    _draw_lines(ax, data[data["kind"] == "within"], "similarity", "low", "high", colors)
    _draw_lines(ax, data[data["kind"] == "twins"], "similarity", "low", "high", colors, linestyle=":")
    ax.set_xlabel("epoch (0: top-k of the initial scores)")
    metric = slot.get("params", {}).get("metric", "jaccard")
    ax.set_ylabel(f"{metric_label(metric, True)} (pairs)")
    legend_outside(ax)
    return attach(
        ax,
        data,
        f"Within-group similarity at each kept epoch, pairs of one network; bands: {interval_text(data, '95% CI')}; "
        "dashed: independent random masks of each group's counts" + ("; dotted: pairs of the two "
        "methods with the same seeds" + _drawn_apart(twin_table) if (data["kind"] == "twins").any() else "") + ".",
    )  # fmt: skip


def _drawn_apart(twins: pd.DataFrame | None) -> str:
    """Words for twins whose weight seed draws different weights for each method."""
    if twins is None or "same_weights" not in twins or twins["same_weights"].astype(bool).all():
        return ""
    return (
        " (one weight seed drawing different weights for each method: their masks are compared "
        "position by position, not as subnetworks of one network)"
    )


def _prepare_mask_summary(groups: pd.DataFrame, value: str, layer: str = "whole") -> pd.DataFrame:
    """``group, epoch, value, low, high, chance`` from ``tl.trajectory``'s ``groups`` table."""
    rows = groups[(groups["layer"] == layer) & groups[value].notna()]
    return pd.DataFrame(
        {
            "group": rows["group"].astype(str),
            "epoch": rows["epoch"].astype(int),
            "value": rows[value],
            "low": rows[f"{value}_ci_low"],
            "high": rows[f"{value}_ci_high"],
            "chance": rows["chance_initial"],
        }
    ).reset_index(drop=True)


def distance_from_start(ms: Any, *, layer: str = "whole", final: bool = True, ax: Any = None) -> Any:
    """Mean similarity of each mask with its own initial top-k (solid) and with its own final
    mask (dotted), over training, 95% t interval over masks; dashed: random masks."""
    slot = _slot(ms, "trajectory", "landscape.tl.trajectory(snapshots)")
    start = _prepare_mask_summary(slot["groups"], "similarity_initial", layer)
    if start.empty:
        raise AnalysisError("distance from start: no snapshots")
    ax = new_axes(ax)
    colors = group_colors(ordered_groups(start["group"]))
    _draw_chance(ax, start)
    _draw_lines(ax, start, "value", "low", "high", colors)
    if final:
        end = _prepare_mask_summary(slot["groups"], "similarity_final", layer)
        for group in ordered_groups(end["group"]):
            part = end[end["group"] == group].sort_values("epoch")
            ax.plot(part["epoch"], part["value"], color=colors[group], linestyle=":", linewidth=0.9)
        ax.plot([], [], color=GREY, linestyle=":", label="with its final mask")
    metric = slot.get("params", {}).get("metric", "jaccard")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{metric_label(metric, True)} with own initial mask")
    legend_outside(ax)
    drawn = start.assign(value_of="with its initial mask")
    if final:
        drawn = pd.concat([drawn, end.assign(value_of="with its final mask")], ignore_index=True)
    return attach(
        ax,
        drawn,
        "Each mask beside its own initial top-k (solid) and final mask (dotted); bands: 95% t "
        "interval over the group's masks; dashed: independent random masks of the same counts.",
    )


def bits_flipped(ms: Any, *, layer: str = "whole", log: bool = True, ax: Any = None) -> Any:
    """Fraction of the weights whose bit changes per epoch between kept snapshots (mean over
    masks, 95% t interval), plotted at the later snapshot's epoch."""
    slot = _slot(ms, "trajectory", "landscape.tl.trajectory(snapshots)")
    data = _prepare_mask_summary(slot["groups"], "flips_per_epoch", layer)
    if data.empty:
        raise AnalysisError("bits flipped: fewer than two snapshots per mask")
    ax = new_axes(ax)
    colors = group_colors(ordered_groups(data["group"]))
    recorded = data.drop(columns="chance")  # the interval as computed, before any clipping
    if log:
        positive = data["value"] > 0
        data = data[positive].assign(
            low=data.loc[positive, "low"].clip(lower=data.loc[positive, "value"] / 10)
        )
        ax.set_yscale("log")
    _draw_lines(ax, data, "value", "low", "high", colors)
    ax.set_xlabel("epoch")
    ax.set_ylabel("bits flipped per epoch (fraction of weights)")
    legend_outside(ax)
    return attach(
        ax,
        recorded,
        "Mean over the group's masks of the fraction of weights whose bit changed between two kept "
        "snapshots, per epoch between them; bands: 95% t interval over masks"
        + (
            "; on the log axis bands are drawn from a tenth of the mean where they reach lower, and epochs"
            " with no flip are not drawn."
            if log
            else "."
        ),
    )


def _prepare_seed_attribution(summary: pd.DataFrame, layer: str = "whole") -> pd.DataFrame:
    """Per family and class of pairs (what varies): similarity, interval and chance.

    Returns
    -------
    DataFrame
        ``group, varies, label, similarity, low, high, chance, n_pairs, position`` for the
        classes where something varies (pairs of the same search are left out), families in
        first-seen order; ``position`` is the x position of the point.
    """
    rows = summary[(summary["layer"] == layer) & summary["varies"].isin(list(ATTRIBUTION))]
    if "b_group" in rows.columns:
        raise AnalysisError("seed attribution: draws pairs within families (tl.seed_sources without a, b)")
    groups = ordered_groups(rows["group"])
    order = list(ATTRIBUTION)
    out = []
    for gi, group in enumerate(groups):
        part = rows[rows["group"] == group]
        for _, r in part.iterrows():
            k = order.index(r["varies"])
            out.append(
                {
                    "group": group,
                    "varies": r["varies"],
                    "label": ATTRIBUTION[r["varies"]][0],
                    "similarity": r["similarity"],
                    "low": r["similarity_ci_low"],
                    "high": r["similarity_ci_high"],
                    "chance": r["chance_similarity"],
                    "n_pairs": int(r["n_pairs"]),
                    "position": gi + (k - 1) * 0.22,
                    "interval": r.get("interval", "masks"),
                    "n_networks": int(r.get("n_networks", 1)),
                }
            )
    return pd.DataFrame(
        out,
        columns=[
            "group",
            "varies",
            "label",
            "similarity",
            "low",
            "high",
            "chance",
            "n_pairs",
            "position",
            "interval",
            "n_networks",
        ],  # fmt: skip
    )


def seed_attribution(ms: Any, *, layer: str = "whole", ax: Any = None) -> Any:
    """Similarity of two masks of one family when both sources vary, only the scores vary
    (data order shared) or only the data order varies (scores shared), with 95% intervals;
    grey dashes: independent random masks."""
    slot = _slot(ms, "seed_sources", "landscape.tl.seed_sources(ms)")
    data = _prepare_seed_attribution(slot["summary"], layer)
    if data.empty or data["varies"].nunique() < 2:
        raise AnalysisError(
            "seed attribution: no family has pairs of two kinds; search runs that hold one seed "
            "(--score-seeds 0-7 --data-seed 0, --score-seed 0 --data-seeds 0-7)"
        )
    ax = new_axes(ax)
    for varies, (label, marker) in ATTRIBUTION.items():
        part = data[data["varies"] == varies]
        if part.empty:
            continue
        err = np.vstack([part["similarity"] - part["low"], part["high"] - part["similarity"]])
        err = np.where(np.isfinite(err), err, 0.0)
        ax.errorbar(part["position"], part["similarity"], yerr=err, fmt=marker, color=_VARIES_COLORS[varies],
                    label=label, markersize=4, capsize=2, linewidth=0.8)  # fmt: skip
    for _, part in data.groupby("group", sort=False):
        lo, hi = part["position"].min() - 0.1, part["position"].max() + 0.1
        ax.hlines(part["chance"].mean(), lo, hi, colors=GREY, linestyles="--", linewidth=0.8)
    ax.plot([], [], linestyle="--", color=GREY, label="random masks")
    groups = ordered_groups(data["group"])
    ax.set_xticks(range(len(groups)), groups)
    if max(len(g) for g in groups) > 12:
        ax.tick_params(axis="x", labelrotation=20)
    metric = slot.get("params", {}).get("metric", "jaccard")
    ax.set_ylabel(f"{metric_label(metric, True)} (pairs)")
    legend_outside(ax)
    return attach(
        ax,
        data,
        "Pairs of one family and network, classed by what varies between the two masks; error bars: "
        f"{interval_text(data, '95% CI')}; grey dashes: independent random masks of the same counts.",
    )


__all__ = ["bits_flipped", "distance_from_start", "seed_attribution", "similarity_over_training"]
