"""Which source of randomness makes masks different: pairs classed by the seeds they share.

A mask's search draws its score initialisation from its ``score_seed`` and its data order
(and augmentation) from its ``data_seed`` (:mod:`landscape.config.seeds`). Runs that hold one
of them fixed (``method.score_seed``, ``train.data_seed``) are configurations of their own;
here they are pooled into **families**: configurations equal in every field but those two.
Within a family and one random network, every pair of masks falls in one class:

============  ====================  ===================================
``shared``    ``varies``            the two masks share
============  ====================  ===================================
neither       scores + data order   nothing but the network
score seed    data order            the initial scores
data seed     scores                the data order
both          nothing               everything (the same search)
============  ====================  ===================================

Each class gets its mean similarity against chance (independent random masks of the same
counts) and the excess over chance. The **fraction explained** by a source is how much of
the gap between pairs sharing nothing and pairs sharing everything sharing that source
alone closes: ``explained_by_scores = (S_score − S_neither) / (S_both − S_neither)``, the same
for the data seed, and the rest is their interaction. Within a family ``S_both`` is measured
where two runs hold the same search (it is 1: searches are deterministic) and taken as 1
otherwise (``both_level``).

With ``a`` and ``b`` (two selections, say Edge-Popup and Biprop), pairs are taken *across*:
a mask of a family of ``a`` against a mask of the matching family of ``b`` in the same
network. Pairs sharing both seeds are then the cross-method "twins", and the fractions say
how much of the twin similarity (over pairs sharing nothing) each source carries.

Uncertainty: per network, a delete-one-mask jackknife over the masks the pairs involve
(:mod:`landscape.tl._pairsets`), for every mean and every fraction, with a t interval; the
p-value tests "independent random masks" with the exact null variance of the pair mean
(pairs of independent uniform masks are pairwise independent). Across networks: the mean
of the per-network values with a t interval over networks, as :func:`landscape.tl.diversity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from landscape.config.seeds import SEED_FIELDS
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG, EPOCH, TABLE_COLUMNS, Group, config_columns, group_masks
from landscape.networks import same_weights
from landscape.tl._pairsets import SIMILARITY_METRICS
from landscape.tl._seed_pairs import (
    BOTH,
    DATA,
    NEITHER,
    SCORE,
    SHARED,
    VARIES,
    network_rows,
    summarise_fractions,
)
from landscape.tl._source_frame import SourceFrames
from landscape.tl.diversity import SIMILARITY, across_networks


def _need_columns(obs: pd.DataFrame) -> None:
    missing = [c for c in ("score_seed", "data_seed") if c not in obs.columns]
    if missing:
        raise AnalysisError(
            f"seed_sources: obs has no {missing[0]!r} column (masks read with landscape.read_runs have it)"
        )


def _families(obs: pd.DataFrame, label_obs: pd.DataFrame | None = None) -> list[Group]:
    """Families of ``obs`` (one per epoch in snapshot sets), labelled by the configuration
    fields that differ between the families of ``label_obs`` (default ``obs``), epochs aside."""
    vary = [c for c in SEED_FIELDS if c in obs.columns]
    fams = group_masks(obs, CONFIG, vary=vary)
    label_obs = obs if label_obs is None else label_obs
    if EPOCH in label_obs.columns:
        label_obs = label_obs.drop(columns=[EPOCH])
    labels = pd.Series(index=label_obs.index, dtype=object)
    for g in group_masks(label_obs, CONFIG, vary=vary):
        labels.iloc[g.positions] = g.label
    for f in fams:
        f.label = str(labels[obs.index[f.positions[0]]])
    return fams


def _matching_fields(obs: pd.DataFrame, fams_a: list[Group], fams_b: list[Group]) -> list[str]:
    """The configuration fields that tell the families of ``a`` (or of ``b``) apart."""
    cols = [c for c in config_columns(obs) if c not in SEED_FIELDS]
    if EPOCH in obs.columns:
        cols.append(EPOCH)
    out = []
    for c in cols:
        values = obs[c].astype(str).to_numpy()
        for fams in (fams_a, fams_b):
            if len({values[f.positions[0]] for f in fams}) > 1:
                out.append(c)
                break
    return out


def _heads(g: Group, prefix: str = "") -> dict[str, Any]:
    """The family's label and table columns (and its epoch, in a snapshot set)."""
    shown = {k: g.key[k] for k in (*TABLE_COLUMNS, EPOCH) if k in g.key}  # a family's key is its config
    values = {**shown, **g.columns}
    return {f"{prefix}group": g.label, **{f"{prefix}{k}": v for k, v in values.items()}}


def seed_sources(
    ms,
    *,
    a: Any = None,
    b: Any = None,
    metric: str = "jaccard",
    match: Sequence[str] | None = None,
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """Similarity of mask pairs by the seeds they share, against chance, and the fraction of
    similarity each source of randomness explains (see the module docstring).

    Parameters
    ----------
    ms
        MaskSet with ``score_seed``, ``data_seed`` and ``weight_seed`` columns (from
        :func:`landscape.read_runs`; a snapshot set is compared epoch by epoch).
    a, b
        None: pairs within each family. Two selections of masks (obs query strings, dicts or
        bool arrays, as ``where`` of :func:`landscape.read_runs`): pairs across, a mask of
        ``a`` with a mask of ``b``.
    metric
        ``"jaccard"`` or ``"hamming"`` (similarity = 1 - normalised Hamming distance).
    match
        Across only: the fields on which a family of ``a`` and one of ``b`` must agree to be
        compared (default: those that tell the families of ``a``, or of ``b``, apart, such
        as ``density``; and ``epoch`` in snapshot sets).
    key_added, copy
        ``uns`` key (default ``"seed_sources"``); with ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per family (or family pair: ``group`` and ``group_b``), network, class
        (``shared``, ``varies``) and layer (``"whole"`` first), with the columns of
        :func:`landscape.tl.diversity`'s table. ``uns[key]`` also holds ``summary`` (across
        networks), ``explained`` (per network: ``source``, ``explained`` with its interval,
        the three similarity levels it comes from and ``both_level``) and
        ``explained_summary`` (across networks).
    """
    if metric not in SIMILARITY_METRICS:
        raise AnalysisError(f"metric={metric!r}: choose one of {SIMILARITY_METRICS}")
    obs = ms.obs
    _need_columns(obs)
    if (a is None) != (b is None):
        raise AnalysisError("seed_sources: give both a and b (pairs across two selections) or neither")
    rows, fractions = [], []
    frames = SourceFrames(ms)
    if a is None:
        for fam in _families(obs):
            for net, pos in fam.networks.items():
                if len(pos) < 2:
                    continue
                head = {**_heads(fam), "weight_seed": net}
                r, f = network_rows(head, ms, pos, pos, metric, within=True, frames=frames)
                rows += r
                fractions += f
    else:
        from landscape.maskset import select_obs

        in_a, in_b = select_obs(obs, a, "a"), select_obs(obs, b, "b")
        if not in_a.any() or not in_b.any():
            raise AnalysisError(f"seed_sources: {'a' if not in_a.any() else 'b'} selects no masks")
        fams_a = _subfamilies(obs, in_a, in_a | in_b)
        fams_b = _subfamilies(obs, in_b, in_a | in_b)
        fields = list(match) if match is not None else _matching_fields(obs, fams_a, fams_b)
        for c in fields:
            if c not in obs.columns:
                raise AnalysisError(f"seed_sources: match: obs has no column {c!r}")
        for fa in fams_a:
            for fb in fams_b:
                if any(
                    str(obs[c].iloc[fa.positions[0]]) != str(obs[c].iloc[fb.positions[0]]) for c in fields
                ):
                    continue
                for net, pos_a in fa.networks.items():
                    pos_b = fb.networks.get(net)
                    if pos_b is None:
                        continue
                    head = {**_heads(fa), **_heads(fb, "b_"), "weight_seed": net}
                    # one seed, two initialisers: two networks, compared position by position
                    head["same_weights"] = same_weights(obs, pos_a, pos_b)
                    head["group"] = f"{fa.label} × {fb.label}"
                    r, f = network_rows(head, ms, pos_a, pos_b, metric, within=False, frames=frames)
                    rows += r
                    fractions += f
    if not rows:
        raise AnalysisError("seed_sources: no pairs of masks in one network to compare")
    table = pd.DataFrame(rows)
    summary = across_networks(table)
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("_")])
    explained = pd.DataFrame(fractions)
    if not copy:
        ms.uns[key_added or "seed_sources"] = {
            "params": {
                "metric": metric,
                "similarity": SIMILARITY[metric],
                "pairs": "within families" if a is None else {"a": _describe(a), "b": _describe(b)},
                "families": "configurations equal but for method.score_seed and train.data_seed",
                "interval": "95% delete-one-mask jackknife within a network; t over networks",
                "test": "two-sided, H0: independent uniformly random masks with the same per-layer counts",
                "explained": "(S_shared - S_neither) / (S_both - S_neither)",
            },
            "table": table,
            "summary": summary,
            "explained": explained,
            "explained_summary": summarise_fractions(explained),
        }
    return table


def _subfamilies(obs: pd.DataFrame, keep: np.ndarray, shown: np.ndarray) -> list[Group]:
    """Families of the masks ``keep``, with positions into the full ``obs``, labelled among
    the families of the masks ``shown``."""
    where = np.flatnonzero(keep)
    fams = _families(obs.iloc[where], obs[shown])
    for f in fams:
        f.positions = where[f.positions]
        f.networks = {k: where[v] for k, v in f.networks.items()}
    return fams


def _describe(selection: Any) -> Any:
    if selection is None or isinstance(selection, str):
        return selection
    if isinstance(selection, dict):
        return {k: (list(v) if isinstance(v, (list, tuple, set)) else v) for k, v in selection.items()}
    return "a boolean selection"


__all__ = ["BOTH", "DATA", "NEITHER", "SCORE", "SHARED", "VARIES", "seed_sources"]
