"""Within-group diversity of masks beside the chance baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.tl._utils import DEFAULT_GROUPBY, distance_slot, group_columns, groups, pairs
from landscape.tl.baseline import baseline_table


def _summary(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"mean": np.nan, "sd": np.nan, "min": np.nan, "max": np.nan}
    sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return {"mean": float(values.mean()), "sd": sd, "min": float(values.min()), "max": float(values.max())}


def _baseline(ms, metric: str, per_layer: bool, cols, group_list) -> pd.DataFrame:
    """The random baseline of ``tl.random_baseline`` when it already covers these groups
    (same grouping, metric, layers and pair counts), else computed here."""
    prev = ms.uns.get("random_baseline")
    if isinstance(prev, dict) and "table" in prev:
        params, table = prev.get("params", {}), prev["table"]
        if (
            metric in params.get("metric", ())
            and (params.get("per_layer") or not per_layer)
            and list(params.get("groupby", ())) == list(cols)
        ):
            rows = table[(table["metric"] == metric) & (table["layer"] == "whole")]
            sizes = dict(zip(rows["group"], rows["n_pairs"]))
            expected = {label: len(pos) * (len(pos) - 1) // 2 for label, _, pos in group_list}
            if sizes == expected:  # a subset of the masks would change the pair counts
                return table[table["metric"] == metric]
    return baseline_table(ms, (metric,), per_layer, group_list)


def diversity(
    ms,
    *,
    groupby=DEFAULT_GROUPBY,
    metric: str = "jaccard",
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """Pairwise distances within each group, whole network and per layer, against chance.

    Needs ``obsp["dist_<metric>"]`` from :func:`landscape.tl.distances` (per-layer rows
    appear when it ran with ``per_layer=True``).

    Parameters
    ----------
    ms
        MaskSet.
    groupby
        ``obs`` columns defining groups (with the default, absent columns are skipped).
    metric
        ``"jaccard"`` or ``"hamming"``.
    key_added, copy
        ``uns`` key (default ``"diversity"``); with ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per group and layer (``"whole"`` first): ``n_masks, n_pairs`` and the
        ``mean, sd, min, max`` of the ``i < j`` distances, the random baseline
        ``baseline_mean, baseline_sd``, ``excess`` = observed similarity minus chance
        similarity (``baseline_mean - mean``; > 0 means masks overlap more than chance) and
        ``z = excess / baseline_sd``.
    """
    whole = distance_slot(ms, metric)
    per_layer = f"dist_{metric}_layers" in ms.obsp
    layered = distance_slot(ms, metric, layers=True) if per_layer else None
    cols = group_columns(ms, groupby, default=groupby == DEFAULT_GROUPBY)
    group_list = groups(ms, cols)
    base = _baseline(ms, metric, per_layer, cols, group_list).set_index(["group", "layer"])
    rows = []
    for label, values, pos in group_list:
        i, j = pairs(pos)
        slots = [("whole", whole[i, j])]
        if per_layer:
            slots += [(spec.name, layered[i, j, k]) for k, spec in enumerate(ms.layout)]
        for layer, dist in slots:
            b = base.loc[(label, layer)]
            row = {"group": label, **values, "layer": layer, "metric": metric}
            row.update(n_masks=len(pos), n_pairs=len(i), **_summary(dist))
            row.update(baseline_mean=b["mean"], baseline_sd=b["sd"])
            rows.append(row)
    table = pd.DataFrame(rows)
    table["excess"] = table["baseline_mean"] - table["mean"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["z"] = table["excess"] / table["baseline_sd"]
    if not copy:
        ms.uns[key_added or "diversity"] = {
            "params": {"metric": metric, "groupby": cols, "per_layer": per_layer},
            "table": table,
        }
    return table
