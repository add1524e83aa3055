"""Exact pairwise distances between the masks of a MaskSet."""

from __future__ import annotations

import numpy as np

from landscape.errors import AnalysisError
from landscape.tl import _kernels
from landscape.tl._utils import target

METRICS = ("jaccard", "hamming", "matching")


def _metrics(metric) -> tuple[str, ...]:
    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise AnalysisError(f"metric={bad[0] if bad else metric!r} is unknown; choose from {METRICS}")
    return metrics


def _slot(metric: str) -> str:
    return "sim_matching" if metric == "matching" else f"dist_{metric}"


def distances(
    ms,
    *,
    metric: str | tuple[str, ...] = ("jaccard", "hamming"),
    per_layer: bool = False,
    backend: str = "auto",
    device: str | None = None,
    key_added: str | None = None,
    copy: bool = False,
):
    """Exact pairwise Jaccard/Hamming distances (and matching similarity) between masks.

    All metrics derive from the integer intersection counts, computed once by the fastest
    exact route (see :mod:`landscape.tl._kernels`). Results equal
    ``scipy.spatial.distance.pdist`` on the unpacked masks, bit for bit.

    Parameters
    ----------
    ms
        MaskSet.
    metric
        ``"jaccard"`` (distance ``1 - |A&B| / |A|B|``, and ``0`` for two empty masks),
        ``"hamming"`` (differing bits / n_weights, scipy's normalisation), ``"matching"``
        (fraction of agreeing positions, a similarity: ``1 - hamming``), or a tuple of them.
    per_layer
        Also store per-layer matrices ``(n, n, L)``, each normalised by its layer's size.
    backend, device
        ``"auto"``, ``"numba"``, ``"numpy"``, ``"int8"`` or ``"float32"``; ``device="cuda"``
        runs the GEMM routes on a GPU.
    key_added
        Prefix of the slots and key in ``uns`` (default: no prefix, ``uns["distances"]``).
    copy
        Work on a copy and return it.

    Returns
    -------
    MaskSet or None
        The copy when ``copy=True``. Slots written: ``obsp["intersection"]`` int64,
        ``obsp["dist_jaccard"]``, ``obsp["dist_hamming"]``, ``obsp["sim_matching"]`` float64
        (as asked), with ``*_layers`` versions when ``per_layer``.
    """
    metrics = _metrics(metric)
    route = _kernels.resolve_backend(backend, device)
    ms = target(ms, copy)
    bounds = _kernels.layer_bounds(ms.layout)
    layers = _kernels.intersection_counts(ms.words(), bounds, backend=route, device=device)
    fill_from_counts(ms, layers, metrics, per_layer, key_added=key_added, backend=route, device=device)
    return ms if copy else None


def fill_from_counts(
    ms, layers: np.ndarray, metrics, per_layer: bool, key_added: str | None = None, **provenance
) -> None:
    """Write the slots of :func:`distances` from per-layer intersection counts ``(n, n, L)``
    (the diagonal holds each mask's kept count), e.g. counts kept from an earlier run."""
    metrics = _metrics(metrics)
    whole = layers.sum(axis=2)
    prefix = f"{key_added}_" if key_added else ""
    ms.obsp[prefix + "intersection"] = whole
    numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
    for m in metrics:
        ms.obsp[prefix + _slot(m)] = _metric(whole, m, ms.layout.n_weights)
    if per_layer:
        ms.obsp[prefix + "intersection_layers"] = layers
        for m in metrics:
            ms.obsp[prefix + _slot(m) + "_layers"] = _metric(layers, m, numel)
    ms.uns[key_added or "distances"] = {
        "params": {"metric": list(metrics), "per_layer": per_layer, **provenance},
        "layers": ms.layout.names,
        "n_weights": ms.layout.n_weights,
    }


def _metric(inter: np.ndarray, metric: str, n_weights) -> np.ndarray:
    if metric == "jaccard":
        return _kernels.jaccard(inter)
    if metric == "hamming":
        return _kernels.hamming(inter, n_weights)
    return _kernels.matching(inter, n_weights)
