"""One barrier measurement per pair of masks, from every curve the result store holds.

The store keeps every curve it was given (never thrown away), keyed also by the seed of the
call that drew it. That seed picks which pairs are drawn and a swap path's order, so a
re-analysis with another ``rng`` can store a pair again: for the linear path an identical
curve, for the swap path another draw of the same path family. Counted as they are stored,
such replicates would inflate the number of pairs and weight some pairs twice. Here the
curves of one pair under one setting (path, split, alpha grid, BatchNorm re-estimation) are
averaged, and ``n_curves`` says how many were.
"""

from __future__ import annotations

import pandas as pd

# what changes a pair's barrier; the seed is left out: it only draws replicates
SETTING = ("path", "split", "n_points", "bn_batches", "batch_size")
_VALUES = (
    "barrier_loss",
    "barrier_loss_mean_based",
    "barrier_acc",
    "alpha_max",
    "loss_start",
    "loss_end",
    "acc_start",
    "acc_end",
    "hamming",
    "jaccard",
)


def per_pair(table: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per pair (``i, j``) and setting: the mean of its stored curves' values, with
    ``n_curves``; ``by`` adds grouping columns (``group``) kept in front."""
    keys = [c for c in (*by, *SETTING) if c in table.columns] + ["i", "j"]
    grouped = table.groupby(keys, sort=False, dropna=False)
    values = grouped[[c for c in _VALUES if c in table.columns]].mean()
    labels = grouped[[c for c in ("obs_i", "obs_j", *_extra(table, keys)) if c in table.columns]].first()
    out = pd.concat([labels, values], axis=1)
    out.insert(0, "n_curves", grouped.size())
    return out.reset_index()


def per_pair_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """The mean curve of each pair and setting over its stored replicates (same alphas)."""
    keys = [c for c in SETTING if c in curves.columns] + ["i", "j", "alpha"]
    grouped = curves.groupby(keys, sort=False, dropna=False)
    values = grouped[["loss", "acc"]].mean()
    labels = grouped[["obs_i", "obs_j"]].first()
    return pd.concat([labels, values], axis=1).reset_index()


def _extra(table: pd.DataFrame, keys: list[str]) -> list[str]:
    """Columns that describe the pair, not the curve (its masks' runs, seeds, accuracies)."""
    skip = {*keys, *_VALUES, "pair", "seed", "device", "obs_i", "obs_j"}
    return [c for c in table.columns if c not in skip]
