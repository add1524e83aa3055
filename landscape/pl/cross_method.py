"""Masks of two methods from one weight seed: across-method similarity (same and other search
seeds) beside each method's within-method similarity, from :func:`landscape.tl.cross_method`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import (
    attach,
    legend_names,
    legend_outside,
    metric_label,
    new_axes,
    rotate_if_crowded,
)
from landscape.pl.style import GREY, group_colors
from landscape.tl.cross_method import COMPARISONS, OTHER, SAME, TWIN_EFFECT, WITHIN_A, WITHIN_B

_FIX = "landscape.tl.cross_method(ms)"
COLUMNS = ["pair", "group_a", "group_b", "comparison", "similarity", "ci_low", "ci_high"]
COLUMNS += ["chance_similarity", "n_networks", "n_pairs", "interval", "same_weights"]


def _prepare_cross_method(
    summary: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None
) -> pd.DataFrame:
    """The four comparisons of each pair of groups in the order drawn (within A, within B,
    across other seeds, across the same seed), with ``pair`` = ``"A × B"``.

    ``pairs`` chooses pairs of groups (``(group_a, group_b)``; default: all). The twin effect
    (same − other seeds) is not drawn and is left out here.
    """
    if summary is None or summary.empty:
        raise AnalysisError(f"no pairs of groups to compare: run {_FIX} on masks of two configurations")
    frame = summary[summary["comparison"].isin(COMPARISONS)]
    if pairs is not None:
        wanted = {(str(a), str(b)) for a, b in pairs}
        keys = list(zip(frame["group_a"].astype(str), frame["group_b"].astype(str)))
        keep = np.array([k in wanted or k[::-1] in wanted for k in keys], dtype=bool)
        if not keep.any():
            have = "; ".join(f"{a} × {b}" for a, b in dict.fromkeys(keys))
            raise AnalysisError(f"pairs: none of {sorted(wanted)} compared (have {have})")
        frame = frame[keep]
    out = frame.assign(pair=frame["group_a"].astype(str) + " × " + frame["group_b"].astype(str))
    rank = {c: n for n, c in enumerate(COMPARISONS)}
    first = {p: n for n, p in enumerate(dict.fromkeys(out["pair"]))}
    out = out.assign(_p=out["pair"].map(first), _c=out["comparison"].map(rank))
    out = out.sort_values(["_p", "_c"], kind="stable").reset_index(drop=True)
    return out[[c for c in COLUMNS if c in out.columns]]


def twin_effect(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of the twin effect (same − other seeds) of a ``tl.cross_method`` summary."""
    return summary[summary["comparison"] == TWIN_EFFECT].reset_index(drop=True)


def cross_method(
    ms: Any,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    key: str = "cross_method",
    ax: Any = None,
) -> Any:
    """Within-method and across-method similarity of masks of one weight seed (bars: mean with
    its 95% interval over networks, or over search seeds with one network; grey dashes:
    independent random masks).

    Parameters
    ----------
    ms
        MaskSet with ``uns[key]`` from ``landscape.tl.cross_method``.
    pairs
        Pairs of group labels to show (default: every compared pair).
    key
        The slot the tool wrote.
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    slot = ms.uns.get(key)
    if not isinstance(slot, dict) or "summary" not in slot:
        raise AnalysisError(f'uns["{key}"] is missing: run {_FIX} first')
    summary = slot["summary"]
    data = _prepare_cross_method(summary, pairs)
    metric = slot.get("params", {}).get("metric", "jaccard")
    ax = new_axes(ax)
    methods = {}
    for col_g, col_m in (("group_a", "method_a"), ("group_b", "method_b")):
        if col_m in summary:
            methods.update(dict(zip(summary[col_g].astype(str), summary[col_m].astype(str))))
    groups = list(dict.fromkeys([*data["group_a"].astype(str), *data["group_b"].astype(str)]))
    colors = group_colors(groups, methods)
    names, recipe = legend_names(groups)
    across = {
        OTHER: ("#bbbbbb", "across methods, other search seeds"),
        SAME: ("#333333", "across methods, same search seed"),
    }
    over = {pair: _over_text(frame) for pair, frame in data.groupby("pair", sort=False)}
    one_over = len(set(over.values())) == 1
    x, ticks, seen = 0.0, [], set()
    for pair, frame in data.groupby("pair", sort=False):
        for _, row in frame.iterrows():
            comp = row["comparison"]
            if comp in (WITHIN_A, WITHIN_B):
                group = str(row["group_a"] if comp == WITHIN_A else row["group_b"])
                color, label, tick = colors[group], None, f"within\n{names[group]}"
            else:
                color, label = across[comp]
                tick = "across,\nother seeds" if comp == OTHER else "across,\nsame seed"
                label = None if comp in seen else label
                seen.add(comp)
            err = np.array([[row["similarity"] - row["ci_low"]], [row["ci_high"] - row["similarity"]]])
            err = np.nan_to_num(err, nan=0.0)
            ax.bar(
                x,
                row["similarity"],
                width=0.75,
                color=color,
                yerr=err,
                capsize=2,
                error_kw={"elinewidth": 0.7},
                label=label,
            )
            ax.hlines(row["chance_similarity"], x - 0.42, x + 0.42, color=GREY, linestyle="--", linewidth=1.0, zorder=4,
                      label="independent random masks" if "chance" not in seen else None)  # fmt: skip
            seen.add("chance")
            ticks.append((x, tick))
            x += 1.0
        if data["pair"].nunique() > 1:
            ax.text(
                x - 2.5,
                1.0,
                " × ".join(names[g] for g in pair.split(" × "))
                + ("" if one_over else f"\n(over {over[pair]})"),
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
            )
        x += 0.6
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
    rotate_if_crowded(ax, [label for _, label in ticks])
    ax.set_ylabel(f"{metric_label(metric, True)} (pairs)")
    ax.set_ylim(bottom=0)
    title = f"mean ± 95% CI over {next(iter(over.values()))}" if one_over else "mean ± 95% CI"
    legend_outside(ax, where="top", ncols=1, title=title)
    effect = twin_effect(summary)
    used, compared = _masks_compared(ms, slot, data)
    bars = (
        f"Bars: mean ± 95% CI over {next(iter(over.values()))}; grey dashes: independent random masks."
        if one_over
        else "Bars: mean ± 95% CI ("
        + "; ".join(f"{' × '.join(names[g] for g in p.split(' × '))}: over {o}" for p, o in over.items())
        + "); grey dashes: independent random masks."
    )
    notes = [bars, *compared, *_weights_notes(ms, data, names)]
    notes += [
        f"{names.get(r['group_a'], r['group_a'])} × {names.get(r['group_b'], r['group_b'])}: same − other seeds "
        f"{r['similarity']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] (95% CI)."
        for _, r in effect.iterrows()
        if r["group_a"] in set(data["group_a"]) and r["group_b"] in set(data["group_b"])
    ]
    return attach(ax, data, *notes, recipe, masks=used)


def _weights_notes(ms: Any, data: pd.DataFrame, names: dict) -> list[str]:
    """A sentence per pair of groups whose weight seed draws different weights for each (their
    initialisers differ): their masks share positions, not weights."""
    if "same_weights" not in data:
        return []
    from landscape.grouping import group_masks
    from landscape.networks import draws

    column = draws(ms.obs)
    inits = {} if column is None else {g.label: column.iloc[g.positions[0]] for g in group_masks(ms.obs)}
    notes = []
    for (a, b), frame in data.groupby(["group_a", "group_b"], sort=False):
        if frame["same_weights"].astype(bool).all():
            continue
        drawn = f" ({inits[a]} vs {inits[b]})" if a in inits and b in inits else ""
        notes.append(
            f"{names.get(a, a)} × {names.get(b, b)}: one weight seed draws different weights for each{drawn}; "
            "their masks are compared position by position, not as subnetworks of one network."
        )
    return notes


def _over_text(frame: pd.DataFrame) -> str:
    """What one pair's bars run over: its networks, or the search seeds of its one network."""
    if frame["interval"].eq("networks").all():
        return f"{int(frame['n_networks'].max())} networks"
    return "search seeds (one network)"


def _masks_compared(ms: Any, slot: dict, data: pd.DataFrame) -> tuple[list[str] | None, list[str]]:
    """The masks behind the bars (the groups' masks in the networks that hold both groups of a
    pair) and a sentence per group whose masks of other networks are not compared."""
    from landscape.grouping import group_masks
    from landscape.pl.names import display_names

    table = slot.get("table")
    groupby = slot.get("params", {}).get("groupby", "config")
    if not isinstance(table, pd.DataFrame) or "weight_seed" not in table or "weight_seed" not in ms.obs:
        return None, []
    groups = {g.label: g for g in group_masks(ms.obs, groupby)} if groupby == "config" else {}
    names = ms.obs.index.astype(str)
    nets_of = ms.obs["weight_seed"].to_numpy()
    shown = display_names(list(dict.fromkeys([*data["group_a"].astype(str), *data["group_b"].astype(str)])))
    used: set[str] = set()
    notes = []
    for a, b in dict.fromkeys(zip(data["group_a"].astype(str), data["group_b"].astype(str))):
        rows = table[(table["group_a"].astype(str) == a) & (table["group_b"].astype(str) == b)]
        nets = sorted(set(rows["weight_seed"].tolist()))
        for g, other in ((a, b), (b, a)):
            if g not in groups:
                return None, []
            pos = np.asarray(groups[g].positions)
            inside = np.isin(nets_of[pos], nets)
            used.update(names[pos[inside]])
            if not inside.all():
                left = sorted(set(nets_of[pos[~inside]].tolist()))
                notes.append(
                    f"{shown[g]}: {int((~inside).sum())} masks of network{'s' if len(left) > 1 else ''} "
                    f"{', '.join(map(str, left))} not compared (no {shown[other]} masks there); "
                    f"compared in network{'s' if len(nets) > 1 else ''} {', '.join(map(str, nets))}."
                )
    return [n for n in names if n in used], notes
