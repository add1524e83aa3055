"""Loss barriers between masks: one matrix per group (only the pairs that were interpolated)
and the barrier of each pair against its distance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._barrier_data import _FIX, _barrier_slot, _pair_groups, networks_text_of_pairs
from landscape.pl._common import (
    attach,
    group_labels,
    group_methods,
    legend_names,
    legend_outside,
    new_axes,
    ordered_groups,
    require_obsp,
    seed_order,
)
from landscape.pl.style import figsize, group_colors

#: method whose masks sit at chance loss: a flat path between two of them is no connection
RANDOM = "random"


@dataclass
class BarrierPanel:
    """One group's masks that take part in an interpolated pair, and their barriers.

    ``matrix[r, c]`` is the barrier between the masks on row r and column c (NaN where that
    pair was not interpolated); ``rows``/``cols`` are their positions in the MaskSet and
    ``row_ticks``/``col_ticks`` their search seeds (``w<weight seed>/s<search seed>`` when
    the group spans several networks). A panel ``"a × b"`` holds pairs across two groups.
    """

    group: str
    matrix: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    row_ticks: list[str]
    col_ticks: list[str]


@dataclass
class BarrierMatrixData:
    """The panels drawn and the groups left out (with the reason)."""

    panels: list[BarrierPanel]
    left_out: dict[str, str] = field(default_factory=dict)


def _ticks(obs: pd.DataFrame | None, positions: np.ndarray) -> list[str]:
    if obs is None or "search_seed" not in obs.columns:
        return [str(p) for p in positions]
    seeds = obs["search_seed"].to_numpy()[positions]
    if "weight_seed" in obs.columns and obs["weight_seed"].iloc[positions].nunique() > 1:
        nets = obs["weight_seed"].to_numpy()[positions]
        return [f"w{w}/s{s}" for w, s in zip(nets, seeds)]
    return [str(s) for s in seeds]


def _prepare_barrier_matrix(
    matrix: np.ndarray,
    labels: pd.Series,
    order: np.ndarray | None = None,
    exclude: dict[str, str] | None = None,
    obs: pd.DataFrame | None = None,
) -> BarrierMatrixData:
    """One panel per group (first-seen order) holding only its masks that take part in an
    interpolated pair, in ``order``; a panel per pair of groups with pairs across them.
    Groups in ``exclude`` (``{group: reason}``) are left out and named in ``left_out``."""
    matrix = np.asarray(matrix, dtype=float)
    labels = pd.Series(labels).astype(str).to_numpy()
    if matrix.shape != (len(labels), len(labels)):
        raise AnalysisError(f"barrier matrix {matrix.shape} does not match {len(labels)} masks")
    order = np.arange(len(labels)) if order is None else np.asarray(order)
    exclude = dict(exclude or {})
    groups = [g for g in ordered_groups(labels)]
    members = {g: order[labels[order] == g] for g in groups}
    done = np.isfinite(matrix)
    panels, left_out = [], {}
    for x, a in enumerate(groups):
        for b in groups[x:]:
            if a in exclude or b in exclude:
                for g in (a, b):
                    if g in exclude and done[np.ix_(members[g], members[g])].any():
                        left_out[g] = exclude[g]
                continue
            block = done[np.ix_(members[a], members[b])]
            if not block.any():
                continue
            if a == b:
                used = block.any(axis=0) | block.any(axis=1)
                rows = cols = members[a][used]
            else:
                rows, cols = members[a][block.any(axis=1)], members[b][block.any(axis=0)]
            name = a if a == b else f"{a} × {b}"
            panels.append(
                BarrierPanel(
                    name, matrix[np.ix_(rows, cols)], rows, cols, _ticks(obs, rows), _ticks(obs, cols)
                )
            )
    return BarrierMatrixData(panels, left_out)


def barrier_matrix(
    ms: Any,
    *,
    key: str = "barrier",
    groupby: Any = "config",
    cmap: str = "magma",
    include_random: bool = False,
) -> Any:
    """The barrier of each interpolated pair: one small matrix per group with only the masks
    that take part in a computed pair (no empty blocks), one colour scale for all.

    Random-mask runs (``method == "random"``) are left out unless ``include_random``: both
    ends of their paths sit at chance loss, so a flat path says nothing about connectivity.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    matrix = require_obsp(ms, key, _FIX)
    labels = group_labels(ms.obs, groupby)
    methods = group_methods(ms.obs, labels)
    exclude = {} if include_random else {
        g: "random masks: both ends at chance loss, a flat path is no connection" for g, m in methods.items() if m == RANDOM
    }  # fmt: skip
    data = _prepare_barrier_matrix(matrix, labels, seed_order(ms.obs), exclude, ms.obs)
    if not data.panels:
        raise AnalysisError(f'obsp["{key}"] has no computed pair outside random-mask runs: run {_FIX} first')
    finite = np.concatenate([p.matrix[np.isfinite(p.matrix)] for p in data.panels])
    vmin, vmax = float(finite.min()), float(finite.max())
    if vmax - vmin < 1e-9:  # one value everywhere: a scale around it, not a degenerate one
        vmin, vmax = vmin - max(abs(vmin), 1.0) * 0.05, vmax + max(abs(vmax), 1.0) * 0.05
    n = len(data.panels)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    width, _ = figsize("single" if n == 1 else "double")
    fig, axes = plt.subplots(rows, cols, figsize=(width, 2.3 * rows), squeeze=False)
    colors = group_colors([p.group for p in data.panels], methods)
    names, recipe = legend_names([*ordered_groups(labels)])
    names = {
        **names,
        **{p.group: " × ".join(names.get(g, g) for g in p.group.split(" × ")) for p in data.panels},
    }
    image = None
    for k, panel in enumerate(data.panels):
        ax = axes[k // cols][k % cols]
        import matplotlib as mpl

        colormap = mpl.colormaps[cmap].with_extremes(bad=(0.93, 0.93, 0.93, 1.0))
        image = ax.imshow(
            np.ma.masked_invalid(panel.matrix), cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest"
        )
        ax.set_title(names[panel.group], color=colors.get(panel.group, "black"))
        step = max(1, int(np.ceil(len(panel.col_ticks) / 8)))
        ax.set_xticks(range(0, len(panel.col_ticks), step), panel.col_ticks[::step])
        ax.set_yticks(range(0, len(panel.row_ticks), step), panel.row_ticks[::step])
        ax.tick_params(length=0, labelsize=6)
        seeds = "w<weight seed>/s<search seed>" if "/" in "".join(panel.col_ticks) else "search seed"
        ax.set_xlabel(seeds, fontsize=6)
        ax.spines[["top", "right"]].set_visible(True)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.046, pad=0.04)
    bar.set_label(_barrier_label(ms.uns.get(key, {})))
    bar.outline.set_linewidth(0.5)
    slot = ms.uns.get(key, {})
    path = _matrix_path(slot)
    table = pd.concat([_panel_table(ms, p) for p in data.panels], ignore_index=True)
    table.insert(3, "path", path)
    table.insert(4, "definition", _matrix_definition(slot))
    notes = [
        f"Colour: the loss barrier of the {path + ' ' if path else ''}path, {_matrix_definition(slot)}.",
        "Cells: search seeds of the two masks of a pair; grey: pair not interpolated.",
    ]
    notes += [f"Left out {names.get(g, g)}: {why}." for g, why in data.left_out.items()]
    return attach(fig, table, *notes, recipe)


def _panel_table(ms: Any, panel: BarrierPanel) -> pd.DataFrame:
    r, c = np.nonzero(np.isfinite(panel.matrix))
    keep = (panel.rows[r] < panel.cols[c]) if panel.group.find(" × ") < 0 else np.ones(len(r), bool)
    names = ms.obs.index.astype(str)
    return pd.DataFrame(
        {
            "group": panel.group,
            "mask_a": names[panel.rows[r[keep]]],
            "mask_b": names[panel.cols[c[keep]]],
            "barrier": panel.matrix[r[keep], c[keep]],
        }
    )


def _matrix_path(slot: Any) -> str | None:
    """The path whose barriers ``obsp["barrier"]`` holds (the tools' first path)."""
    params = slot.get("params", {}) if isinstance(slot, dict) else {}
    if params.get("matrix_path"):
        return str(params["matrix_path"])
    paths = params.get("path")
    paths = [paths] if isinstance(paths, str) else list(paths or [])
    if paths:
        return str(paths[0])
    table = slot.get("table") if isinstance(slot, dict) else None
    if isinstance(table, pd.DataFrame) and "path" in table and table["path"].nunique() == 1:
        return str(table["path"].iloc[0])
    return None


def _matrix_definition(slot: Any) -> str:
    from landscape.tl.barriers import DEFINITIONS

    params = slot.get("params", {}) if isinstance(slot, dict) else {}
    value = params.get("matrix_value", "barrier_loss")
    return str(params.get("definitions", {}).get(value) or DEFINITIONS.get(value, value))


def _barrier_label(slot: Any) -> str:
    params = slot.get("params", {}) if isinstance(slot, dict) else {}
    split = params.get("split") or params.get("matrix_split")
    metric = params.get("metric") or params.get("matrix_metric") or "loss"
    label = " ".join(str(p) for p in (split, metric if metric != "acc" else "error", "barrier") if p)
    path = _matrix_path(slot)
    return f"{label} ({path + ' path, ' if path else ''}chord-based)"


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
    labels = group_labels(ms.obs, groupby)
    data = _prepare_barrier_vs_distance(table, labels, metric, split)
    ax = new_axes(ax)
    methods = group_methods(ms.obs, labels)
    colors = group_colors(ordered_groups(data["group"]), methods)
    markers = {p: m for p, m in zip(dict.fromkeys(data["path"]), ("o", "^", "s", "D"))}
    names, recipe = legend_names(ordered_groups(data["group"]))
    for (group, path), frame in data.groupby(["group", "path"], sort=False):
        null = methods.get(group) == RANDOM
        paint = {"facecolors": "none", "edgecolors": colors[group], "linewidths": 0.6} if null else {
            "color": colors[group], "linewidths": 0}  # fmt: skip
        ax.scatter(frame["hamming"], frame["barrier"], s=8, marker=markers[path],
                   label=f"{names[group]}, {path}", **paint)  # fmt: skip
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xlabel("normalised Hamming distance")
    ax.set_ylabel(f"{split} {'loss' if metric == 'loss' else 'accuracy'} barrier")
    legend_outside(ax)
    nets, used = networks_text_of_pairs(table[table["split"] == split], ms.obs)  # networks with pairs
    note = f"Each point: one interpolated pair of masks of one network ({nets})."
    if (pd.Series(methods).reindex(data["group"].unique()) == RANDOM).any():
        note += " Open marks: random-mask runs (ends at chance loss: a low barrier is no connection)."
    return attach(ax, data, note, recipe, masks=used)
