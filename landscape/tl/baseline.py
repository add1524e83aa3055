"""The chance baseline: similarities of independent random masks with the observed sizes.

Two independent uniformly random masks keeping ``K1`` and ``K2`` weights of a layer share a
hypergeometric number of them; the moments of each metric under that law are in
:mod:`landscape.tl._chance_moments`. Masks searched inside an ER or partially frozen source
share its locked weights and never keep its left-out ones; their baseline is that of random
masks inside the same source (:mod:`landscape.tl._source_frame`).

Over a group of masks the baseline describes a randomly chosen pair (within one network):
the mean of the pairwise expectations, and the sd from the law of total variance. Tables
report similarities (1 - distance), like :func:`landscape.tl.diversity`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.grouping import CONFIG
from landscape.tl import _kernels
from landscape.tl._chance_moments import exact_tables, pair_moments

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
    table = baseline_table(ms, metrics, per_layer, pooled_groups(ms, groupby))
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
