"""Within-group similarity of masks beside chance, with intervals over masks and networks.

Groups follow :mod:`landscape.grouping` (one configuration each, unless ``groupby`` pools);
pairs are taken within one random network; the uncertainty is that of
:mod:`landscape.tl._stats` (jackknife over masks, t interval over networks, the exact-variance
test against independent random masks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.grouping import CONFIG, twin_pairs
from landscape.tl import _stats
from landscape.tl._chance_moments import exact_tables
from landscape.tl._source_frame import IN_SOURCE_NOTE, SourceFrames, null_of
from landscape.tl._utils import distance_slot
from landscape.tl.baseline import SOURCE_NOTE, _describe_groupby, layer_sizes

#: what every similarity column means, by metric
SIMILARITY = {
    "jaccard": "Jaccard similarity |A∩B| / |A∪B|",
    "hamming": "fraction of weights on which two masks agree (1 - normalised Hamming distance)",
}

# the columns of the per-network table, after the group's key columns
COLUMNS = (
    "layer",
    "metric",
    "weight_seed",
    "n_masks",
    "n_pairs",
    "n_twin_pairs",
    "similarity",
    "similarity_sd",
    "similarity_min",
    "similarity_max",
    "similarity_ci_low",
    "similarity_ci_high",
    "chance_similarity",
    "chance_similarity_sd",
    "chance_null",
    "excess_similarity",
    "excess_ci_low",
    "excess_ci_high",
    "p_value",
)


def _network_rows(
    g, net, pos, whole, layered, counts, numel, metric, layer_names, pooled, frame=None, twins=0
):
    """Rows (whole network, then layers) for the masks ``pos`` of one network, from one
    compiled pass over its pairs (no per-pair or per-cell arrays); ``frame``: its source
    (None: the dense network, or no usable null, whose chance columns are then dropped by
    the caller)."""
    from landscape.tl import _pairsums as ps

    exact, ranks, tmean, tsd = exact_tables(counts, numel, metric, [pos], frame)
    tables = (exact, ranks[0], tmean, tsd)
    sums = ps.network_sums(pos, counts, numel, metric, tables, whole, layered, frame=frame)
    n_cols = sums.sim_rows.shape[1]
    acc = sums.acc[:, :n_cols]
    m, n_pairs = sums.n_masks, sums.n_pairs
    st = _stats.from_pair_sums(
        n_pairs,
        acc[ps.SIM],
        sums.sim_rows,
        acc[ps.EXCESS],
        sums.excess_rows,
        acc[ps.CHANCE],
        acc[ps.NULL_VAR],
    )
    dof = m - 1
    sim_lo, sim_hi = _stats.interval(st["similarity"], st["similarity_se"], dof)
    ex_lo, ex_hi = _stats.interval(st["excess"], st["excess_se"], dof)
    sim_sd = np.sqrt(sums.variance(ps.SIM_DEV, ps.SIM_DEV2, ddof=1)[:n_cols])
    # sd of one random pair's chance similarity: mean null variance + variance of the means
    chance_var = acc[ps.NULL_VAR] / n_pairs + sums.variance(ps.CHANCE_DEV, ps.CHANCE_DEV2, ddof=0)[:n_cols]
    rows = []
    for k, layer in enumerate(["whole", *layer_names][:n_cols]):
        rows.append(
            {
                "group": g.label,
                **g.key,
                **g.columns,
                "layer": layer,
                "metric": metric,
                "weight_seed": net,
                "n_masks": m,
                "n_pairs": n_pairs,
                "n_twin_pairs": twins,
                "similarity": float(st["similarity"][k]),
                "similarity_sd": float(sim_sd[k]),
                "similarity_min": float(sums.sim_min[k]),
                "similarity_max": float(sums.sim_max[k]),
                "similarity_ci_low": float(sim_lo[k]),
                "similarity_ci_high": float(sim_hi[k]),
                "chance_similarity": float(st["chance"][k]),
                "chance_similarity_sd": float(np.sqrt(chance_var[k])),
                "chance_null": null_of(frame),
                "excess_similarity": float(st["excess"][k]),
                "excess_ci_low": float(ex_lo[k]),
                "excess_ci_high": float(ex_hi[k]),
                "p_value": float(_stats.two_sided_p(st["z"][k])),
                "pooled": pooled,
                # kept for the across-network test (pairs are independent under the null)
                "_excess_sum": float(st["excess"][k] * n_pairs),
                "_null_var_sum": float(st["null_var_sum"][k]),
            }
        )
    return rows


# what the chance level decides: everything from it to the end of COLUMNS, and the sums the
# across-network test adds
_CHANCE_COLUMNS = (*COLUMNS[COLUMNS.index("chance_similarity") :], "_excess_sum", "_null_var_sum")


def _without_chance(rows: list[dict]) -> list[dict]:
    """Rows of masks searched inside a source that cannot be redrawn (or of two sources in
    one network): similarity kept, no chance level, excess or test
    (:mod:`landscape.tl._source_frame`)."""
    return [row | dict.fromkeys(_CHANCE_COLUMNS, np.nan) for row in rows]


def diversity(
    ms,
    *,
    groupby=CONFIG,
    metric: str = "jaccard",
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """Mean pairwise similarity within each group and network, whole network and per layer,
    against chance, with a 95% interval and a test.

    Needs ``obsp["dist_<metric>"]`` from :func:`landscape.tl.distances` (per-layer rows
    appear when it ran with ``per_layer=True``).

    Parameters
    ----------
    ms
        MaskSet.
    groupby
        ``"config"`` (default): one group per configuration, so masks of runs that differ in
        any config field are never pooled. Columns (``("method", "density")``): pool
        configurations with equal values; the ``pooled`` column then names what was pooled.
    metric
        ``"jaccard"`` or ``"hamming"``; every value is a similarity (see :data:`SIMILARITY`).
    key_added, copy
        ``uns`` key (default ``"diversity"``); with ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per group, network (``weight_seed``) and layer (``"whole"`` first): ``n_masks,
        n_pairs``, ``n_twin_pairs`` (in a group that pools configurations, the pairs of masks of
        two configurations searched from one score or data seed: more alike than independent
        searches, they raise the similarity; ``tl.cross_method`` separates them); over the pairs: ``similarity`` (mean), ``similarity_sd, _min, _max``;
        ``similarity_ci_low/high`` (95% jackknife interval over masks, NaN below 3 masks);
        ``chance_similarity`` (independent random masks of the same per-layer counts; for
        masks searched inside an ER or partially frozen source, random masks inside that
        source: its locked weights kept, its left-out ones never) and its sd for one pair;
        ``chance_null``: which of the two (``"layers"``, ``"source"``; NaN without one); ``excess_similarity`` = similarity - chance (> 0: more overlap than
        chance) with its jackknife interval; ``p_value``: two-sided test of "independent
        random masks". ``uns[key]["summary"]`` holds the same per group across networks
        (:func:`across_networks`).
    """
    whole = distance_slot(ms, metric)
    per_layer = f"dist_{metric}_layers" in ms.obsp
    layered = distance_slot(ms, metric, layers=True) if per_layer else None
    counts, numel = layer_sizes(ms)
    frames = SourceFrames(ms)
    rows, in_source, unknown = [], False, False
    for g in pooled_groups(ms, groupby):
        pooled = g.pooled_text()
        for net, pos in g.networks.items():
            if len(pos) < 2:
                continue
            frame = frames.of(pos)
            in_source |= frames.any_sourced(pos) and frame is not None
            unknown |= frame is None
            twins = twin_pairs(ms.obs, pos) if g.pooled else 0
            part = _network_rows(
                g, net, pos, whole, layered, counts, numel, metric, ms.layout.names, pooled, frame, twins
            )
            rows += _without_chance(part) if frame is None else part
    table = pd.DataFrame(rows)
    summary = across_networks(table)
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("_")])
    if not copy:
        ms.uns[key_added or "diversity"] = {
            "params": {
                "metric": metric,
                "groupby": _describe_groupby(groupby),
                "per_layer": per_layer,
                "similarity": SIMILARITY.get(metric, metric),
                "interval": "95% delete-one-mask jackknife within a network; t over networks",
                "test": "two-sided, H0: independent uniformly random masks with the same per-layer counts",
                **({"in_source": IN_SOURCE_NOTE} if in_source else {}),
                **({"no_chance": SOURCE_NOTE} if unknown else {}),
            },
            "table": table,
            "summary": summary,
        }
    return table


def _joined(values: pd.Series):
    """The distinct values of a column over networks, NaN when any network has none."""
    if values.isna().any():
        return np.nan
    return " + ".join(dict.fromkeys(values.astype(str)))


def across_networks(table: pd.DataFrame) -> pd.DataFrame:
    """Per group and layer across its networks: the mean of the per-network values, their sd
    over networks and a 95% t interval over networks (``interval == "networks"``); with one
    network, that network's interval over masks (``interval == "masks"``). ``p_value`` tests
    all the group's within-network pairs together; ``chance_range_low/high`` is the central
    95% range of ``similarity`` under that test's null (independent random masks with the
    group's counts and numbers of pairs), so a value outside it differs from chance."""
    if table.empty:
        return table.copy()
    keys = [c for c in table.columns if c not in COLUMNS and not str(c).startswith("_") and c != "pooled"]
    out = []
    for _, part in table.groupby([*keys, "layer", "metric"], sort=False, dropna=False):
        first = part.iloc[0]
        row = {k: first[k] for k in keys} | {"layer": first["layer"], "metric": first["metric"]}
        w = len(part)
        row.update(n_networks=w, n_masks=int(part["n_masks"].sum()), n_pairs=int(part["n_pairs"].sum()))
        if "n_twin_pairs" in part:
            row["n_twin_pairs"] = int(part["n_twin_pairs"].sum())
        for name in ("similarity", "excess_similarity"):
            stats = _stats.across_networks(part[name].to_numpy())
            row[name] = float(stats["mean"])
            row[f"{name}_sd_networks"] = float(stats["sd"])
            prefix = "similarity" if name == "similarity" else "excess"
            if w > 1:
                row[f"{prefix}_ci_low"], row[f"{prefix}_ci_high"] = (
                    float(stats["ci_low"]),
                    float(stats["ci_high"]),
                )
            else:
                row[f"{prefix}_ci_low"] = float(first[f"{prefix}_ci_low"])
                row[f"{prefix}_ci_high"] = float(first[f"{prefix}_ci_high"])
        # a network without a chance level (masks in a source) leaves the group without one
        row["chance_similarity"] = float(part["chance_similarity"].mean(skipna=False))
        row["chance_null"] = _joined(part["chance_null"]) if "chance_null" in part else np.nan
        if "_null_var_sum" in part:
            # sd under H0 of the mean over networks of each network's mean over its pairs
            null_sd = np.sqrt((part["_null_var_sum"] / part["n_pairs"] ** 2).sum(skipna=False)) / w
            row["chance_range_low"] = row["chance_similarity"] - _stats.Z95 * null_sd
            row["chance_range_high"] = row["chance_similarity"] + _stats.Z95 * null_sd
        row["interval"] = "networks" if w > 1 else "masks"
        if "_excess_sum" in part:
            # as per network: no variance under the null (every mask full, or empty) gives no test
            with np.errstate(divide="ignore", invalid="ignore"):
                z = part["_excess_sum"].sum(skipna=False) / np.sqrt(part["_null_var_sum"].sum(skipna=False))
            row["p_value"] = float(_stats.two_sided_p(z))
        else:
            row["p_value"] = float(first["p_value"]) if w == 1 else np.nan
        row["pooled"] = first.get("pooled", "")
        out.append(row)
    return pd.DataFrame(out)
