"""Which inputs a layer's masks favour: selection frequency per input unit, against chance.

For a layer of shape ``(out, in, *kernel)`` an *input unit* is one entry of ``(in, *kernel)``
(an input feature of a linear layer, a channel and tap of a convolution). Over ``m`` masks
the unit has ``m * out`` weights; if every mask kept weights independently at the layer's
density ``p``, the number kept would be ``Binomial(m * out, p)``. Units far outside that
band are inputs the search consistently keeps (or drops).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.networks import network_label
from landscape.tl.baseline import _describe_groupby, in_a_source
from landscape.tl.consensus import selection_frequency


def kept_per_input(freq: np.ndarray) -> np.ndarray:
    """Sum a layer's per-weight selection counts over its output axis: int64 ``(in * kernel,)``."""
    freq = np.asarray(freq)
    if freq.ndim < 2:
        raise AnalysisError(
            f"input frequency needs a layer with an output and an input axis, got shape {freq.shape}"
        )
    return freq.reshape(freq.shape[0], -1).sum(axis=0, dtype=np.int64)


def binomial_band(kept: np.ndarray, trials: int, level: float = 0.95) -> pd.DataFrame:
    """Per input unit: observed fraction against ``Binomial(trials, p)``, ``p`` the pooled rate.

    Returns
    -------
    DataFrame
        ``position, kept, trials, fraction, null, low, high, z, pvalue``: ``low``/``high``
        bound the central ``level`` interval of the null fraction, ``z`` is
        ``(kept - trials p) / sqrt(trials p (1 - p))`` and ``pvalue`` the two-sided binomial
        tail probability (doubled smaller tail, at most 1).

    The ``trials`` are taken to share one rate. Masks of unequal densities (a pooled group,
    global top-k) keep a unit with unequal rates, whose count has a smaller variance than
    the binomial of the pooled rate: the band is then wider than the null's and the test
    conservative.
    """
    from scipy import stats

    kept = np.asarray(kept, dtype=np.int64)
    if trials < 1 or kept.size == 0:
        raise AnalysisError("input frequency: no weights to count")
    p = float(kept.sum()) / (trials * kept.size)
    alpha = 1.0 - level
    low = stats.binom.ppf(alpha / 2, trials, p) / trials
    high = stats.binom.ppf(1 - alpha / 2, trials, p) / trials
    sd = math.sqrt(trials * p * (1 - p))
    z = (kept - trials * p) / sd if sd > 0 else np.zeros(kept.size)
    tails = np.minimum(stats.binom.cdf(kept, trials, p), stats.binom.sf(kept - 1, trials, p))
    return pd.DataFrame(
        {
            "position": np.arange(kept.size),
            "kept": kept,
            "trials": trials,
            "fraction": kept / trials,
            "null": p,
            "low": low,
            "high": high,
            "z": z,
            "pvalue": np.minimum(2 * tails, 1.0),
        }
    )


def outside_rate(trials: int, p: float, level: float = 0.95) -> float:
    """Chance that a unit under the null falls strictly outside :func:`binomial_band`'s band.

    The binomial is discrete, so this is below ``1 - level`` (0.026 for 30 trials at p = 0.3,
    0.011 for 20 at p = 0.1): the expected number of units outside is ``units`` times this.
    """
    from scipy import stats

    alpha = 1.0 - level
    k_low = stats.binom.ppf(alpha / 2, trials, p)
    k_high = stats.binom.ppf(1 - alpha / 2, trials, p)
    return float(stats.binom.cdf(k_low - 1, trials, p) + stats.binom.sf(k_high, trials, p))


def input_frequency(
    ms,
    *,
    layer: str | None = None,
    groupby=CONFIG,
    level: float = 0.95,
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """How often each input unit of ``layer`` is kept, per group of masks, against chance.

    Parameters
    ----------
    ms
        MaskSet.
    layer
        Layer name (default: the first layer of the layout, the one that sees the input).
    groupby
        ``"config"`` (default): one group per configuration; columns pool configurations (see
        :mod:`landscape.grouping`). Counts are taken within one random network (the same
        position holds another weight in another network).
    level
        Coverage of the null band ``low``-``high`` (default 0.95).
    key_added, copy
        ``uns`` key (default ``"input_frequency"``); with ``copy=True`` ``ms`` is untouched.

    Returns
    -------
    pandas.DataFrame
        One row per group, network and input unit (see :func:`binomial_band`), with the
        group's columns, ``group`` (its label, with the weight seed when the group spans
        several networks), ``weight_seed``, ``layer``, ``n_masks`` and ``pooled``.
        ``uns[key]["summary"]`` has one row per group: the number of units outside the band
        beside the number expected by chance (:func:`outside_rate` of them: below
        ``1 - level``, the binomial being discrete), and a chi-square of all units against the
        null (``chi2, chi2_dof = units - 1``, ``chi2_pvalue``). The binomial null treats each mask's weights as independent draws;
        a layer-wise top-k keeps an exact count per mask, which makes the true null slightly
        narrower, so the test errs on the side of finding no structure.
    """
    from scipy import stats

    if len(ms) == 0:
        raise AnalysisError("input frequency needs at least one mask")
    layer = layer or ms.layout.names[0]
    if layer not in ms.layout.names:
        raise AnalysisError(f"layer: no layer {layer!r} (layers: {', '.join(ms.layout.names)})")
    if not 0 < level < 1:
        raise AnalysisError(f"level: must be in (0, 1), got {level}")
    out_size = ms.layout[layer].shape[0]
    tables, summary = [], []
    sourced = in_a_source(ms.obs)
    for g in pooled_groups(ms, groupby):
        for net, pos in g.networks.items():
            label = g.label if g.n_networks == 1 else network_label(g.label, net)
            freq = selection_frequency(ms.rows(pos), ms.layout, layer)
            band = binomial_band(kept_per_input(freq), len(pos) * out_size, level)
            band.insert(0, "group", label)
            for c, v in {**g.key, **g.columns}.items():
                band[c] = v
            band["weight_seed"], band["layer"], band["n_masks"] = net, layer, len(pos)
            band["pooled"] = g.pooled_text()
            tables.append(band)
            outside = int(((band["fraction"] < band["low"]) | (band["fraction"] > band["high"])).sum())
            chi2 = float(np.sum(band["z"] ** 2))
            dof = max(len(band) - 1, 1)
            summary.append(
                {
                    "group": label,
                    **g.key,
                    **g.columns,
                    "weight_seed": net,
                    "layer": layer,
                    "n_masks": len(pos),
                    "n_units": len(band),
                    "outside": outside,
                    "outside_expected": outside_rate(len(pos) * out_size, float(band["null"].iloc[0]), level)
                    * len(band),
                    "chi2": chi2,
                    "chi2_dof": dof,
                    "chi2_pvalue": float(stats.chi2.sf(chi2, dof)),
                    "pooled": g.pooled_text(),
                }
            )
            if sourced[pos].any():
                # a source's left-out and locked weights are shared: no binomial null holds
                summary[-1].update(
                    dict.fromkeys(("outside", "outside_expected", "chi2", "chi2_pvalue"), np.nan)
                )
                band[["null", "low", "high", "z"]] = np.nan
    table = pd.concat(tables, ignore_index=True)
    if not copy:
        ms.uns[key_added or "input_frequency"] = {
            "params": {"layer": layer, "groupby": _describe_groupby(groupby), "level": level},
            "table": table,
            "summary": pd.DataFrame(summary),
        }
    return table
