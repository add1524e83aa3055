"""Seeded, stratified train/val/test splits and feature standardisation (numpy)."""

from __future__ import annotations

import numpy as np

from landscape.nn.init import derive_seed


def split_rng(split_seed: int, dataset: str) -> np.random.Generator:
    """The numpy stream that decides a dataset's split for ``split_seed``."""
    return np.random.default_rng(derive_seed(split_seed, "split", dataset))


def _per_class_counts(class_sizes: np.ndarray, total: int, capacity: np.ndarray) -> np.ndarray:
    """Share ``total`` rows over classes in proportion to their size (largest remainder),
    never taking more than ``capacity`` rows from a class."""
    quota = total * class_sizes / class_sizes.sum()
    counts = np.minimum(np.floor(quota).astype(np.int64), capacity)
    # hand out the remaining rows to the largest fractional parts (stable: ties by class order)
    for c in np.argsort(-(quota - np.floor(quota)), kind="stable"):
        if counts.sum() >= total:
            break
        if counts[c] < capacity[c]:
            counts[c] += 1
    return counts


def stratified_split(
    y: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Carve held-out parts of ``fractions`` of the rows from ``y``, class by class.

    Each held-out part gets ``round(fraction * N)`` rows spread over classes in proportion to
    their size; the remaining rows form the first returned part. Indices within each part are
    sorted.

    Returns
    -------
    list of ndarray
        ``[rest, part_0, part_1, ...]`` index arrays into ``y``.
    """
    y = np.asarray(y)
    classes, inverse = np.unique(y, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    sizes = np.array([len(m) for m in members])
    taken = np.zeros_like(sizes)
    parts: list[list[np.ndarray]] = []
    for frac in fractions:
        counts = _per_class_counts(sizes, int(round(frac * len(y))), sizes - taken)
        parts.append([m[t : t + k] for m, t, k in zip(members, taken, counts)])
        taken += counts
    rest = [m[t:] for m, t in zip(members, taken)]
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in [rest, *parts]]


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every feature to zero mean and unit std using the training rows' statistics.

    Constant features keep std 1 (they become 0 instead of NaN).
    """
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]
