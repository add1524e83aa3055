"""Similarities of blocks of masks computed from their packed rows, and statistics of an
arbitrary set of pairs (a class of pairs, pairs across two groups).

The tools that compare masks within one epoch of a snapshot set, or two groups of masks,
need only small blocks of pairs; they count them here instead of filling the whole
``(n, n)`` distance slots.

**Jackknife over masks for any set of pairs.** A statistic of a set of pairs (a mean over
the pairs, or a function of several such means) is recomputed with each mask left out in
turn (every pair holding it removed); over the ``u`` masks the pairs involve,
``se² = (u-1)/u · Σ_k (θ_(k) - θ̄)²`` and the interval is ``θ ± t_{0.975, u-1} · se``. For the
pairs within one group this is the delete-one-mask jackknife of :mod:`landscape.tl._stats`.
"""

from __future__ import annotations

import numpy as np

from landscape.tl import _kernels

SIMILARITY_METRICS = ("jaccard", "hamming")


def similarity_from_counts(
    inter: np.ndarray, ki: np.ndarray, kj: np.ndarray, metric: str, numel
) -> np.ndarray:
    """Similarity (``1 -`` the distance of :func:`landscape.tl._kernels.metric_from_counts`)."""
    return 1.0 - _kernels.metric_from_counts(inter, ki, kj, metric, numel)


def block_similarity(
    rows_a: np.ndarray, rows_b: np.ndarray | None, layout, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Similarity of every mask of ``rows_a`` with every mask of ``rows_b`` (or of ``rows_a``).

    Returns
    -------
    whole, layers, counts_a, counts_b
        ``(ma, mb)`` and ``(ma, mb, L)`` similarities, and the kept counts per layer of the
        two blocks, ``(ma, L)`` and ``(mb, L)``.
    """
    bounds = _kernels.layer_bounds(layout)
    numel = np.array([s.numel for s in layout], dtype=np.int64)
    words_a = _kernels._as_words(rows_a)
    if rows_b is None:
        inter = _kernels.intersection_counts(words_a, bounds, backend="numpy")
        words_b = words_a
    else:
        words_b = _kernels._as_words(rows_b)
        inter = _kernels.cross_numpy(words_a, words_b, bounds)
    ka, kb = _kernels.kept_counts(words_a, bounds), _kernels.kept_counts(words_b, bounds)
    layers = similarity_from_counts(inter, ka[:, None, :], kb[None, :, :], metric, numel)
    whole = similarity_from_counts(
        inter.sum(2), ka.sum(1)[:, None], kb.sum(1)[None, :], metric, int(numel.sum())
    )
    return whole, layers, ka, kb


def leave_one_out(
    values: np.ndarray, i: np.ndarray, j: np.ndarray, n_units: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sums over a set of pairs with each unit left out.

    Parameters
    ----------
    values
        ``(p, ...)`` one value per pair.
    i, j
        ``(p,)`` the two units (masks) of each pair, in ``range(n_units)``.

    Returns
    -------
    sums, counts
        ``(n_units, ...)`` sums of ``values`` over the pairs without unit ``k``, and ``(n_units,)``
        how many such pairs there are.
    """
    values = np.asarray(values, dtype=np.float64)
    total = values.sum(axis=0)
    with_k = np.zeros((n_units, *values.shape[1:]))
    np.add.at(with_k, i, values)
    np.add.at(with_k, j, values)
    same = i == j  # a pair of a unit with itself holds it once
    if same.any():
        np.subtract.at(with_k, i[same], values[same])
    count = (
        np.bincount(i, minlength=n_units)
        + np.bincount(j, minlength=n_units)
        - np.bincount(i[same], minlength=n_units)
    )
    return total[None] - with_k, len(values) - count


def involved(i: np.ndarray, j: np.ndarray, n_units: int) -> np.ndarray:
    """Bool ``(n_units,)``: units that appear in at least one pair."""
    out = np.zeros(n_units, dtype=bool)
    out[i] = True
    out[j] = True
    return out


def jackknife_se(full: np.ndarray, loo: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, int]:
    """Jackknife standard error from leave-one-out estimates ``loo`` ``(n_units, ...)`` over the
    units ``keep``; NaN with fewer than 3 units or where a leave-one-out value is undefined.
    Returns the se and the number of units."""
    u = int(keep.sum())
    shape = np.shape(full)
    if u < 3:
        return np.full(shape, np.nan), u
    part = loo[keep]
    se = np.sqrt((u - 1) / u * ((part - part.mean(axis=0)) ** 2).sum(axis=0))
    return np.where(np.isfinite(part).all(axis=0), se, np.nan), u
