"""Do masks compute the same function? Pairwise agreement of their predictions, beside what
two classifiers with independent errors would show and beside how far apart the masks are.

For two masks ``i, j`` on ``N`` labelled examples with ``C`` classes (accuracies ``p_i, p_j``):

- ``agreement`` = fraction of examples on which they predict the same class;
  ``disagreement`` = 1 - agreement.
- ``expected_disagreement``: the disagreement of two classifiers whose errors are
  independent. ``baseline="confusion"`` (default): they answer independently given the true
  class, each with its own confusion matrix ``P(c | y)``, so the expected agreement is
  ``Σ_y π_y Σ_c P_i(c | y) P_j(c | y)`` (``π_y``: the class frequencies): each mask keeps its
  accuracy, its per-class accuracies and where its wrong answers go. ``baseline="accuracy"``:
  each is right with its own accuracy and a wrong answer is uniform over the ``C - 1`` other
  classes, ``p_i p_j + (1 - p_i)(1 - p_j) / (C - 1)``. The default is the one whose null holds
  for classifiers that favour some classes: two independent random masks (near chance, answers
  piled on a few classes) agree far more often than uniform wrong answers allow, so under
  ``"accuracy"`` they would read as functionally similar.
- ``normalised_disagreement`` = disagreement / expected_disagreement: 0 for identical
  predictions, 1 for independent errors (it can exceed 1).
- ``both_wrong`` = fraction of examples both get wrong; ``error_ratio`` = both_wrong /
  its independent-errors value (``Σ_y π_y (1 - p_i(y))(1 - p_j(y))`` with per-class
  accuracies ``p(y)``, or ``(1 - p_i)(1 - p_j)`` under ``"accuracy"``):
  1 when errors are independent, above 1 when the masks fail on the same examples;
  ``error_jaccard`` = |E_i ∩ E_j| / |E_i ∪ E_j| of the two error sets (1 when both are empty).
- Beside them, the structure: ``jaccard_similarity`` of the two masks and
  ``structural_diversity`` = Jaccard distance / that of independent random masks of the same
  per-layer counts (1: as far apart as random masks, 0: the same mask).

Groups and uncertainty follow :mod:`landscape.grouping` and :mod:`landscape.tl._stats`:
pairs within one configuration and network, a delete-one-mask jackknife interval over masks,
then a t interval over networks. Weight-training baselines (``dense``, ...) train a network per
member, so their pairs are taken across the whole configuration (``members`` says which, and
whether they were trained from one initialisation or from independent ones): the agreement of
trained networks, beside that of masks over one set of weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.tl import _stats
from landscape.tl._predictions import Predictions, group_predictions, units
from landscape.tl._source_frame import SourceFrames, pair_chance
from landscape.tl.baseline import _describe_groupby, layer_sizes

BASELINES = ("confusion", "accuracy")
#: per-pair statistics summarised per group and network, in table order
STATISTICS = (
    "agreement",
    "disagreement",
    "expected_disagreement",
    "normalised_disagreement",
    "both_wrong",
    "error_ratio",
    "error_jaccard",
    "jaccard_similarity",
    "structural_diversity",
)


def pair_statistics(pred: Predictions, baseline: str = "confusion") -> dict[str, np.ndarray]:
    """Every prediction statistic of the module docstring for all pairs of ``pred``'s masks:
    ``{name: (k, k) float64}`` (diagonal: each mask with itself), plus ``accuracy`` ``(k,)``."""
    if baseline not in BASELINES:
        raise AnalysisError(f"baseline={baseline!r}: choose one of {BASELINES}")
    k, n, c = pred.pred.shape[0], pred.n_examples, pred.n_classes
    if n == 0:
        raise AnalysisError(f"the {pred.split} split has no examples")
    onehot = np.zeros((k, n, c), dtype=np.float64)
    onehot[np.arange(k)[:, None], np.arange(n)[None], pred.pred] = 1.0
    flat = onehot.reshape(k, n * c)
    agreement = flat @ flat.T / n
    wrong = (~pred.correct).astype(np.float64)
    both_wrong = wrong @ wrong.T / n
    acc = pred.correct.mean(axis=1)
    if baseline == "accuracy":
        expected_agreement = np.outer(acc, acc) + np.outer(1 - acc, 1 - acc) / max(c - 1, 1)
        expected_both_wrong = np.outer(1 - acc, 1 - acc)
    else:
        expected_agreement, expected_both_wrong = _confusion_baseline(onehot, pred.labels, c)
    union = wrong.sum(1)[:, None] + wrong.sum(1)[None] - both_wrong * n
    with np.errstate(divide="ignore", invalid="ignore"):
        error_jaccard = np.where(union > 0, both_wrong * n / union, 1.0)
        expected_disagreement = 1 - expected_agreement
        normalised = (1 - agreement) / expected_disagreement
        error_ratio = both_wrong / expected_both_wrong
    return {
        "accuracy": acc,
        "agreement": agreement,
        "disagreement": 1 - agreement,
        "expected_disagreement": expected_disagreement,
        "normalised_disagreement": normalised,
        "both_wrong": both_wrong,
        "expected_both_wrong": expected_both_wrong,
        "error_ratio": error_ratio,
        "error_jaccard": error_jaccard,
    }


def _confusion_baseline(onehot: np.ndarray, labels: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected agreement and both-wrong rate of classifiers independent given the true class."""
    k = onehot.shape[0]
    classes = np.unique(labels)
    prior = np.array([np.mean(labels == y) for y in classes])
    # confusion rows P_i(c | y): (k, classes, c)
    conf = np.stack([onehot[:, labels == y].mean(axis=1) for y in classes], axis=1)
    weighted = (conf * np.sqrt(prior)[None, :, None]).reshape(k, -1)
    expected_agreement = weighted @ weighted.T
    err = 1 - conf[:, np.arange(len(classes)), classes]  # per-class error rates (k, classes)
    expected_both_wrong = (err * prior) @ err.T
    return expected_agreement, expected_both_wrong


def agreement(
    ms,
    *,
    split: str = "test",
    baseline: str = "confusion",
    groupby=CONFIG,
    key_added: str = "agreement",
    copy: bool = False,
) -> pd.DataFrame:
    """Pairwise prediction agreement within each group and network, beside independent errors
    and beside the masks' structural similarity, with 95% intervals.

    Reads the stored predictions of ``split`` (``landscape predict`` fills them in for runs
    searched before they were kept) or the ``obsm["logprob_<split>"]`` / ``obsm["labels_<split>"]``
    slots; Jaccard similarities come from ``obsp["dist_jaccard"]`` (computed here when absent).

    Parameters
    ----------
    ms
        MaskSet.
    split
        ``"test"`` or ``"val"``.
    baseline
        ``"confusion"`` (default) or ``"accuracy"``: the independent-errors reference (module
        docstring).
    groupby
        ``"config"`` (default): one group per configuration; columns pool configurations
        (the ``pooled`` column names what).
    key_added, copy
        ``uns`` key and obsp slot prefix; with ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per group and network: ``n_masks, n_pairs, n_examples, accuracy`` (mean over
        masks) and, for each of :data:`STATISTICS`, the mean over pairs with a 95% jackknife
        interval over masks (``<stat>_ci_low/high``; NaN below 3 masks). ``uns[key]`` holds
        ``"summary"`` (across networks, t interval over networks), ``"pairs"`` (one row per
        pair) and ``"params"``; ``obsp["<key>_<split>"]`` the agreement matrix (NaN between
        masks of different groups or networks).
    """
    if baseline not in BASELINES:
        raise AnalysisError(f"baseline={baseline!r}: choose one of {BASELINES}")
    work = ms.copy() if copy else ms
    if "dist_jaccard" not in work.obsp:
        from landscape.tl.distances import distances

        distances(work, metric="jaccard")
    jaccard = 1.0 - np.asarray(work.obsp["dist_jaccard"], dtype=np.float64)
    counts, numel = layer_sizes(work)
    frames = SourceFrames(work)
    matrix = np.full((len(work), len(work)), np.nan)
    rows, pairs = [], []
    n_without = 0
    for g in pooled_groups(work, groupby):
        for net, pos, members in units(work.obs, g):
            if len(pos) < 2:
                continue
            pred = group_predictions(work, pos, split)
            n_without += len(pos) - (0 if pred is None else len(pred.positions))
            if pred is None or len(pred.positions) < 2:
                continue
            stats = pair_statistics(pred, baseline)
            stats.update(_structure(jaccard, counts, numel, pred.positions, frames))
            p = pred.positions
            matrix[np.ix_(p, p)] = stats["agreement"]
            rows.append(_network_row(g, net, members, pred, stats, split, baseline))
            pairs.append(_pair_rows(g, net, work, pred, stats))
    if not rows:
        raise AnalysisError(f"no group has two masks with stored {split} predictions in one network")
    table = pd.DataFrame(rows)
    summary = across_networks(table)
    work.obsp[f"{key_added}_{split}"] = matrix
    work.uns[key_added] = {
        "params": {
            "split": split,
            "baseline": baseline,
            "groupby": _describe_groupby(groupby),
            "masks_without_predictions": int(n_without),
            "interval": "95% delete-one-mask jackknife within a network; t over networks",
            "expected_disagreement": _BASELINE_TEXT[baseline],
        },
        "table": table,
        "summary": summary,
        "pairs": pd.concat(pairs, ignore_index=True),
    }
    return table


_BASELINE_TEXT = {
    "accuracy": "independent errors: each mask right with its own accuracy, wrong answers uniform",
    "confusion": "independent given the true class, each mask with its own confusion matrix",
}


def _structure(
    jaccard: np.ndarray, counts, numel, positions: np.ndarray, frames: SourceFrames
) -> dict[str, np.ndarray]:
    """Jaccard similarity and structural diversity ``(k, k)`` of the masks at ``positions``
    (each pair against its null: :func:`landscape.tl._source_frame.pair_chance`; NaN where
    masks searched inside a source have none)."""
    k = len(positions)
    i, j = np.triu_indices(k, 1)
    pi, pj = positions[i], positions[j]
    _, _, chance, _ = pair_chance(frames, pi, pj, counts, numel, "jaccard", pi, pj)
    sim = jaccard[np.ix_(positions, positions)]
    diversity = np.zeros((k, k))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (1 - sim[i, j]) / (1 - chance)
    diversity[i, j] = diversity[j, i] = values
    return {"jaccard_similarity": sim, "structural_diversity": diversity}


def _network_row(g, net, members: str, pred: Predictions, stats: dict, split: str, baseline: str) -> dict:
    m = len(pred.positions)
    i, j = np.triu_indices(m, 1)
    row = {
        "group": g.label,
        **g.key,
        **g.columns,
        "weight_seed": net,
        "members": members,
        "split": split,
        "baseline": baseline,
        "n_masks": m,
        "n_pairs": len(i),
        "n_examples": pred.n_examples,
        "accuracy": float(stats["accuracy"].mean()),
    }
    for name in STATISTICS:
        values = np.array(stats[name], dtype=np.float64)
        np.fill_diagonal(values, 0.0)  # the jackknife ignores the diagonal but must not see NaN
        mean = float(values[i, j].mean())
        lo, hi = _stats.interval(mean, _stats.jackknife_se(values), m - 1)
        row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = mean, float(lo), float(hi)
    row["pooled"] = g.pooled_text()
    return row


def _pair_rows(g, net, ms, pred: Predictions, stats: dict) -> pd.DataFrame:
    m = len(pred.positions)
    i, j = np.triu_indices(m, 1)
    p = pred.positions
    frame = pd.DataFrame(
        {
            "group": g.label,
            "weight_seed": net,
            "i": p[i],
            "j": p[j],
            "obs_i": ms.obs.index[p[i]].astype(str),
            "obs_j": ms.obs.index[p[j]].astype(str),
            "accuracy_i": stats["accuracy"][i],
            "accuracy_j": stats["accuracy"][j],
        }
    )
    for name in STATISTICS:
        frame[name] = np.asarray(stats[name])[i, j]
    for col, value in g.columns.items():
        frame[col] = value
    return frame


def across_networks(table: pd.DataFrame) -> pd.DataFrame:
    """Per group across its networks: mean of the per-network values, sd over networks and a
    95% t interval over networks (``interval == "networks"``), or the interval over masks of
    the group's one network (``interval == "masks"``)."""
    out = []
    per_network = {"weight_seed", "n_masks", "n_pairs", "pooled"}
    keys = [c for c in table.columns if c not in per_network and not _is_stat(c)]
    for _, part in table.groupby(keys, sort=False, dropna=False):
        first = part.iloc[0]
        w = len(part)
        row = {k: first[k] for k in keys}
        row.update(n_networks=w, n_masks=int(part["n_masks"].sum()), n_pairs=int(part["n_pairs"].sum()))
        row["accuracy"] = float(part["accuracy"].mean())
        row.update(_stats.network_columns(part, first, STATISTICS))
        row["interval"] = "networks" if w > 1 else "masks"
        row["pooled"] = first["pooled"]
        out.append(row)
    return pd.DataFrame(out)


def _is_stat(column: str) -> bool:
    return column == "accuracy" or any(column == s or column.startswith(f"{s}_") for s in STATISTICS)
