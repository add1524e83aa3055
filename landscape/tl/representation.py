"""Do masks compute the same features? Linear CKA between their hidden representations, layer
by layer, beside the CKA of independent random masks over the same random weights.

For each configuration and network the stored masks and as many independent random masks
(uniform positions, each with the per-layer counts of one stored mask; for masks searched
inside an ER or partially frozen source, inside the same source: its locked weights kept,
its left-out ones never) are pinned into ONE
ensemble model over the run's random weights, and one forward of a fixed batch of examples
gives every representation of every mask at once. A representation is what a masked layer
receives (``at="input"``: the previous layers' output after their BatchNorm and nonlinearity;
the network's input itself is left out) or what it computes (``at="output"``, before
BatchNorm and nonlinearity), plus the logits. CKA is computed from centred Gram matrices
(:mod:`landscape.tl._cka`), so any width costs ``n_examples²`` per mask.

BatchNorm: stored masks use their stored running statistics (``bn="stored"``: the networks
as searched); random masks have none, so theirs are re-estimated on the training split
(``bn="reestimate"`` re-estimates every mask's, so that both sides are treated alike; stored
masks of runs that kept no statistics are re-estimated in either case).

Uncertainty follows :mod:`landscape.tl._stats`: a delete-one-mask jackknife over masks for
the stored and for the random masks (over the pairs whose CKA is defined); the excess over random masks has the two jackknife
variances summed (the two sets are independent) and ``min(m, r) - 1`` degrees of freedom;
across networks, a t interval over networks. torch is imported only when this runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.grouping import CONFIG
from landscape.snapshots import refuse_earlier_snapshots
from landscape.tl import _stats
from landscape.tl._cka import cka_from_products
from landscape.tl._representation_engine import batch_seed, grams, set_batchnorm, slot_masks, slot_order
from landscape.tl._source_frame import SourceFrames
from landscape.tl.baseline import SOURCE_NOTE, _describe_groupby, layer_sizes

AT = ("input", "output")
BN = ("stored", "reestimate")


def representation_similarity(
    ms,
    *,
    split: str = "test",
    n_examples: int = 512,
    n_random: int | None = None,
    at: str = "input",
    bn: str = "stored",
    groupby=CONFIG,
    rng: int = 0,
    device: str | None = "cpu",
    bn_batches: int | None = None,
    batch_size: int = 256,
    key_added: str = "representation_similarity",
) -> pd.DataFrame:
    """Linear CKA between the masks' representations, per layer, against random masks.

    Parameters
    ----------
    ms
        MaskSet read from runs (``ls.read_runs``): networks are rebuilt from the store.
    split
        Where the fixed batch comes from.
    n_examples
        Size of the fixed batch (all examples when the split is smaller); the same examples
        for every group (drawn from ``rng``).
    n_random
        Independent random masks per network (default: as many as stored masks, at least 2).
    at
        ``"input"`` or ``"output"`` of each masked layer (module docstring).
    bn
        ``"stored"`` or ``"reestimate"`` BatchNorm statistics for the stored masks.
    groupby
        ``"config"`` (default) or columns to pool configurations by (the output says so).
    rng
        Seed for the batch, the random masks and the BatchNorm batches.
    device
        Where the networks run.
    bn_batches, batch_size
        Training batches (of ``batch_size``) for BatchNorm re-estimation (None: one pass).
    key_added
        ``uns`` key.

    Returns
    -------
    pandas.DataFrame
        One row per group, network and representation (in forward order): ``cka`` (mean over
        the ``n_pairs`` pairs of stored masks whose CKA is defined) with its 95% jackknife
        interval, ``random_cka`` (the ``n_random_pairs`` defined pairs of random masks) with
        its interval, ``excess`` = cka - random_cka with its interval. A constant
        representation (a dead layer) has no CKA: its pairs are left out of the mean and
        interval rather than counted as 0, and the values are NaN when no pair is defined.
        ``uns[key]`` holds ``"summary"`` (across networks) and ``"matrices"`` (per network:
        the CKA matrix ``(L, m + r, m + r)`` of stored then random masks).
    """
    if at not in AT:
        raise AnalysisError(f"at={at!r}: choose one of {AT}")
    if bn not in BN:
        raise AnalysisError(f"bn={bn!r}: choose one of {BN}")
    if n_examples < 2:
        raise AnalysisError("n_examples: CKA needs at least 2 examples")
    refuse_earlier_snapshots(ms, "representation_similarity", stored_batchnorm=bn == "stored")
    from landscape.nn.init import derive_seed
    from landscape.tl._barrier_engine import StoreAccess

    access = StoreAccess(ms)
    counts, _ = layer_sizes(ms)
    frames = SourceFrames(ms)
    rows, matrices, unmatched = [], [], False
    for g in pooled_groups(ms, groupby):
        for net, pos in g.networks.items():
            if len(pos) < 2:
                continue
            usable, source = _random_masks_source(frames, pos)
            r = max(2, int(n_random if n_random is not None else len(pos)))
            gen = np.random.default_rng(derive_seed(rng, "cka", str(g.label), str(net)))
            names, products, n_used = _products(
                ms,
                access,
                pos,
                counts,
                r,
                at,
                bn,
                split,
                n_examples,
                rng,
                gen,
                device,
                bn_batches,
                batch_size,
                source,
            )
            cka = np.stack([cka_from_products(products[name]) for name in names])
            part = _rows(g, net, names, cka, len(pos), r, at, n_used)
            if not usable:  # masks of a source that cannot be redrawn: whole-layer random masks are no match
                m = len(pos)
                cka = cka[:, :m, :m]
                part = [
                    row | dict.fromkeys(_RANDOM_COLUMNS, np.nan) | {"n_random": 0, "n_random_pairs": 0}
                    for row in part
                ]
                unmatched = True
            matrices.append(
                {
                    "group": g.label,
                    "weight_seed": net,
                    "masks": list(ms.obs.index[pos].astype(str)),
                    "n_random": r if usable else 0,
                    "representations": names,
                    "cka": cka,
                }
            )
            rows += part
    if not rows:
        raise AnalysisError("no group has two masks in one network")
    table = pd.DataFrame(rows)
    ms.uns[key_added] = {
        "params": {
            "split": split,
            "n_examples": n_examples,
            "at": at,
            "bn": bn,
            "groupby": _describe_groupby(groupby),
            "rng": rng,
            "similarity": "linear CKA (biased HSIC) on a fixed batch",
            "random": "independent uniformly random masks with a stored mask's per-layer counts "
            "(inside the masks' source, for masks searched in one)",
            "interval": "95% delete-one-mask jackknife within a network; t over networks",
            **({"no_random": SOURCE_NOTE} if unmatched else {}),
        },
        "table": table,
        "summary": across_networks(table),
        "matrices": matrices,
    }
    return table


#: what random masks decide, blanked where none like the stored ones can be drawn
_RANDOM_COLUMNS = (
    "random_cka",
    "random_cka_ci_low",
    "random_cka_ci_high",
    "excess",
    "excess_ci_low",
    "excess_ci_high",
)


def _random_masks_source(frames: SourceFrames, pos) -> tuple[bool, dict | None]:
    """Whether random masks like a network's masks can be drawn, and what they must respect:
    nothing (None) for masks searched outside any source, else the masks' own source, so
    that both sides choose alike; not for masks of a source that cannot be redrawn from their
    run (or of two), which get no random CKA or excess."""
    ids = np.unique(frames.ids(pos))
    if len(ids) != 1 or ids[0] < 0:
        return False, None
    return True, None if ids[0] == 0 else frames.patterns(int(ids[0]))


def _products(
    ms,
    access,
    pos,
    counts,
    r,
    at,
    bn,
    split,
    n_examples,
    rng,
    gen,
    device,
    bn_batches,
    batch_size,
    source=None,
):
    """Gram inner products per representation over the stored masks ``pos`` and ``r`` random
    masks (stored first), all computed in one ensemble forward per run."""
    import torch

    obs = ms.obs
    runs = obs["run_id"].astype(str).to_numpy()
    first_run = runs[pos[0]]
    dataset = access.dataset(first_run)
    x_all, _ = getattr(dataset, split)
    if len(x_all) < 2:
        raise AnalysisError(f"split={split!r}: the {dataset.name} split has fewer than 2 examples")
    batch_gen = np.random.default_rng(batch_seed(rng))
    idx = np.sort(batch_gen.choice(len(x_all), min(n_examples, len(x_all)), replace=False))
    x = x_all[torch.as_tensor(idx)].to(device)
    per_name: dict[str, list[np.ndarray]] = {}
    order: list[str] = []
    for run in dict.fromkeys(runs[pos]):
        if access.store(run).config.data != access.store(first_run).config.data:
            raise AnalysisError(
                f"runs {first_run} and {run} of one group use different data; CKA needs one batch"
            )
    for k, run in enumerate(dict.fromkeys(runs[pos])):
        members = pos[runs[pos] == run]
        n_rand = r if k == 0 else 0  # the random masks live over the first run's network
        seeds = [int(s) for s in obs["search_seed"].to_numpy()[members]]
        w = int(obs["weight_seed"].to_numpy()[members[0]])
        model = access.model(run, w, seeds + [seeds[0]] * n_rand, device)
        masks = slot_masks(ms, members, counts[pos], n_rand, gen, source)
        model.set_fixed_masks({name: torch.from_numpy(m) for name, m in masks.items()})
        if model.has_batchnorm:
            set_batchnorm(model, access.store(run), w, seeds, bn, dataset, bn_batches, batch_size, rng)
        for name, gram in grams(model, x, at).items():
            if name not in per_name:
                order.append(name)
            per_name.setdefault(name, []).append(gram)
        del model
    n_slots = len(pos) + r
    products = {}
    for name in order:
        stacked = np.concatenate(per_name[name])
        if len(stacked) != n_slots:
            raise AnalysisError(f"representation {name!r} is missing in some of the group's networks")
        flat = stacked.reshape(n_slots, -1).astype(np.float64)
        products[name] = flat @ flat.T
    # stored masks first, in pos order, then the random ones (the loop above went run by run)
    perm = slot_order(runs[pos], r)
    products = {k: v[np.ix_(perm, perm)] for k, v in products.items()}
    return order, products, len(idx)


def _rows(g, net, names, cka, m, r, at, n_examples) -> list[dict]:
    stored, rand = cka[:, :m, :m], cka[:, m:, m:]
    s_mean, s_se, s_pairs, s_masks = _pair_stats(stored)
    r_mean, r_se, r_pairs, r_masks = _pair_stats(rand)
    rows = []
    for li, name in enumerate(names):
        lo, hi = _stats.interval(s_mean[li], s_se[li], s_masks[li] - 1)
        rlo, rhi = _stats.interval(r_mean[li], r_se[li], r_masks[li] - 1)
        ex = s_mean[li] - r_mean[li]
        dof = min(s_masks[li], r_masks[li]) - 1
        elo, ehi = _stats.interval(ex, np.sqrt(s_se[li] ** 2 + r_se[li] ** 2), dof)
        rows.append(
            {
                "group": g.label,
                **g.key,
                **g.columns,
                "weight_seed": net,
                "representation": name,
                "position": li,
                "at": at,
                "n_masks": m,
                "n_random": r,
                "n_pairs": int(s_pairs[li]),
                "n_random_pairs": int(r_pairs[li]),
                "n_examples": n_examples,
                "cka": float(s_mean[li]),
                "cka_ci_low": float(lo),
                "cka_ci_high": float(hi),
                "random_cka": float(r_mean[li]),
                "random_cka_ci_low": float(rlo),
                "random_cka_ci_high": float(rhi),
                "excess": float(ex),
                "excess_ci_low": float(elo),
                "excess_ci_high": float(ehi),
                "pooled": g.pooled_text(),
            }
        )
    return rows


def _pair_stats(cka: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per representation of ``cka`` ``(L, k, k)``: the mean over the pairs whose CKA is defined,
    its delete-one-mask jackknife se over the masks that have a defined pair, and how many
    pairs and masks those are.

    A constant representation (a dead layer) has no CKA with anything (NaN): counting it as 0
    would pull the mean towards "unrelated", so its pairs are left out, and so is the mask
    from the jackknife. The mean is NaN when no pair is defined; the se needs 3 such masks.
    """
    n_rep, k = cka.shape[0], cka.shape[1]
    mean, se = np.full(n_rep, np.nan), np.full(n_rep, np.nan)
    n_pairs, n_masks = np.zeros(n_rep, dtype=np.int64), np.zeros(n_rep, dtype=np.int64)
    off_diagonal = ~np.eye(k, dtype=bool)
    for li in range(n_rep):
        defined = np.isfinite(cka[li]) & off_diagonal
        used = defined.any(axis=1)
        defined = defined[np.ix_(used, used)]
        values = np.where(defined, cka[li][np.ix_(used, used)], 0.0)
        total, count = values.sum() / 2, int(defined.sum()) // 2
        n_pairs[li], n_masks[li] = count, int(used.sum())
        if count == 0:
            continue
        mean[li] = total / count
        rest = count - defined.sum(axis=1)  # defined pairs left when one mask is deleted
        if n_masks[li] >= 3 and np.all(rest > 0):
            se[li] = _stats._jackknife((total - values.sum(axis=1)) / rest)
    return mean, se, n_pairs, n_masks


def _pair_mean_se(cka: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the defined pairs and its jackknife se, per representation (:func:`_pair_stats`)."""
    mean, se, _, _ = _pair_stats(cka)
    return mean, se


_ACROSS = ("cka", "random_cka", "excess")


def across_networks(table: pd.DataFrame) -> pd.DataFrame:
    """Per group and representation across networks: means, sd over networks and a 95% t
    interval over networks (``interval == "networks"``), else the network's interval over masks.

    Each column runs over the networks where it is defined (a network whose masks have no
    defined CKA at a representation gives NaN there and is left out): ``n_networks`` counts
    the networks of the group, ``n_networks_defined`` those with a defined ``cka``, and
    ``n_pairs`` the defined pairs summed over them. ``interval`` is that of ``cka``;
    ``random_cka_interval`` and ``excess_interval`` those of the other columns.
    """
    cols = list(table.columns)
    keys = [*cols[: cols.index("weight_seed")], "representation", "position", "at"]
    out = []
    for _, part in table.groupby(keys, sort=False, dropna=False):
        first = part.iloc[0]
        defined = part[np.isfinite(part["cka"].to_numpy(dtype=float))]
        row = {k: first[k] for k in keys} | {
            "n_networks": len(part),
            "n_networks_defined": len(defined),
            "n_masks": int(part["n_masks"].sum()),
            "n_pairs": int(part["n_pairs"].sum()) if "n_pairs" in part else np.nan,
            "n_examples": int(first["n_examples"]),
        }
        for name in _ACROSS:
            usable = part[np.isfinite(part[name].to_numpy(dtype=float))]
            if len(usable) == 0:
                row |= {name: np.nan, f"{name}_sd_networks": np.nan}
                row |= {f"{name}_ci_low": np.nan, f"{name}_ci_high": np.nan}
            else:
                row.update(_stats.network_columns(usable, usable.iloc[0], [name]))
            if name != "cka":  # its own networks may be fewer than cka's
                row[f"{name}_interval"] = "networks" if len(usable) > 1 else "masks"
        row["interval"] = "networks" if len(defined) > 1 else "masks"
        row["pooled"] = first["pooled"]
        out.append(row)
    return pd.DataFrame(out)
