"""Uncertainty of pairwise statistics of a set of masks: intervals over masks and networks,
and the test against independent random masks.

The statistic of a group of ``m`` masks in one network is a mean over its ``P = m(m-1)/2``
pairs, ``θ = mean_{i<j} s_ij`` (a U-statistic). Pairs that share a mask are dependent, so the
sd of one pair says nothing about how sure ``θ`` is.

**Interval (over masks).** Delete-one-mask jackknife: ``θ_(k)`` is the mean over the pairs
without mask ``k``; ``se² = (m-1)/m · Σ_k (θ_(k) - θ̄)²`` and the 95% interval is
``θ ± t_{0.975, m-1} · se``. The same for the excess over chance, whose chance part is
re-averaged over the same pairs. Needs ``m >= 3``.

**Test (against chance).** H0: the masks are independent, uniformly random masks with their
observed per-layer counts. Given its counts, mask ``i`` overlaps an independent uniform mask
``j`` in a hypergeometric number of weights whatever mask ``i`` is, so under H0 the pairwise
overlaps (and every similarity computed from them) are pairwise independent: ``Var(θ) =
Σ var_ij / P²`` exactly, with the hypergeometric ``var_ij``. The two-sided p-value uses
``z = (θ - θ_chance) / sqrt(Σ var_ij) · P`` and the normal distribution.

**Across networks.** Each random network (weight seed) gives one estimate; the group's value
is their mean, with the sd over networks and a t interval with ``n_networks - 1`` degrees of
freedom. With a single network the interval over masks is reported instead (and says so).

Checked by ``tests/tl/test_tl_uncertainty.py`` on synthetic masks with a planted overlap:
coverage and level are documented in ``docs/statistics.md``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

CONFIDENCE = 0.95
#: two-sided 95% quantile of the standard normal
Z95 = 1.959963984540054


def t_quantile(dof: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student t quantile (``inf`` for fewer than one degree of freedom)."""
    if dof < 1:
        return float("inf")
    return float(special.stdtrit(dof, 0.5 + confidence / 2))


def two_sided_p(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of ``z``."""
    return special.erfc(np.abs(np.asarray(z, dtype=np.float64)) / np.sqrt(2.0))


def pair_means(values: np.ndarray) -> np.ndarray:
    """Mean over the pairs ``i < j`` of a symmetric ``(m, m, ...)`` array."""
    m = values.shape[0]
    i, j = np.triu_indices(m, 1)
    return values[i, j].mean(axis=0)


def leave_one_out_means(values: np.ndarray) -> np.ndarray:
    """``(m, ...)``: the mean over the pairs without mask ``k``, for every ``k`` (``m >= 3``)."""
    m = values.shape[0]
    i, j = np.triu_indices(m, 1)
    total = values[i, j].sum(axis=0)
    diag = values[np.arange(m), np.arange(m)]
    rows = values.sum(axis=1) - diag  # sum over the pairs that contain mask k
    return leave_one_out_from_sums(rows, total)


def leave_one_out_from_sums(rows: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Leave-one-out pair means from each mask's row sum ``(m, ...)`` (over the pairs that
    contain it) and the total over all pairs."""
    m = rows.shape[0]
    return (total - rows) / ((m - 1) * (m - 2) / 2)


def jackknife_se(values: np.ndarray) -> np.ndarray:
    """Jackknife standard error over masks of the pair mean of ``values`` ``(m, m, ...)``
    (NaN for fewer than 3 masks)."""
    m = values.shape[0]
    if m < 3:
        return np.full(values.shape[2:], np.nan)
    return _jackknife(leave_one_out_means(values))


def jackknife_se_from_sums(rows: np.ndarray, total: np.ndarray) -> np.ndarray:
    """:func:`jackknife_se` from row sums ``(m, ...)`` and the pair total."""
    m = rows.shape[0]
    if m < 3:
        return np.full(rows.shape[1:], np.nan)
    return _jackknife(leave_one_out_from_sums(rows, total))


def _jackknife(loo: np.ndarray) -> np.ndarray:
    m = loo.shape[0]
    return np.sqrt((m - 1) / m * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))


def within_network(sim: np.ndarray, chance: np.ndarray, chance_var: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics of one network's masks from full ``(m, m, ...)`` matrices of observed
    similarity, chance similarity and chance variance of each pair (diagonal ignored).

    Returns ``similarity, similarity_se, excess, excess_se, z, null_var_sum, n_pairs`` with
    the trailing shape of the inputs. (The definition; tables use :func:`from_pair_sums`,
    the same from sums over the pairs.)
    """
    m = sim.shape[0]
    i, j = np.triu_indices(m, 1)
    n_pairs = len(i)
    theta = sim[i, j].mean(axis=0)
    base = chance[i, j].mean(axis=0)
    var_sum = chance_var[i, j].sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (theta - base) * n_pairs / np.sqrt(var_sum)
    return {
        "similarity": theta,
        "similarity_se": jackknife_se(sim),
        "excess": theta - base,
        "excess_se": jackknife_se(sim - chance),
        "chance": base,
        "z": z,
        "null_var_sum": var_sum,
        "n_pairs": n_pairs,
    }


def from_pair_sums(n_pairs, sim_total, sim_rows, excess_total, excess_rows, chance_total, var_sum):
    """:func:`within_network` from sums over the ``n_pairs`` pairs (totals per column) and
    per-mask row sums ``(m, ...)`` of the similarity and of similarity - chance."""
    theta = sim_total / n_pairs
    base = chance_total / n_pairs
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (theta - base) * n_pairs / np.sqrt(var_sum)
    return {
        "similarity": theta,
        "similarity_se": jackknife_se_from_sums(sim_rows, sim_total),
        "excess": theta - base,
        "excess_se": jackknife_se_from_sums(excess_rows, excess_total),
        "chance": base,
        "z": z,
        "null_var_sum": var_sum,
        "n_pairs": n_pairs,
    }


def interval(estimate, se, dof: int, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """``estimate ± t · se`` (NaN where ``se`` is NaN)."""
    half = t_quantile(dof, confidence) * np.asarray(se, dtype=np.float64)
    return estimate - half, estimate + half


def across_networks(estimates: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, np.ndarray]:
    """Mean, sd and t interval over networks of per-network ``estimates`` ``(W, ...)``."""
    estimates = np.asarray(estimates, dtype=np.float64)
    w = estimates.shape[0]
    mean = estimates.mean(axis=0)
    sd = estimates.std(axis=0, ddof=1) if w > 1 else np.full(mean.shape, np.nan)
    lo, hi = interval(mean, sd / np.sqrt(w), w - 1, confidence)
    return {"mean": mean, "sd": sd, "ci_low": lo, "ci_high": hi}


def network_columns(part, first, names) -> dict:
    """``name``, ``name_sd_networks`` and its interval for each column of a group's
    per-network rows ``part``: the t interval over networks when there are several, else
    the one network's own interval (``first``, its row)."""
    w, row = len(part), {}
    for name in names:
        st = across_networks(part[name].to_numpy())
        row[name], row[f"{name}_sd_networks"] = float(st["mean"]), float(st["sd"])
        if w > 1:
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = float(st["ci_low"]), float(st["ci_high"])
        else:
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = first[f"{name}_ci_low"], first[f"{name}_ci_high"]
    return row
