"""Synthetic masks with a planted overlap and its exact expected similarity.

Used to check the intervals and the test of :func:`landscape.tl.diversity`: every mask keeps
``k`` weights of one layer of ``n``; mask ``i`` takes ``a_i`` of them uniformly from a fixed
template of ``t`` weights and the other ``k - a_i`` uniformly from the rest, with ``a_i``
drawn from ``levels`` (so masks differ in how typical they are, the case where per-pair
spreads mislead). Two masks share ``I = I_T + I_R`` weights, two independent hypergeometric
parts, so the expected Jaccard similarity of a random pair is an exact finite sum.
``levels = None`` gives the null: independent uniform masks of ``k`` weights.
"""

from __future__ import annotations

import numpy as np

from landscape.tl._chance_moments import intersection_pmf


def planted_masks(rng: np.random.Generator, m: int, n: int, k: int, t: int, levels=None) -> np.ndarray:
    """``m`` bool masks of ``n`` weights with ``k`` kept (see the module docstring)."""
    out = np.zeros((m, n), dtype=bool)
    for row in out:
        if levels is None:
            row[rng.choice(n, k, replace=False)] = True
            continue
        a = int(rng.choice(levels))
        row[rng.choice(t, a, replace=False)] = True
        row[t + rng.choice(n - t, k - a, replace=False)] = True
    return out


def expected_jaccard(n: int, k: int, t: int, levels) -> float:
    """Exact E[Jaccard similarity] of two masks of :func:`planted_masks` (``levels`` drawn
    uniformly and independently for the two masks)."""
    total = 0.0
    for a in levels:
        for b in levels:
            i_t, p_t = intersection_pmf(t, a, b)
            i_r, p_r = intersection_pmf(n - t, k - a, k - b)
            inter = i_t[:, None] + i_r[None, :]
            prob = p_t[:, None] * p_r[None, :]
            total += float((prob * inter / (2 * k - inter)).sum())
    return total / len(levels) ** 2
