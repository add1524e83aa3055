"""Selection frequency of each weight across the masks of a group, against chance.

If the masks of a group were independent, mask ``i`` keeping each weight of a layer with its
own density ``p_i`` there, the number of masks keeping a weight would follow the
Poisson-binomial distribution of ``p_1 .. p_m`` (``Binomial(m, p)`` when every ``p_i = p``).
Each mask's own density matters: masks of a global top-k search, or configurations pooled
with ``groupby``, keep different shares of a layer, and a binomial at their mean density is
wider than the null and would call independent masks "not binomial". Consensus (weights
everyone keeps or nobody keeps) shows up as excess mass at ``0`` and ``m``, a dispersion
above 1, and large chi-square and Kolmogorov-Smirnov distances to that null.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.networks import network_label
from landscape.store.packing import layer_counts
from landscape.tl.baseline import SOURCE_NOTE, _describe_groupby, in_a_source

ROWS_PER_CHUNK = 64  # bounds the unpacked block to 64 x layer size bytes


def selection_frequency(rows: np.ndarray, layout, layer) -> np.ndarray:
    """How many of ``rows`` keep each weight of ``layer``: uint16 (or uint32) array of its shape."""
    spec = layout[layer]
    dtype = np.uint16 if rows.shape[0] < 2**16 else np.uint32
    freq = np.zeros(spec.numel, dtype=np.uint32)
    for start in range(0, rows.shape[0], ROWS_PER_CHUNK):
        block = rows[start : start + ROWS_PER_CHUNK, spec.byte_slice]
        bits = np.unpackbits(block, axis=1, count=spec.numel, bitorder="little")
        freq += bits.sum(axis=0, dtype=np.uint32)
    return freq.astype(dtype).reshape(spec.shape)


def _chi2(observed: np.ndarray, expected: np.ndarray) -> tuple[float, int]:
    """Pearson chi-square with bins of expected count < 5 pooled into one.

    Degrees of freedom: bins - 2. Besides the total, the null's densities are the masks' own
    kept fractions, so the histogram's mean (the masks' total kept count) equals the null's
    by construction; with bins - 1 independent masks were rejected at 2-3% instead of 5%."""
    small = expected < 5
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    stat = float(np.sum((obs[keep] - exp[keep]) ** 2 / exp[keep]))
    return stat, max(int(keep.sum()) - 2, 1)


def count_pmf(densities) -> np.ndarray:
    """Probability that exactly ``k = 0..m`` of ``m`` independent masks keep a weight, mask ``i``
    keeping it with probability ``densities[i]`` (Poisson-binomial; one convolution per mask,
    O(m^2), every term positive so no cancellation)."""
    pmf = np.ones(1)
    for p in np.asarray(densities, dtype=np.float64).ravel():
        pmf = np.append(pmf * (1.0 - p), 0.0) + np.append(0.0, pmf * p)
    return pmf


def compare_with_null(freq: np.ndarray, densities) -> tuple[dict, pd.DataFrame]:
    """Summary statistics and the histogram of ``freq`` against independent masks that keep the
    layer's weights at ``densities`` (one per mask, see :func:`count_pmf`): the masks' own kept
    fractions of the layer (the chi-square's degrees of freedom count on it)."""
    from scipy import stats  # ~0.7 s to import: only when a consensus is computed

    densities = np.asarray(densities, dtype=np.float64).ravel()
    m, numel = densities.size, freq.size
    k = np.arange(m + 1)
    pmf = count_pmf(densities)
    observed = np.bincount(freq.ravel(), minlength=m + 1).astype(np.float64)
    expected = numel * pmf
    chi2, dof = _chi2(observed, expected)
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    ks = float(np.max(np.abs(np.cumsum(observed) / numel - cdf)))
    null_var = float(np.sum(densities * (1 - densities)))
    summary = {
        "frac_all": observed[m] / numel,
        "frac_all_null": float(np.prod(densities)),
        "frac_none": observed[0] / numel,
        "frac_none_null": float(np.prod(1 - densities)),
        "dispersion": float(freq.var() / null_var) if null_var > 0 else np.nan,
        "chi2": chi2,
        "chi2_dof": dof,
        "chi2_pvalue": float(stats.chi2.sf(chi2, dof)),
        "ks": ks,
    }
    hist = pd.DataFrame({"k": k, "observed": observed.astype(np.int64), "expected": expected})
    return summary, hist


def compare_with_binomial(freq: np.ndarray, m: int, p: float) -> tuple[dict, pd.DataFrame]:
    """:func:`compare_with_null` when all ``m`` masks keep the layer at one density ``p``."""
    return compare_with_null(freq, np.full(m, p))


# what the independent-masks null decides
_NULL_FIELDS = ("frac_all_null", "frac_none_null", "dispersion", "chi2", "chi2_dof", "chi2_pvalue", "ks")


def _without_null(summary: dict, hist: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """Masks searched inside a source share its left-out and locked weights: selected by
    every or no mask whatever the search does, so the independent-masks null does not hold
    (:func:`landscape.tl.baseline.in_a_source`); their observed frequencies stay."""
    return summary | dict.fromkeys(_NULL_FIELDS, np.nan), hist.assign(expected=np.nan)


def consensus(ms, *, groupby=CONFIG, key_added: str | None = None, copy: bool = False):
    """Per-weight selection frequencies per group, network and layer, against independent masks.

    Parameters
    ----------
    ms
        MaskSet.
    groupby
        ``"config"`` (default): one group per configuration; columns pool configurations (see
        :mod:`landscape.grouping`). Frequencies are counted within one random network (the
        same position holds another weight in another network).
    key_added, copy
        ``uns`` key (default ``"consensus"``); with ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per group, network and layer: ``group`` (the group's label, with its weight
        seed when the group spans several networks), ``weight_seed``, ``n_masks``,
        ``density`` (mean over the masks of the layer's density), ``density_min`` and
        ``density_max`` (the masks' extremes), ``frac_all``/``frac_none`` (weights kept by
        every/no mask) beside their null values ``prod p_i`` and ``prod (1 - p_i)`` (``p_i``
        mask ``i``'s density in the layer), ``dispersion`` (variance of the frequency over the
        weights, divided by the null variance ``sum p_i (1 - p_i)``), ``chi2, chi2_dof,
        chi2_pvalue`` (Pearson, the weights taken as independent draws; bins of expected
        count below 5 pooled, ``chi2_dof`` = bins - 2 as the masks' counts fix the mean) and ``ks`` (largest
        CDF gap), ``pooled``. The null is the Poisson-binomial of the ``p_i`` (see the module
        docstring); with equal densities it is ``Binomial(m, p)``.
        ``uns[key][group]`` holds ``"freq"`` (``{layer: uint16 array of the layer's shape}``)
        and ``"hist"`` (``{layer: DataFrame k, observed, expected}``); ``uns[key]["summary"]``
        the table.
    """
    if len(ms) == 0:
        raise AnalysisError("consensus needs at least one mask")
    rows, per_group = [], {}
    sourced = in_a_source(ms.obs)
    for g in pooled_groups(ms, groupby):
        for net, pos in g.networks.items():
            label = g.label if g.n_networks == 1 else network_label(g.label, net)
            packed = ms.rows(pos)
            kept = layer_counts(packed, ms.layout)
            freqs, hists = {}, {}
            for j, spec in enumerate(ms.layout):
                freq = selection_frequency(packed, ms.layout, spec.name)
                p = kept[:, j] / spec.numel
                summary, hists[spec.name] = compare_with_null(freq, p)
                if sourced[pos].any():
                    summary, hists[spec.name] = _without_null(summary, hists[spec.name])
                freqs[spec.name] = freq
                rows.append(
                    {"group": label, **g.key, **{k: v for k, v in g.columns.items() if k != "density"}, "weight_seed": net, "layer": spec.name, "n_masks": len(pos),
                     "density": float(p.mean()), "density_min": float(p.min()), "density_max": float(p.max()), **summary, "pooled": g.pooled_text()}
                )  # fmt: skip
            per_group[label] = {"freq": freqs, "hist": hists, "n_masks": len(pos)}
    table = pd.DataFrame(rows)
    if not copy:
        ms.uns[key_added or "consensus"] = {
            "params": {
                "groupby": _describe_groupby(groupby),
                **({"no_null": SOURCE_NOTE} if sourced.any() else {}),
            },
            "summary": table,
            **per_group,
        }
    return table
