"""Similarity of masks found by two methods from one weight seed, against their within-method
similarity: are the masks of one search seed "twins" across methods?

Two configurations (say Edge-Popup and Biprop) searched in the same network with the same
search seeds start from the same scores and see the data in the same order. Four numbers per
pair of configurations and network tell how much of a mask that decides:

- ``within A`` / ``within B``: mean similarity of two masks of one configuration (different
  search seeds), as :func:`landscape.tl.diversity` reports it;
- ``across, other seeds``: a mask of A and a mask of B from different search seeds;
- ``across, same seed``: a mask of A and the mask of B from the same search seed (the twins).

Masks are paired by weight seed. Where the two configurations draw their weights by the
same rule (``model.weight_init``) that is one network, and the comparison is of subnetworks of
the same weights. Where the rules differ (Biprop's Kaiming normal values against Edge-Popup's
signed constants) one seed draws two different networks (:mod:`landscape.networks`): the
scores a search seed draws and its data order are still the same, and the masks are compared
position by position, but not as subnetworks of one network; ``same_weights`` says which.

Uncertainty: the unit of a network is a search seed (it carries one mask of A and one of B);
a delete-one-seed jackknife gives a 95% t interval of each mean (``n_seeds - 1`` degrees of
freedom; the same-seed mean, a plain mean of independent pairs, gets its usual t interval).
Across networks: the mean of the per-network values and a t interval over networks, as in
:func:`landscape.tl.diversity.across_networks`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.grouping import CONFIG
from landscape.networks import same_weights
from landscape.tl import _stats
from landscape.tl._source_frame import SourceFrames, pair_chance
from landscape.tl._utils import distance_slot
from landscape.tl.baseline import _describe_groupby, layer_sizes

WITHIN_A, WITHIN_B = "within A", "within B"
OTHER, SAME = "across, other seeds", "across, same seed"
#: the comparisons, in the order the figure shows them
COMPARISONS = (WITHIN_A, WITHIN_B, OTHER, SAME)
#: the difference "same seed" minus "other seeds" (the twin effect), not a similarity
TWIN_EFFECT = "same − other seeds"


def _pair_means(sim, chance, rows_a, rows_b, seeds_a, seeds_b, keep_seed):
    """The four means (and their chance levels) over the masks whose seeds pass ``keep_seed``."""
    ka = np.isin(seeds_a, keep_seed)
    kb = np.isin(seeds_b, keep_seed)
    a, b = rows_a[ka], rows_b[kb]
    sa, sb = seeds_a[ka], seeds_b[kb]
    out = {}
    for name, pos in ((WITHIN_A, a), (WITHIN_B, b)):
        i, j = np.triu_indices(len(pos), 1)
        out[name] = (sim[pos[i], pos[j]], chance[pos[i], pos[j]])
    cross = sim[np.ix_(a, b)]
    cross_chance = chance[np.ix_(a, b)]
    same = sa[:, None] == sb[None, :]
    out[OTHER] = (cross[~same], cross_chance[~same])
    out[SAME] = (cross[same], cross_chance[same])
    return {
        k: (v.mean() if v.size else np.nan, c.mean() if c.size else np.nan, v.size)
        for k, (v, c) in out.items()
    }


def _network_rows(ga, gb, net, sim, chance, seeds, shared: bool) -> list[dict]:
    rows_a, rows_b = ga.networks[net], gb.networks[net]
    seeds_a, seeds_b = seeds[rows_a], seeds[rows_b]
    union = np.unique(np.concatenate([seeds_a, seeds_b]))
    units = {
        WITHIN_A: np.unique(seeds_a),
        WITHIN_B: np.unique(seeds_b),
        OTHER: union,
        SAME: np.intersect1d(seeds_a, seeds_b),
        TWIN_EFFECT: union,
    }

    def means(keep):
        part = _pair_means(sim, chance, rows_a, rows_b, seeds_a, seeds_b, keep)
        part[TWIN_EFFECT] = (part[SAME][0] - part[OTHER][0], np.nan, part[SAME][2])
        return part

    full = means(union)
    loo = {u: means(union[union != u]) for u in union} if len(union) >= 3 else {}
    rows = []
    for name in (*COMPARISONS, TWIN_EFFECT):
        value, base, n_pairs = full[name]
        own = units[name]
        se = np.nan
        if len(own) >= 3 and loo and n_pairs:
            values = np.array([loo[u][name][0] for u in own], dtype=float)
            if np.isfinite(values).all():
                k = len(values)
                se = float(np.sqrt((k - 1) / k * ((values - values.mean()) ** 2).sum()))
        lo, hi = _stats.interval(value, se, len(own) - 1)
        rows.append(
            {
                "group_a": ga.label,
                "group_b": gb.label,
                "weight_seed": net,
                "same_weights": shared,
                "comparison": name,
                "similarity": float(value),
                "ci_low": float(lo),
                "ci_high": float(hi),
                "chance_similarity": float(base),
                "n_pairs": int(n_pairs),
                "n_seeds": len(own),
            }
        )
    return rows


def _matching_pairs(groups, obs: pd.DataFrame, match: Sequence[str]):
    """Pairs of groups (in order) that agree on the ``match`` columns."""
    values = []
    for g in groups:
        first = obs.iloc[g.positions[0]]
        values.append(tuple(str(first[c]) if c in obs.columns else None for c in match))
    for x in range(len(groups)):
        for y in range(x + 1, len(groups)):
            if values[x] == values[y]:
                yield groups[x], groups[y]


def cross_method(
    ms,
    *,
    groupby=CONFIG,
    metric: str = "jaccard",
    match: Sequence[str] = ("density",),
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """Similarity across two configurations in one network (same and different search seeds)
    beside each one's within-configuration similarity; see the module docstring.

    Needs ``obsp["dist_<metric>"]`` from :func:`landscape.tl.distances`.

    Parameters
    ----------
    ms
        MaskSet with ``weight_seed`` and ``search_seed`` columns.
    groupby
        ``"config"`` (default): one group per configuration (see :mod:`landscape.grouping`).
    metric
        ``"jaccard"`` or ``"hamming"``; values are similarities (1 - distance).
    match
        Only pairs of groups that agree on these columns are compared (default: equal
        density, so chance levels are comparable). Groups whose masks keep every weight
        (weight-training references) are left out.
    key_added, copy
        ``uns`` key (default ``"cross_method"``); with ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per pair of groups, weight seed and comparison (:data:`COMPARISONS`, then
        :data:`TWIN_EFFECT`): ``group_a, group_b, weight_seed, same_weights`` (whether the
        two groups draw the same weights from the seed), ``comparison, similarity,
        ci_low, ci_high`` (95% delete-one-seed jackknife, NaN below 3 seeds),
        ``chance_similarity`` (independent random masks of the same counts: inside their
        source when both masks were searched in one; NaN for masks of two sources and for
        the twin effect), ``n_pairs, n_seeds``, and ``method_a, method_b`` when obs has them. ``uns[key]["summary"]`` holds the same across
        networks (``n_networks``, ``sd_networks``, ``interval``: "networks" or "seeds").
    """
    whole = distance_slot(ms, metric)
    sim = 1.0 - whole
    counts, numel = layer_sizes(ms)
    n = len(ms)
    i, j = np.triu_indices(n, 1)
    chance = np.zeros((n, n))
    if len(i):
        # each pair under its null: whole layers, a source both share, or none (NaN)
        _, _, mean_w, _ = pair_chance(SourceFrames(ms), i, j, counts, numel, metric, i, j)
        chance[i, j] = chance[j, i] = mean_w
    seeds = ms.obs["search_seed"].to_numpy() if "search_seed" in ms.obs else np.arange(n)
    full_mask = (counts == numel[None, :]).all(axis=1)
    groups = [g for g in pooled_groups(ms, groupby) if not full_mask[g.positions].all()]
    rows = []
    for ga, gb in _matching_pairs(groups, ms.obs, tuple(match)):
        for net in ga.networks:
            if net in gb.networks and len(ga.networks[net]) and len(gb.networks[net]):
                shared = same_weights(ms.obs, ga.networks[net], gb.networks[net])
                rows += _network_rows(ga, gb, net, sim, chance, seeds, shared)
    table = pd.DataFrame(rows)
    if len(table) and "method" in ms.obs.columns:
        method = {g.label: str(ms.obs["method"].iloc[g.positions[0]]) for g in groups}
        table.insert(2, "method_a", table["group_a"].map(method))
        table.insert(3, "method_b", table["group_b"].map(method))
    summary = across_networks(table)
    if not copy:
        ms.uns[key_added or "cross_method"] = {
            "params": {
                "metric": metric,
                "groupby": _describe_groupby(groupby),
                "match": list(match),
                "interval": "95% delete-one-search-seed jackknife within a network; t over networks",
            },
            "table": table,
            "summary": summary,
        }
    return table


def across_networks(table: pd.DataFrame) -> pd.DataFrame:
    """Per pair of groups and comparison: mean over networks, sd over networks and a 95% t
    interval over networks (``interval == "networks"``), or with one network its interval
    over search seeds (``interval == "seeds"``)."""
    if table.empty:
        return table.copy()
    out = []
    for (a, b, comp), part in table.groupby(["group_a", "group_b", "comparison"], sort=False):
        w = len(part)
        stats = _stats.across_networks(part["similarity"].to_numpy())
        row = {"group_a": a, "group_b": b}
        row.update({c: part[c].iloc[0] for c in ("method_a", "method_b") if c in part})
        if "same_weights" in part:
            row["same_weights"] = bool(part["same_weights"].all())
        row.update(comparison=comp, n_networks=w)
        row["similarity"] = float(stats["mean"])
        row["sd_networks"] = float(stats["sd"])
        if w > 1:
            row["ci_low"], row["ci_high"] = float(stats["ci_low"]), float(stats["ci_high"])
        else:
            row["ci_low"], row["ci_high"] = float(part["ci_low"].iloc[0]), float(part["ci_high"].iloc[0])
        row["chance_similarity"] = float(part["chance_similarity"].mean(skipna=False))
        row["n_pairs"] = int(part["n_pairs"].sum())
        row["interval"] = "networks" if w > 1 else "seeds"
        out.append(row)
    return pd.DataFrame(out)
