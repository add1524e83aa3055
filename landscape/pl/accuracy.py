"""Accuracy against density or width per method, with the dense weight-trained reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    attach,
    axis_label,
    data_of,
    group_labels,
    group_methods,
    legend_names,
    legend_outside,
    new_axes,
    notes_of,
    ordered_groups,
    require_obs,
    set_value_ticks,
    spaced_labels,
)
from landscape.pl.style import MARKERS, METHOD_COLORS, figsize, group_colors

# Dense training uses every weight, so on a density axis it is one level, never a curve.
_DENSITY_AXES = ("density", "sparsity")
DENSE_NAME = "dense (weights trained)"


@dataclass
class AccuracyData:
    """What :func:`accuracy_vs` draws.

    ``curves``: ``group, x, mean, sd, n, n_networks, spread`` (one row per group and x
    value, sorted by x; ``spread`` says whether ``sd`` runs over masks or networks);
    ``dense``: ``group, x, mean, sd, n`` of the dense references, one per dense configuration
    (``group`` is its legend name; empty when there is none);
    ``dense_kind``: ``"line"`` (one level, drawn horizontally), ``"curve"`` or None.
    """

    curves: pd.DataFrame
    dense: pd.DataFrame
    dense_kind: str | None
    methods: dict[str, str] = field(default_factory=dict)


def _summarise(frame: pd.DataFrame, by: list[str], y: str) -> pd.DataFrame:
    """Mean and spread of ``y`` per ``by``: with one network the sd over its masks
    (``spread == "masks"``); with several, the mean and sd over the networks' means
    (``spread == "networks"``), so masks of one network never count as independent draws."""
    if "network" not in frame.columns or frame["network"].nunique(dropna=False) <= 1:
        stats = frame.groupby(by, sort=False)[y].agg(["mean", "std", "count"]).reset_index()
        stats = stats.rename(columns={"std": "sd", "count": "n"})
        stats["n_networks"] = 1
        stats["spread"] = "masks"
    else:
        per_net = frame.groupby([*by, "network"], sort=False)[y].agg(["mean", "count"]).reset_index()
        stats = per_net.groupby(by, sort=False).agg(
            mean=("mean", "mean"), sd=("mean", "std"), n=("count", "sum"), n_networks=("network", "nunique")
        )
        stats = stats.reset_index()
        stats["spread"] = np.where(stats["n_networks"] > 1, "networks", "masks")
        # a point seen in one network only: the sd over its masks
        within = frame.groupby(by, sort=False)[y].std().rename("_sd_masks").reset_index()
        stats = stats.merge(within, on=by, how="left")
        stats["sd"] = np.where(stats["n_networks"] > 1, stats["sd"], stats["_sd_masks"])
        stats = stats.drop(columns="_sd_masks")
    stats["sd"] = stats["sd"].fillna(0.0)
    return stats


def spread_text(curves: pd.DataFrame) -> str:
    """What the error bars of an accuracy figure run over."""
    if curves.empty or (curves["spread"] == "masks").all():
        return "mean ± sd over masks"
    nets = int(curves["n_networks"].max())
    if (curves["spread"] == "networks").all():
        return f"mean ± sd over {nets} networks"
    return "mean ± sd over networks (masks where one network)"


def _prepare_accuracy_vs(
    obs: pd.DataFrame,
    x: str = "density",
    y: str = "test_acc",
    groupby: Any = "config",
    dense_line: str | None = "dense",
) -> AccuracyData:
    """Mean and sd of ``y`` over seeds for each group and value of ``x``.

    Rows whose ``method`` is ``dense_line`` form the reference: a horizontal level when ``x``
    is a density axis or the reference has a single ``x`` value, else a curve over ``x``.
    Rows with a missing ``x`` or ``y`` are ignored.
    """
    require_obs(obs, x)
    require_obs(obs, y)
    frame = pd.DataFrame(
        {
            "x": pd.to_numeric(obs[x], errors="coerce"),
            "y": pd.to_numeric(obs[y], errors="coerce"),
            # one curve per configuration: the x field itself varies along it
            "group": group_labels(obs, groupby, vary=(x,)),
            "network": obs["weight_seed"].to_numpy() if "weight_seed" in obs.columns else 0,
        },
        index=obs.index,
    )
    is_dense = (
        (obs["method"].astype(str) == dense_line).to_numpy()
        if dense_line and "method" in obs
        else np.zeros(len(obs), bool)
    )
    methods = group_methods(obs, frame["group"]) if "method" in obs.columns else {}
    dense = frame[is_dense].dropna(subset=["y"])
    main = frame[~is_dense].dropna(subset=["x", "y"])
    curves = _summarise(main, ["group", "x"], "y").sort_values(["group", "x"], kind="stable")
    order = ordered_groups(main["group"])
    curves = curves.sort_values("group", key=lambda g: g.map(order.index), kind="stable").reset_index(
        drop=True
    )
    if dense.empty:
        return AccuracyData(curves, pd.DataFrame(columns=["group", "x", "mean", "sd", "n"]), None, methods)
    # one reference per dense configuration: dense networks of two datasets or models are
    # two references, never averaged into one level
    labels = ordered_groups(dense["group"])
    names = {labels[0]: DENSE_NAME} if len(labels) == 1 else legend_names(labels)[0]
    if x in _DENSITY_AXES or dense["x"].nunique() <= 1:
        rows = []
        for g in labels:
            level = dense.loc[dense["group"] == g, "y"]
            rows.append(
                {
                    "group": names[g],
                    "x": np.nan,
                    "mean": level.mean(),
                    "sd": level.std(ddof=1) if len(level) > 1 else 0.0,
                    "n": len(level),
                }
            )
        return AccuracyData(curves, pd.DataFrame(rows), "line", methods)
    dense_curve = _summarise(dense.dropna(subset=["x"]), ["group", "x"], "y")
    dense_curve["group"] = dense_curve["group"].map(names)
    order = [names[g] for g in labels]
    dense_curve = dense_curve.sort_values(
        ["group", "x"], key=lambda c: c.map(order.index) if c.name == "group" else c, kind="stable"
    ).reset_index(drop=True)
    return AccuracyData(curves, dense_curve, "curve", methods)


def accuracy_vs(
    ms: Any,
    *,
    x: str = "density",
    y: str = "test_acc",
    groupby: Any = "config",
    dense_line: str | None = "dense",
    col: str | None = None,
    logx: bool | None = None,
    ax: Any = None,
) -> Any:
    """Accuracy (mean ± sd over seeds) against density or width, one line per group.

    Parameters
    ----------
    ms
        MaskSet (or its ``obs`` DataFrame) with columns ``x``, ``y`` and ``groupby``.
    x
        ``"density"`` (fraction of weights kept), ``"model.width_mult"`` or any numeric column.
    y
        Accuracy column (``test_acc``, ``val_acc``, ``test_acc_at_best_val``...).
    groupby
        obs column naming the lines.
    dense_line
        ``method`` value of the dense weight-trained reference (a black line with a ±sd
        band; a curve when it varies with ``x``); None to leave it out.
    col
        obs column splitting the data into side-by-side panels (e.g. ``"model.name"``); then a
        Figure is returned.
    logx
        Log-scale x axis; by default only for a density axis spanning a factor of 10 or more.
    ax
        Axes to draw on (not with ``col``).

    Returns
    -------
    matplotlib.axes.Axes, or matplotlib.figure.Figure when ``col`` is given.
    """
    obs = ms if isinstance(ms, pd.DataFrame) else ms.obs
    if col is None:
        return _draw(_prepare_accuracy_vs(obs, x, y, groupby, dense_line), x, y, obs, logx, new_axes(ax))
    values = [v for v in dict.fromkeys(require_obs(obs, col)) if not pd.isna(v)]
    if not values:
        raise AnalysisError(f"col={col!r}: the column is empty")
    import matplotlib.pyplot as plt

    width, height = figsize("double" if len(values) > 2 else "single")
    fig, axes = plt.subplots(
        1,
        len(values),
        figsize=(width, max(height / max(len(values) / 2, 1), 1.8)),
        sharey=True,
        squeeze=False,
    )
    for panel, value in zip(axes[0], values):
        part = obs[obs[col] == value]
        _draw(_prepare_accuracy_vs(part, x, y, groupby, dense_line), x, y, part, logx, panel, legend=False)
        panel.set_title(f"{value}")
    for panel in axes[0][1:]:
        panel.set_ylabel("")
    legend_outside(axes[0][-1])
    frames = [data_of(panel).assign(panel=value) for panel, value in zip(axes[0], values)]
    return attach(fig, pd.concat(frames, ignore_index=True), *notes_of(axes[0][0]))


def _draw(
    data: AccuracyData, x: str, y: str, obs: pd.DataFrame, logx: bool | None, ax: Any, legend: bool = True
) -> Any:
    if data.curves.empty and data.dense.empty:
        hint = ""
        if "selected_on" in obs and (obs["selected_on"].astype(str) == "test").any():
            hint = " (imported masks selected on the test set have best_test_acc only; y='best_test_acc')"
        raise AnalysisError(f"no masks with both {x!r} and {y!r} to plot{hint}")
    colors = group_colors(ordered_groups(data.curves["group"]), data.methods)
    names, recipe = legend_names(ordered_groups(data.curves["group"]))
    for k, (group, frame) in enumerate(data.curves.groupby("group", sort=False)):
        null = data.methods.get(group) == "random"
        ax.errorbar(
            frame["x"],
            frame["mean"],
            yerr=frame["sd"],
            color=colors[group],
            marker=MARKERS[k % len(MARKERS)],
            markerfacecolor="white" if null else colors[group],
            capsize=1.5,
            elinewidth=0.6,
            label=names[group],
        )
    _draw_dense(ax, data)
    xs = data.curves["x"].dropna()
    if logx is None:  # widths double from point to point (1/16 ... 1); densities stay linear
        logx = x == "model.width_mult" and len(xs) > 0 and xs.min() > 0 and xs.max() / xs.min() >= 4
    if logx:
        ax.set_xscale("log", base=2 if x == "model.width_mult" else 10)
    if len(xs) and xs.nunique() <= 12:
        set_value_ticks(ax, xs)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y, obs[y]))
    if legend:
        legend_outside(ax, title=spread_text(data.curves))
    frame = data.curves.assign(reference=False)
    if not data.dense.empty:
        frame = pd.concat([frame, data.dense.assign(reference=True)], ignore_index=True)
    return attach(ax, frame, f"Error bars: {spread_text(data.curves)}.", recipe)


def _draw_dense(ax: Any, data: AccuracyData) -> None:
    color = METHOD_COLORS["dense"]
    for k, (name, d) in enumerate(data.dense.groupby("group", sort=False)):
        style = _DENSE_STYLES[k % len(_DENSE_STYLES)]
        if data.dense_kind == "line":
            row = d.iloc[0]
            ax.axhline(row["mean"], color=color, linestyle=style, linewidth=0.9, label=name)
            if row["sd"] > 0:
                ax.axhspan(
                    row["mean"] - row["sd"], row["mean"] + row["sd"], color=color, alpha=0.08, linewidth=0
                )
        elif data.dense_kind == "curve":
            ax.fill_between(
                d["x"], d["mean"] - d["sd"], d["mean"] + d["sd"], color=color, alpha=0.1, linewidth=0
            )
            ax.plot(d["x"], d["mean"], color=color, linestyle=style, marker="x", label=name)


# one style per dense reference, so two references (two datasets, two models) stay apart
_DENSE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def _tick_labels(ticks: np.ndarray, logx: bool, width_pt: float = 150.0, size_pt: float = 7.0) -> list[str]:
    """Labels for every tick, blank where one would run into a shown neighbour (see
    :func:`landscape.pl._common.spaced_labels`)."""
    pos = np.log2(ticks) if logx else np.asarray(ticks, dtype=float)
    return spaced_labels(pos, [f"{t:g}" for t in ticks], width_pt, size_pt)
