"""Pairwise similarity of one ensemble as a heatmap, two groups sharing one matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    attach,
    group_labels,
    legend_names,
    metric_label,
    new_axes,
    ordered_groups,
    require_obsp,
    seed_order,
)


@dataclass
class HeatmapData:
    """The numbers :func:`similarity_heatmap` draws.

    ``matrix[r, c]`` holds group ``lower``'s value for masks ``(r, c)`` below the diagonal and
    group ``upper``'s above it; the diagonal and cells of masks of different networks are NaN
    (drawn blank). ``lower_index`` and ``upper_index`` are the obs names of the masks on the
    rows/columns of each group; ``networks`` the weight seed of each row (None when unknown);
    ``left_out`` how many masks of each group no row shows.
    """

    matrix: np.ndarray
    lower: str
    upper: str
    lower_index: list[str]
    upper_index: list[str]
    ticklabels: list[str]
    tick_title: str
    networks: list[Any] | None = None
    left_out: dict[str, int] = field(default_factory=dict)


def _prepare_similarity_heatmap(
    dist: np.ndarray,
    labels: pd.Series,
    lower: str | None = None,
    upper: str | None = None,
    similarity: bool = True,
    order: np.ndarray | None = None,
    seeds: pd.Series | None = None,
    networks: pd.Series | None = None,
) -> HeatmapData:
    """Build the shared matrix from a full distance matrix and one group label per mask.

    Groups default to the first two in ``labels`` (or the only one, filling both triangles).
    With ``networks`` (the weight seed of each mask) the matrix is one block per network and
    masks of different networks are never paired (their cells stay NaN). Within a network,
    when the two groups differ in size, the first ``min(size)`` masks of each (in ``order``)
    are used, so that both triangles describe the same masks' positions.
    """
    dist = np.asarray(dist, dtype=float)
    labels = pd.Series(labels).astype(str)
    if dist.shape != (len(labels), len(labels)):
        raise AnalysisError(f"distance matrix {dist.shape} does not match {len(labels)} masks")
    groups = ordered_groups(labels)
    lower, upper = _pick_groups(groups, lower, upper)
    order = np.arange(len(labels)) if order is None else np.asarray(order)
    lab = labels.to_numpy()[order]
    all_a, all_b = order[lab == lower], order[lab == upper]
    nets = np.zeros(len(labels), dtype=int) if networks is None else pd.Series(networks).to_numpy()
    blocks = []
    for net in dict.fromkeys(nets[order].tolist()):
        a, b = all_a[nets[all_a] == net], all_b[nets[all_b] == net]
        size = min(len(a), len(b))
        if size >= 2:
            blocks.append((net, a[:size], b[:size]))
    if not blocks:
        raise AnalysisError(
            f"similarity heatmap needs >= 2 masks per group in one network; {lower!r}/{upper!r} have "
            f"{len(all_a)}/{len(all_b)}" + ("" if networks is None else " (no network holds 2 of each)")
        )
    pos_a = np.concatenate([a for _, a, _ in blocks])
    pos_b = np.concatenate([b for _, _, b in blocks])
    net_of = np.concatenate([[net] * len(a) for net, a, _ in blocks])
    size = len(pos_a)
    values = {g: dist[np.ix_(p, p)] for g, p in ((lower, pos_a), (upper, pos_b))}
    if similarity:
        values = {g: 1.0 - v for g, v in values.items()}
    same = net_of[:, None] == net_of[None, :]
    matrix = np.full((size, size), np.nan)
    low = np.tril_indices(size, k=-1)
    up = np.triu_indices(size, k=1)
    matrix[low] = np.where(same, values[lower], np.nan)[low]
    matrix[up] = np.where(same, values[upper], np.nan)[up]
    several = len(blocks) > 1
    within = [k for _, a, _ in blocks for k in range(len(a))]
    ticks, title = [str(k) for k in within], "mask"
    if seeds is not None:
        sa, sb = seeds.to_numpy()[pos_a], seeds.to_numpy()[pos_b]
        if np.array_equal(sa, sb):
            ticks, title = [str(s) for s in sa], str(seeds.name).replace("_", " ")
    if several:
        short = "s" if title == "search seed" else ""
        ticks = [f"w{n}/{short}{t}" for n, t in zip(net_of, ticks)]
        title = f"w<weight seed>/{'s<search seed>' if short else title}"
    names = labels.index.astype(str)
    used_a, used_b = len(pos_a), len(pos_b)
    left_out = {lower: len(all_a) - used_a}
    if upper != lower:
        left_out[upper] = len(all_b) - used_b
    return HeatmapData(
        matrix,
        lower,
        upper,
        list(names[pos_a]),
        list(names[pos_b]),
        ticks,
        title,
        None if networks is None else list(net_of),
        left_out,
    )


def _match_group(groups: list[str], value: str, name: str) -> str:
    """``value`` itself, or the one group whose label has it as a part (``"biprop"`` for
    ``"biprop · init kaiming_normal"``)."""
    if value in groups:
        return value
    matches = [g for g in groups if value in g.split(" · ") or value in g.split(" (pools")[0].split(" · ")]
    if len(matches) == 1:
        return matches[0]
    what = "several groups" if matches else "no group"
    raise AnalysisError(f"{name}: {what} {value!r} (groups: {', '.join(groups)})")


def _pick_groups(groups: list[str], lower: str | None, upper: str | None) -> tuple[str, str]:
    lower = _match_group(groups, str(lower), "lower") if lower is not None else groups[0]
    if upper is not None:
        return lower, _match_group(groups, str(upper), "upper")
    others = [g for g in groups if g != lower]
    return lower, others[0] if others else lower


def similarity_heatmap(
    ms: Any,
    *,
    metric: str = "jaccard",
    groupby: Any = "config",
    lower: str | None = None,
    upper: str | None = None,
    similarity: bool = True,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    ax: Any = None,
) -> Any:
    """Pairwise similarity of masks, group ``lower`` below the diagonal and ``upper`` above.

    Parameters
    ----------
    ms
        MaskSet with ``obsp["dist_<metric>"]`` (from ``landscape.tl.distances``).
    metric
        ``"jaccard"`` or ``"hamming"``.
    groupby
        obs column whose values name the groups; None puts all masks in one group.
    lower, upper
        Groups shown below/above the diagonal (default: the first two groups; one group fills
        both triangles). Unequal groups are cut to the smaller size, masks in seed order.
    similarity
        Show ``1 - distance`` (default) or the distance itself.
    cmap, vmin, vmax
        Colour map and limits shared by both triangles (default: the data's range).
    ax
        Axes to draw on (default: a new single-column figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    dist = require_obsp(ms, f"dist_{metric}", f"landscape.tl.distances(ms, metric={metric!r})")
    obs = ms.obs
    labels = group_labels(obs, groupby)
    seeds = obs["search_seed"] if "search_seed" in obs.columns else None
    networks = obs["weight_seed"] if "weight_seed" in obs.columns else None
    data = _prepare_similarity_heatmap(
        dist, labels, lower, upper, similarity, seed_order(obs), seeds, networks
    )
    ax = new_axes(ax)
    draw_matrix(ax, data.matrix, cmap=cmap, vmin=vmin, vmax=vmax, label=metric_label(metric, similarity))
    size = len(data.ticklabels)
    step = max(1, int(np.ceil(size / 16)))  # at most ~16 tick labels stay readable at 7 pt
    ticks = np.arange(0, size, step)
    ax.set_xticks(ticks, [data.ticklabels[t] for t in ticks])
    ax.set_yticks(ticks, [data.ticklabels[t] for t in ticks])
    ax.set_xlabel(data.tick_title)
    ax.set_ylabel(data.tick_title)
    nets = data.networks or []
    for k in range(1, len(nets)):  # block edges: pairs never cross them
        if nets[k] != nets[k - 1]:
            ax.axhline(k - 0.5, color="0.4", linewidth=0.6)
            ax.axvline(k - 0.5, color="0.4", linewidth=0.6)
    names, recipe = legend_names([data.lower, data.upper])
    low, up = names[data.lower], names[data.upper]
    ax.set_title(low if data.lower == data.upper else f"upper: {up}   lower: {low}")
    r, c = np.nonzero(np.isfinite(data.matrix))
    below = r > c
    row_names = np.where(below, np.array(data.lower_index)[r], np.array(data.upper_index)[r])
    col_names = np.where(below, np.array(data.lower_index)[c], np.array(data.upper_index)[c])
    table = pd.DataFrame(
        {
            "triangle": np.where(below, "lower", "upper"),
            "group": np.where(below, data.lower, data.upper),
            "weight_seed": [nets[k] for k in r] if nets else None,
            "row": [data.ticklabels[k] for k in r],
            "column": [data.ticklabels[k] for k in c],
            "mask_row": row_names,
            "mask_column": col_names,
            "value": data.matrix[r, c],
        }
    )
    if not nets:
        table = table.drop(columns="weight_seed")
    shown = sorted(set(nets), key=nets.index)
    if len(shown) > 1:
        cells = "one pair of masks of one network; masks of different networks are not compared (blank)"
    elif shown:
        cells = f"one pair of masks of one network (weight seed {shown[0]})"
    else:
        cells = "one pair of masks"
    where = (
        f"Both triangles: {low}."
        if data.lower == data.upper
        else f"Lower triangle: {low}; upper triangle: {up}."
    )
    notes = [where, f"Each cell: {cells}; ticks: {data.tick_title}."]
    cut = {g: n for g, n in data.left_out.items() if n}
    if cut:
        notes.append(
            "Not shown (each network shows as many masks of both groups): "
            + ", ".join(f"{n} {names[g]} masks" for g, n in cut.items())
            + "."
        )
    used = list(dict.fromkeys([*data.lower_index, *data.upper_index]))
    return attach(ax, table, *notes, recipe, masks=used)


def draw_matrix(ax: Any, matrix: np.ndarray, *, cmap: str, vmin=None, vmax=None, label: str = "") -> Any:
    """Draw a square matrix with NaN cells blank and a colour bar beside it."""
    import matplotlib as mpl

    colormap = mpl.colormaps[cmap].with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    finite = matrix[np.isfinite(matrix)]
    if finite.size:
        vmin = float(finite.min()) if vmin is None else vmin
        vmax = float(finite.max()) if vmax is None else vmax
    image = ax.imshow(
        np.ma.masked_invalid(matrix), cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    ax.spines[["top", "right"]].set_visible(True)
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label(label)
    colorbar.outline.set_linewidth(0.5)
    return image
