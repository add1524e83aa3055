"""How often each input unit of a layer is kept across masks, against the binomial null."""

from __future__ import annotations

from typing import Any

import pandas as pd

from landscape.errors import AnalysisError
from landscape.pl._common import legend_outside, new_axes
from landscape.pl.style import GREY, method_color

_FIX = "landscape.tl.input_frequency(ms)"


def _prepare_input_frequency(ms: Any, group: str | None = None, key: str = "input_frequency") -> pd.DataFrame:
    """The rows of one group of ``uns[key]["table"]``, by input position.

    ``group`` is the stored group label or one ``·``-separated part of it (default: the
    first group). Returns ``position, fraction, null, low, high, outside`` (bool: outside the
    null band) plus the group's ``n_masks`` and ``layer``.
    """
    slot = ms.uns.get(key)
    if not isinstance(slot, dict) or "table" not in slot:
        raise AnalysisError(f'uns["{key}"] is missing: run {_FIX} first')
    table = slot["table"]
    labels = list(dict.fromkeys(table["group"].astype(str)))
    if not labels:
        raise AnalysisError(f'uns["{key}"] holds no groups: run {_FIX} first')
    if group is None:
        chosen = labels[0]
    else:
        matches = [g for g in labels if g == str(group)] or [
            g for g in labels if str(group) in (part.split("=", 1)[-1] for part in g.split(" · "))
        ]
        if not matches:
            raise AnalysisError(f"group: no input frequency for {group!r} (have {'; '.join(labels)})")
        chosen = matches[0]
    rows = table[table["group"].astype(str) == chosen].sort_values("position")
    out = rows[["position", "fraction", "null", "low", "high", "n_masks", "layer"]].reset_index(drop=True)
    out["outside"] = (out["fraction"] < out["low"]) | (out["fraction"] > out["high"])
    out.attrs["group"] = chosen
    methods = rows["method"].dropna().unique() if "method" in rows else []
    out.attrs["method"] = str(methods[0]) if len(methods) == 1 else chosen
    return out


def input_frequency(
    ms: Any, *, group: str | None = None, key: str = "input_frequency", ax: Any = None
) -> Any:
    """Fraction of each input unit's weights kept by the masks, with the null's band.

    Parameters
    ----------
    ms
        MaskSet with ``uns[key]`` from ``landscape.tl.input_frequency``.
    group
        Which group's masks (default: the first one stored).
    key
        The slot the tool wrote.
    ax
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    data = _prepare_input_frequency(ms, group, key)
    ax = new_axes(ax)
    name = data.attrs["method"]
    color = method_color(name)
    ax.fill_between(
        data["position"],
        data["low"],
        data["high"],
        color=GREY,
        alpha=0.25,
        linewidth=0,
        step="mid",
        label="independent masks\n(binomial, 95%)",
    )
    ax.axhline(float(data["null"].iloc[0]), color=GREY, linewidth=0.8, linestyle="--")
    ax.plot(
        data["position"], data["fraction"], color=color, marker="o", markersize=2.5, label=f"{name} masks"
    )
    flagged = data[data["outside"]]
    ax.plot(flagged["position"], flagged["fraction"], linestyle="none", marker="o", markersize=4, color=color)
    ax.set_xlabel(f"input position ({data['layer'].iloc[0]})")
    ax.set_ylabel(f"fraction kept (n={int(data['n_masks'].iloc[0])} masks)")
    legend_outside(ax)
    return ax
