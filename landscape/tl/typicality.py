"""How typical each mask is of its group, and whether typical masks are the accurate ones.

Two measures per mask, both within its group (configuration) and network:

- ``typicality``: its mean similarity to the other masks;
- ``consensus_similarity``: its similarity to the consensus of the *other* masks (the weights
  kept by at least half of them), so a mask never counts towards its own consensus.

The relation to accuracy is Spearman's rank correlation within each group and network. Its
test is a permutation test of H0 "accuracy is exchangeable across the masks of a network"
(accuracies are permuted, the masks stay): exact enumeration for up to 8 masks, else
``n_permutations`` random permutations. Across networks the statistic is the mean correlation
and the permutations run within each network (a stratified test); the interval is a t
interval over networks.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.tl import _stats
from landscape.tl._utils import distance_slot
from landscape.tl.baseline import _describe_groupby

MEASURES = ("typicality", "consensus_similarity")
EXACT_UP_TO = 8  # 8! = 40320 orderings


def consensus_similarity(ms, positions: np.ndarray, metric: str = "jaccard") -> np.ndarray:
    """Similarity of each of ``positions``' masks to the consensus of the others (weights kept
    by at least half of the other masks), whole network."""
    m = len(positions)
    if m < 2:
        return np.full(m, np.nan)
    rows = ms.rows(positions)
    inter = np.zeros(m)
    union = np.zeros(m)
    agree = np.zeros(m)
    total = 0
    for spec in ms.layout:
        bits = np.unpackbits(rows[:, spec.byte_slice], axis=1, count=spec.numel, bitorder="little")
        freq = bits.sum(axis=0, dtype=np.int64)
        others = freq[None, :] - bits  # (m, numel): votes of the other masks
        cons = 2 * others >= (m - 1)
        own = bits.astype(bool)
        inter += (own & cons).sum(axis=1)
        union += (own | cons).sum(axis=1)
        agree += (own == cons).sum(axis=1)
        total += spec.numel
    if metric == "jaccard":
        return np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    if metric == "hamming":
        return agree / total
    raise AnalysisError(f"metric: expected 'jaccard' or 'hamming', got {metric!r}")


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..m of a 1-D array, ties sharing their average rank (as Spearman's needs)."""
    _, inverse, counts = np.unique(np.asarray(x, dtype=float), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse.ravel()]


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``a`` (..., m) with ``b`` (m,) along the last axis."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean()
    den = np.sqrt((a**2).sum(axis=-1) * (b**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=-1) / den, np.nan)


def _permuted_ranks(ranks: np.ndarray, n: int, rng: np.random.Generator, exact: bool) -> np.ndarray:
    if exact:  # every ordering once
        return ranks[np.array(list(itertools.permutations(range(len(ranks)))))]
    return rng.permuted(np.tile(ranks, (n, 1)), axis=1)


def why_unusable(x: np.ndarray, y: np.ndarray) -> str:
    """Why one network's ``(measure, accuracy)`` has no rank correlation ("" when it has one)."""
    if len(x) < 3:
        return "fewer than 3 masks"
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
        return "missing values"
    if np.ptp(y) == 0:
        return "equal accuracies"
    if np.ptp(x) == 0:
        return "equal measures"
    return ""


def spearman_test(
    pairs: list[tuple[np.ndarray, np.ndarray]], n_permutations: int, rng
) -> tuple[float, float]:
    """Mean Spearman correlation over networks of ``(measure, accuracy)`` and its two-sided
    stratified permutation p-value; networks without a correlation (:func:`why_unusable`)
    are left out."""
    pairs = [(x, y) for x, y in pairs if not why_unusable(x, y)]
    if not pairs:
        return np.nan, np.nan
    observed = float(np.mean([_corr(_ranks(y), _ranks(x)) for x, y in pairs]))
    exact = len(pairs) == 1 and len(pairs[0][0]) <= EXACT_UP_TO
    draws = math.factorial(len(pairs[0][0])) if exact else n_permutations
    null = np.zeros(draws)
    for x, y in pairs:
        null += _corr(_permuted_ranks(_ranks(y), draws, rng, exact), _ranks(x))
    null /= len(pairs)
    extreme = np.sum(np.abs(null) >= abs(observed) - 1e-12)
    p = extreme / draws if exact else (1 + extreme) / (draws + 1)
    return observed, float(p)


def typicality(
    ms,
    *,
    groupby=CONFIG,
    metric: str = "jaccard",
    accuracy: str = "test_acc",
    n_permutations: int = 9999,
    rng: int = 0,
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """Per mask, how typical it is of its group; per group and network, how that relates to
    accuracy (see the module docstring).

    Needs ``obsp["dist_<metric>"]`` from :func:`landscape.tl.distances`.

    Parameters
    ----------
    ms
        MaskSet.
    groupby
        ``"config"`` (default): one group per configuration (see :mod:`landscape.grouping`).
    metric
        ``"jaccard"`` or ``"hamming"`` (similarity = 1 - distance).
    accuracy
        obs column the measures are correlated with (NaN rows when it is absent).
    n_permutations, rng
        Random permutations of the test (where it is not exact) and their seed.
    key_added, copy
        ``uns`` key (default ``"typicality"``); ``obs`` gets the columns ``typicality`` and
        ``consensus_similarity``. With ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per group, network (``weight_seed``, ``"all"`` for the across-network row of
        a group with several) and measure: ``group, weight_seed, measure, n_masks,
        n_networks, spearman, ci_low, ci_high`` (t over networks; NaN with fewer than two),
        ``p_value``, ``n_networks_dropped`` and ``dropped`` (which networks have no
        correlation and why: fewer than 3 masks, equal accuracies or measures, missing
        values). A network's row keeps its ``n_masks`` and has ``n_networks`` 0 when it is
        dropped; the ``"all"`` row counts only the masks and networks its mean, interval and
        test run over.
    """
    sim = 1.0 - distance_slot(ms, metric)
    n = len(ms)
    values = {name: np.full(n, np.nan) for name in MEASURES}
    acc = pd.to_numeric(ms.obs[accuracy], errors="coerce").to_numpy() if accuracy in ms.obs else None
    gen = np.random.default_rng(rng)
    rows = []
    for g in pooled_groups(ms, groupby):
        per_net = {name: [] for name in MEASURES}
        for net, pos in g.networks.items():
            if len(pos) < 2:
                continue
            block = sim[np.ix_(pos, pos)]
            values["typicality"][pos] = (block.sum(axis=1) - np.diag(block)) / (len(pos) - 1)
            values["consensus_similarity"][pos] = consensus_similarity(ms, pos, metric)
            for name in MEASURES:
                y = acc[pos] if acc is not None else np.full(len(pos), np.nan)
                per_net[name].append((net, values[name][pos], y))
        for name in MEASURES:
            nets = per_net[name]
            why = {net: "no accuracy column" if acc is None else why_unusable(x, y) for net, x, y in nets}
            for net, x, y in nets:
                rho, p = spearman_test([(x, y)], n_permutations, gen) if not why[net] else (np.nan, np.nan)
                rows.append(_row(g, net, name, len(x), int(not why[net]), rho, np.nan, np.nan, p, why[net]))
            if len(nets) > 1:
                # the across-network row runs over the networks that have a correlation only:
                # its counts and interval must describe the mean it reports
                used = [(net, x, y) for net, x, y in nets if not why[net]]
                rhos = np.array([r["spearman"] for r in rows[-len(nets) :] if np.isfinite(r["spearman"])])
                lo, hi = np.nan, np.nan
                if len(rhos) > 1:
                    stats = _stats.across_networks(rhos)
                    lo, hi = stats["ci_low"], stats["ci_high"]
                rho, p = spearman_test([(x, y) for _, x, y in used], n_permutations, gen)
                n_masks = sum(len(x) for _, x, _ in used)
                dropped = "; ".join(f"weight seed {net}: {why[net]}" for net, _, _ in nets if why[net])
                rows.append(
                    _row(g, "all", name, n_masks, len(used), rho, lo, hi, p, dropped, len(nets) - len(used))
                )
    table = pd.DataFrame(rows)
    if not copy:
        for name in MEASURES:
            ms.obs[name] = values[name]
        ms.uns[key_added or "typicality"] = {
            "params": {
                "metric": metric,
                "accuracy": accuracy,
                "groupby": _describe_groupby(groupby),
                "test": "Spearman correlation; permutation test of accuracies within each network",
                "n_permutations": n_permutations,
                "rng": rng,
            },
            "table": table,
        }
    return table


def _row(g, net, measure, n_masks, n_networks, rho, lo, hi, p, dropped="", n_dropped=None) -> dict:
    return {
        "group": g.label,
        **g.key,
        **g.columns,
        "weight_seed": net,
        "measure": measure,
        "n_masks": n_masks,
        "n_networks": n_networks,
        "spearman": float(rho),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": float(p),
        "n_networks_dropped": int(bool(dropped)) if n_dropped is None else n_dropped,
        "dropped": dropped,
        "pooled": g.pooled_text(),
    }
