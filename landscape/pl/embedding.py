"""2-D embeddings of the masks (PCA, MDS, t-SNE, UMAP) coloured by a per-mask column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    attach,
    axis_label,
    group_labels,
    group_methods,
    legend_names,
    legend_outside,
    new_axes,
    ordered_groups,
    require_obs,
)
from landscape.pl.style import MARKERS, group_colors

BASES = ("pca", "mds", "tsne", "umap")
_AXIS_NAMES = {"pca": "PC", "mds": "MDS", "mds_networks": "MDS", "tsne": "t-SNE", "umap": "UMAP"}
_MAX_INTEGER_CATEGORIES = 12  # integer columns with more values are treated as continuous


@dataclass
class EmbeddingData:
    """What :func:`embedding` draws: coordinates, the colour values and how to read them."""

    frame: pd.DataFrame  # columns x, y, value (index = obs names)
    categorical: bool
    categories: list[str]


def is_categorical(values: pd.Series) -> bool:
    """Strings, booleans, categories and integer columns with few values are categorical."""
    if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(values):
        return True
    if pd.api.types.is_integer_dtype(values):
        return values.nunique() <= _MAX_INTEGER_CATEGORIES
    return not pd.api.types.is_numeric_dtype(values)


def _prepare_embedding(
    coords: np.ndarray, values: pd.Series, dims: tuple[int, int] = (0, 1)
) -> EmbeddingData:
    """Pick two embedding dimensions and decide how ``values`` are coloured."""
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] <= max(dims):
        raise AnalysisError(f"embedding has shape {coords.shape}; dimensions {dims} are not available")
    if len(values) != coords.shape[0]:
        raise AnalysisError(f"{len(values)} colour values for {coords.shape[0]} embedded masks")
    categorical = is_categorical(values)
    shown = values.astype(str) if categorical else pd.to_numeric(values, errors="coerce")
    frame = pd.DataFrame(
        {"x": coords[:, dims[0]], "y": coords[:, dims[1]], "value": shown.to_numpy()}, index=values.index
    )
    categories = ordered_groups(_sorted_if_numeric(values)) if categorical else []
    return EmbeddingData(frame, categorical, categories)


def _sorted_if_numeric(values: pd.Series) -> pd.Series:
    # seeds and widths read best in numeric order; names keep their order of appearance
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.sort_values(kind="stable")
    return values


# where tl.pca / tl.mds record each axis's share of the variance (of the positive eigenvalues)
_SHARE_KEYS = {"pca": "explained_variance_ratio", "mds": "eigenvalue_ratio"}
# slots of embeddings made one network at a time (figures.steps "mds_networks") read as MDS
_SHARE_BASES = {"pca": "pca", "mds": "mds", "mds_networks": "mds"}


def _panel_title(within: str, panel: Any) -> str:
    if within == "weight_seed":
        return "network of unknown weight seed" if panel is None else f"network {panel}"
    if within == "network":  # "weight seed 0 · init kaiming_normal"
        return str(panel)
    return f"{axis_label(within)} {panel}"


def _variance_share(ms: Any, basis: str, dim: int, panel: Any = None) -> str:
    """`` (23.4%)`` when the embedding recorded this axis's share of the variance, else ``""``
    (``panel``: the value of an embedding made per value of a column, e.g. a network)."""
    kind = _SHARE_BASES.get(basis)
    info = ms.uns.get(basis) if kind in _SHARE_KEYS else None
    ratio = info.get(_SHARE_KEYS[kind]) if isinstance(info, dict) else None
    if isinstance(ratio, dict):  # one share per embedding (network); None: unknown weight seed
        ratio = ratio.get(panel)
    if ratio is None or dim >= len(ratio):
        return ""
    return f" ({100 * float(ratio[dim]):.1f}%)"


def embedding(
    ms: Any,
    *,
    basis: str = "mds",
    color: str | None = "method",
    dims: tuple[int, int] = (0, 1),
    cmap: str = "viridis",
    size: float | None = None,
    groupby: Any = "config",
    ax: Any = None,
) -> Any:
    """Scatter of ``obsm["X_<basis>"]`` coloured by an obs column.

    PCA and MDS axes are labelled with their share of the variance when ``uns`` holds it.

    Parameters
    ----------
    ms
        MaskSet with ``obsm["X_<basis>"]`` (from ``landscape.tl.<basis>``).
    basis
        ``"pca"``, ``"mds"``, ``"tsne"`` or ``"umap"`` (any ``X_<basis>`` slot works).
    color
        obs column: categorical values get the method palette and a legend, numeric values
        (``density``, ``test_acc``...) a colour bar; ``"group"``: the groups of ``groupby``
        (one per configuration by default). None draws every mask in one colour.
    dims
        The two embedding dimensions shown.
    cmap
        Colour map of numeric values.
    size
        Marker area in pt² (default: smaller for large sets).
    groupby
        Grouping used by ``color="group"``.
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes or matplotlib.figure.Figure
        A Figure with one panel per value when ``uns[basis]["params"]["within"]`` names the
        column the embedding was made within (one embedding per network).
    """
    key = f"X_{basis}"
    if key not in ms.obsm:
        raise AnalysisError(f'obsm["{key}"] is missing: run landscape.tl.{basis}(ms) first')
    methods: dict[str, str] = {}
    if color == "group":  # the toolkit's groups (one per configuration)
        values = group_labels(ms.obs, groupby)
        methods = group_methods(ms.obs, values)
    else:
        values = require_obs(ms.obs, color) if color is not None else pd.Series("masks", index=ms.obs.index)
    data = _prepare_embedding(np.asarray(ms.obsm[key]), values, dims)
    info = ms.uns.get(basis)
    within = info.get("params", {}).get("within") if isinstance(info, dict) else None
    frame = data.frame
    if within is not None:  # one embedding per value (network): coordinates of two are not comparable
        if within == "network" or (within == "weight_seed" and "weight_seed" in ms.obs.columns):
            # the networks as tl.embed.per_network keyed them (unknown seeds: None)
            from landscape.networks import network_values

            values = np.empty(len(ms), dtype=object)  # object: a None seed must stay None
            values[:] = network_values(ms.obs, with_init=within == "network")
            frame = frame.assign(**{within: values})
        else:
            frame = frame.assign(**{within: require_obs(ms.obs, within).to_numpy()})
        frame = frame[np.isfinite(frame["x"]) & np.isfinite(frame["y"])]
    panels = list(dict.fromkeys(frame[within])) if within is not None else [None]
    if ax is not None and len(panels) > 1:
        raise AnalysisError(
            f"{basis}: {len(panels)} separate embeddings (one per {within}) need their own axes"
        )
    if ax is None and len(panels) > 1:
        import matplotlib.pyplot as plt

        cols = min(len(panels), 3)
        rows = int(np.ceil(len(panels) / cols))
        fig, grid = plt.subplots(rows, cols, squeeze=False)
        fig.set_size_inches(fig.get_figwidth(), fig.get_figwidth() / cols * rows * 0.9)
        axes = list(grid.ravel())
        for extra in axes[len(panels) :]:
            extra.set_visible(False)
    else:
        axes = [new_axes(ax)]
    size = size if size is not None else float(np.clip(400 / np.sqrt(max(len(frame), 1)), 3, 30))
    colors = group_colors(data.categories, methods) if data.categorical else {}
    names, recipe = (
        legend_names(data.categories) if data.categorical and color in ("method", "group") else ({}, "")
    )
    show = names.get if names else str
    numeric = pd.to_numeric(frame["value"], errors="coerce") if not data.categorical else None
    name = _AXIS_NAMES.get(basis, basis.upper())
    for panel, ax in zip(panels, axes):
        part_frame = frame if within is None else frame[[v == panel for v in frame[within]]]
        if data.categorical:
            for k, cat in enumerate(data.categories):
                part = part_frame[part_frame["value"] == cat]
                ax.scatter(
                    part["x"],
                    part["y"],
                    s=size,
                    color=colors[cat],
                    marker=MARKERS[k % len(MARKERS)],
                    label=show(cat),
                    linewidths=0.3,
                    edgecolors="white",
                    alpha=0.9,
                )
        else:
            points = ax.scatter(
                part_frame["x"], part_frame["y"], c=part_frame["value"], s=size, cmap=cmap,
                vmin=numeric.min(), vmax=numeric.max(), linewidths=0.3, edgecolors="white",
            )  # fmt: skip
        ax.set_xlabel(f"{name} {dims[0] + 1}{_variance_share(ms, basis, dims[0], panel)}")
        ax.set_ylabel(f"{name} {dims[1] + 1}{_variance_share(ms, basis, dims[1], panel)}")
        if within is not None:
            ax.set_title(_panel_title(within, panel))
        if basis != "pca":  # distances are meaningful, directions are not: equal scales, no ticks
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xticks([])
            ax.set_yticks([])
    last = axes[len(panels) - 1]
    if data.categorical and color is not None:
        legend_outside(last, title=None if color == "group" else axis_label(color), markerscale=1.2)
    elif not data.categorical:
        colorbar = last.figure.colorbar(points, ax=axes[: len(panels)], fraction=0.046, pad=0.04)
        colorbar.set_label(axis_label(color, frame["value"]))
    kind = _SHARE_BASES.get(basis, basis)
    table = frame.rename(
        columns={"x": f"{kind}_{dims[0] + 1}", "y": f"{kind}_{dims[1] + 1}", "value": color or "value"}
    )
    recipe = recipe if data.categorical else ""
    what = axis_label(color) if color not in (None, "group") else ("all masks" if color is None else "group")
    notes = [f"Each point: one mask; colour: {what}."]
    if within is not None:
        over = {
            "weight_seed": "network (weight seed)",
            "network": "network (weight seed and initialiser)",
        }.get(within, axis_label(within))
        notes.append(
            f"One embedding per {over}, of the distances between its own masks only; axes of "
            f"different panels are not comparable."
        )
    target = axes[0] if len(panels) == 1 else axes[0].figure
    used = None if within is None or len(frame) == len(data.frame) else list(frame.index.astype(str))
    return attach(target, table.reset_index(names="mask"), *notes, recipe, masks=used)
