"""How often each weight is selected across masks, against independent random selection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import legend_outside, new_axes
from landscape.pl.style import GREY, method_color

_FIX = "landscape.tl.consensus(ms)"


def _prepare_selection_frequency(freq: Mapping[str, np.ndarray] | np.ndarray, n_masks: int) -> pd.DataFrame:
    """Histogram of selection counts and its null, pooled over the given layers.

    Parameters
    ----------
    freq
        Per weight, the number of masks (of ``n_masks``) that keep it: one array, or one per
        layer. Under the null each layer's masks keep weights independently at the layer's
        observed mean density ``d_l = sum(freq_l) / (n_masks * numel_l)``, so a weight's count
        is Binomial(n_masks, d_l); pooled layers give a mixture weighted by layer size.
    n_masks
        Number of masks the counts are taken over.

    Returns
    -------
    DataFrame
        One row per count ``k = 0..n_masks``: ``k, fraction, n_weights, expected`` where
        ``fraction`` is the observed share of weights kept by exactly k masks and ``expected``
        the null share.
    """
    if n_masks < 1:
        raise AnalysisError("selection frequency needs at least one mask")
    from scipy import stats

    layers = dict(freq) if isinstance(freq, Mapping) else {"all": np.asarray(freq)}
    k = np.arange(n_masks + 1)
    observed = np.zeros(n_masks + 1, dtype=np.int64)
    expected = np.zeros(n_masks + 1, dtype=float)
    total = 0
    for name, counts in layers.items():
        counts = np.asarray(counts).ravel().astype(np.int64)
        if counts.size == 0:
            continue
        if counts.min() < 0 or counts.max() > n_masks:
            raise AnalysisError(f"selection counts of {name!r} lie outside 0..{n_masks}")
        observed += np.bincount(counts, minlength=n_masks + 1)
        density = counts.sum() / (n_masks * counts.size)
        expected += counts.size * stats.binom.pmf(k, n_masks, density)
        total += counts.size
    if total == 0:
        raise AnalysisError("selection frequency: no weights")
    return pd.DataFrame(
        {"k": k, "fraction": observed / total, "n_weights": observed, "expected": expected / total}
    )


def _consensus_slot(ms: Any, key: str) -> dict:
    slot = ms.uns.get(key)
    if not isinstance(slot, dict):
        raise AnalysisError(f'uns["{key}"] is missing: run {_FIX} first')
    return slot


def _group_entry(slot: dict, group: str | None, key: str) -> tuple[str, dict]:
    """The stored group matching ``group``: its exact label, or one part of it (``tl.consensus``
    labels groups by the fields that differ, ``"biprop · epochs 2"``)."""
    groups = [str(g) for g, v in slot.items() if isinstance(v, dict) and "freq" in v]
    if not groups:
        raise AnalysisError(f'uns["{key}"] holds no per-weight frequencies: run {_FIX} first')
    if group is None:
        return groups[0], slot[groups[0]]
    group = str(group)
    matches = [g for g in groups if g == group] or [g for g in groups if group in g.split(" · ")]
    if not matches:
        raise AnalysisError(f"group: no consensus for {group!r} (have {'; '.join(groups)})")
    return matches[0], slot[matches[0]]


def _n_masks(entry: dict, slot: dict, group: str) -> int:
    if "n_masks" in entry:
        return int(entry["n_masks"])
    for name in ("summary", "table"):
        table = slot.get(name)
        if isinstance(table, pd.DataFrame) and {"group", "n_masks"} <= set(table.columns):
            rows = table[table["group"].astype(str) == group]
            if len(rows):
                return int(rows["n_masks"].iloc[0])
    raise AnalysisError(f'uns["consensus"]["{group}"] does not record n_masks; rerun {_FIX}')


def _short(label: str) -> str:
    """The label as legends and colours use it (the method when it is the only part)."""
    return label


def selection_frequency(
    ms: Any,
    *,
    group: str | None = None,
    layer: str | None = None,
    key: str = "consensus",
    logy: bool = True,
    ax: Any = None,
) -> Any:
    """Share of weights kept by exactly k of the n masks, against Binomial(n, density).

    Parameters
    ----------
    ms
        MaskSet with ``uns[key]`` from ``landscape.tl.consensus``.
    group
        Which group's masks (default: the first one stored).
    layer
        One layer, or None for the whole network (layers pooled, null a size-weighted
        mixture of per-layer binomials).
    key
        The slot the consensus tool wrote.
    logy
        Log-scale y axis (the null's tails are many orders of magnitude below its peak).
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    slot = _consensus_slot(ms, key)
    group, entry = _group_entry(slot, group, key)
    freq = entry["freq"]
    if layer is not None:
        if layer not in freq:
            raise AnalysisError(f"layer: no frequencies for {layer!r} (layers: {', '.join(freq)})")
        freq = {layer: freq[layer]}
    n_masks = _n_masks(entry, slot, group)
    data = _prepare_selection_frequency(freq, n_masks)
    ax = new_axes(ax)
    name = _short(group)
    ax.bar(
        data["k"],
        data["fraction"],
        width=0.8,
        color=method_color(name),
        alpha=0.8,
        label=f"{name} masks",
        linewidth=0,
    )
    shown = data[data["expected"] > 0] if logy else data
    ax.plot(
        shown["k"],
        shown["expected"],
        color=GREY,
        marker="o",
        markersize=2.5,
        linestyle="--",
        label=f"independent masks\n(binomial, n={n_masks})",
    )
    if logy:
        ax.set_yscale("log")
        positive = np.concatenate(
            [data["fraction"][data["fraction"] > 0], data["expected"][data["expected"] > 0]]
        )
        if positive.size:
            ax.set_ylim(bottom=max(positive.min() / 2, 1e-12))
    ax.set_xlabel(f"masks keeping the weight (of {n_masks})")
    ax.set_ylabel("fraction of weights" + (f" in {layer}" if layer else ""))
    legend_outside(ax)
    return ax
