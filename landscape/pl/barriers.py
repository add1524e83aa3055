"""Interpolation between masks: curves along the paths, the barrier matrix, barrier vs distance.

Reads what ``landscape.tl.barriers`` stores: ``uns[key]["curves"]`` (one row per pair, path,
split and alpha, with ``loss`` and ``acc``), ``uns[key]["table"]`` (one row per pair, path and
split, with ``barrier_loss``, ``barrier_acc`` and the normalised Hamming distance ``hamming``)
and ``obsp[key]`` (n × n, NaN where a pair was not interpolated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    accuracy_label,
    group_labels,
    legend_outside,
    new_axes,
    ordered_groups,
    require_obsp,
    rotate_if_crowded,
    seed_order,
)
from landscape.pl.heatmap import draw_matrix
from landscape.pl.style import group_colors

METRICS = ("loss", "acc")
_LINESTYLES = ("-", "--", ":", "-.")
_FIX = "landscape.tl.barriers(ms)"


def _barrier_slot(ms: Any, key: str) -> dict:
    if key not in ms.uns or not isinstance(ms.uns[key], dict):
        raise AnalysisError(f'uns["{key}"] is missing: run {_FIX} first')
    return ms.uns[key]


def _with_names(curves: pd.DataFrame, table: Any) -> pd.DataFrame:
    """Add the obs names of each pair to the curves (the table records them per pair)."""
    if {"obs_i", "obs_j"} <= set(curves.columns) or not isinstance(table, pd.DataFrame):
        return curves
    if not {"pair", "obs_i", "obs_j"} <= set(table.columns) or "pair" not in curves.columns:
        return curves
    names = table.drop_duplicates("pair").set_index("pair")[["obs_i", "obs_j"]]
    return curves.join(names, on="pair")


def _pair_groups(frame: pd.DataFrame, labels: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The pairs whose masks are in ``labels`` and the group of each.

    A pair's group is the shared group of its masks, or ``"a × b"`` across groups. Pairs are
    found by obs name (``obs_i``/``obs_j``, or ``i``/``j`` holding names), which survives
    subsetting the MaskSet; integer ``i``/``j`` are positions and are used only when no names
    are recorded.
    """
    names = labels.astype(str)
    if {"obs_i", "obs_j"} <= set(frame.columns):
        cols = ("obs_i", "obs_j")
    elif pd.api.types.is_integer_dtype(frame["i"]):
        bad = (frame["i"] < 0) | (frame["i"] >= len(names)) | (frame["j"] < 0) | (frame["j"] >= len(names))
        if bad.any():
            raise AnalysisError(
                f"barrier pairs refer to masks beyond the {len(names)} in this set; rerun {_FIX}"
            )
        a = names.to_numpy()[frame["i"].to_numpy()]
        b = names.to_numpy()[frame["j"].to_numpy()]
        return frame, _combine(a, b, frame.index)
    else:
        cols = ("i", "j")
    first, second = frame[cols[0]].astype(str), frame[cols[1]].astype(str)
    present = first.isin(names.index) & second.isin(names.index)
    frame = frame[present.to_numpy()]
    if frame.empty:
        raise AnalysisError(f"none of the interpolated pairs lie in this set of masks; rerun {_FIX}")
    a = names.loc[first[present]].to_numpy()
    b = names.loc[second[present]].to_numpy()
    return frame, _combine(a, b, frame.index)


def _combine(a: np.ndarray, b: np.ndarray, index: pd.Index) -> pd.Series:
    pair = [x if x == y else " × ".join(sorted((x, y))) for x, y in zip(a, b)]
    return pd.Series(pair, index=index, name="group")


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
    data = _prepare_interpolation(curves, group_labels(ms.obs, groupby), metric, split)
    ax = new_axes(ax)
    colors = group_colors(ordered_groups(data["group"]))
    styles = {
        k: _LINESTYLES[n % len(_LINESTYLES)]
        for n, k in enumerate(dict.fromkeys(zip(data["path"], data["split"])))
    }
    several_splits = data["split"].nunique() > 1
    for (group, path, sp), frame in data.groupby(["group", "path", "split"], sort=False):
        x, mean, sd = frame["alpha"].to_numpy(), frame["mean"].to_numpy(), frame["sd"].to_numpy()
        color = colors[group]
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.18, linewidth=0)
        label = f"{group}, {path}" + (f" ({sp})" if several_splits else "")
        ax.plot(x, mean, color=color, linestyle=styles[(path, sp)], label=label)
    ax.set_xlabel(r"interpolation coefficient $\alpha$")
    split_text = split if isinstance(split, str) else "all splits" if split is None else "/".join(split)
    ylabel = f"{split_text} loss" if metric == "loss" else accuracy_label(f"{split_text}_acc", curves["acc"])
    ax.set_ylabel(ylabel.replace("_", " "))
    ax.set_xlim(0, 1)
    legend_outside(ax)
    return ax


@dataclass
class BarrierMatrixData:
    """The reordered barrier matrix and where each group's block starts."""

    matrix: np.ndarray
    order: np.ndarray  # positions of the masks on the rows/columns
    groups: list[str]
    bounds: list[int]  # first row of each group, plus the total size at the end


def _prepare_barrier_matrix(
    matrix: np.ndarray, labels: pd.Series, order: np.ndarray | None = None
) -> BarrierMatrixData:
    """Reorder masks by group (first-seen order) then by ``order``; NaN stays NaN."""
    matrix = np.asarray(matrix, dtype=float)
    labels = pd.Series(labels).astype(str).to_numpy()
    if matrix.shape != (len(labels), len(labels)):
        raise AnalysisError(f"barrier matrix {matrix.shape} does not match {len(labels)} masks")
    order = np.arange(len(labels)) if order is None else np.asarray(order)
    groups = ordered_groups(labels)
    blocks = [order[labels[order] == g] for g in groups]
    full = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.intp)
    bounds = list(np.cumsum([0] + [len(b) for b in blocks]))
    return BarrierMatrixData(matrix[np.ix_(full, full)], full, groups, [int(b) for b in bounds])


def barrier_matrix(
    ms: Any,
    *,
    key: str = "barrier",
    groupby: Any = "config",
    cmap: str = "magma",
    ax: Any = None,
) -> Any:
    """Heatmap of ``obsp[key]`` (the barrier of each interpolated pair), blank where not computed.

    Masks are ordered by group then seed; thin lines separate the groups.

    Returns
    -------
    matplotlib.axes.Axes
    """
    matrix = require_obsp(ms, key, _FIX)
    data = _prepare_barrier_matrix(matrix, group_labels(ms.obs, groupby), seed_order(ms.obs))
    if not np.isfinite(data.matrix).any():
        raise AnalysisError(f'obsp["{key}"] has no computed pair: run {_FIX} first')
    ax = new_axes(ax)
    draw_matrix(ax, data.matrix, cmap=cmap, label=_barrier_label(ms.uns.get(key, {})))
    for b in data.bounds[1:-1]:
        ax.axhline(b - 0.5, color="black", linewidth=0.5)
        ax.axvline(b - 0.5, color="black", linewidth=0.5)
    centres = [(lo + hi - 1) / 2 for lo, hi in zip(data.bounds[:-1], data.bounds[1:])]
    ax.set_xticks(centres, data.groups)
    rotate_if_crowded(ax, data.groups)
    ax.set_yticks(centres, data.groups)
    ax.tick_params(length=0)
    return ax


def _barrier_label(slot: Any) -> str:
    params = slot.get("params", {}) if isinstance(slot, dict) else {}
    split = params.get("split") or params.get("matrix_split")
    metric = params.get("metric") or params.get("matrix_metric") or "loss"
    return " ".join(str(p) for p in (split, metric if metric != "acc" else "error", "barrier") if p)


def _prepare_barrier_vs_distance(
    table: pd.DataFrame, labels: pd.Series, metric: str = "loss", split: str = "test"
) -> pd.DataFrame:
    """One row per interpolated pair: ``group, path, hamming, barrier``."""
    column = f"barrier_{metric}"
    missing = {"i", "j", "path", "split", "hamming", column} - set(table.columns)
    if missing:
        raise AnalysisError(f"barrier table lacks columns {sorted(missing)}; rerun {_FIX}")
    frame = table[table["split"] == split]
    if frame.empty:
        raise AnalysisError(f"split: no barriers for {split!r} (have {sorted(table['split'].unique())})")
    frame, groups = _pair_groups(frame, labels)
    out = pd.DataFrame(
        {
            "group": groups,
            "path": frame["path"],
            "hamming": frame["hamming"].astype(float),
            "barrier": frame[column].astype(float),
        }
    )
    return out.reset_index(drop=True)


def barrier_vs_distance(
    ms: Any,
    *,
    key: str = "barrier",
    metric: str = "loss",
    split: str = "test",
    groupby: Any = "config",
    ax: Any = None,
) -> Any:
    """Barrier of each interpolated pair against the pair's normalised Hamming distance.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = _barrier_slot(ms, key).get("table")
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise AnalysisError(f'uns["{key}"]["table"] is empty: run {_FIX} first')
    data = _prepare_barrier_vs_distance(table, group_labels(ms.obs, groupby), metric, split)
    ax = new_axes(ax)
    colors = group_colors(ordered_groups(data["group"]))
    markers = {p: m for p, m in zip(dict.fromkeys(data["path"]), ("o", "^", "s", "D"))}
    for (group, path), frame in data.groupby(["group", "path"], sort=False):
        ax.scatter(
            frame["hamming"],
            frame["barrier"],
            s=8,
            color=colors[group],
            marker=markers[path],
            label=f"{group}, {path}",
            linewidths=0,
        )
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xlabel("normalised Hamming distance")
    ax.set_ylabel(f"{split} {'loss' if metric == 'loss' else 'accuracy'} barrier")
    legend_outside(ax)
    return ax
