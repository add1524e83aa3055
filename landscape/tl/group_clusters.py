"""Do masks cluster by how they were found? Clusters of each network's masks against groups.

Masks over different random weights share no weights, so their distances sit at chance and
a clustering of masks pooled across networks finds the networks, whatever the methods did.
Here every network (weight seed) is clustered on its own, into as many clusters as it holds
groups, and the clusters are compared with the groups by the adjusted Rand index (ARI: 1 when
the clusters are the groups, about 0 for clusters unrelated to them).

How sure: a permutation test. Shuffling the group labels among a network's masks keeps the
clusters and the group sizes, so it draws the ARI of clusters that know nothing of the groups;
the p-value is one-sided (clusters follow the groups more than chance), ``(1 + #{ARI_perm >=
ARI}) / (1 + n_permutations)``. Across networks the statistic is the mean ARI over them, under
the same shuffles made in every network at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy

from landscape.errors import AnalysisError
from landscape.grouping import CONFIG, group_masks
from landscape.tl._utils import distance_slot
from landscape.tl.baseline import _describe_groupby
from landscape.tl.cluster import METHODS, condensed

N_PERMUTATIONS = 999
ACROSS = "all networks"


def pair_counts(counts: np.ndarray) -> np.ndarray:
    """``sum C(n, 2)`` over the last axis."""
    counts = counts.astype(np.float64)
    return (counts * (counts - 1) / 2).sum(axis=-1)


def adjusted_rand(clusters: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """ARI of one clustering (codes ``0..k-1``, length n) against each row of ``groups``
    (codes ``0..g-1``, shape ``(r, n)``), from the contingency counts; NaN where undefined
    (both partitions trivial)."""
    groups = np.atleast_2d(groups)
    r, n = groups.shape
    k, g = int(clusters.max()) + 1, int(groups.max()) + 1
    cells = clusters[None, :] * g + groups + (np.arange(r) * k * g)[:, None]
    table = np.bincount(cells.ravel(), minlength=r * k * g).reshape(r, k * g)
    index = pair_counts(table)
    a = pair_counts(np.bincount(clusters, minlength=k))
    rows = (groups + (np.arange(r) * g)[:, None]).ravel()
    b = pair_counts(np.bincount(rows, minlength=r * g).reshape(r, g))
    expected = a * b / (n * (n - 1) / 2)
    top = (a + b) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(top > expected, (index - expected) / (top - expected), np.nan)


def group_clusters(
    ms,
    *,
    groupby=CONFIG,
    metric: str = "jaccard",
    method: str = "average",
    n_permutations: int = N_PERMUTATIONS,
    rng: int = 0,
    key_added: str = "cluster",
    copy: bool = False,
):
    """Cluster each network's masks into as many clusters as it holds groups, and test whether
    the clusters are the groups (see the module docstring).

    Parameters
    ----------
    ms
        MaskSet with distances (run :func:`landscape.tl.distances` first).
    groupby
        ``"config"`` (default): one group per configuration; columns pool configurations (see
        :mod:`landscape.grouping`).
    metric, method
        Distance (``"jaccard"`` or ``"hamming"``) and scipy linkage method, as in
        :func:`landscape.tl.cluster`.
    n_permutations, rng
        Shuffles of the group labels for the p-value, and their seed.
    key_added, copy
        ``obs`` column and ``uns`` key (default ``"cluster"``); with ``copy=True`` ``ms`` is
        left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per network holding at least two groups, one of them of two masks or more
        (``network``: its weight seed, ``n_masks``, ``n_groups``, ``n_clusters``, ``ari``,
        ``chance_ari`` and ``chance_ari_high``: the mean and the 95th percentile of the ARI
        under the shuffles, ``p_value``, ``n_permutations``, ``groups``: their labels,
        ``metric``, ``linkage``), and with several such networks a row ``network = "all
        networks"`` (``weight_seed`` empty, ``n_groups`` the most any network holds): the
        mean ARI over them, under the same shuffles, and its p-value.
        ``obs[key_added]`` gets each mask's cluster (``"1"``, ``"2"``, ... numbered within
        its network, prefixed ``"<weight seed>:"`` when there are several networks: clusters
        of two networks are never the same cluster); ``uns[key_added]`` the parameters, the
        table and the scipy linkage ``Z`` (with several networks ``{weight seed: Z}``).
    """
    if method not in METHODS:
        raise AnalysisError(f"method={method!r} is unknown; choose one of {METHODS}")
    if n_permutations < 1:
        raise AnalysisError(f"n_permutations={n_permutations} must be at least 1")
    dist = distance_slot(ms, metric)
    if len(ms) < 2:
        raise AnalysisError(f"group_clusters needs at least 2 masks, got {len(ms)}")
    groups = group_masks(ms.obs, groupby)
    group_of = np.empty(len(ms), dtype=np.int64)
    for code, g in enumerate(groups):
        group_of[g.positions] = code
    nets = ms.obs["weight_seed"].to_numpy() if "weight_seed" in ms.obs.columns else np.zeros(len(ms), int)
    networks = list(dict.fromkeys(nets.tolist()))
    labels = np.empty(len(ms), dtype=object)
    linkages, rows, null_means = {}, [], []
    gen = np.random.default_rng(rng)
    for net in networks:
        pos = np.flatnonzero(nets == net)
        codes = np.unique(group_of[pos], return_inverse=True)[1]
        n_groups = int(codes.max()) + 1
        prefix = f"{net}:" if len(networks) > 1 else ""
        if len(pos) < 2:
            labels[pos] = f"{prefix}1"
            continue
        z = hierarchy.linkage(condensed(np.array(dist[np.ix_(pos, pos)], dtype=np.float64)), method=method)
        found = hierarchy.fcluster(z, n_groups, criterion="maxclust") - 1
        linkages[net] = z
        labels[pos] = [f"{prefix}{c + 1}" for c in found]
        if n_groups < 2 or n_groups == len(pos):
            continue  # one group, or one mask per group: nothing for clusters to follow
        ari = float(adjusted_rand(found, codes)[0])
        if np.isnan(ari):
            continue
        null = adjusted_rand(found, gen.permuted(np.tile(codes, (n_permutations, 1)), axis=1))
        null_means.append(null)
        rows.append(
            {"network": str(net), "weight_seed": net, "n_masks": len(pos), "n_groups": n_groups,
             "n_clusters": int(found.max()) + 1, **_test(ari, null), "n_permutations": n_permutations,
             "groups": " | ".join(groups[c].label for c in np.unique(group_of[pos]))}
        )  # fmt: skip
    if len(rows) > 1:
        mean = float(np.mean([r["ari"] for r in rows]))
        rows.append(
            {"network": ACROSS, "weight_seed": None, "n_masks": sum(r["n_masks"] for r in rows),
             "n_groups": max(r["n_groups"] for r in rows), "n_clusters": sum(r["n_clusters"] for r in rows),
             **_test(mean, np.mean(null_means, axis=0)), "n_permutations": n_permutations,
             "groups": f"mean over {len(rows)} networks"}
        )  # fmt: skip
    table = pd.DataFrame(rows)
    if len(table):
        table["metric"], table["linkage"] = metric, method
    if len(rows) > 1 and all(isinstance(r["weight_seed"], (int, np.integer)) for r in rows[:-1]):
        table["weight_seed"] = table["weight_seed"].astype("Int64")  # the across row: empty
    if not copy:
        ms.obs[key_added] = pd.Categorical(labels.tolist(), categories=list(dict.fromkeys(labels.tolist())))
        ms.uns[key_added] = {
            "params": {"metric": metric, "method": method, "groupby": _describe_groupby(groupby),
                       "n_clusters": "the groups of each network", "within": "weight_seed",
                       "n_permutations": n_permutations, "rng": rng},
            "summary": table,
            "linkage": linkages if len(networks) > 1 else next(iter(linkages.values()), None),
        }  # fmt: skip
    return table


def _test(observed: float, null: np.ndarray) -> dict:
    """The ARI beside its permutation null: mean, 95th percentile and the one-sided p-value
    (NaN where the ARI is undefined)."""
    null = null[~np.isnan(null)]
    if np.isnan(observed) or not len(null):
        return {"ari": observed, "chance_ari": np.nan, "chance_ari_high": np.nan, "p_value": np.nan}
    # a shuffle that ties the observed value counts against it (the 1e-12: float round-off)
    p = (1 + np.sum(null >= observed - 1e-12)) / (1 + len(null))
    return {"ari": observed, "chance_ari": float(null.mean()),
            "chance_ari_high": float(np.quantile(null, 0.95)), "p_value": float(p)}  # fmt: skip
