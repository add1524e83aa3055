"""One compiled pass over the pairs of one network: the sums behind the diversity tables and
the chance baseline, without per-pair arrays.

For the masks ``pos`` of one network, each pair ``a < b`` gets its chance similarity and
its variance (the formulas of :mod:`landscape.tl.baseline`, per layer and whole network,
computed in the pass from the two masks' per-layer counts and the network's free and locked
weights per layer) and, when distances are given,
its observed similarity ``1 - distance``. Accumulated per column (whole network, then
layers): pair totals, row sums (the pairs that contain each mask, for the jackknife), sums
of deviations from the network's first pair (for spreads without cancellation), min, max
and the summed null variance. Pair totals add one mask's partial sums at a time, so their
rounding grows with the number of masks, not of pairs.

Imported only when a table is computed, so numba never loads with ``landscape.tl``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

# rows of the accumulator array
SIM, SIM_DEV, SIM_DEV2, EXCESS, CHANCE, CHANCE_DEV, CHANCE_DEV2, NULL_VAR = range(8)


@njit(cache=True, nogil=True, inline="always")
def _jaccard_delta(mean_i, var_i, s):
    """Delta-method mean and sd of the Jaccard distance (``_chance_moments.jaccard_delta``)."""
    if s <= 0:
        return 0.0, 0.0
    u = s - mean_i
    f = 1 - mean_i / u
    d1 = -s / (u * u)
    d2 = -2 * s / u**3
    return f + 0.5 * d2 * var_i, abs(d1) * math.sqrt(var_i)


@njit(cache=True, nogil=True, inline="always")
def _chance_pair(counts, pa, pb, rank, a, b, numel, free, locked, jaccard, exact, tmean, tsd, chance, cvar):
    """Chance similarity and its variance of the pair of masks ``pa, pb`` (rows ``a, b`` of
    ``rank``), whole network in column 0. Per layer the masks keep ``locked`` weights and
    choose the rest among ``free`` ones (``free = numel``, ``locked = 0`` without a source)."""
    n_layers = numel.size
    total_mean = 0.0
    total_var = 0.0
    total_size = 0
    total_hamming = 0.0
    for li in range(n_layers):
        n = float(free[li])
        shared = float(locked[li])
        k1, k2 = float(counts[pa, li]) - shared, float(counts[pb, li]) - shared
        mean_i = shared
        if free[li] > 0:
            mean_i += k1 * k2 / n
        var_i = 0.0
        if free[li] > 1:
            var_i = k2 * (k1 / n) * (1 - k1 / n) * (n - k2) / max(n - 1, 1.0)
        var_i = max(var_i, 0.0)
        size = counts[pa, li] + counts[pb, li]
        total_mean += mean_i
        total_var += var_i
        total_size += size
        if jaccard:
            if exact[li]:
                lo, hi = min(rank[a, li], rank[b, li]), max(rank[a, li], rank[b, li])
                mean, sd = tmean[li, lo, hi], tsd[li, lo, hi]
            else:
                mean, sd = _jaccard_delta(mean_i, var_i, float(size))
        else:
            distance = float(size) - 2 * mean_i
            total_hamming += distance
            mean, sd = distance / float(numel[li]), 2 * math.sqrt(var_i) / float(numel[li])
        chance[li + 1] = 1 - mean
        cvar[li + 1] = sd * sd
    if jaccard and n_layers == 1:
        chance[0], cvar[0] = chance[1], cvar[1]
        return
    if jaccard:
        mean, sd = _jaccard_delta(total_mean, total_var, float(total_size))
    else:
        n_total = float(numel.sum())
        mean, sd = total_hamming / n_total, 2 * math.sqrt(total_var) / n_total
    chance[0] = 1 - mean
    cvar[0] = sd * sd


@njit(cache=True, nogil=True)
def _network_pass(pos, whole, layered, n_sim, counts, numel, free, locked, jaccard, exact, rank, tmean, tsd):
    m = pos.size
    n_cols = numel.size + 1
    acc = np.zeros((8, n_cols))
    part = np.zeros((8, n_cols))
    sim_rows = np.zeros((m, n_sim))
    excess_rows = np.zeros((m, n_sim))
    low = np.full(n_sim, np.inf)
    high = np.full(n_sim, -np.inf)
    shift_sim = np.zeros(n_sim)
    shift_chance = np.zeros(n_cols)
    chance = np.zeros(n_cols)
    cvar = np.zeros(n_cols)
    for a in range(m):
        pa = pos[a]
        part[:] = 0.0
        for b in range(a + 1, m):
            pb = pos[b]
            _chance_pair(
                counts, pa, pb, rank, a, b, numel, free, locked, jaccard, exact, tmean, tsd, chance, cvar
            )
            first = a == 0 and b == 1
            for k in range(n_cols):
                c = chance[k]
                if first:
                    shift_chance[k] = c
                dc = c - shift_chance[k]
                part[CHANCE, k] += c
                part[CHANCE_DEV, k] += dc
                part[CHANCE_DEV2, k] += dc * dc
                part[NULL_VAR, k] += cvar[k]
            for k in range(n_sim):
                s = 1.0 - (whole[pa, pb] if k == 0 else layered[pa, pb, k - 1])
                if first:
                    shift_sim[k] = s
                ds = s - shift_sim[k]
                e = s - chance[k]
                part[SIM, k] += s
                part[SIM_DEV, k] += ds
                part[SIM_DEV2, k] += ds * ds
                part[EXCESS, k] += e
                low[k] = min(low[k], s)
                high[k] = max(high[k], s)
                sim_rows[a, k] += s
                sim_rows[b, k] += s
                excess_rows[a, k] += e
                excess_rows[b, k] += e
        acc += part
    return acc, sim_rows, excess_rows, low, high


@dataclass
class PairSums:
    """Sums over the ``n_pairs`` pairs of one network (arrays per column: whole, layers)."""

    n_masks: int
    n_pairs: int
    acc: np.ndarray  # (8, 1 + L), rows named by the constants above
    sim_rows: np.ndarray  # (m, n_sim): sum of the similarities of the pairs with each mask
    excess_rows: np.ndarray  # (m, n_sim): the same for similarity - chance
    sim_min: np.ndarray
    sim_max: np.ndarray

    def variance(self, dev: int, dev2: int, ddof: int) -> np.ndarray:
        """Variance over the pairs from the shifted sums (rows ``dev``, ``dev2`` of ``acc``);
        0 where fewer than ``ddof + 1`` pairs."""
        p = self.n_pairs
        if p - ddof < 1:
            return np.zeros(self.acc.shape[1])
        d, d2 = self.acc[dev], self.acc[dev2]
        return np.maximum(d2 - d * d / p, 0.0) / (p - ddof)


def network_sums(pos, counts, numel, metric: str, tables, whole=None, layered=None, frame=None) -> PairSums:
    """:class:`PairSums` of the pairs of masks ``pos`` (at least two) of one network.

    ``tables``: the exact Jaccard moments per layer, ``(exact, rank, mean, sd)`` from
    :func:`landscape.tl._chance_moments.exact_tables` for these masks (``rank`` row per mask of
    ``pos``). ``whole``/``layered``: distance matrices ``(n, n)`` and ``(n, n, L)``; without
    ``whole`` only the chance columns are summed. ``frame``: the network's source
    (:class:`landscape.tl._source_frame.SourceFrame`), None for the dense network.
    """
    pos = np.ascontiguousarray(pos, dtype=np.int64)
    n_sim = 0 if whole is None else (1 if layered is None else 1 + len(numel))
    whole = np.zeros((1, 1)) if whole is None else whole
    layered = np.zeros((1, 1, 1)) if layered is None else layered
    exact, rank, tmean, tsd = tables
    numel = np.ascontiguousarray(numel, dtype=np.int64)
    free = numel if frame is None else np.ascontiguousarray(frame.free, dtype=np.int64)
    locked = np.zeros_like(numel) if frame is None else np.ascontiguousarray(frame.locked, dtype=np.int64)
    acc, sim_rows, excess_rows, low, high = _network_pass(
        pos, whole, layered, n_sim, np.ascontiguousarray(counts, dtype=np.int64),
        numel, free, locked, metric == "jaccard", exact, rank, tmean, tsd,
    )  # fmt: skip
    m = len(pos)
    return PairSums(m, m * (m - 1) // 2, acc, sim_rows, excess_rows, low, high)


def pooled_chance(parts: list[PairSums]) -> tuple[np.ndarray, np.ndarray]:
    """Chance similarity of a random pair of several networks' pairs (per column): the mean
    over all pairs and the sd of the mixture (mean null variance + variance of the pairs'
    means, the networks' deviations combined without cancellation)."""
    n = np.array([p.n_pairs for p in parts], dtype=np.float64)[:, None]
    acc = np.stack([p.acc for p in parts])
    total = n.sum()
    mean = acc[:, CHANCE].sum(axis=0) / total
    within = np.maximum(acc[:, CHANCE_DEV2] - acc[:, CHANCE_DEV] ** 2 / n, 0.0).sum(axis=0)
    between = (n * (acc[:, CHANCE] / n - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(acc[:, NULL_VAR].sum(axis=0) / total + (within + between) / total)
