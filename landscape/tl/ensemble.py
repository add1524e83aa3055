"""Is a handful of masks a useful ensemble? Accuracy and NLL of averaging K masks' probabilities.

An ensemble of masks ``S`` predicts with the mean of its members' class probabilities,
``p_S = (1/K) Σ_{i∈S} p_i``: its prediction is ``argmax p_S`` (exact ties, which only float16
rounding produces, go to the class most members predict) and its NLL is ``-mean log p_S(y)``.

For each K the statistic is the mean over the K-subsets of the masks of one configuration and
network: every subset when there are at most ``max_subsets``, else that many drawn at
random (the mean over random orderings of the first K masks estimates the same quantity; here
it is computed exactly where it is cheap). Beside it: the mean single mask (K = 1) and the
single best mask chosen on the validation split (never on the test split it is scored on).

Weight-training baselines (``dense``, ``kstarts``, ...) train a network per member, so their
members are trained networks and are ensembled across the configuration's weight seeds too:
the deep-ensemble reference beside the masks over one set of random weights. ``members``
says whether they are independently trained networks (one weight seed each) or networks
trained from one initialisation (one weight seed, other data orders).

Uncertainty: within a network a delete-one-mask jackknife over masks of the subset mean
(K < n_masks), then a t interval over networks (:mod:`landscape.tl._stats`); ``acc_sd`` is
the spread over subsets (how much one particular ensemble of K masks varies), not an interval.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.tl import _stats
from landscape.tl._predictions import MASKS, Predictions, attach_predictions, group_predictions, units
from landscape.tl.baseline import _describe_groupby

_CHUNK_BYTES = 64 * 2**20  # memory of the member probabilities averaged at once


def subsets(m: int, k: int, max_subsets: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """``(S, k)`` member indices of K-subsets of ``m`` masks: all of them when there are at most
    ``max_subsets`` (second value True), else ``max_subsets`` drawn uniformly (False)."""
    if math.comb(m, k) <= max_subsets:
        return np.array(list(combinations(range(m), k)), dtype=np.int64).reshape(-1, k), True
    return np.stack([np.sort(rng.choice(m, k, replace=False)) for _ in range(max_subsets)]), False


def ensemble_scores(pred: Predictions, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Examples classified right and NLL of each ensemble ``members`` ``(S, K)`` (rows of
    ``pred``); counts rather than fractions keep means of equal ensembles exact."""
    n, c = pred.n_examples, pred.n_classes
    probs = np.exp(pred.logprob)
    votes = np.zeros((probs.shape[0], n, c), dtype=np.int64)
    votes[np.arange(probs.shape[0])[:, None], np.arange(n)[None], pred.pred] = 1
    true_lp = np.take_along_axis(pred.logprob, pred.labels[None, :, None], axis=2)[..., 0]  # (k, N)
    n_right, nll = np.empty(len(members)), np.empty(len(members))
    k = members.shape[1]
    chunk = max(1, _CHUNK_BYTES // (8 * k * n * c))
    for start in range(0, len(members), chunk):
        rows = members[start : start + chunk]
        mean = probs[rows].mean(axis=1)  # (s, N, C)
        tied = mean >= mean.max(axis=-1, keepdims=True)
        choice = np.where(tied, votes[rows].sum(axis=1), -1).argmax(axis=-1)
        n_right[start : start + len(rows)] = (choice == pred.labels[None]).sum(axis=1)
        lp = true_lp[rows]  # (s, K, N): log p_S(y) = logsumexp over members - log K
        top = lp.max(axis=1, keepdims=True)
        log_mean = top[:, 0] + np.log(np.exp(lp - top).sum(axis=1)) - np.log(k)
        nll[start : start + len(rows)] = -log_mean.mean(axis=1)
    return n_right, nll


def _jackknife(values: np.ndarray, members: np.ndarray, m: int) -> float:
    """Delete-one-mask jackknife se of the subset mean (NaN when some mask is in every subset)."""
    if m < 3:
        return float("nan")
    loo = []
    for k in range(m):
        without = ~(members == k).any(axis=1)
        if not without.any():
            return float("nan")
        loo.append(values[without].mean())
    loo = np.asarray(loo)
    return float(np.sqrt((m - 1) / m * ((loo - loo.mean()) ** 2).sum()))


def ensemble(
    ms,
    *,
    split: str = "test",
    select_split: str | None = "auto",
    groupby=CONFIG,
    k_max: int | None = None,
    max_subsets: int = 256,
    rng: int = 0,
    key_added: str = "ensemble",
) -> pd.DataFrame:
    """Accuracy and NLL of ensembles of K masks of one configuration and network, K = 1, 2, ...

    Parameters
    ----------
    ms
        MaskSet with stored predictions (``landscape predict`` fills them in for old runs).
    split
        Split the ensembles are scored on.
    select_split
        Split on which the single best mask is chosen (None: no best mask); never ``split``
        itself. ``"auto"``: the validation split, or no best mask when ``split`` is it.
    groupby
        ``"config"`` (default) or columns to pool configurations by (the output says so).
    k_max
        Largest ensemble (default: all masks of the network).
    max_subsets
        K-subsets per K: all of them up to this number, else this many at random.
    rng
        Seed of the random subsets.
    key_added
        ``uns`` key.

    Returns
    -------
    pandas.DataFrame
        One row per group, network and K: ``members`` (masks of one network, or trained
        networks: independently, or from one initialisation), ``n_masks, n_subsets, all_subsets``; ``acc`` and ``nll`` (mean over
        subsets) with ``_sd`` (over subsets), ``acc_ci_low/high`` and ``nll_ci_low/high``
        (95% jackknife over masks; NaN for K = n_masks); ``single_acc`` (mean single mask),
        ``gain`` = acc - single_acc; ``best_acc`` (the test accuracy of the mask with the best
        ``select_split`` accuracy) and ``gain_over_best``. ``uns[key]["summary"]`` holds the
        same per group and K across networks (t interval over networks).
    """
    if select_split == "auto":
        select_split = None if split == "val" else "val"
    if select_split is not None and select_split == split:
        raise AnalysisError(
            f"select_split={select_split!r}: the best single mask must be chosen on another split than "
            f"the {split!r} split its accuracy is reported on (choosing it there makes it look better)"
        )
    gen = np.random.default_rng(rng)
    attach_predictions(ms, split)
    select = _selection(ms, select_split)
    rows = []
    for g in pooled_groups(ms, groupby):
        for net, pos, members_kind in units(ms.obs, g):
            pred = group_predictions(ms, pos, split)
            if pred is None:
                continue
            rows += _unit_rows(
                g, net, members_kind, pred, select, select_split, k_max, max_subsets, gen, split
            )
    if not rows:
        raise AnalysisError(f"no group has masks with stored {split} predictions")
    table = pd.DataFrame(rows)
    ms.uns[key_added] = {
        "params": {
            "split": split,
            "select_split": select_split,
            "groupby": _describe_groupby(groupby),
            "max_subsets": max_subsets,
            "rng": rng,
            "ensemble": "mean of the members' class probabilities",
            "interval": "95% delete-one-mask jackknife within a network; t over networks",
        },
        "table": table,
        "summary": across_networks(table),
    }
    return table


def _selection(ms, select_split: str | None) -> np.ndarray | None:
    """Accuracy on ``select_split`` per mask (NaN where not stored), or None."""
    if select_split is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no validation predictions: no best mask (the table says so)
            has = attach_predictions(ms, select_split)
    except AnalysisError:
        return None
    pred = np.asarray(ms.obsm[f"pred_{select_split}"])
    labels = np.asarray(ms.obsm[f"labels_{select_split}"])
    acc = np.full(len(ms), np.nan)
    if pred.shape[1]:
        acc[has] = (pred[has] == labels[has]).mean(axis=1)
    return acc


def _unit_rows(
    g, net, members_kind, pred, select, select_split, k_max, max_subsets, gen, split
) -> list[dict]:
    m = len(pred.positions)
    n_single = pred.correct.sum(axis=1)
    single = n_single / pred.n_examples
    best_acc, best_on = np.nan, None
    if select is not None and np.isfinite(select[pred.positions]).any():
        best = int(np.nanargmax(select[pred.positions]))  # first of equals: lowest position
        best_acc, best_on = float(single[best]), select_split
    out = []
    for k in range(1, min(m, k_max or m) + 1):
        members, every = subsets(m, k, max_subsets, gen)
        n_right, nll = ensemble_scores(pred, members)
        row = {
            "group": g.label,
            **g.key,
            **g.columns,
            "weight_seed": net,
            "members": members_kind,
            "split": split,
            "k": k,
            "n_masks": m,
            "n_subsets": len(members),
            "all_subsets": every,
        }
        means = {"acc": float(n_right.mean() / pred.n_examples), "nll": float(nll.mean())}
        for name, values in (("acc", n_right / pred.n_examples), ("nll", nll)):
            mean = means[name]
            lo, hi = _stats.interval(mean, _jackknife(values, members, m), m - 1)
            row.update(
                {
                    name: mean,
                    f"{name}_sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    f"{name}_min": float(values.min()),
                    f"{name}_max": float(values.max()),
                    f"{name}_ci_low": float(lo),
                    f"{name}_ci_high": float(hi),
                }
            )
        row["single_acc"] = float(n_single.mean() / pred.n_examples)
        row["gain"] = row["acc"] - row["single_acc"]
        row["best_acc"] = best_acc
        row["gain_over_best"] = row["acc"] - best_acc
        row["best_selected_on"] = best_on
        row["pooled"] = g.pooled_text()
        out.append(row)
    return out


_ACROSS = ("acc", "nll", "single_acc", "gain", "best_acc", "gain_over_best")


def across_networks(table: pd.DataFrame) -> pd.DataFrame:
    """Per group and K across networks: means, sd over networks and a 95% t interval over
    networks (``interval == "networks"``); one network (or pooled trained networks): the
    jackknife interval over masks (``interval == "masks"``).

    Every row of a group runs over the same networks: K goes up to the smallest network's
    number of masks (larger ensembles of the bigger networks are in the per-network table), so
    a gain with K is never the effect of leaving the smaller networks out.
    """
    cols = list(table.columns)
    keys = [*cols[: cols.index("weight_seed")], "members", "split", "k"]
    networks = table.groupby(keys[:-1], sort=False, dropna=False)["weight_seed"].transform(
        lambda w: w.nunique(dropna=False)
    )
    at_k = table.groupby(keys, sort=False, dropna=False)["weight_seed"].transform(
        lambda w: w.nunique(dropna=False)
    )
    table = table[(at_k == networks).to_numpy()]
    out = []
    for _, part in table.groupby(keys, sort=False, dropna=False):
        first = part.iloc[0]
        w = len(part)
        row = {k: first[k] for k in keys}
        row.update(n_networks=w if first["members"] == MASKS else np.nan, n_masks=int(part["n_masks"].sum()))
        for name in _ACROSS:
            st = _stats.across_networks(part[name].to_numpy())
            row[name], row[f"{name}_sd_networks"] = float(st["mean"]), float(st["sd"])
        for name in ("acc", "nll"):
            if w > 1:
                row[f"{name}_ci_low"], row[f"{name}_ci_high"] = _across_ci(part[name].to_numpy())
            else:
                row[f"{name}_ci_low"], row[f"{name}_ci_high"] = (
                    first[f"{name}_ci_low"],
                    first[f"{name}_ci_high"],
                )
        row["interval"] = "networks" if w > 1 else "masks"
        row["best_selected_on"] = first["best_selected_on"]
        row["pooled"] = first["pooled"]
        out.append(row)
    return pd.DataFrame(out)


def _across_ci(values: np.ndarray) -> tuple[float, float]:
    st = _stats.across_networks(values)
    return float(st["ci_low"]), float(st["ci_high"])
