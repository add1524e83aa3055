"""How often each weight is selected across masks, against independent random selection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.networks import split_network_label
from landscape.pl._common import attach, legend_names, legend_outside, new_axes
from landscape.pl.style import GREY, figsize, method_color

_FIX = "landscape.tl.consensus(ms)"


def _prepare_selection_frequency(
    freq: Mapping[str, np.ndarray] | np.ndarray,
    n_masks: int,
    expected: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Histogram of selection counts and its null, pooled over the given layers.

    Parameters
    ----------
    freq
        Per weight, the number of masks (of ``n_masks``) that keep it: one array, or one per
        layer. Without ``expected`` each layer's masks keep weights independently at the
        layer's observed mean density ``d_l = sum(freq_l) / (n_masks * numel_l)``, so a
        weight's count is Binomial(n_masks, d_l); pooled layers give a mixture weighted by
        layer size.
    n_masks
        Number of masks the counts are taken over.
    expected
        Per layer of ``freq`` (same keys), the null's expected number of weights at each
        ``k`` (``tl.consensus``'s ``hist["expected"]``, built from each mask's own density):
        used instead of the binomial at the mean density, which is too wide when the masks'
        densities differ.

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
    null = np.zeros(n_masks + 1, dtype=float)
    total = 0
    for name, counts in layers.items():
        counts = np.asarray(counts).ravel().astype(np.int64)
        if counts.size == 0:
            continue
        if counts.min() < 0 or counts.max() > n_masks:
            raise AnalysisError(f"selection counts of {name!r} lie outside 0..{n_masks}")
        observed += np.bincount(counts, minlength=n_masks + 1)
        if expected is not None:
            null += np.asarray(expected[name], dtype=float)
        else:
            density = counts.sum() / (n_masks * counts.size)
            null += counts.size * stats.binom.pmf(k, n_masks, density)
        total += counts.size
    if total == 0:
        raise AnalysisError("selection frequency: no weights")
    return pd.DataFrame(
        {"k": k, "fraction": observed / total, "n_weights": observed, "expected": null / total}
    )


def _consensus_slot(ms: Any, key: str) -> dict:
    slot = ms.uns.get(key)
    if not isinstance(slot, dict):
        raise AnalysisError(f'uns["{key}"] is missing: run {_FIX} first')
    return slot


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


def _base_groups(slot: dict) -> dict[str, list[str]]:
    """``{group: [stored entries]}``: ``tl.consensus`` stores one entry per network of a group
    that spans several (``"<group> · weight seed <w>"``, with ``" · init <rule>"`` in a pooled
    group over two initialisers)."""
    entries = [str(g) for g, v in slot.items() if isinstance(v, dict) and "freq" in v]
    out: dict[str, list[str]] = {}
    for entry in entries:
        base = split_network_label(entry)[0]
        out.setdefault(base, []).append(entry)
    return out


def _pooled_frequencies(
    slot: dict, entries: list[str], layer: str | None
) -> tuple[dict, dict | None, int, int]:
    """Per-weight counts of the group's networks that hold its most common number of masks
    (``{"<entry>/<layer>": counts}``), the stored null histograms of the same keys (None when
    an entry lacks them), that number and how many networks were used."""
    sizes = {e: _n_masks(slot[e], slot, e) for e in entries}
    n_masks = max(set(sizes.values()), key=lambda n: (list(sizes.values()).count(n), n))
    used = [e for e in entries if sizes[e] == n_masks]
    freq: dict = {}
    expected: dict | None = {}
    for entry in used:
        layers = slot[entry]["freq"]
        hists = slot[entry].get("hist") or {}
        if layer is not None and layer not in layers:
            raise AnalysisError(f"layer: no frequencies for {layer!r} (layers: {', '.join(layers)})")
        for name in [layer] if layer is not None else layers:
            freq[f"{entry}/{name}"] = layers[name]
            hist = hists.get(name)
            if expected is not None and isinstance(hist, pd.DataFrame) and len(hist) == n_masks + 1:
                expected[f"{entry}/{name}"] = hist["expected"].to_numpy(dtype=float)
            else:
                expected = None
    return freq, expected, n_masks, len(used)


def selection_frequency(
    ms: Any,
    *,
    group: str | None = None,
    layer: str | None = None,
    key: str = "consensus",
    logy: bool = True,
    ax: Any = None,
) -> Any:
    """Share of weights kept by exactly k of the n masks of a group, against independent masks
    (each at its own density in each layer: ``tl.consensus``'s null, Binomial(n, density)
    when the densities are equal), for every group (one panel each) or one.

    A group spanning several networks pools the counts of its networks (each counted within
    its own network) whose number of masks is the group's most common one; the null is then
    the mixture of the networks' and layers' nulls.

    Parameters
    ----------
    ms
        MaskSet with ``uns[key]`` from ``landscape.tl.consensus``.
    group
        One group's label (or a part of it, such as its method); default: every group.
    layer
        One layer, or None for the whole network (layers pooled, null a size-weighted
        mixture of the per-layer nulls).
    key
        The slot the consensus tool wrote.
    logy
        Log-scale y axis (the null's tails are many orders of magnitude below its peak).
    ax
        Axes to draw on (when one group is drawn).

    Returns
    -------
    matplotlib.axes.Axes for one group, else a matplotlib.figure.Figure (one panel per group).
    """
    slot = _consensus_slot(ms, key)
    bases = _base_groups(slot)
    if not bases:
        raise AnalysisError(f'uns["{key}"] holds no per-weight frequencies: run {_FIX} first')
    names, recipe = legend_names(list(bases))
    if group is not None:
        group = str(group)
        matches = (
            [b for b in bases if b == group]
            or [b for b in bases if group in b.split(" · ")]
            or [b for b, entries in bases.items() if group in entries]
        )
        if not matches:
            raise AnalysisError(f"group: no consensus for {group!r} (have {'; '.join(bases)})")
        bases = {matches[0]: bases[matches[0]]}
    frames = []
    for base, entries in bases.items():
        freq, expected, n_masks, n_nets = _pooled_frequencies(slot, entries, layer)
        frames.append(
            _prepare_selection_frequency(freq, n_masks, expected).assign(
                group=base, shown=names[base], n_masks=n_masks, n_networks=n_nets
            )
        )
    if len(frames) == 1:
        ax = new_axes(ax)
        _draw_panel(ax, frames[0], layer, logy, legend=True)
        return attach(ax, frames[0], _NOTE, recipe)
    import matplotlib.pyplot as plt

    n = len(frames)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    width, _ = figsize("double")
    fig, axes = plt.subplots(rows, cols, figsize=(width, 2.0 * rows), squeeze=False, sharey=True)
    for k, frame in enumerate(frames):
        _draw_panel(axes[k // cols][k % cols], frame, layer, logy, legend=False)
        if k % cols:
            axes[k // cols][k % cols].set_ylabel("")
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    null = [h for h, text in zip(handles, labels) if text.startswith("independent")]
    fig.legend(
        null, ["independent masks (each at its own density in each layer)"], loc="outside lower center"
    )
    return attach(fig, pd.concat(frames, ignore_index=True), _NOTE, recipe)


_NOTE = (
    "Bars: share of weights kept by exactly k masks of a group (counted within each network); "
    "dashed: independent masks, each at its own density in each layer (Poisson-binomial; "
    "binomial when the densities are equal)."
)


def _draw_panel(ax: Any, data: pd.DataFrame, layer: str | None, logy: bool, legend: bool) -> None:
    from matplotlib import ticker

    group = str(data["group"].iloc[0])
    n_masks, n_nets = int(data["n_masks"].iloc[0]), int(data["n_networks"].iloc[0])
    ax.bar(data["k"], data["fraction"], width=0.8, color=method_color(group), alpha=0.85, linewidth=0,
           label=f"{data['shown'].iloc[0]} masks")  # fmt: skip
    shown = data[data["expected"] > 0] if logy else data
    ax.plot(shown["k"], shown["expected"], color=GREY, marker="o", markersize=2.5, linestyle="--",
            label=f"independent masks\n(n={n_masks})")  # fmt: skip
    if logy:
        ax.set_yscale("log")
        positive = np.concatenate(
            [data["fraction"][data["fraction"] > 0], data["expected"][data["expected"] > 0]]
        )
        if positive.size:
            ax.set_ylim(bottom=max(positive.min() / 2, 1e-12))
    nets = f", {n_nets} networks" if n_nets > 1 else ""
    ax.set_title(f"{data['shown'].iloc[0]} ({n_masks} masks{nets})")
    ax.set_xlabel(f"masks keeping the weight (of {n_masks})")
    step = max(1, int(np.ceil((n_masks + 1) / 10)))
    ax.set_xticks(range(0, n_masks + 1, step))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_ylabel("fraction of weights" + (f" in {layer}" if layer else ""))
    if legend:
        legend_outside(ax)
