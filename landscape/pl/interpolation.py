"""Loss or accuracy along the interpolation paths between masks (mean ± sd over pairs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._barrier_data import (
    _FIX,
    METRICS,
    _barrier_slot,
    _pair_groups,
    _with_names,
    networks_text_of_pairs,
)
from landscape.pl._common import (
    accuracy_label,
    attach,
    group_labels,
    group_methods,
    legend_names,
    legend_outside,
    new_axes,
    ordered_groups,
)
from landscape.pl.style import group_colors

_LINESTYLES = ("-", "--", ":", "-.")


def _prepare_interpolation(
    curves: pd.DataFrame,
    labels: pd.Series,
    metric: str = "loss",
    split: str | Sequence[str] | None = "test",
) -> pd.DataFrame:
    """Mean and sd over pairs of ``metric`` at each alpha, per (group, path, split).

    Returns
    -------
    DataFrame
        ``group, path, split, alpha, mean, sd, n_pairs`` sorted by alpha within each curve.
    """
    if metric not in METRICS:
        raise AnalysisError(f"metric: expected 'loss' or 'acc', got {metric!r}")
    missing = {"i", "j", "path", "alpha", "split", metric} - set(curves.columns)
    if missing:
        raise AnalysisError(f"barrier curves lack columns {sorted(missing)}; rerun {_FIX}")
    frame = curves
    if split is not None:
        splits = [split] if isinstance(split, str) else list(split)
        frame = frame[frame["split"].isin(splits)]
        if frame.empty:
            raise AnalysisError(f"split: no curves for {split!r} (have {sorted(curves['split'].unique())})")
    frame, groups = _pair_groups(frame, labels)
    frame = frame.assign(group=groups)
    stats = frame.groupby(["group", "path", "split", "alpha"], sort=False)[metric].agg(
        ["mean", "std", "count"]
    )
    stats = stats.rename(columns={"std": "sd", "count": "n_pairs"}).reset_index()
    stats["sd"] = stats["sd"].fillna(0.0)
    # groups in the order their masks appear, pairs across groups after them
    rank = {g: n for n, g in enumerate(ordered_groups(labels.astype(str)))}
    stats["_rank"] = stats["group"].map(lambda g: rank.get(g, len(rank)))
    stats = stats.sort_values(["_rank", "group", "path", "split", "alpha"], kind="stable")
    return stats.drop(columns="_rank").reset_index(drop=True)


def interpolation(
    ms: Any,
    *,
    key: str = "barrier",
    metric: str = "loss",
    split: str | Sequence[str] | None = "test",
    groupby: Any = "config",
    ax: Any = None,
) -> Any:
    """Loss or accuracy along the interpolation paths between masks (mean ± sd over pairs).

    Parameters
    ----------
    ms
        MaskSet with ``uns[key]["curves"]`` (from ``landscape.tl.barriers``).
    key
        The slot the barrier tool wrote.
    metric
        ``"loss"`` or ``"acc"``.
    split
        Data split(s) to show (``"test"``, ``"train"``, a list, or None for all).
    groupby
        obs column naming the groups; colour = group, line style = path (and split).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    curves = _barrier_slot(ms, key).get("curves")
    if not isinstance(curves, pd.DataFrame) or curves.empty:
        raise AnalysisError(f'uns["{key}"]["curves"] is empty: run {_FIX} first')
    curves = _with_names(curves, ms.uns[key].get("table"))
    labels = group_labels(ms.obs, groupby)
    data = _prepare_interpolation(curves, labels, metric, split)
    ax = new_axes(ax)
    colors = group_colors(ordered_groups(data["group"]), group_methods(ms.obs, labels))
    styles = {
        k: _LINESTYLES[n % len(_LINESTYLES)]
        for n, k in enumerate(dict.fromkeys(zip(data["path"], data["split"])))
    }
    several_splits = data["split"].nunique() > 1
    names, recipe = legend_names(ordered_groups(data["group"]))
    for (group, path, sp), frame in data.groupby(["group", "path", "split"], sort=False):
        x, mean, sd = frame["alpha"].to_numpy(), frame["mean"].to_numpy(), frame["sd"].to_numpy()
        color = colors[group]
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.18, linewidth=0)
        label = f"{names.get(group, group)}, {path}" + (f" ({sp})" if several_splits else "")
        ax.plot(x, mean, color=color, linestyle=styles[(path, sp)], label=label)
    ax.set_xlabel(r"interpolation coefficient $\alpha$")
    split_text = split if isinstance(split, str) else "all splits" if split is None else "/".join(split)
    ylabel = f"{split_text} loss" if metric == "loss" else accuracy_label(f"{split_text}_acc", curves["acc"])
    ax.set_ylabel(ylabel.replace("_", " "))
    ax.set_xlim(0, 1)
    drawn = (
        curves
        if split is None
        else curves[curves["split"].isin([split] if isinstance(split, str) else split)]
    )
    nets, used = networks_text_of_pairs(drawn, ms.obs)  # the networks of the pairs drawn
    over = f"mean ± sd over pairs ({nets})"
    legend_outside(ax, title=over)
    return attach(ax, data, f"Lines: {over}; each pair is two masks of one network.", recipe, masks=used)
