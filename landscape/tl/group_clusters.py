"""Do masks cluster by how they were found? Clusters of masks against their groups, one
network and one density at a time.

Masks over different random weights share no weights, so their distances sit at chance and
a clustering of masks pooled across networks finds the networks, whatever the methods did;
masks of two densities are apart for their counts alone (and masks that keep every weight,
as in weight training, are identical). So the masks of every network (a weight seed and
the rule it draws weights by: :mod:`landscape.networks`) and density are clustered on their
own, into as many clusters as groups they hold, and the clusters are compared with the groups
by the adjusted Rand index (ARI: 1 when the clusters are the groups, about 0 for clusters
unrelated to them).

How sure: a permutation test. Shuffling the group labels among the masks of a network and
density keeps the clusters and the group sizes, so it draws the ARI of clusters that know
nothing of the groups; the p-value is one-sided (clusters follow the groups more than
chance), ``(1 + #{ARI_perm >= ARI}) / (1 + n_permutations)``. With several of them the
statistic of row ``"all"`` is the mean ARI over them, under the same shuffles made in every
one at once.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.networks import DRAW_FIELD, draws_differ, network_keys, network_text
from landscape.tl._utils import distance_slot
from landscape.tl.baseline import _describe_groupby
from landscape.tl.cluster import METHODS, canonical_order, condensed

N_PERMUTATIONS = 999
ACROSS = "all"


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
    """Cluster the masks of each network and density into as many clusters as they hold
    groups, and test whether the clusters are the groups (see the module docstring).

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
        left untouched and only the table is returned (unlike :func:`landscape.tl.cluster`,
        which returns a copy of the MaskSet).

    Returns
    -------
    pandas.DataFrame
        One row per network and density (``obs["density"]``; one density when obs has none)
        holding at least two groups, one of them of two masks or more, and not every mask
        keeping every weight: ``stratum`` (its network and density, in words),
        ``weight_seed`` (and ``weight_init`` where the masks' initialisers differ),
        ``density``, ``n_masks``, ``n_groups``, ``n_clusters``, ``ari``, ``chance_ari`` and
        ``chance_ari_high`` (the mean and the 95th percentile of the ARI under the shuffles),
        ``p_value``, ``n_permutations``, ``groups`` (their labels),
        ``metric``, ``linkage``. With several such rows a row ``stratum = "all"``
        (``weight_seed`` and ``density`` empty, ``n_groups`` the most any row holds): the
        mean ARI over them, under the same shuffles, and its p-value.
        ``obs[key_added]`` gets each mask's cluster (``"1"``, ``"2"``, ... numbered within its
        network and density, prefixed by them when there are several: two never share a
        cluster); ``uns[key_added]`` the parameters, the table and, per network and density,
        the scipy linkage and the masks it indexes (``{(network, density): {"Z": ...,
        "obs_names": [...]}}``, the network as :func:`landscape.networks.network_keys` gives it).
    """
    if method not in METHODS:
        raise AnalysisError(f"method={method!r} is unknown; choose one of {METHODS}")
    if n_permutations < 1:
        raise AnalysisError(f"n_permutations={n_permutations} must be at least 1")
    dist = distance_slot(ms, metric)
    if len(ms) < 2:
        raise AnalysisError(f"group_clusters needs at least 2 masks, got {len(ms)}")
    groups = pooled_groups(ms, groupby)
    group_of = np.full(len(ms), -1, dtype=np.int64)  # -1: a copy of another pooled run's mask
    for code, g in enumerate(groups):
        group_of[g.positions] = code
    obs = ms.obs
    nets, dens = _stratum_keys(obs)
    keys = list(zip(nets, dens))
    strata = list(dict.fromkeys(keys))
    several_nets, several_dens = len(set(nets)) > 1, len(set(dens)) > 1
    has_net = "weight_seed" in obs.columns or draws_differ(obs)
    full = ms.counts() == ms.layout.n_weights
    labels = np.full(len(ms), None, dtype=object)
    linkages, rows, nulls = {}, [], []
    order = canonical_order(ms)
    # shuffles drawn per stratum: its p-value does not depend on which other strata the set holds
    seed = int(rng) if isinstance(rng, (int, np.integer)) else int(np.random.default_rng(rng).integers(2**63))
    for net, density in strata:
        # the masks of a stratum in an order of their own (not of the set): ties between
        # distances are broken alike however the set is ordered or what else it holds
        pos = order[np.array([keys[i] == (net, density) for i in order], dtype=bool)]
        pos = pos[group_of[pos] >= 0]  # a mask stored in two pooled runs counts once
        if not len(pos):
            continue
        gen = np.random.default_rng([seed, zlib.crc32(repr((net, density)).encode())])
        name = _stratum(net, density, several_nets, several_dens)
        prefix = f"{name}:" if name else ""
        codes = np.unique(group_of[pos], return_inverse=True)[1]
        n_groups = int(codes.max()) + 1
        if len(pos) < 2:
            labels[pos] = f"{prefix}1"
            continue
        z = hierarchy.linkage(condensed(np.array(dist[np.ix_(pos, pos)], dtype=np.float64)), method=method)
        found = hierarchy.fcluster(z, n_groups, criterion="maxclust") - 1
        linkages[(net, density)] = {"Z": z, "obs_names": [str(x) for x in obs.index[pos]]}
        labels[pos] = [f"{prefix}{c + 1}" for c in found]
        if n_groups < 2 or n_groups == len(pos) or full[pos].all():
            continue  # one group, one mask per group, or identical full masks: nothing to follow
        ari = float(adjusted_rand(found, codes)[0])
        if np.isnan(ari):
            continue
        null = adjusted_rand(found, gen.permuted(np.tile(codes, (n_permutations, 1)), axis=1))
        nulls.append(null)
        rows.append(
            {"stratum": _stratum(net, density, has_net, "density" in obs.columns) or "all masks",
             **_network_columns(net), "density": density, "n_masks": len(pos), "n_groups": n_groups,
             "n_clusters": int(found.max()) + 1, **_test(ari, null), "n_permutations": n_permutations,
             "groups": " | ".join(groups[c].label for c in np.unique(group_of[pos]))}
        )  # fmt: skip
    if len(rows) > 1:
        mean = float(np.mean([r["ari"] for r in rows]))
        rows.append(
            {"stratum": ACROSS, **_network_columns((None, None) if draws_differ(obs) else None), "density": None, "n_masks": sum(r["n_masks"] for r in rows),
             "n_groups": max(r["n_groups"] for r in rows), "n_clusters": sum(r["n_clusters"] for r in rows),
             **_test(mean, np.mean(nulls, axis=0)), "n_permutations": n_permutations,
             "groups": f"mean over {len(rows)} networks × densities"}
        )  # fmt: skip
    table = pd.DataFrame(rows)
    if len(table):
        table["metric"], table["linkage"] = metric, method
    if rows and all(r["weight_seed"] is None or isinstance(r["weight_seed"], int) for r in rows):
        table["weight_seed"] = table["weight_seed"].astype("Int64")  # the "all" row: empty
    if not copy:
        names = [x for x in dict.fromkeys(labels.tolist()) if x is not None]  # copies: no cluster
        obs[key_added] = pd.Categorical(labels.tolist(), categories=names)
        ms.uns[key_added] = {
            "params": {"metric": metric, "method": method, "groupby": _describe_groupby(groupby),
                       "n_clusters": "the groups of each network and density",
                       "within": ["weight_seed", *([DRAW_FIELD] if draws_differ(obs) else []), "density"], "n_permutations": n_permutations, "rng": rng},
            "summary": table,
            "linkage": linkages,
        }  # fmt: skip
    return table


def _stratum_keys(obs: pd.DataFrame) -> tuple[list, list]:
    """Each mask's network (:func:`landscape.networks.network_keys`: its weight seed, with the
    initialiser where those differ; None where unknown) and density as plain values,
    densities rounded to 9 decimals (a density computed as 0.30000000000000004 is 0.3; None
    where unknown), so that equal values are one stratum."""
    n = len(obs)
    dens = (
        [None if pd.isna(d) else round(float(d), 9) for d in obs["density"]]
        if "density" in obs.columns
        else [None] * n
    )
    return network_keys(obs), dens


def _network_columns(net) -> dict:
    """The table's ``weight_seed`` (and ``weight_init``, where initialisers differ) of a network."""
    if isinstance(net, tuple):
        return {"weight_seed": net[0], "weight_init": net[1]}
    return {"weight_seed": net}


def _stratum(net, density, with_net: bool, with_density: bool) -> str:
    """``"weight seed 0 · density 0.5"``, naming only what is asked for."""
    parts = []
    if with_net:
        parts.append(network_text(net))
    if with_density:
        parts.append("density unknown" if density is None else f"density {density:.9g}")
    return " · ".join(parts)


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
