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
_AXIS_NAMES = {"pca": "PC", "mds": "MDS", "tsne": "t-SNE", "umap": "UMAP"}
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


def _variance_share(ms: Any, basis: str, dim: int) -> str:
    """`` (23.4%)`` when the embedding recorded this axis's share of the variance, else ``""``."""
    info = ms.uns.get(basis) if basis in _SHARE_KEYS else None
    ratio = info.get(_SHARE_KEYS[basis]) if isinstance(info, dict) else None
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
    matplotlib.axes.Axes
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
    ax = new_axes(ax)
    size = size if size is not None else float(np.clip(400 / np.sqrt(max(len(data.frame), 1)), 3, 30))
    frame = data.frame
    if data.categorical:
        colors = group_colors(data.categories, methods)
        names, recipe = legend_names(data.categories) if color in ("method", "group") else ({}, "")
        show = names.get if names else str
        for k, cat in enumerate(data.categories):
            part = frame[frame["value"] == cat]
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
        if color is not None:
            legend_outside(ax, title=None if color == "group" else axis_label(color), markerscale=1.2)
    else:
        points = ax.scatter(
            frame["x"], frame["y"], c=frame["value"], s=size, cmap=cmap, linewidths=0.3, edgecolors="white"
        )
        colorbar = ax.figure.colorbar(points, ax=ax, fraction=0.046, pad=0.04)
        colorbar.set_label(axis_label(color, frame["value"]))
    name = _AXIS_NAMES.get(basis, basis.upper())
    ax.set_xlabel(f"{name} {dims[0] + 1}{_variance_share(ms, basis, dims[0])}")
    ax.set_ylabel(f"{name} {dims[1] + 1}{_variance_share(ms, basis, dims[1])}")
    if basis != "pca":  # distances are meaningful, directions are not: equal scales, no ticks
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
    table = frame.rename(
        columns={"x": f"{basis}_{dims[0] + 1}", "y": f"{basis}_{dims[1] + 1}", "value": color or "value"}
    )
    recipe = recipe if data.categorical else ""
    what = axis_label(color) if color not in (None, "group") else ("all masks" if color is None else "group")
    return attach(ax, table.reset_index(names="mask"), f"Each point: one mask; colour: {what}.", recipe)
