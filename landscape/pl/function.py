"""Function-space plots: do structurally diverse masks compute different functions?

Each plot reads the slot a ``landscape.tl`` tool wrote (``tl.agreement``, ``tl.ensemble``,
``tl.representation_similarity``) and draws it; the ``_prepare_*`` functions return the
numbers drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    attach,
    legend_names,
    legend_outside,
    new_axes,
    ordered_groups,
    rotate_if_crowded,
)
from landscape.pl.style import GREY, MARKERS, group_colors
from landscape.tl._predictions import MASKS

DENSE_COLOR = "#000000"


def _slot(ms: Any, key: str, part: str, fix: str) -> pd.DataFrame:
    slot = ms.uns.get(key)
    if not isinstance(slot, dict) or not isinstance(slot.get(part), pd.DataFrame):
        raise AnalysisError(f'uns["{key}"] is missing: run {fix} first')
    frame = slot[part]
    if frame.empty:
        raise AnalysisError(f'uns["{key}"]["{part}"] is empty: no group had what {fix} needs')
    return frame


# agreement -------------------------------------------------------------------------------------


def _prepare_disagreement_vs_distance(pairs: pd.DataFrame, y: str = "disagreement") -> pd.DataFrame:
    """One row per pair: ``group, distance`` (Jaccard distance of the two masks), ``value`` (the
    ``y`` statistic) and ``expected`` (the disagreement of independent errors for the pair)."""
    for col in ("group", "jaccard_similarity", y, "expected_disagreement"):
        if col not in pairs.columns:
            raise AnalysisError(f"pair table has no {col!r} column (from landscape.tl.agreement)")
    return pd.DataFrame(
        {
            "group": pairs["group"].astype(str).to_numpy(),
            "distance": 1.0 - pairs["jaccard_similarity"].to_numpy(dtype=float),
            "value": pairs[y].to_numpy(dtype=float),
            "expected": pairs["expected_disagreement"].to_numpy(dtype=float),
        }
    )


def disagreement_vs_distance(
    ms: Any, *, y: str = "disagreement", key: str = "agreement", groups=None, ax: Any = None
) -> Any:
    """Prediction disagreement of every pair of masks against their Jaccard distance, one
    colour per group, with each group's independent-errors level dashed.

    Parameters
    ----------
    ms
        MaskSet on which :func:`landscape.tl.agreement` ran (``uns[key]["pairs"]``).
    y
        ``"disagreement"`` or ``"normalised_disagreement"`` (then the reference is 1).
    key
        ``uns`` key of the agreement result.
    groups
        Group labels to show (default: all).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    pairs = _slot(ms, key, "pairs", "landscape.tl.agreement(ms)")
    data = _prepare_disagreement_vs_distance(pairs, y)
    if groups is not None:
        data = data[data["group"].isin(list(groups))]
    ax = new_axes(ax)
    colors = _scatter_groups(ax, data, "distance", "value")
    for group, part in data.groupby("group", sort=False):
        level = 1.0 if y == "normalised_disagreement" else part["expected"].mean()
        ax.axhline(level, color=colors[group], linestyle="--", linewidth=0.7)
    ax.plot([], [], color=GREY, linestyle="--", linewidth=0.7, label="independent errors")
    ax.set_xlabel("Jaccard distance of the masks")
    ax.set_ylabel("normalised disagreement" if y == "normalised_disagreement" else "prediction disagreement")
    ax.set_ylim(bottom=0)
    legend_outside(ax)
    return attach(
        ax,
        data,
        "One point per pair of masks in one random network.",
        f"Dashed: what two classifiers would show ({_params(ms, key).get('expected_disagreement', 'independent errors')}).",
    )


def _scatter_groups(ax: Any, data: pd.DataFrame, x: str, y: str) -> dict:
    """One marker and colour per group (legend: display names); returns the colours."""
    names = ordered_groups(data["group"])
    colors = group_colors(names)
    shown, _ = legend_names(names)
    for k, group in enumerate(names):
        part = data[data["group"] == group]
        ax.scatter(part[x], part[y], s=9, marker=MARKERS[k % len(MARKERS)], color=colors[group],
                   alpha=0.75, linewidths=0, label=shown[group])  # fmt: skip
    return colors


def _prepare_diversity_accuracy(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: ``group, accuracy`` (mean of the two masks) and ``diversity`` (the
    disagreement as a fraction of that of independent errors)."""
    for col in ("group", "accuracy_i", "accuracy_j", "normalised_disagreement"):
        if col not in pairs.columns:
            raise AnalysisError(f"pair table has no {col!r} column (from landscape.tl.agreement)")
    return pd.DataFrame(
        {
            "group": pairs["group"].astype(str).to_numpy(),
            "accuracy": 0.5
            * (pairs["accuracy_i"].to_numpy(dtype=float) + pairs["accuracy_j"].to_numpy(dtype=float)),
            "diversity": pairs["normalised_disagreement"].to_numpy(dtype=float),
        }
    )


def diversity_accuracy(ms: Any, *, key: str = "agreement", groups=None, ax: Any = None) -> Any:
    """The diversity–accuracy plane: every pair's normalised disagreement (1 = independent
    errors, 0 = identical predictions) against the pair's mean accuracy.

    Parameters
    ----------
    ms
        MaskSet on which :func:`landscape.tl.agreement` ran.
    key
        ``uns`` key of the agreement result.
    groups
        Group labels to show (default: all).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    data = _prepare_diversity_accuracy(_slot(ms, key, "pairs", "landscape.tl.agreement(ms)"))
    if groups is not None:
        data = data[data["group"].isin(list(groups))]
    ax = new_axes(ax)
    _scatter_groups(ax, data, "accuracy", "diversity")
    ax.axhline(1.0, color=GREY, linestyle="--", linewidth=0.8, label="independent errors")
    ax.axhline(0.0, color=GREY, linestyle=":", linewidth=0.8, label="identical predictions")
    ax.set_xlabel("accuracy (mean of the pair)")
    ax.set_ylabel("normalised disagreement")
    legend_outside(ax)
    return attach(
        ax,
        data,
        "One point per pair of masks in one random network; 1: "
        f"{_params(ms, key).get('expected_disagreement', 'independent errors')}.",
    )


# ensembles ---------------------------------------------------------------------------------------


def _prepare_ensemble_accuracy(
    summary: pd.DataFrame, metric: str = "acc"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves ``group, members, k, mean, lo, hi`` (the interval of the summary, NaN where it
    has none) and one row per group with its best single mask: ``group, best``."""
    if metric not in ("acc", "nll"):
        raise AnalysisError(f"metric={metric!r}: choose 'acc' or 'nll'")
    for col in ("group", "members", "k", metric):
        if col not in summary.columns:
            raise AnalysisError(f"ensemble summary has no {col!r} column (from landscape.tl.ensemble)")
    curves = pd.DataFrame(
        {
            "group": summary["group"].astype(str).to_numpy(),
            "members": summary["members"].astype(str).to_numpy(),
            "k": summary["k"].to_numpy(dtype=int),
            "mean": summary[metric].to_numpy(dtype=float),
            "lo": summary[f"{metric}_ci_low"].to_numpy(dtype=float),
            "hi": summary[f"{metric}_ci_high"].to_numpy(dtype=float),
        }
    ).sort_values(["k"], kind="stable")
    curves = curves.sort_values(
        "group", key=lambda g: g.map(ordered_groups(summary["group"]).index), kind="stable"
    )
    best = pd.DataFrame(columns=["group", "best"])
    if metric == "acc" and "best_acc" in summary.columns:
        first = summary.drop_duplicates("group")
        best = pd.DataFrame({"group": first["group"].astype(str), "best": first["best_acc"].astype(float)})
        best = best[np.isfinite(best["best"])].reset_index(drop=True)
    return curves.reset_index(drop=True), best


def ensemble_accuracy(
    ms: Any, *, metric: str = "acc", key: str = "ensemble", groups=None, ax: Any = None
) -> Any:
    """Accuracy (or NLL) of an ensemble of K masks against K, per group, with its 95% interval
    band, the best single mask (chosen on validation) as a dotted level, and independently
    trained networks (weight-training runs) in black.

    Parameters
    ----------
    ms
        MaskSet on which :func:`landscape.tl.ensemble` ran (``uns[key]["summary"]``).
    metric
        ``"acc"`` or ``"nll"``.
    key
        ``uns`` key of the ensemble result.
    groups
        Group labels to show (default: all).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    curves, best = _prepare_ensemble_accuracy(_slot(ms, key, "summary", "landscape.tl.ensemble(ms)"), metric)
    if groups is not None:
        curves, best = curves[curves["group"].isin(list(groups))], best[best["group"].isin(list(groups))]
    ax = new_axes(ax)
    names = ordered_groups(curves["group"])
    colors = group_colors([g for g in names if not _trained(curves, g)])
    shown, _ = legend_names(names)  # display names in the legend
    for k, group in enumerate(names):
        part = curves[curves["group"] == group]
        trained = _trained(curves, group)
        color = DENSE_COLOR if trained else colors[group]
        band = np.isfinite(part["lo"]) & np.isfinite(part["hi"])
        if band.any():
            ax.fill_between(
                part["k"][band], part["lo"][band], part["hi"][band], color=color, alpha=0.15, linewidth=0
            )
        ax.plot(
            part["k"],
            part["mean"],
            marker=MARKERS[k % len(MARKERS)],
            color=color,
            linestyle="--" if trained else "-",
            label=f"{shown[group]}, {part['members'].iloc[0]}" if trained else shown[group],
        )
        level = best.loc[best["group"] == group, "best"]
        if len(level) and not trained:
            ax.axhline(float(level.iloc[0]), color=color, linestyle=":", linewidth=0.8)
    if len(best):
        chosen_on = summary_split(ms, key)
        ax.plot([], [], color=GREY, linestyle=":", linewidth=0.8, label=f"best single mask (by {chosen_on})")
    ax.set_xlabel("ensemble size K (masks averaged)")
    ax.set_ylabel("test accuracy" if metric == "acc" else "test NLL")
    ax.xaxis.get_major_locator().set_params(integer=True)
    legend_outside(ax)
    # the dotted levels beside the curves: one row per group, members "best single mask"
    drawn = best[[not _trained(curves, g) for g in best["group"]]] if len(best) else best
    levels = pd.DataFrame({"group": drawn["group"], "members": BEST_SINGLE, "k": 1, "mean": drawn["best"]})
    return attach(
        ax,
        pd.concat([curves, levels], ignore_index=True) if len(levels) else curves,
        "Each point: the mean over random K-subsets of a network's masks; "
        f"bands: {_params(ms, key).get('interval', '95% intervals')}.",
    )


#: ``members`` of the rows of the data that are the dotted best-single-mask levels
BEST_SINGLE = "best single mask"


def _trained(curves: pd.DataFrame, group: str) -> bool:
    """Whether the group's members are trained networks (tl.ensemble: not masks of one network)."""
    members = curves.loc[curves["group"] == group, "members"]
    return bool(len(members)) and not (members == MASKS).any()


# representations ---------------------------------------------------------------------------------


def _prepare_cka_by_layer(summary: pd.DataFrame) -> pd.DataFrame:
    """``group, position, representation, cka, cka_lo, cka_hi, random, random_lo, random_hi``."""
    for col in ("group", "position", "representation", "cka", "random_cka"):
        if col not in summary.columns:
            raise AnalysisError(
                f"representation summary has no {col!r} column (from landscape.tl.representation_similarity)"
            )
    return pd.DataFrame(
        {
            "group": summary["group"].astype(str).to_numpy(),
            "position": summary["position"].to_numpy(dtype=int),
            "representation": summary["representation"].astype(str).to_numpy(),
            "cka": summary["cka"].to_numpy(dtype=float),
            "cka_lo": summary["cka_ci_low"].to_numpy(dtype=float),
            "cka_hi": summary["cka_ci_high"].to_numpy(dtype=float),
            "random": summary["random_cka"].to_numpy(dtype=float),
            "random_lo": summary["random_cka_ci_low"].to_numpy(dtype=float),
            "random_hi": summary["random_cka_ci_high"].to_numpy(dtype=float),
        }
    )


def cka_by_layer(ms: Any, *, key: str = "representation_similarity", groups=None, ax: Any = None) -> Any:
    """Linear CKA between the masks' representations, layer by layer (95% interval band), with
    that of independent random masks over the same weights dashed.

    Parameters
    ----------
    ms
        MaskSet on which :func:`landscape.tl.representation_similarity` ran.
    key
        ``uns`` key of its result.
    groups
        Group labels to show (default: all).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    data = _prepare_cka_by_layer(_slot(ms, key, "summary", "landscape.tl.representation_similarity(ms)"))
    if groups is not None:
        data = data[data["group"].isin(list(groups))]
    at = ms.uns[key].get("params", {}).get("at", "input")
    ax = new_axes(ax)
    names = ordered_groups(data["group"])
    colors = group_colors(names)
    shown, _ = legend_names(names)  # display names in the legend
    for k, group in enumerate(names):
        part = data[data["group"] == group].sort_values("position")
        x, color = part["position"].to_numpy(), colors[group]
        ax.fill_between(x, part["cka_lo"], part["cka_hi"], color=color, alpha=0.2, linewidth=0)
        ax.plot(x, part["cka"], marker=MARKERS[k % len(MARKERS)], color=color, label=shown[group])
        ax.plot(x, part["random"], linestyle="--", color=color, linewidth=0.8)
    ax.plot([], [], color=GREY, linestyle="--", linewidth=0.8, label="random masks, same weights")
    ticks = data.drop_duplicates("position").sort_values("position")
    labels = ticks["representation"].tolist()
    ax.set_xticks(ticks["position"].to_numpy(), labels)
    rotate_if_crowded(ax, labels)
    ax.set_xlabel(
        "representation (input of each layer, then the logits)" if at == "input" else "output of layer"
    )
    ax.set_ylabel("linear CKA (pairs of masks)")
    ax.set_ylim(0, 1.02)
    legend_outside(ax)
    return attach(
        ax,
        data,
        "Each point: the mean over pairs of masks in one network; "
        f"bands: {_params(ms, key).get('interval', '95% intervals')}.",
    )


def _params(ms: Any, key: str) -> dict:
    slot = ms.uns.get(key)
    params = slot.get("params") if isinstance(slot, dict) else None
    return params if isinstance(params, dict) else {}


def summary_split(ms: Any, key: str) -> str:
    """The split the ensemble's best single mask was chosen on, in words."""
    split = (ms.uns.get(key, {}).get("params") or {}).get("select_split") or "val"
    return {"val": "validation", "train": "training", "test": "test"}.get(str(split), str(split))
