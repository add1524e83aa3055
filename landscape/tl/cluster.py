"""Hierarchical clustering of masks on a precomputed distance."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from landscape.errors import AnalysisError
from landscape.tl._utils import distance_slot, target

METHODS = ("single", "complete", "average", "weighted", "centroid", "median", "ward")


def condensed(dist: np.ndarray) -> np.ndarray:
    """Condensed vector of a square distance matrix (symmetrised, zero diagonal)."""
    dist = 0.5 * (dist + dist.T)
    np.fill_diagonal(dist, 0.0)
    return squareform(dist, checks=False)


def canonical_order(ms) -> np.ndarray:
    """Positions of the masks sorted by their bits (then their names): hierarchical
    clustering breaks ties between equal distances by input order, so clustering in this
    order gives each mask the same cluster however the MaskSet is ordered."""
    from landscape.store.results import mask_hashes

    hashes = np.array(mask_hashes(ms.rows()))
    return np.lexsort((ms.obs.index.astype(str).to_numpy(), hashes))


def cluster(
    ms,
    *,
    metric: str = "jaccard",
    method: str = "average",
    n_clusters: int | None = None,
    threshold: float | None = None,
    key_added: str = "cluster",
    copy: bool = False,
):
    """Agglomerative clustering (scipy) of the masks on ``obsp["dist_<metric>"]``.

    Parameters
    ----------
    ms
        MaskSet with distances (run :func:`landscape.tl.distances` first).
    metric
        ``"jaccard"`` or ``"hamming"``.
    method
        scipy linkage method. ``"centroid"``, ``"median"`` and ``"ward"`` assume Euclidean
        distances; on 0/1 masks ``sqrt`` of the Hamming count is Euclidean, Jaccard is not.
    n_clusters, threshold
        Give exactly one: cut the tree into at most ``n_clusters`` clusters, or at the
        cophenetic distance ``threshold``.
    key_added, copy
        ``obs`` column and ``uns`` key (default ``"cluster"``); work on a copy and return it.

    Returns
    -------
    MaskSet or None
        Writes ``obs[key_added]`` (categorical labels ``"1"``, ``"2"``, ...) and
        ``uns[key_added]`` with ``"linkage"`` (scipy's ``Z``), ``"obs_names"``
        (the masks ``Z`` indexes, in its order: sorted by their bits, so that ties are
        broken alike whatever the order of ``ms``) and ``"params"``.
    """
    if method not in METHODS:
        raise AnalysisError(f"method={method!r} is unknown; choose one of {METHODS}")
    if (n_clusters is None) == (threshold is None):
        raise AnalysisError("cluster: give exactly one of n_clusters= or threshold=")
    if n_clusters is not None and n_clusters < 1:
        raise AnalysisError(f"n_clusters={n_clusters} must be at least 1")
    dist = distance_slot(ms, metric)
    if len(ms) < 2:
        raise AnalysisError(f"cluster needs at least 2 masks, got {len(ms)}")
    ms = target(ms, copy)
    order = canonical_order(ms)  # ties between distances broken alike in any order of the set
    z = hierarchy.linkage(condensed(np.array(dist[np.ix_(order, order)], dtype=np.float64)), method=method)
    if n_clusters is not None:
        found = hierarchy.fcluster(z, n_clusters, criterion="maxclust")
    else:
        found = hierarchy.fcluster(z, threshold, criterion="distance")
    labels = np.empty(len(ms), dtype=found.dtype)
    labels[order] = found
    names = [str(k) for k in range(1, labels.max() + 1)]
    ms.obs[key_added] = pd.Categorical([str(k) for k in labels], categories=names)
    ms.uns[key_added] = {
        "params": {"metric": metric, "method": method, "n_clusters": n_clusters, "threshold": threshold},
        "linkage": z,
        "obs_names": [str(x) for x in ms.obs.index[order]],
    }
    return ms if copy else None
