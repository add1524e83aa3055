"""Helpers shared by the plots: slot access with helpful errors, groups, pairs, axes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape import grouping
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG

#: Human names of the distance metrics, as similarity (1 - distance) and as distance.
METRIC_NAMES = {
    "jaccard": ("Jaccard similarity", "Jaccard distance"),
    "hamming": ("fraction of weights that agree", "normalised Hamming distance"),
}


def metric_label(metric: str, similarity: bool) -> str:
    sim, dist = METRIC_NAMES.get(metric, (f"1 − {metric} distance", f"{metric} distance"))
    return sim if similarity else dist


def require_obsp(ms: Any, key: str, fix: str) -> np.ndarray:
    """``ms.obsp[key]`` or an AnalysisError naming the call that computes it."""
    if key not in ms.obsp:
        raise AnalysisError(f'obsp["{key}"] is missing: run {fix} first')
    return np.asarray(ms.obsp[key])


def require_obs(obs: pd.DataFrame, column: str, what: str = "column") -> pd.Series:
    if column not in obs.columns:
        raise AnalysisError(f"obs has no {what} {column!r} (columns: {', '.join(map(str, obs.columns))})")
    return obs[column]


def group_labels(obs: pd.DataFrame, groupby: Any = CONFIG, vary: Sequence[str] = ()) -> pd.Series:
    """One label per mask under the toolkit's grouping rule (:mod:`landscape.grouping`):
    ``"config"`` = one group per configuration, labelled by the fields that differ; columns
    pool configurations; ``None`` puts every mask in one group."""
    if groupby is None:
        return pd.Series("all masks", index=obs.index, name="group")
    if isinstance(groupby, str) and groupby != CONFIG:
        require_obs(obs, groupby)
    return grouping.group_labels(obs, groupby, vary=vary)


def networks_of(obs: pd.DataFrame) -> np.ndarray | None:
    """The random network (weight seed) of each mask, or None when obs does not say."""
    return obs["weight_seed"].to_numpy() if "weight_seed" in obs.columns else None


def ordered_groups(labels: pd.Series | Sequence[Any]) -> list[str]:
    """Group names in first-seen order (the order of the masks in the MaskSet)."""
    return list(dict.fromkeys(str(v) for v in labels))


def within_pairs(positions: np.ndarray, networks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` among the given mask positions, inside one network each when
    ``networks`` (one value per mask of the MaskSet) is given: masks over different random
    weights are never paired."""
    positions = np.asarray(positions, dtype=np.intp)
    if networks is None:
        a, b = np.triu_indices(len(positions), k=1)
        return positions[a], positions[b]
    firsts, seconds = [], []
    nets = np.asarray(networks)[positions]
    for net in dict.fromkeys(nets.tolist()):
        part = positions[nets == net]
        a, b = np.triu_indices(len(part), k=1)
        firsts.append(part[a])
        seconds.append(part[b])
    return np.concatenate(firsts), np.concatenate(seconds)


def seed_order(obs: pd.DataFrame) -> np.ndarray:
    """Positions of the masks sorted by (weight_seed, search_seed) where known, stable otherwise."""
    keys = [c for c in ("weight_seed", "search_seed") if c in obs.columns]
    if not keys:
        return np.arange(len(obs))
    frame = obs[keys].reset_index(drop=True)
    return frame.sort_values(keys, kind="stable").index.to_numpy()


def new_axes(ax: Any = None, figsize: tuple[float, float] | None = None) -> Any:
    """The given Axes, or a fresh one on a new figure (created through pyplot for notebooks)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def legend_outside(ax: Any, where: str = "right", **kwargs: Any) -> Any:
    """A legend beside (``"right"``) or above (``"top"``) the axes, so it never covers data."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if where == "top":
        opts = {"loc": "lower left", "bbox_to_anchor": (0.0, 1.02), "ncols": min(len(handles), 2)}
    else:
        opts = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0)}
    opts.update({"borderaxespad": 0.0, "handlelength": 1.5, **kwargs})
    return ax.legend(handles, labels, **opts)


def rotate_if_crowded(ax: Any, labels: Sequence[str]) -> None:
    """Tilt categorical x tick labels when the longest would not fit in its slot."""
    if not len(labels):
        return
    import matplotlib as mpl

    slot_pt = ax.get_position().width * ax.figure.get_figwidth() * 72 / len(labels)
    size = mpl.font_manager.FontProperties(size=mpl.rcParams["xtick.labelsize"]).get_size_in_points()
    if max(len(str(t)) for t in labels) * 0.6 * size > 0.9 * slot_pt:  # ~0.6 em per character
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")


def accuracy_label(name: str, values: Any = None) -> str:
    """Axis label for an accuracy column, with "%" when the values are percentages."""
    split = {"test_acc": "test", "val_acc": "validation", "train_acc": "train"}.get(name)
    base = f"{split} accuracy" if split else name.replace("_", " ")
    if values is not None:
        arr = pd.to_numeric(pd.Series(np.ravel(values)), errors="coerce").to_numpy(dtype=float)
        if np.isfinite(arr).any() and np.nanmax(np.abs(arr)) > 1.5:
            return f"{base} (%)"
    return base


def axis_label(column: str, values: Any = None) -> str:
    """Axis label with units for common obs columns."""
    labels = {
        "density": "density (fraction of weights kept)",
        "sparsity": "sparsity (fraction of weights removed)",
        "model.width_mult": "width multiplier",
        "weight_seed": "weight seed",
        "search_seed": "search seed",
        "wall_time_s": "search time (s)",
        "n_kept": "weights kept",
        "epochs": "epochs",
        "final_train_loss": "final train loss",
    }
    if column in labels:
        return labels[column]
    if column.endswith("_acc") or column.endswith("acc_at_best_val"):
        return accuracy_label(column, values)
    return column.replace("_", " ")
