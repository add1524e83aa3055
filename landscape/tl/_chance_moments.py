"""The law of the overlap of two independent random masks, and each metric's moments.

Two independent uniformly random masks with ``K1`` and ``K2`` kept weights among ``n``
share ``I ~ Hypergeometric(n, K1, K2)`` weights: ``E[I] = K1 K2 / n`` and
``Var[I] = K2 (K1/n) (1 - K1/n) (n - K2) / (n - 1)``. From ``I``:

- normalised Hamming ``(K1 + K2 - 2 I) / n``: mean and sd are linear in ``E[I]``, ``sd(I)``;
- matching ``1 - hamming``: same sd;
- Jaccard distance ``1 - I / (K1 + K2 - I)``: non-linear. Per layer its mean and sd are exact
  sums over the hypergeometric pmf when the support has at most ``EXACT_SUPPORT`` values,
  and a second-order delta-method approximation otherwise (relative error of order
  ``Var[I] / E[I]^2``, below 1e-6 for layers of ~10^5 weights at density 0.5).

Layers are independent, so the whole-network ``I`` has the summed mean and variance; its
Jaccard moments use the delta method (exact pmf when the network is one layer).

Inside an ER or partially frozen source with ``F`` free and ``L`` locked weights in a layer,
``I = L + Hypergeometric(F, K1 - L, K2 - L)``, the formulas above otherwise unchanged
(``F = n``, ``L = 0`` is the dense network).
"""

from __future__ import annotations

import numpy as np
from scipy import special

EXACT_SUPPORT = 200_000
MAX_EXACT_COMBOS = 256  # distinct (K1, K2) per layer summed exactly; beyond, the delta method


def hypergeom_moments(n, k1, k2) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the overlap of two independent random masks (arrays broadcast)."""
    n = np.asarray(n, dtype=np.float64)
    k1 = np.asarray(k1, dtype=np.float64)
    k2 = np.asarray(k2, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, k1 * k2 / n, 0.0)  # nothing free: nothing to share by chance
        var = np.where(n > 1, k2 * (k1 / n) * (1 - k1 / n) * (n - k2) / np.maximum(n - 1, 1), 0.0)
    return mean, np.maximum(var, 0.0)


def source_moments(free, locked, k1, k2) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the overlap of two random masks that keep the ``locked`` weights
    and choose the rest of their ``k1``, ``k2`` uniformly among ``free`` ones."""
    locked = np.asarray(locked, dtype=np.float64)
    mean, var = hypergeom_moments(free, np.asarray(k1) - locked, np.asarray(k2) - locked)
    return locked + mean, var


def jaccard_delta(mean_i, var_i, s) -> tuple[np.ndarray, np.ndarray]:
    """Delta-method mean and sd of ``1 - I / (s - I)`` with ``s = K1 + K2``."""
    mean_i, var_i, s = (np.asarray(x, dtype=np.float64) for x in (mean_i, var_i, s))
    with np.errstate(invalid="ignore", divide="ignore"):
        u = s - mean_i  # the expected union
        f = 1 - mean_i / u
        d1 = -s / u**2
        d2 = -2 * s / u**3
        mean = f + 0.5 * d2 * var_i
        sd = np.abs(d1) * np.sqrt(var_i)
    empty = s <= 0  # two empty masks: distance 0 by definition
    return np.where(empty, 0.0, mean), np.where(empty, 0.0, sd)


def _log_choose(n, k):
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def intersection_pmf(n: int, k1: int, k2: int) -> tuple[np.ndarray, np.ndarray]:
    """Support and pmf of the overlap of two independent random masks (hypergeometric)."""
    lo, hi = max(0, k1 + k2 - n), min(k1, k2)
    i = np.arange(lo, hi + 1)
    # log-gamma form of the hypergeometric pmf: as accurate as scipy.stats.hypergeom here and
    # a thousand times faster on supports of 10^4-10^5 values
    log_pmf = _log_choose(k1, i) + _log_choose(n - k1, k2 - i) - _log_choose(n, k2)
    pmf = np.exp(log_pmf - log_pmf.max())
    return i, pmf / pmf.sum()


def jaccard_exact(n: int, k1: int, k2: int, locked: int = 0) -> tuple[float, float]:
    """Exact mean and sd of the Jaccard distance by summing the hypergeometric pmf.

    ``n`` free weights of which the masks choose ``k1``, ``k2``; both also keep ``locked``.
    """
    size = k1 + k2 + 2 * locked
    if size == 0:
        return 0.0, 0.0
    i, pmf = intersection_pmf(n, k1, k2)
    shared = locked + i
    d = 1 - shared / (size - shared)
    mean = float(pmf @ d)
    return mean, float(np.sqrt(max(pmf @ (d - mean) ** 2, 0.0)))


def _jaccard_layer(n: int, k1: np.ndarray, k2: np.ndarray, moments=None, locked: int = 0):
    """Per-pair Jaccard mean/sd for one layer, exact per distinct (K1, K2) when affordable.

    Pairs are keyed by the ranks of their sizes among the distinct sizes, so finding the
    distinct (K1, K2) needs no sort of the pairs: with more than ``2 * MAX_EXACT_COMBOS``
    distinct sizes there are more than ``MAX_EXACT_COMBOS`` combinations (every size is in
    some pair) and the delta method, vectorised over the pairs, is used directly
    (``moments``: the pairs' overlap mean and variance when already known). ``n`` free
    weights and ``k1, k2`` chosen among them; ``locked`` more kept by both (a source).
    """
    lo, hi = np.minimum(k1, k2), np.maximum(k1, k2)
    sizes = _distinct(lo, hi)
    if len(sizes) <= 2 * MAX_EXACT_COMBOS:
        m = len(sizes)
        key = np.searchsorted(sizes, lo) * m + np.searchsorted(sizes, hi)
        present = np.flatnonzero(np.bincount(key.ravel(), minlength=m * m))
        combos = np.stack([sizes[present // m], sizes[present % m]], axis=1)
        small = (np.minimum(combos[:, 0], n - combos[:, 1]) + 1) <= EXACT_SUPPORT
        if len(combos) <= MAX_EXACT_COMBOS and small.all():  # fixed-k masks, a few densities
            exact = np.array([jaccard_exact(n, int(a), int(b), locked) for a, b in combos])
            combo_of = np.zeros(m * m, dtype=np.int64)
            combo_of[present] = np.arange(len(present))
            where = combo_of[key]
            return exact[where, 0], exact[where, 1]
    mean_i, var_i = moments if moments is not None else source_moments(n, locked, k1 + locked, k2 + locked)
    return jaccard_delta(mean_i, var_i, k1 + k2 + 2 * locked)


def _distinct(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sorted distinct values of two integer arrays, by counting when their range is small."""
    if lo.size == 0:
        return np.zeros(0, dtype=np.int64)
    first, last = int(lo.min()), int(hi.max())
    if last - first <= max(4 * lo.size, 1 << 20):
        seen = np.zeros(last - first + 1, dtype=bool)
        seen[lo - first] = True
        seen[hi - first] = True
        return np.flatnonzero(seen) + first
    return np.unique(np.concatenate([lo.ravel(), hi.ravel()]))


def exact_combos(n: int, networks) -> np.ndarray | None:
    """The distinct ``(K1, K2)`` (``K1 <= K2``) of the pairs within each network, for one
    layer of ``n`` weights (``networks``: each network's kept counts), or ``None`` when
    :func:`_jaccard_layer` would take the delta method for those pairs (more than
    ``MAX_EXACT_COMBOS`` combinations, or one whose support exceeds ``EXACT_SUPPORT``)."""
    found = []
    for k in networks:
        sizes, mult = np.unique(np.asarray(k, dtype=np.int64), return_counts=True)
        if len(sizes) * (len(sizes) - 1) // 2 > MAX_EXACT_COMBOS:
            return None
        a, b = np.triu_indices(len(sizes), 1)
        twice = sizes[mult > 1]  # a size held by two masks pairs with itself
        found.append(np.stack([np.r_[sizes[a], twice], np.r_[sizes[b], twice]], axis=1))
    combos = np.unique(np.concatenate(found), axis=0) if found else np.zeros((0, 2), np.int64)
    small = (np.minimum(combos[:, 0], n - combos[:, 1]) + 1) <= EXACT_SUPPORT
    return combos if len(combos) <= MAX_EXACT_COMBOS and small.all() else None


def exact_tables(counts: np.ndarray, numel: np.ndarray, metric: str, networks, frame=None):
    """What a compiled pass over the pairs of ``networks`` (positions, each a network of at
    least two masks) needs for the exact Jaccard moments, decided per layer as
    :func:`pair_moments` decides it for the same pairs (``frame``: the networks' common
    source, :class:`~landscape.tl._source_frame.SourceFrame`; None for the dense network).

    Returns ``exact (L,)`` bool, ``ranks`` (per network, ``(m, L)`` rank of each mask's count
    among the layer's distinct sizes) and ``mean, sd (L, d, d)`` (Jaccard distance, at
    ``[lo rank, hi rank]``).
    """
    n_layers = len(numel)
    free, locked = _frame_arrays(numel, frame)
    counts = counts - locked  # what the masks chose among the free weights
    exact = np.zeros(n_layers, dtype=bool)
    ranks = [np.zeros((len(pos), n_layers), dtype=np.int64) for pos in networks]
    found = []
    if metric == "jaccard":
        for li in range(n_layers):
            combos = exact_combos(int(free[li]), [counts[pos, li] for pos in networks])
            if combos is not None:
                exact[li] = True
                found.append((li, combos))
    width = max([len(np.unique(c)) for _, c in found], default=1)
    mean = np.zeros((n_layers, width, width))
    sd = np.zeros((n_layers, width, width))
    for li, combos in found:
        sizes = np.unique(combos)
        for pos, rank in zip(networks, ranks):
            rank[:, li] = np.searchsorted(sizes, counts[pos, li])
        lo, hi = np.searchsorted(sizes, combos[:, 0]), np.searchsorted(sizes, combos[:, 1])
        for (a, b), x, y in zip(combos, lo, hi):
            mean[li, x, y], sd[li, x, y] = jaccard_exact(int(free[li]), int(a), int(b), int(locked[li]))
    return exact, ranks, mean, sd


def _frame_arrays(numel: np.ndarray, frame) -> tuple[np.ndarray, np.ndarray]:
    """Free and locked weights per layer: the whole layer and none without a source."""
    if frame is None:
        return np.asarray(numel, dtype=np.int64), np.zeros(len(numel), dtype=np.int64)
    return np.asarray(frame.free, dtype=np.int64), np.asarray(frame.locked, dtype=np.int64)


def pair_moments(
    counts: np.ndarray, numel: np.ndarray, metric: str, i: np.ndarray, j: np.ndarray, frame=None
):
    """Per-pair baseline mean and sd, per layer ``(p, L)`` and whole network ``(p,)``
    (``frame``: the masks' source, None for the dense network)."""
    k1, k2 = counts[i], counts[j]  # (p, L)
    free, locked = _frame_arrays(numel, frame)
    mean_i, var_i = source_moments(free, locked, k1, k2)
    if metric == "jaccard":
        cols = [
            _jaccard_layer(
                int(free[li]),
                k1[:, li] - locked[li],
                k2[:, li] - locked[li],
                (mean_i[:, li], var_i[:, li]),
                int(locked[li]),
            )
            for li in range(len(numel))
        ]
        mean_l = np.stack([c[0] for c in cols], 1)
        sd_l = np.stack([c[1] for c in cols], 1)
        if len(numel) == 1:
            return mean_l, sd_l, mean_l[:, 0], sd_l[:, 0]
        mean_w, sd_w = jaccard_delta(mean_i.sum(1), var_i.sum(1), (k1 + k2).sum(1))
        return mean_l, sd_l, mean_w, sd_w
    total = numel.sum()
    mean_l = (k1 + k2 - 2 * mean_i) / numel
    sd_l = 2 * np.sqrt(var_i) / numel
    mean_w = (k1 + k2 - 2 * mean_i).sum(1) / total
    sd_w = 2 * np.sqrt(var_i.sum(1)) / total
    if metric == "matching":
        mean_l, mean_w = 1 - mean_l, 1 - mean_w
    return mean_l, sd_l, mean_w, sd_w
