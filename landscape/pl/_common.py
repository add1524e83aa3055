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
    pool configurations; ``None`` puts every mask in one group ("all masks"; one per epoch of a
    snapshot set, as the tools group them)."""
    if groupby is None:
        return grouping.group_labels(obs, None, vary=vary, mark_pooled=False)
    if isinstance(groupby, str) and groupby != CONFIG:
        require_obs(obs, groupby)
    return grouping.group_labels(obs, groupby, vary=vary)


def networks_of(obs: pd.DataFrame) -> np.ndarray | None:
    """The random network of each mask (its weight seed, with the initialiser where those
    differ: :mod:`landscape.networks`), or None when obs does not say."""
    from landscape.networks import draws_differ, network_values

    if "weight_seed" not in obs.columns and not draws_differ(obs):
        return None
    return np.asarray(network_values(obs), dtype=object)


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
    if opts.get("title"):  # a long title beside the axes would squeeze them: wrap it
        import textwrap

        opts["title"] = textwrap.fill(str(opts["title"]), 30 if where == "right" else 60)
    return ax.legend(handles, labels, **opts)


def rotate_if_crowded(ax: Any, labels: Sequence[str]) -> None:
    """Tilt categorical x tick labels when the longest would not fit in its slot."""
    if not len(labels):
        return
    import matplotlib as mpl

    slot_pt = ax.get_position().width * ax.figure.get_figwidth() * 72 / len(labels)
    size = mpl.font_manager.FontProperties(size=mpl.rcParams["xtick.labelsize"]).get_size_in_points()
    longest = max(len(line) for t in labels for line in str(t).splitlines() or [""])
    if longest * 0.6 * size > 0.9 * slot_pt:  # ~0.6 em per character
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


def group_methods(obs: pd.DataFrame, labels: pd.Series) -> dict[str, str]:
    """``{group label: method}`` for groups whose masks share one ``method`` (for colours)."""
    if "method" not in obs.columns:
        return {}
    frame = pd.DataFrame(
        {"group": pd.Series(labels).astype(str).to_numpy(), "method": obs["method"].astype(str)}
    )
    single = frame.groupby("group", sort=False)["method"].agg(
        lambda m: m.iloc[0] if m.nunique() == 1 else None
    )
    return {g: m for g, m in single.items() if m is not None}


# what a plot drew, for captions, tables and tests ------------------------------------------------


def attach(target: Any, data: Any, *notes: str, masks: Sequence[str] | None = None) -> Any:
    """Keep the numbers a plot drew (``data``, usually its ``_prepare_*`` frame) and sentences
    for its caption on the Axes or Figure; :func:`data_of` and :func:`notes_of` read them.
    ``masks``: the obs names of the masks drawn, when a plot leaves some of its masks out
    (:func:`masks_of`; a caption's selection then counts only those)."""
    target.landscape_data = data
    target.landscape_notes = [n for n in notes if n]
    target.landscape_masks = None if masks is None else [str(m) for m in masks]
    return target


def masks_of(drawn: Any) -> list[str] | None:
    """The obs names of the masks a plot drew, or None when it drew every mask it was given."""
    for obj in (drawn, getattr(drawn, "figure", None)):
        if obj is not None and getattr(obj, "landscape_masks", None) is not None:
            return list(obj.landscape_masks)
    return None


def data_of(drawn: Any) -> Any:
    """The numbers behind a plot drawn by ``landscape.pl`` (None when it recorded none)."""
    for obj in (drawn, getattr(drawn, "figure", None)):
        if obj is not None and hasattr(obj, "landscape_data"):
            return obj.landscape_data
    return None


def notes_of(drawn: Any) -> list[str]:
    """Caption sentences a plot recorded (what its bars and bands run over)."""
    for obj in (drawn, getattr(drawn, "figure", None)):
        if obj is not None and hasattr(obj, "landscape_notes"):
            return list(obj.landscape_notes)
    return []


def interval_text(data: pd.DataFrame, lead: str = "mean ± 95% CI") -> str:
    """What the intervals of a table run over, from its ``interval`` ("networks" or "masks") and
    ``n_networks`` columns: a t interval over networks (weight seeds), or, for a group of one
    network, the delete-one-mask jackknife over its masks. One wording for legends and captions."""
    kinds = set(data["interval"])
    if kinds == {"networks"}:
        nets = sorted({int(n) for n in data["n_networks"]})
        counts = f"{nets[0]}" if len(nets) == 1 else f"{nets[0]}–{nets[-1]}"
        return f"{lead} over {counts} networks (weight seeds)"
    if kinds == {"masks"}:
        return f"{lead} over masks (delete-one-mask jackknife; one network each)"
    return f"{lead} over networks (delete-one-mask jackknife over masks where a group has one network)"


def networks_text(n_networks: int) -> str:
    return "1 network" if n_networks == 1 else f"{n_networks} networks"


# tick labels that never collide ------------------------------------------------------------------


def spaced_labels(
    positions: Sequence[float], labels: Sequence[str], span_pt: float, size_pt: float
) -> list[str]:
    """Labels at increasing ``positions`` (axis units spread over ``span_pt`` points), blank
    where a label would run into a shown neighbour; the first and the last are always shown."""
    pos = np.asarray(positions, dtype=float)
    labels = [str(t) for t in labels]
    if len(pos) < 3:
        return labels
    scale = span_pt / max(pos[-1] - pos[0], 1e-12)
    half = [0.3 * size_pt * len(t) for t in labels]  # ~0.6 em per character

    def fits(a: int, b: int) -> bool:
        return (pos[b] - pos[a]) * scale >= half[a] + half[b] + 0.5 * size_pt

    shown = [labels[0]] + [""] * (len(pos) - 2) + [labels[-1]]
    last = 0
    for k in range(1, len(pos) - 1):
        if fits(last, k) and fits(k, len(pos) - 1):
            shown[k], last = labels[k], k
    return shown


def set_value_ticks(ax: Any, values: Sequence[float]) -> None:
    """x ticks at the data's values (density or width levels) whose labels never collide:
    at draw time, after the layout is final, a label that would run into a neighbour is left
    blank (the first and the last are kept)."""
    from matplotlib import ticker

    values = np.sort(np.unique(np.asarray(values, dtype=float)))
    if not len(values):
        return

    class Spaced(ticker.Formatter):
        def __call__(self, x: float, pos: Any = None) -> str:
            return f"{x:g}"

        def format_ticks(self, locs: Sequence[float]) -> list[str]:
            labels = [self(v) for v in locs]
            axes = self.axis.axes
            points = axes.transData.transform(np.c_[locs, np.zeros(len(locs))])[:, 0] * 72 / axes.figure.dpi
            ticks = self.axis.get_major_ticks()
            size = ticks[0].label1.get_fontsize() if ticks else 7.0
            order = np.argsort(points)
            shown = spaced_labels(
                points[order], [labels[k] for k in order], float(np.ptp(points)) or 1.0, size
            )
            out = [""] * len(labels)
            for k, text in zip(order, shown):
                out[k] = text
            return out

    ax.xaxis.set_major_locator(ticker.FixedLocator(values))
    ax.xaxis.set_major_formatter(Spaced())
    ax.xaxis.set_minor_locator(ticker.NullLocator())


def legend_names(groups: Sequence[str]) -> tuple[dict[str, str], str]:
    """Display names of the groups shown together, and the caption note on what they hide
    (:func:`landscape.pl.names.display_names`)."""
    from landscape.pl.names import display_names, recipe_note

    groups = [str(g) for g in groups]
    return display_names(groups), recipe_note(groups)
