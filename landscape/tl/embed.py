"""Low-dimensional embeddings of masks: PCA, classical MDS, t-SNE and UMAP.

PCA never unpacks the masks: for 0/1 vectors the Gram matrix ``X X^T`` is the intersection
matrix, and the PCA scores are the top eigenvectors of the double-centred Gram matrix scaled
by the square roots of their eigenvalues (exact, whatever the number of weights). Classical
MDS does the same with ``-D**2 / 2`` (so PCA equals classical MDS on ``sqrt(Hamming)``).
t-SNE and UMAP run on the precomputed distance matrix. Nothing here needs more than the
``n x n`` matrices: above ``DENSE_EIGEN_MAX`` masks PCA and MDS take only the top
eigenpairs (Lanczos, ``scipy.sparse.linalg.eigsh``) instead of a full eigendecomposition;
PCA's explained-variance ratio is then relative to the trace (the total variance, the same
number), while MDS records no ``eigenvalue_ratio`` (the sum of the positive eigenvalues
would need all of them).
"""

from __future__ import annotations

import warnings

import numpy as np

from landscape.errors import AnalysisError
from landscape.tl._utils import distance_slot, intersection_slot, random_state, target

METHODS = ("pca", "mds", "tsne", "umap")
SMALL_TSNE = 2000  # masks; below this t-SNE runs on one thread
DENSE_EIGEN_MAX = 3000  # masks; above this PCA and MDS compute only the top eigenpairs


def _double_centre(matrix: np.ndarray) -> np.ndarray:
    """``H M H`` with ``H`` the centring matrix, in place on ``matrix`` (a float64 copy)."""
    matrix -= matrix.mean(axis=0, keepdims=True)
    matrix -= matrix.mean(axis=1, keepdims=True)
    return matrix


def _top_eigen(b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Scores of the top ``k`` eigenpairs of a symmetric matrix, every eigenvalue (descending;
    None above ``DENSE_EIGEN_MAX`` masks, where only the top ``k`` are computed) and the top
    ones clipped at zero."""
    n = b.shape[0]
    if n > DENSE_EIGEN_MAX and k < n - 1:
        from scipy.sparse.linalg import eigsh

        # Lanczos on the dense matrix: matrix-vector products only, no O(n^3) factorisation;
        # a fixed start vector keeps the result deterministic
        start = np.random.default_rng(0).random(n)
        values, vectors = eigsh(b, k=k, which="LA", v0=start)
        everything = None
    else:
        b += b.T  # symmetrise in place: 0.5 * (b + b.T) without another n x n array
        b *= 0.5
        values, vectors = np.linalg.eigh(b)
        everything = values
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    everything = values if everything is not None else None
    # fix the sign so that the largest entry of each component is positive (deterministic)
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
    vectors = vectors * np.where(signs == 0, 1, signs)
    top = np.clip(values[:k], 0, None)
    scores = vectors[:, :k] * np.sqrt(top)
    if scores.shape[1] < k:  # fewer masks than components: pad with zeros
        scores = np.hstack([scores, np.zeros((n, k - scores.shape[1]))])
        top = np.concatenate([top, np.zeros(k - len(top))])
    return scores, everything, top


def _pca(ms, n_components: int):
    gram = _double_centre(np.array(intersection_slot(ms), dtype=np.float64))
    trace = float(np.trace(gram))  # the total variance x (n - 1): a centred Gram matrix is PSD
    scores, values, top = _top_eigen(gram, n_components)
    total = float(np.clip(values, 0, None).sum()) if values is not None else trace
    ratio = top / total if total > 0 else np.zeros_like(top)
    n = len(ms)
    info = {"explained_variance": top / max(n - 1, 1), "explained_variance_ratio": ratio}
    return scores, info


def _mds(ms, metric: str, n_components: int):
    b = np.array(distance_slot(ms, metric), dtype=np.float64)
    b **= 2
    b *= -0.5
    scores, values, top = _top_eigen(_double_centre(b), n_components)
    if values is None:  # the share of the positive eigenvalues needs all of them
        return scores, {"eigenvalues": top}
    positive = float(np.clip(values, 0, None).sum())
    ratio = top / positive if positive > 0 else np.zeros_like(top)
    return scores, {"eigenvalues": values[:n_components], "eigenvalue_ratio": ratio}


def _tsne(ms, metric: str, n_components: int, seed: int, kwargs: dict):
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    dist = np.clip(distance_slot(ms, metric), 0, None)
    n = len(ms)
    params = {"perplexity": min(30.0, (n - 1) / 3), "init": "random", "random_state": seed}
    if n_components > 3:
        params["method"] = "exact"  # Barnes-Hut supports at most 3 components
    params.update(kwargs)
    model = TSNE(n_components=n_components, metric="precomputed", **params)
    # On small sets OpenMP threads only add start-up and contention with the other runtimes
    # in the process (numba, torch); a 5-mask fit went from seconds to well under one.
    with threadpool_limits(limits=1 if n <= SMALL_TSNE else None):
        coords = model.fit_transform(dist)
    return coords, {"kl_divergence": float(model.kl_divergence_), "options": params}


def _umap(ms, metric: str, n_components: int, seed: int, kwargs: dict):
    import umap  # slow to import (numba); only here

    dist = np.clip(distance_slot(ms, metric), 0, None)
    n = len(ms)
    params = {"n_neighbors": min(15, n - 1), "random_state": seed}
    if n < 10:  # the spectral initialisation fails on tiny graphs
        params["init"] = "random"
    params.update(kwargs)
    model = umap.UMAP(n_components=n_components, metric="precomputed", **params)
    with warnings.catch_warnings():
        # a fixed random_state disables parallelism: expected, and the reason runs repeat
        warnings.filterwarnings("ignore", message=".*n_jobs.*overridden.*")
        warnings.filterwarnings("ignore", message=".*using precomputed metric.*")
        return model.fit_transform(dist), {"options": params}


def embed(
    ms,
    *,
    method: str = "pca",
    metric: str = "jaccard",
    n_components: int = 2,
    rng=None,
    key_added: str | None = None,
    copy: bool = False,
    **kwargs,
):
    """Embed the masks in ``n_components`` dimensions.

    Parameters
    ----------
    ms
        MaskSet; needs :func:`landscape.tl.distances` first (``obsp["intersection"]`` for
        PCA, ``obsp["dist_<metric>"]`` for the others).
    method
        ``"pca"`` (exact, from the intersection matrix; ``metric`` is not used), ``"mds"``
        (classical MDS), ``"tsne"`` (scikit-learn, ``init="random"``, perplexity
        ``min(30, (n-1)/3)``) or ``"umap"`` (umap-learn, ``n_neighbors=min(15, n-1)``,
        ``init="random"`` below 10 masks).
    metric
        ``"jaccard"`` or ``"hamming"``.
    n_components
        Output dimensions.
    rng
        int or numpy Generator; required by t-SNE and UMAP (their ``random_state``).
    key_added, copy
        ``obsm`` key (default ``"X_<method>"``) and ``uns`` key (default ``<method>``); work on
        a copy and return it.
    **kwargs
        Passed to ``TSNE`` or ``UMAP`` (overriding the defaults above).

    Returns
    -------
    MaskSet or None
        Writes ``obsm["X_<method>"]`` float64 ``(n, n_components)`` and ``uns[<method>]``
        (``params`` and, for PCA, ``explained_variance_ratio``; for MDS the eigenvalues).
    """
    if method not in METHODS:
        raise AnalysisError(f"method={method!r} is unknown; choose one of {METHODS}")
    if n_components < 1:
        raise AnalysisError(f"n_components={n_components} must be at least 1")
    n = len(ms)
    if n < 2 or (method in ("tsne", "umap") and n < 3):
        raise AnalysisError(f"{method} needs at least {2 if method in ('pca', 'mds') else 3} masks, got {n}")
    if kwargs and method in ("pca", "mds"):
        raise AnalysisError(f"{method} takes no extra options, got {sorted(kwargs)}")
    seed = random_state(rng) if method in ("tsne", "umap") else None
    ms = target(ms, copy)
    if method == "pca":
        coords, info = _pca(ms, n_components)
    elif method == "mds":
        coords, info = _mds(ms, metric, n_components)
    elif method == "tsne":
        coords, info = _tsne(ms, metric, n_components, seed, kwargs)
    else:
        coords, info = _umap(ms, metric, n_components, seed, kwargs)
    ms.obsm[key_added or f"X_{method}"] = np.asarray(coords, dtype=np.float64)
    params = {"method": method, "metric": None if method == "pca" else metric, "n_components": n_components}
    # the options the embedding ran with, defaults included (a changed default is seen)
    params.update({"random_state": seed, **info.pop("options", kwargs)})
    ms.uns[key_added or method] = {"params": params, **info}
    return ms if copy else None


def pca(ms, *, n_components: int = 2, key_added: str | None = None, copy: bool = False):
    """Exact PCA of the masks from the intersection matrix; see :func:`embed`."""
    return embed(ms, method="pca", n_components=n_components, key_added=key_added, copy=copy)


def mds(ms, *, metric: str = "jaccard", n_components: int = 2, key_added=None, copy: bool = False):
    """Classical MDS on ``obsp["dist_<metric>"]``; see :func:`embed`."""
    return embed(ms, method="mds", metric=metric, n_components=n_components, key_added=key_added, copy=copy)


def tsne(ms, *, rng, metric: str = "jaccard", n_components: int = 2, key_added=None, copy=False, **kwargs):
    """t-SNE on ``obsp["dist_<metric>"]``; see :func:`embed`."""
    return embed(
        ms,
        method="tsne",
        metric=metric,
        n_components=n_components,
        rng=rng,
        key_added=key_added,
        copy=copy,
        **kwargs,
    )


def umap(ms, *, rng, metric: str = "jaccard", n_components: int = 2, key_added=None, copy=False, **kwargs):
    """UMAP on ``obsp["dist_<metric>"]``; see :func:`embed`."""
    return embed(
        ms,
        method="umap",
        metric=metric,
        n_components=n_components,
        rng=rng,
        key_added=key_added,
        copy=copy,
        **kwargs,
    )


def per_network(ms, embed_part, min_masks: int) -> tuple[np.ndarray | None, dict, dict]:
    """Embed each network's masks on their own: distances between masks of two random
    networks say nothing about masks (and would split one embedding by network).

    ``embed_part(part)`` embeds the MaskSet of one network's masks and returns its coordinates
    and its ``uns`` slot; networks of fewer than ``min_masks`` masks are left out (NaN rows).
    Returns the coordinates of every mask (None when no network was embedded), each extra
    entry of the slots by network (``{"eigenvalue_ratio": {weight_seed: ...}}``; keyed by
    :func:`landscape.networks.network_values`) and the parameters of the last slot. A network
    is a weight seed and what it draws: masks of one seed over weights drawn by different
    initialisers are embedded apart.
    """
    from landscape.networks import network_values

    nets = network_values(ms.obs)
    coords, shares, params = None, {}, {}
    for net in dict.fromkeys(nets):
        pos = np.flatnonzero([n == net for n in nets])
        if len(pos) < min_masks:
            continue
        found, info = embed_part(ms[pos])
        found = np.asarray(found, dtype=np.float64)
        if coords is None:
            coords = np.full((len(ms), found.shape[1]), np.nan)
        coords[pos] = found
        params = info.get("params", params)
        for key, value in info.items():
            if key != "params":
                shares.setdefault(key, {})[net] = value
    return coords, shares, params
