"""The pair tables behind :func:`landscape.tl.seed_sources`: pairs of masks classed by the
seeds they share, their similarity beside chance with a jackknife interval per class, and the
fraction of the gap between sharing neither seed and sharing both that each seed closes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.tl import _stats
from landscape.tl._pairsets import block_similarity, involved, jackknife_se, leave_one_out
from landscape.tl._source_frame import pair_chance

NEITHER, SCORE, DATA, BOTH = "neither", "score seed", "data seed", "both"
#: pair classes by the seeds shared, in display order
SHARED = (NEITHER, DATA, SCORE, BOTH)
#: what varies between the two masks of a pair of each class
VARIES = {NEITHER: "scores + data order", SCORE: "data order", DATA: "scores", BOTH: "nothing"}
_CODE = {(False, False): NEITHER, (True, False): SCORE, (False, True): DATA, (True, True): BOTH}


def _classes(obs: pd.DataFrame, pos_a: np.ndarray, pos_b: np.ndarray) -> np.ndarray:
    """``(ma, mb)`` class names of the pairs of masks ``pos_a`` x ``pos_b``."""
    score, data = obs["score_seed"].to_numpy(), obs["data_seed"].to_numpy()
    same_s = score[pos_a][:, None] == score[pos_b][None, :]
    same_d = data[pos_a][:, None] == data[pos_b][None, :]
    out = np.empty(same_s.shape, dtype=object)
    for (s, d), name in _CODE.items():
        out[(same_s == s) & (same_d == d)] = name
    return out


def _block(ms, pos_a, pos_b, metric, frames):
    """Similarity, chance mean and chance variance ``(ma, mb, 1 + L)`` of the pairs
    (``frames``: the masks' sources, :class:`landscape.tl._source_frame.SourceFrames`)."""
    whole, layers, ka, kb = block_similarity(
        ms.rows(pos_a), None if pos_b is None else ms.rows(pos_b), ms.layout, metric
    )
    kb = ka if pos_b is None else kb
    numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
    counts = np.concatenate([ka, kb])
    ii, jj = np.meshgrid(np.arange(len(ka)), len(ka) + np.arange(len(kb)), indexing="ij")
    # each pair under its null: whole layers, a source both share, or none (NaN)
    where = np.concatenate([pos_a, pos_a if pos_b is None else pos_b])
    i, j = ii.ravel(), jj.ravel()
    mean_l, sd_l, mean_w, sd_w = pair_chance(frames, where[i], where[j], counts, numel, metric, i, j)
    shape = (len(ka), len(kb))
    mean = np.concatenate([mean_w[:, None], mean_l], axis=1).reshape(*shape, -1)
    var = (np.concatenate([sd_w[:, None], sd_l], axis=1) ** 2).reshape(*shape, -1)
    sim = np.concatenate([whole[..., None], layers], axis=2)
    return sim, mean, var


def network_rows(head, ms, pos_a, pos_b, metric, within: bool, frames) -> list[dict]:
    """Rows (class x layer) and fraction rows of one family (or family pair) in one network
    (``frames``: the masks' sources, one :class:`~landscape.tl._source_frame.SourceFrames`
    for the call)."""
    obs = ms.obs
    sim, mean, var = _block(ms, pos_a, None if within else pos_b, metric, frames)
    classes = _classes(obs, pos_a, pos_b)
    ma, mb = len(pos_a), len(pos_b)
    if within:
        i, j = np.triu_indices(ma, 1)
        units_i, units_j, n_units = i, j, ma
    else:
        i, j = (g.ravel() for g in np.meshgrid(np.arange(ma), np.arange(mb), indexing="ij"))
        units_i, units_j, n_units = i, ma + j, ma + mb
    names = ["whole", *ms.layout.names]
    cls = classes[i, j]
    pair_sim, pair_chance, pair_var = sim[i, j], mean[i, j], var[i, j]
    rows, levels = [], {}
    for name in SHARED:
        sel = cls == name
        if not sel.any():
            continue
        ui, uj = units_i[sel], units_j[sel]
        s, c, v = pair_sim[sel], pair_chance[sel], pair_var[sel]
        n = len(s)
        theta, base = s.mean(0), c.mean(0)
        loo_s, loo_n = leave_one_out(s, ui, uj, n_units)
        loo_e, _ = leave_one_out(s - c, ui, uj, n_units)
        with np.errstate(divide="ignore", invalid="ignore"):
            loo_sim = loo_s / loo_n[:, None]
            loo_ex = loo_e / loo_n[:, None]
        keep = involved(ui, uj, n_units)
        se_s, u = jackknife_se(theta, loo_sim, keep)
        se_e, _ = jackknife_se(theta - base, loo_ex, keep)
        lo_s, hi_s = _stats.interval(theta, se_s, u - 1)
        lo_e, hi_e = _stats.interval(theta - base, se_e, u - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (theta - base) * n / np.sqrt(v.sum(0))
        levels[name] = (theta, loo_sim, keep)
        for k, layer in enumerate(names):
            rows.append(
                {
                    **head,
                    "shared": name,
                    "varies": VARIES[name],
                    "layer": layer,
                    "metric": metric,
                    "n_masks": u,
                    "n_pairs": n,
                    "similarity": float(theta[k]),
                    "similarity_sd": float(s[:, k].std(ddof=1)) if n > 1 else 0.0,
                    "similarity_min": float(s[:, k].min()),
                    "similarity_max": float(s[:, k].max()),
                    "similarity_ci_low": float(lo_s[k]),
                    "similarity_ci_high": float(hi_s[k]),
                    "chance_similarity": float(base[k]),
                    "chance_similarity_sd": float(np.sqrt(v[:, k].mean() + c[:, k].var())),
                    "excess_similarity": float(theta[k] - base[k]),
                    "excess_ci_low": float(lo_e[k]),
                    "excess_ci_high": float(hi_e[k]),
                    "p_value": float(_stats.two_sided_p(z[k])),
                    "_excess_sum": float((theta[k] - base[k]) * n),
                    "_null_var_sum": float(v[:, k].sum()),
                }
            )
    fractions = _fractions(head, levels, names, n_units, within)
    return rows, fractions


def _fractions(head, levels, names, n_units, within) -> list[dict]:
    """Fraction of the neither-to-both gap closed by sharing each seed, with jackknife se."""
    if NEITHER not in levels or (SCORE not in levels and DATA not in levels):
        return []
    if BOTH in levels:
        (top, top_loo, top_units), both_level = levels[BOTH], "measured"
    elif within:
        top, top_loo, top_units = np.ones(len(names)), np.ones((n_units, len(names))), np.zeros(n_units, bool)
        both_level = "identical searches (1)"
    else:
        return []
    base, base_loo, base_units = levels[NEITHER]
    out = []
    for source, name in (("scores", SCORE), ("data order", DATA)):
        if name not in levels:
            continue
        level, level_loo, level_units = levels[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = (level - base) / (top - base)
            loo = (level_loo - base_loo) / (top_loo - base_loo)
        # every mask in a pair of the three levels is a unit; one whose removal leaves a level
        # without pairs makes the jackknife undefined (NaN), as for the classes' own intervals
        keep = base_units | level_units | top_units
        se, u = jackknife_se(frac, loo, keep)
        lo, hi = _stats.interval(frac, se, u - 1)
        for k, layer in enumerate(names):
            out.append(
                {
                    **head,
                    "source": source,
                    "layer": layer,
                    "explained": float(frac[k]),
                    "explained_ci_low": float(lo[k]),
                    "explained_ci_high": float(hi[k]),
                    "similarity_neither": float(base[k]),
                    "similarity_shared": float(level[k]),
                    "similarity_both": float(top[k]),
                    "both_level": both_level,
                    "n_masks": u,
                }
            )
    return out


def summarise_fractions(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return table
    keys = [c for c in table.columns if c not in _FRACTION_VALUES and c != "weight_seed"]
    out = []
    for _, part in table.groupby(keys, sort=False, dropna=False):
        first = part.iloc[0]
        row = {k: first[k] for k in keys}
        w = len(part)
        stats = _stats.across_networks(part["explained"].to_numpy())
        row.update(n_networks=w, n_masks=int(part["n_masks"].sum()), explained=float(stats["mean"]))
        if w > 1:
            row["explained_ci_low"], row["explained_ci_high"] = (
                float(stats["ci_low"]),
                float(stats["ci_high"]),
            )
        else:
            row["explained_ci_low"], row["explained_ci_high"] = (
                first["explained_ci_low"],
                first["explained_ci_high"],
            )
        for c in ("similarity_neither", "similarity_shared", "similarity_both"):
            row[c] = float(part[c].mean())
        row["interval"] = "networks" if w > 1 else "masks"
        out.append(row)
    return pd.DataFrame(out)


_FRACTION_VALUES = (
    "explained",
    "explained_ci_low",
    "explained_ci_high",
    "similarity_neither",
    "similarity_shared",
    "similarity_both",
    "n_masks",
)
