"""Selection frequency of each weight across the masks of a group, against chance.

If the masks of a group were independent with a layer's density ``p``, the number of masks
keeping a weight would follow ``Binomial(m, p)``. Consensus (weights everyone keeps or
nobody keeps) shows up as excess mass at ``0`` and ``m``, a dispersion above 1, and large
chi-square and Kolmogorov-Smirnov distances to that null.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.grouping import CONFIG, group_masks
from landscape.tl.baseline import _describe_groupby

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
    """Pearson chi-square with bins of expected count < 5 pooled into one."""
    small = expected < 5
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    stat = float(np.sum((obs[keep] - exp[keep]) ** 2 / exp[keep]))
    return stat, max(int(keep.sum()) - 1, 1)


def compare_with_binomial(freq: np.ndarray, m: int, p: float) -> tuple[dict, pd.DataFrame]:
    """Summary statistics and the histogram of ``freq`` against ``Binomial(m, p)``."""
    from scipy import stats  # ~0.7 s to import: only when a consensus is computed

    numel = freq.size
    k = np.arange(m + 1)
    observed = np.bincount(freq.ravel(), minlength=m + 1).astype(np.float64)
    expected = numel * stats.binom.pmf(k, m, p)
    chi2, dof = _chi2(observed, expected)
    ks = float(np.max(np.abs(np.cumsum(observed) / numel - stats.binom.cdf(k, m, p))))
    null_var = m * p * (1 - p)
    summary = {
        "frac_all": observed[m] / numel,
        "frac_all_null": p**m,
        "frac_none": observed[0] / numel,
        "frac_none_null": (1 - p) ** m,
        "dispersion": float(freq.var() / null_var) if null_var > 0 else np.nan,
        "chi2": chi2,
        "chi2_dof": dof,
        "chi2_pvalue": float(stats.chi2.sf(chi2, dof)),
        "ks": ks,
    }
    hist = pd.DataFrame({"k": k, "observed": observed.astype(np.int64), "expected": expected})
    return summary, hist


def consensus(ms, *, groupby=CONFIG, key_added: str | None = None, copy: bool = False):
    """Per-weight selection frequencies per group, network and layer, against the binomial null.

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
        ``density`` (mean over the group), ``frac_all``/``frac_none`` (weights kept by
        every/no mask) beside their null values ``p**m`` and ``(1-p)**m``, ``dispersion``
        (variance of the frequency over the binomial variance), ``chi2, chi2_dof,
        chi2_pvalue`` and ``ks`` (largest CDF gap), ``pooled``.
        ``uns[key][group]`` holds ``"freq"`` (``{layer: uint16 array of the layer's shape}``)
        and ``"hist"`` (``{layer: DataFrame k, observed, expected}``); ``uns[key]["summary"]``
        the table.
    """
    if len(ms) == 0:
        raise AnalysisError("consensus needs at least one mask")
    rows, per_group = [], {}
    for g in group_masks(ms.obs, groupby):
        for net, pos in g.networks.items():
            label = g.label if g.n_networks == 1 else f"{g.label} · weight seed {net}"
            packed = ms.rows(pos)
            freqs, hists = {}, {}
            for spec in ms.layout:
                freq = selection_frequency(packed, ms.layout, spec.name)
                p = float(freq.sum(dtype=np.int64)) / (len(pos) * spec.numel)
                summary, hists[spec.name] = compare_with_binomial(freq, len(pos), p)
                freqs[spec.name] = freq
                rows.append(
                    {"group": label, **g.key, **{k: v for k, v in g.columns.items() if k != "density"}, "weight_seed": net, "layer": spec.name, "n_masks": len(pos),
                     "density": p, **summary, "pooled": g.pooled_text()}
                )  # fmt: skip
            per_group[label] = {"freq": freqs, "hist": hists, "n_masks": len(pos)}
    table = pd.DataFrame(rows)
    if not copy:
        ms.uns[key_added or "consensus"] = {
            "params": {"groupby": _describe_groupby(groupby)},
            "summary": table,
            **per_group,
        }
    return table
