"""The chance baseline: distances between two independent random masks of given sizes.

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

Masks searched inside an ER or partially frozen source share its locked weights and never
keep its left-out ones; their baseline is that of random masks inside the same source
(:mod:`landscape.tl._source_frame`): per layer ``I = L + Hypergeometric(F, K1 - L, K2 - L)``
with ``F`` free and ``L`` locked weights, the formulas above otherwise unchanged (``F = n``,
``L = 0`` is the dense network).

Over a group of masks the baseline describes a randomly chosen pair (within one network):
the mean of the pairwise expectations, and the sd from the law of total variance. Tables
report similarities (1 - distance), like :func:`landscape.tl.diversity`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from landscape.grouping import CONFIG, group_masks
from landscape.tl import _kernels

EXACT_SUPPORT = 200_000
MAX_EXACT_COMBOS = 256  # distinct (K1, K2) per layer summed exactly; beyond, the delta method
METRICS = ("jaccard", "hamming", "matching")


def in_a_source(obs: pd.DataFrame) -> np.ndarray:
    """Which masks were searched inside an ER or partially frozen source (bool per mask).

    Their masks share the source's left-out and locked weights, so two of them overlap more
    than uniformly random masks over whole layers do even when the search adds nothing: the
    whole-layer baseline does not describe them. Their chance level is that of random masks
    inside the same source where it can be redrawn (:mod:`landscape.tl._source_frame`);
    elsewhere the tools give no chance level, excess or test for them.
    """
    n = len(obs)
    if "method.source.kind" not in obs.columns:
        return np.zeros(n, dtype=bool)
    kind = obs["method.source.kind"].astype(object).where(obs["method.source.kind"].notna(), "dense")

    def field(name: str, default: float) -> np.ndarray:
        if name not in obs.columns:
            return np.full(n, default)
        return pd.to_numeric(obs[name], errors="coerce").fillna(default).to_numpy(dtype=float)

    er = (kind == "er").to_numpy() & (field("method.source.density", 1.0) < 1.0)
    frozen = (kind == "frozen").to_numpy() & (
        (field("method.source.pruned", 0.0) > 0) | (field("method.source.locked", 0.0) > 0)
    )
    # a kind this code does not know is never assumed to be the dense network
    unknown = ~kind.isin(["dense", "er", "frozen"]).to_numpy()
    return er | frozen | unknown


#: what the tables say in place of a chance level for masks searched inside a source whose
#: null cannot be drawn here (:mod:`landscape.tl._source_frame`), and for the tools that have
#: no null for sources at all
SOURCE_NOTE = (
    "no chance level for masks searched inside an ER or partially frozen source when its "
    "patterns cannot be redrawn from their run (imported masks, a MaskSet without its runs, "
    "two sources in one network, or sourced and unsourced masks pooled in one network) or for "
    "a tool without a null for sources: compare with random-mask runs of the same source"
)


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


def _pool(mean: np.ndarray, sd: np.ndarray) -> tuple[float, float]:
    """Moments of a mixture of pair distributions (law of total variance)."""
    return float(mean.mean()), float(np.sqrt(np.mean(sd**2) + mean.var()))


def layer_sizes(ms) -> tuple[np.ndarray, np.ndarray]:
    """Kept weights per mask and layer ``(n, L)`` and the layers' sizes ``(L,)``."""
    counts = _kernels.kept_counts(ms.words(), _kernels.layer_bounds(ms.layout))
    numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
    return counts, numel


def chance_similarity(counts, numel, metric: str, i: np.ndarray, j: np.ndarray, frame=None):
    """Per-pair chance *similarity* (mean, sd) per layer ``(p, L)`` and whole network ``(p,)``
    (similarity = 1 - distance; the sd is the distance's; ``frame`` as :func:`pair_moments`)."""
    dist = "hamming" if metric == "matching" else metric
    mean_l, sd_l, mean_w, sd_w = pair_moments(counts, numel, dist, i, j, frame)
    return 1 - mean_l, sd_l, 1 - mean_w, sd_w


def baseline_table(ms, metrics, per_layer: bool, groups) -> pd.DataFrame:
    """Tidy chance rows, one per group, metric and layer: ``group, <key columns>, metric,
    layer, n_pairs, chance_similarity, chance_similarity_sd, pooled, chance_null``.

    Pairs are the group's pairs within each network (:meth:`Group.pairs`);
    ``chance_similarity_sd`` is the sd of one randomly chosen pair of independent random
    masks, not an uncertainty of the mean.
    """
    from landscape.tl._source_frame import SourceFrames

    counts, numel = layer_sizes(ms)
    frames = SourceFrames(ms)
    rows = []
    for g in groups:
        networks = [pos for pos in g.networks.values() if len(pos) > 1]
        n_pairs = sum(len(pos) * (len(pos) - 1) // 2 for pos in networks)
        # each network's source (None: one without a usable null leaves the group without one)
        in_frames = [frames.of(pos) for pos in (networks or [g.positions[:1]])]
        known = all(f is not None for f in in_frames)
        for metric in metrics:
            if not known:
                mean, sd = np.full(len(numel) + 1, np.nan), np.full(len(numel) + 1, np.nan)
            elif n_pairs:
                mean, sd = _pooled_pairs(counts, numel, metric, networks, in_frames)
            else:  # a single mask: the chance level of a mask and an independent twin
                i = j = g.positions[:1]
                mean_l, sd_l, mean_w, sd_w = chance_similarity(counts, numel, metric, i, j, in_frames[0])
                cols = [_pool(mean_w, sd_w)] + [_pool(mean_l[:, k], sd_l[:, k]) for k in range(len(numel))]
                mean, sd = np.array(cols).T
            base = {
                "group": g.label,
                **g.key,
                **g.columns,
                "metric": metric,
                "n_pairs": n_pairs,
                "pooled": g.pooled_text(),
                "chance_null": _null(in_frames) if known else np.nan,
            }
            names = ["whole", *(ms.layout.names if per_layer else [])]
            for k, layer in enumerate(names):
                rows.append(
                    {
                        **base,
                        "layer": layer,
                        "chance_similarity": float(mean[k]),
                        "chance_similarity_sd": float(sd[k]),
                    }
                )
    return pd.DataFrame(rows)


def _null(frames) -> str:
    """``"layers"``, ``"source"`` or both (networks of a pooled group), as ``tl.diversity``."""
    from landscape.tl._source_frame import null_of

    return " + ".join(dict.fromkeys(null_of(f) for f in frames))


def _pooled_pairs(counts, numel, metric: str, networks, frames) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (whole network, then layers) of the chance similarity of a random pair of
    the networks' pairs, in one compiled pass per network (``frames``: each network's
    source; networks of the dense network share their exact tables)."""
    from landscape.tl import _pairsums

    dist = "hamming" if metric == "matching" else metric
    dense = [pos for pos, f in zip(networks, frames) if f.is_dense]
    parts = []
    if dense:
        exact, ranks, tmean, tsd = exact_tables(counts, numel, dist, dense)
        parts += [
            _pairsums.network_sums(pos, counts, numel, dist, (exact, rank, tmean, tsd))
            for pos, rank in zip(dense, ranks)
        ]
    for pos, frame in zip(networks, frames):
        if not frame.is_dense:
            exact, ranks, tmean, tsd = exact_tables(counts, numel, dist, [pos], frame)
            parts.append(
                _pairsums.network_sums(pos, counts, numel, dist, (exact, ranks[0], tmean, tsd), frame=frame)
            )
    return _pairsums.pooled_chance(parts)


def random_baseline(
    ms,
    *,
    metric: str | tuple[str, ...] = ("jaccard", "hamming"),
    per_layer: bool = True,
    groupby=CONFIG,
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """Expected similarity (mean, sd) of independent random masks with the observed sizes.

    Parameters
    ----------
    ms
        MaskSet.
    metric
        ``"jaccard"`` (Jaccard similarity), ``"hamming"`` (fraction of weights that agree,
        1 - normalised Hamming distance), ``"matching"`` (the same) or a tuple of them.
    per_layer
        Add one row per layer besides the whole network (``layer == "whole"``).
    groupby
        ``"config"`` (default): one group per configuration; columns: pool configurations
        (see :mod:`landscape.grouping`). Pairs are always taken within one network.
    key_added, copy
        ``uns`` key (default ``"random_baseline"``); with ``copy=True`` nothing is written to
        ``ms`` and only the table is returned.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, <group key>, metric, n_pairs, pooled, chance_null, layer,
        chance_similarity, chance_similarity_sd``; also stored in ``uns[key]["table"]``.
        ``chance_null`` says what the random masks are uniform over: ``"layers"``, or
        ``"source"`` for masks searched inside an ER or partially frozen source (its locked
        weights kept, its left-out ones never); NaN, with no chance level, where such a
        source cannot be redrawn from the masks' run.
    """
    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    from landscape.tl.distances import _metrics

    _metrics(metrics)
    table = baseline_table(ms, metrics, per_layer, group_masks(ms.obs, groupby))
    if not copy:
        ms.uns[key_added or "random_baseline"] = {
            "params": {
                "metric": list(metrics),
                "per_layer": per_layer,
                "groupby": _describe_groupby(groupby),
            },
            "table": table,
        }
    return table


def _describe_groupby(groupby):
    """``groupby`` as recorded in a tool's params: None (everything pooled) stays None, so a
    result of one grouping is never taken for another's."""
    if groupby is None:
        return None
    if isinstance(groupby, str):
        return groupby or CONFIG
    return list(groupby)
