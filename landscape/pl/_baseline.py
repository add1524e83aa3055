"""The chance level of mask similarity: two independent random masks with given kept counts.

With ``k_a`` and ``k_b`` kept weights among ``n`` in a layer, the intersection ``I`` of two
uniformly random masks is hypergeometric, ``I ~ Hypergeom(n, k_a, k_b)``; the Jaccard distance
``1 - I / (k_a + k_b - I)`` and the normalised Hamming distance ``(k_a + k_b - 2 I) / n`` are
decreasing functions of ``I``. One layer is computed exactly from the pmf; a whole network
(layers independent, counts fixed per layer, as Edge-Popup keeps them) sums the layers'
intersections and uses the normal approximation, which is excellent at these sizes. The
hypergeometric moments and pmf are :mod:`landscape.tl.baseline`'s; what this module adds is
the central 95% interval the plots shade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landscape.errors import AnalysisError
from landscape.tl._chance_moments import hypergeom_moments, intersection_pmf

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class ChanceLevel:
    """Mean, standard deviation and central 95% interval of one pair's value."""

    mean: float
    sd: float
    lo: float
    hi: float

    def as_similarity(self) -> ChanceLevel:
        return ChanceLevel(1.0 - self.mean, self.sd, 1.0 - self.hi, 1.0 - self.lo)


def _distance(metric: str, inter: np.ndarray, n: float, k_a: float, k_b: float) -> np.ndarray:
    inter = np.asarray(inter, dtype=float)
    if metric == "jaccard":
        union = k_a + k_b - inter
        return np.where(union > 0, 1.0 - inter / np.where(union > 0, union, 1.0), 0.0)
    if metric == "hamming":
        return (k_a + k_b - 2.0 * inter) / n
    raise AnalysisError(f"metric: no chance level for {metric!r} (known: jaccard, hamming)")


def chance_distance(metric: str, n, k_a, k_b) -> ChanceLevel:
    """Chance level of the distance between two random masks.

    Parameters
    ----------
    metric
        ``"jaccard"`` or ``"hamming"`` (normalised by the number of weights).
    n, k_a, k_b
        Weights and kept counts; scalars for one layer, or one entry per layer for a network.

    Returns
    -------
    ChanceLevel
    """
    n, k_a, k_b = (np.atleast_1d(np.asarray(v, dtype=np.int64)) for v in (n, k_a, k_b))
    if np.any(k_a > n) or np.any(k_b > n) or np.any(n <= 0):
        raise AnalysisError("chance level: kept counts must lie in [0, n] and n must be positive")
    if len(n) == 1:
        return _exact(metric, int(n[0]), int(k_a[0]), int(k_b[0]))
    mean_l, var_l = hypergeom_moments(n, k_a, k_b)
    mean_i, sd_i = float(mean_l.sum()), float(np.sqrt(var_l.sum()))
    tot_n, tot_a, tot_b = float(n.sum()), float(k_a.sum()), float(k_b.sum())
    at = _distance(
        metric, np.array([mean_i, mean_i - _Z95 * sd_i, mean_i + _Z95 * sd_i]), tot_n, tot_a, tot_b
    )
    slope = abs(
        float(
            _distance(metric, mean_i + 0.5, tot_n, tot_a, tot_b)
            - _distance(metric, mean_i - 0.5, tot_n, tot_a, tot_b)
        )
    )
    return ChanceLevel(float(at[0]), slope * sd_i, float(min(at[1], at[2])), float(max(at[1], at[2])))


def _exact(metric: str, n: int, k_a: int, k_b: int) -> ChanceLevel:
    support, pmf = intersection_pmf(n, k_a, k_b)
    values = _distance(metric, support, n, k_a, k_b)
    mean = float(np.sum(pmf * values))
    sd = float(np.sqrt(max(np.sum(pmf * (values - mean) ** 2), 0.0)))
    # distances fall as I grows: the distance quantiles come from the opposite I quantiles
    cdf = np.cumsum(pmf)
    i_lo = support[min(np.searchsorted(cdf, 0.025), len(support) - 1)]
    i_hi = support[min(np.searchsorted(cdf, 0.975), len(support) - 1)]
    d = _distance(metric, np.array([i_hi, i_lo]), n, k_a, k_b)
    return ChanceLevel(mean, sd, float(d[0]), float(d[1]))
