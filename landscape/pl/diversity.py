"""Diversity against density or width: one line per configuration (the x field varying along
it), the interval over networks from :func:`landscape.tl.diversity`, chance as a band."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape import grouping
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.pl._common import (
    attach,
    axis_label,
    interval_text,
    legend_names,
    legend_outside,
    metric_label,
    new_axes,
    set_value_ticks,
)
from landscape.pl.names import layer_label
from landscape.pl.style import GREY, MARKERS, figsize, group_colors

VALUES = ("similarity", "excess")
BAND = "95% range of the mean under independent random masks (the test's null)"
_DENSITY = ("density", "method.density")
COLUMNS = ["line", "method", "layer", "x", "y", "lo", "hi", "chance", "chance_lo", "chance_hi"]
COLUMNS += ["interval", "n_networks", "n_masks", "group", "chance_null"]


def _sets(ms: Any) -> list[Any]:
    return list(ms) if isinstance(ms, (list, tuple)) else [ms]


def _line_groupby(groupby: Any, x: str) -> Any:
    """Lines: the figure's groups with ``x`` left free to vary along them."""
    if groupby is None or (isinstance(groupby, str) and groupby == CONFIG):
        return groupby
    cols = [groupby] if isinstance(groupby, str) else list(groupby)
    free = set(_DENSITY) if x in _DENSITY else {x}
    return [c for c in cols if c not in free] or None


def diversity_table(
    ms: Any, x: str = "density", groupby: Any = CONFIG, key: str = "diversity"
) -> pd.DataFrame:
    """The across-network summaries of ``tl.diversity`` of one or several MaskSets (several
    layouts for a width axis) with, per group, its ``x`` value and its ``line``: the group's
    configuration with ``x`` left out, labelled over all the sets together.

    Raises
    ------
    AnalysisError
        When a set lacks ``uns[key]``, a summary group is not one of ``groupby``'s groups, or
        ``x`` takes several values inside one group.
    """
    sets = _sets(ms)
    frames, obs_all = [], []
    for k, one in enumerate(sets):
        slot = one.uns.get(key)
        if not isinstance(slot, dict) or not isinstance(slot.get("summary"), pd.DataFrame):
            raise AnalysisError(f'uns["{key}"] is missing: run landscape.tl.diversity(ms) first')
        if x not in one.obs.columns:
            raise AnalysisError(f"obs has no column {x!r}")
        positions = {g.label: g.positions for g in grouping.group_masks(one.obs, groupby)}
        summary = slot["summary"]
        unknown = sorted(set(summary["group"].astype(str)) - set(positions))
        if unknown:
            raise AnalysisError(
                f'uns["{key}"] holds group {unknown[0]!r}, not a group of groupby={groupby!r}: '
                f"rerun landscape.tl.diversity(ms, groupby={groupby!r})"
            )
        rows = []
        for _, row in summary.iterrows():
            pos = positions[str(row["group"])]
            values = pd.unique(one.obs[x].iloc[pos])
            if len(values) != 1:
                raise AnalysisError(
                    f"{x!r} takes {len(values)} values inside group {row['group']!r}; group by it"
                )
            rows.append({**row.to_dict(), "x": float(values[0]), "_set": k, "_first": one.obs.index[pos[0]]})
        frames.append(pd.DataFrame(rows))
        obs_all.append(one.obs.assign(_set=k))
    table = pd.concat(frames, ignore_index=True)
    obs = pd.concat(obs_all)
    line_by = _line_groupby(groupby, x)
    lines = (
        grouping.group_labels(obs.reset_index(drop=True), line_by, vary=(x,)) if line_by is not None else None
    )
    where = {(s, name): n for n, (s, name) in enumerate(zip(obs["_set"], obs.index))}
    table["line"] = [
        lines.iloc[where[(s, f)]] if lines is not None else "all masks"
        for s, f in zip(table["_set"], table["_first"])
    ]
    methods = obs["method"].astype(str).to_numpy() if "method" in obs.columns else None
    table["method"] = [
        methods[where[(s, f)]] if methods is not None else "" for s, f in zip(table["_set"], table["_first"])
    ]
    return table.drop(columns=["_set", "_first"])


def _prepare_diversity_vs(
    table: pd.DataFrame, value: str = "similarity", layer: str | None = "whole"
) -> pd.DataFrame:
    """What :func:`diversity_vs` draws from a :func:`diversity_table`: one row per line, layer
    and x: ``y`` with its 95% interval ``lo, hi`` (over networks, or over masks with one
    network: ``interval``), the chance level and the 95% range of ``y`` under independent
    random masks (``chance_lo, chance_hi``; for the excess, a band around 0)."""
    if value not in VALUES:
        raise AnalysisError(f"value: expected 'similarity' or 'excess', got {value!r}")
    frame = table if layer is None else table[table["layer"] == layer]
    if frame.empty:
        raise AnalysisError(
            f"layer: no diversity rows for {layer!r} (have {', '.join(map(str, table['layer'].unique()))})"
        )
    dup = frame.duplicated(["line", "layer", "x"])
    if dup.any():
        first = frame[dup].iloc[0]
        raise AnalysisError(
            f"two groups of line {first['line']!r} share {first['x']:g}; give a groupby that keeps them apart"
        )
    chance = frame["chance_similarity"].to_numpy(float)
    c_lo = frame.get("chance_range_low", pd.Series(chance, index=frame.index)).to_numpy(float)
    c_hi = frame.get("chance_range_high", pd.Series(chance, index=frame.index)).to_numpy(float)
    if value == "similarity":
        y, lo, hi = (
            frame[c].to_numpy(float) for c in ("similarity", "similarity_ci_low", "similarity_ci_high")
        )
    else:
        y, lo, hi = (
            frame[c].to_numpy(float) for c in ("excess_similarity", "excess_ci_low", "excess_ci_high")
        )
        # the zero line only where there is a chance level to be above
        c_lo, c_hi, chance = c_lo - chance, c_hi - chance, np.where(np.isnan(chance), np.nan, 0.0)
    out = pd.DataFrame(
        {
            "line": frame["line"].astype(str).to_numpy(),
            "method": frame["method"].astype(str).to_numpy() if "method" in frame else "",
            "layer": frame["layer"].to_numpy(),
            "x": frame["x"].to_numpy(float),
            "y": y,
            "lo": lo,
            "hi": hi,
            "chance": chance,
            "chance_lo": c_lo,
            "chance_hi": c_hi,
            "interval": frame["interval"].to_numpy() if "interval" in frame else "masks",
            "n_networks": frame["n_networks"].to_numpy() if "n_networks" in frame else 1,
            "n_masks": frame["n_masks"].to_numpy(),
            "group": frame["group"].astype(str).to_numpy(),
            # "layers" or "source": what the chance level is uniform over (tl.diversity)
            "chance_null": frame["chance_null"].to_numpy() if "chance_null" in frame else "layers",
        }
    )
    order = {line: n for n, line in enumerate(dict.fromkeys(out["line"]))}
    out["_o"] = out["line"].map(order)
    return (
        out.sort_values(["_o", "layer", "x"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)[COLUMNS]
    )


def _draw_panel(ax: Any, data: pd.DataFrame, value: str, x: str, log: bool) -> None:
    methods = dict(zip(data["line"], data["method"]))
    colors = group_colors(list(dict.fromkeys(data["line"])), methods)
    names, _ = legend_names(list(dict.fromkeys(data["line"])))
    _draw_chance(ax, data, colors)
    n_lines = data["line"].nunique()
    xs = np.log2(data["x"]) if log else data["x"]
    span = float(xs.max() - xs.min()) or 1.0
    for k, (line, frame) in enumerate(data.groupby("line", sort=False)):
        random_null = methods.get(line) == "random"
        # lines side by side at each x so that their error bars never hide each other
        shift = (k - (n_lines - 1) / 2) * 0.012 * span
        x_drawn = frame["x"] * 2.0**shift if log else frame["x"] + shift
        ax.errorbar(
            x_drawn, frame["y"],
            yerr=[frame["y"] - frame["lo"].fillna(frame["y"]), frame["hi"].fillna(frame["y"]) - frame["y"]],
            color=colors[line], marker=MARKERS[k % len(MARKERS)], capsize=1.5, elinewidth=0.6, zorder=3,
            markerfacecolor="white" if random_null else colors[line],
            label=names[line] + (" (searched null)" if random_null else ""),
        )  # fmt: skip
    if log:
        ax.set_xscale("log", base=2)
    set_value_ticks(ax, data["x"])
    ax.set_xlabel(axis_label(x))
    if value == "excess":
        ax.axhline(0.0, color="black", linewidth=0.5, zorder=0)


def _draw_chance(ax: Any, data: pd.DataFrame, colors: dict) -> None:
    """The chance range: one grey band for the lines whose random masks are uniform over
    whole layers, and one band per line searched inside a source (its own random masks, in
    the line's colour), so that no band spans two nulls."""
    inside = data["chance_null"].astype(str).str.contains("source").to_numpy()
    whole = data[~inside]
    if len(whole):
        band = whole.groupby("x", sort=True).agg(
            lo=("chance_lo", "min"), hi=("chance_hi", "max"), mid=("chance", "mean")
        )
        ax.fill_between(band.index, band["lo"], band["hi"], color=GREY, alpha=0.35, linewidth=0, zorder=1,
                        label="independent random masks (95% range)")  # fmt: skip
        ax.plot(band.index, band["mid"], color=GREY, linestyle="--", linewidth=0.8, zorder=2)
    for k, (line, frame) in enumerate(data[inside].groupby("line", sort=False)):
        frame = frame.sort_values("x")
        label = "random masks inside the line's source (95% range)" if k == 0 else None
        ax.fill_between(frame["x"], frame["chance_lo"], frame["chance_hi"], color=colors[line], alpha=0.15,
                        linewidth=0, zorder=1, label=label)  # fmt: skip
        ax.plot(frame["x"], frame["chance"], color=colors[line], linestyle=":", linewidth=0.8, zorder=2)


def diversity_vs(
    ms: Any,
    *,
    x: str = "density",
    value: str = "similarity",
    layer: str = "whole",
    groupby: Any = CONFIG,
    key: str = "diversity",
    logx: bool | None = None,
    ax: Any = None,
) -> Any:
    """Mean pairwise similarity within each group against density or width, one line per
    configuration, error bars over networks, independent random masks as a band.

    Parameters
    ----------
    ms
        A MaskSet with ``uns[key]`` from ``landscape.tl.diversity``, or a list of them (one
        per layout: a width axis spans several).
    x
        ``"density"``, ``"model.width_mult"`` or another obs column constant inside a group.
    value
        ``"similarity"`` (the metric ``tl.diversity`` used) or ``"excess"`` over chance.
    layer
        ``"whole"``, one layer name, or ``"each"``: one panel per layer (small multiples;
        then a Figure is returned).
    groupby
        ``"config"`` (default): one group per configuration; lines join the groups that
        differ only in ``x``. Columns pool configurations as in ``tl.diversity``.
    logx
        Log-2 x axis (default: for a width axis spanning a factor of 4 or more).
    ax
        Axes to draw on (not with ``layer="each"``).

    Returns
    -------
    matplotlib.axes.Axes, or matplotlib.figure.Figure with ``layer="each"``.
    """
    table = diversity_table(ms, x, groupby, key)
    metric = str(_sets(ms)[0].uns[key].get("params", {}).get("metric", "jaccard"))
    xs = table["x"].dropna()
    if logx is None:
        logx = x == "model.width_mult" and len(xs) > 0 and xs.min() > 0 and xs.max() / xs.min() >= 4
    ylabel = metric_label(metric, True) + (" above chance" if value == "excess" else "")
    if layer != "each":
        data = _prepare_diversity_vs(table, value, layer)
        ax = new_axes(ax)
        _draw_panel(ax, data, value, x, logx)
        ax.set_ylabel(f"{ylabel} (pairs)" if layer == "whole" else f"{ylabel}, {layer_label(layer)}")
        note = interval_text(data)
        legend_outside(ax, title=note)
        recipe = legend_names(list(dict.fromkeys(data["line"])))[1]
        return attach(ax, data, f"Error bars: {note}; grey band: {BAND}.", recipe)
    return _small_multiples(table, value, x, logx, ylabel, _sets(ms))


def _small_multiples(
    table: pd.DataFrame, value: str, x: str, logx: bool, ylabel: str, sets: Sequence[Any]
) -> Any:
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    layers = list(dict.fromkeys(table["layer"]))
    one_layout = len(sets) == 1
    shapes = {s.name: s.shape for s in sets[0].layout} if one_layout else {}
    n = len(layers)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    width, _ = figsize("double")
    fig, axes = plt.subplots(rows, cols, figsize=(width, 1.9 * rows), squeeze=False, sharex=True)
    frames = []
    for k, name in enumerate(layers):
        panel = axes[k // cols][k % cols]
        data = _prepare_diversity_vs(table, value, name)
        frames.append(data)
        _draw_panel(panel, data, value, x, logx)
        panel.set_title("whole network" if name == "whole" else layer_label(name, shapes.get(name)))
        panel.set_xlabel("")
        if k % cols:
            panel.set_ylabel("")
        else:
            panel.set_ylabel(ylabel)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    data = pd.concat(frames, ignore_index=True)
    note = interval_text(data)
    fig.supxlabel(axis_label(x), fontsize=mpl.rcParams["axes.labelsize"])
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), title=note)
    recipe = legend_names(list(dict.fromkeys(data["line"])))[1]
    return attach(fig, data, f"Error bars: {note}; grey band: {BAND}.", recipe)
