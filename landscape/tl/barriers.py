"""Loss barriers between masks: interpolation curves with BatchNorm re-estimation.

Every (pair, alpha) point of a path is one network; many points run as the slots of ONE
ensemble model (``EnsembleNet`` with ``n_masks`` = points in the batch), so a batch of
curves costs one batched forward per data batch. How a point's network is set up:

- ``linear``: the slot's layers get a precomputed effective weight
  ``lerp(W_eff(A), W_eff(B), alpha)``, where ``W_eff`` is the run's method applied to each
  end mask (``m * w`` for Edge-Popup, ``gain * sign(w) * m`` for Biprop, each mask's own
  stored weights for methods that changed them). The weights are handed to the layers by a
  tiny mask rule that returns them unchanged, so no layer code is special-cased.
- ``swap``: the slot's binary mask is pinned (``fixed_mask``) and the run's method turns it
  into the effective weight, exactly as for a stored mask.

When the model has BatchNorm, the running statistics of EVERY point (the ends included)
are re-estimated before it is evaluated: reset, then a cumulative average
(``momentum=None``) over ``bn_batches`` batches of the training split, without
augmentation, in train mode under ``no_grad``. Stored masks were searched with statistics
of their own; at interpolated points those are wrong, and treating the ends the same way
keeps the whole curve comparable.

torch is imported inside the functions that need it (the analysis side stays light).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.snapshots import refuse_earlier_snapshots
from landscape.tl import _paths
from landscape.tl._barrier_cache import BarrierCache
from landscape.tl._barrier_engine import Engine
from landscape.tl._barrier_pairs import (
    PATHS,
    _base_seed,
    _canonical,
    _check_args,
    _check_cross_run,
    _check_obs,
    _check_paths,
    _describe_pairs,
    _group_labels,
    _select_pairs,
)

DEFINITIONS = {
    "barrier_loss": "max_alpha [loss(alpha) - ((1 - alpha) loss(0) + alpha loss(1))] (chord-based)",
    "barrier_loss_mean_based": "max_alpha loss(alpha) - (loss(0) + loss(1)) / 2",
    "barrier_acc": "max_alpha [((1 - alpha) acc(0) + alpha acc(1)) - acc(alpha)] (chord-based)",
    "hamming": "d_H(A, B) / n_weights",
    "jaccard": "1 - |A & B| / |A | B| (Jaccard distance)",
}


def barriers(
    ms,
    pairs: None | int | Sequence[tuple[int, int]] = None,
    *,
    path: str | Sequence[str] = PATHS,
    n_points: int = 11,
    split: str = "test",
    bn_batches: int | None = None,
    batch_size: int = 256,
    rng: int | np.random.Generator = 0,
    device: str | None = "cpu",
    across_seeds: bool = False,
    key_added: str = "barrier",
    batch_points: int | None = None,
    progress: bool = True,
    model_factory: Callable | None = None,
    dataset_factory: Callable | None = None,
    store=None,
) -> pd.DataFrame:
    """Loss and accuracy along paths between pairs of masks, and their barriers.

    Parameters
    ----------
    ms
        A MaskSet whose ``obs`` has ``run_id``, ``weight_seed`` and ``search_seed``
        (as from ``ls.read_runs``).
    pairs
        None: every pair within each configuration and network (``(run_id, weight_seed)``).
        An int N: N pairs **per configuration and network** (all of them where there are
        fewer), the same N everywhere in the toolkit (``landscape analyze --barriers N``).
        They are drawn with ``rng`` in an order that depends only on the group and its
        masks' labels, so asking for 4 pairs after 2 keeps the first 2. A list of ``(i, j)``
        obs positions: exactly those, path from mask i (alpha 0) to mask j.
    path
        ``"linear"`` (effective-weight interpolation), ``"swap"`` (constant-density Hamming
        geodesic) or both; see :mod:`landscape.tl._paths`.
    n_points
        Evenly spaced alpha values in [0, 1], ends included.
    split
        ``"train"``, ``"val"`` or ``"test"``: where loss and accuracy are measured.
    bn_batches
        Training batches used to re-estimate BatchNorm statistics at every point (None: one
        pass over the training split). Ignored for models without BatchNorm.
    batch_size
        Examples per batch, for BatchNorm re-estimation and evaluation.
    rng
        Seed (or numpy Generator, from which one seed is drawn) for the drawn pairs, the
        swap orders and the BatchNorm batch order. A pair's swap order depends only on this
        seed and the two obs labels, not on which other pairs are computed.
    device
        Where the networks run (``"auto"``: CUDA when available).
    across_seeds
        Allow pairs whose masks lie over different random weights (other weight seed or
        run; runs must share every model and data field but how weights were drawn); only the
        linear path is defined for them. With an int ``pairs``, N pairs are
        then drawn per run over all its networks.
    key_added
        Slot names: ``ms.uns[key_added]`` and ``ms.obsp[key_added]``.
    batch_points
        Networks (pair x alpha points) evaluated together in one ensemble forward (None:
        as many as fit in memory, at most 64 on CPU and 512 on CUDA).
    progress
        Show a progress bar over batches of points.
    model_factory
        ``(run_id, weight_seed, search_seeds, device) -> EnsembleNet`` with the method as
        rule and the masks' weights (default: ``RunStore.build_model`` of ``ms.runs``).
        The masks themselves are always taken from ``ms``.
    dataset_factory
        ``run_id -> Dataset`` (default: the run's ``data`` config, loaded once per process).
    store
        A :class:`landscape.store.results.ResultStore`: curves it holds for the same masks,
        path, alpha grid, split and BatchNorm setting are reused, the others computed and
        added (only with the default factories). ``landscape analyze`` passes the runs
        root's store, so barriers accumulate across analyses.

    Returns
    -------
    pandas.DataFrame
        One row per (pair, path): ``pair, i, j, obs_i, obs_j, path, split, barrier_loss,
        barrier_loss_mean_based, barrier_acc, alpha_max, loss_start, loss_end, acc_start,
        acc_end, hamming, jaccard`` (definitions in ``ms.uns[key]["params"]["definitions"]``).
        Also written: ``ms.uns[key] = {"params", "curves", "table"}`` with ``curves`` one row
        per (pair, path, alpha): ``pair, i, j, path, alpha, split, loss, acc``; and
        ``ms.obsp[key]`` float64 ``(n, n)``, symmetric, the chord-based loss barrier of the
        first path (NaN where not computed). ``barrier(a, b) == barrier(b, a)`` exactly:
        each unordered pair is computed once and the curve reversed for the other order.
        ``params`` records ``n_computed`` and ``n_reused`` (pair-path curves).
    """
    from landscape.search.runner import resolve_device

    paths = _check_paths(path)
    _check_args(n_points, split, bn_batches, batch_size, batch_points)
    obs = _check_obs(ms)
    seed = _base_seed(rng)
    groups = _group_labels(obs)
    requested = _select_pairs(obs, groups, pairs, across_seeds, seed)
    # BatchNorm is re-estimated at every point; the weights of earlier epochs may be lost
    refuse_earlier_snapshots(ms, "barriers", positions=[p for pair in requested for p in pair])
    cross = [p for p in requested if groups[p[0]] != groups[p[1]]]
    _check_cross_run(obs, cross)
    if cross and "swap" in paths:
        i, j = cross[0]
        raise AnalysisError(
            f"path='swap': pair ({i}, {j}) spans {groups[i]} and {groups[j]}; swapping bits between "
            "masks over different weights is undefined, use path='linear'"
        )
    names = obs.index.astype(str).tolist()
    canon = {p: _canonical(p, names) for p in requested}
    unique = list(dict.fromkeys(canon.values()))
    alphas = _paths.alpha_grid(n_points)

    engine = Engine(
        ms,
        obs,
        model_factory=model_factory,
        dataset_factory=dataset_factory,
        device=resolve_device(device),
        split=split,
        bn_batches=bn_batches,
        batch_size=batch_size,
        seed=seed,
    )
    from landscape.search.precision import strict_float32

    cache = BarrierCache(store if model_factory is None and dataset_factory is None else None, ms, obs, names)
    setting = {"alphas": [round(float(a), 12) for a in alphas], "split": split, "bn_batches": bn_batches,
               "batch_size": int(batch_size), "seed": seed}  # fmt: skip
    curves_by_pair, distances = cache.load(unique, paths, setting)
    for p in paths:
        todo = [pair for pair in unique if (pair, p) not in curves_by_pair]
        if todo:
            with strict_float32():  # no TF32 convolutions on CUDA: curves comparable across devices
                new, dist = engine.run(todo, (p,), alphas, batch_points, progress)
            curves_by_pair.update(new)
            distances.update(dist)
            cache.save(todo, p, setting, new, dist, engine)
    table, curves = _assemble(requested, canon, names, paths, split, alphas, curves_by_pair, distances)
    matrix = np.full((len(obs), len(obs)), np.nan)
    first = table[table["path"] == paths[0]]
    matrix[first["i"].to_numpy(), first["j"].to_numpy()] = first["barrier_loss"].to_numpy()
    matrix[first["j"].to_numpy(), first["i"].to_numpy()] = first["barrier_loss"].to_numpy()
    params = {
        "path": list(paths),
        # what obsp[key] holds: the chord-based loss barrier of this path
        "matrix_path": paths[0],
        "matrix_value": "barrier_loss",
        "n_points": int(n_points),
        "split": split,
        "pairs": _describe_pairs(pairs),
        "n_pairs": len(requested),
        "across_seeds": bool(across_seeds),
        "rng": seed,
        "device": engine.device,
        "batch_points": engine.points_per_batch,
        **engine.bn_params(),
        **cache.bn_params(engine),
        "n_computed": cache.computed,
        "n_reused": cache.reused,
        "definitions": dict(DEFINITIONS),
    }
    ms.obsp[key_added] = matrix
    ms.uns[key_added] = {"params": params, "curves": curves, "table": table}
    return table


# --------------------------------------------------------------------------------------------
# output tables


def _assemble(requested, canon, names, paths, split, alphas, curves_by_pair, distances):
    rows, curve_frames = [], []
    for k, (i, j) in enumerate(requested):
        lo_hi = canon[(i, j)]
        flipped = lo_hi != (i, j)
        hamming, jaccard = distances[lo_hi]
        for p in paths:
            loss, acc = curves_by_pair[(lo_hi, p)]
            stats = _paths.curve_barriers(alphas, loss, acc)
            if flipped:
                loss, acc = loss[::-1], acc[::-1]
                stats = _flip(stats, alphas)
            rows.append(
                {"pair": k, "i": i, "j": j, "obs_i": names[i], "obs_j": names[j], "path": p, "split": split}
                | stats
                | {"hamming": hamming, "jaccard": jaccard}
            )
            curve_frames.append(
                pd.DataFrame(
                    {
                        "pair": k,
                        "i": i,
                        "j": j,
                        "path": p,
                        "alpha": alphas,
                        "split": split,
                        "loss": loss,
                        "acc": acc,
                    }
                )
            )
    table = pd.DataFrame(rows)
    curves = pd.concat(curve_frames, ignore_index=True)
    return table, curves


def _flip(stats: dict[str, float], alphas: np.ndarray) -> dict[str, float]:
    """The same barriers seen from the other end (values are symmetric; ends swap)."""
    out = dict(stats)
    out["loss_start"], out["loss_end"] = stats["loss_end"], stats["loss_start"]
    out["acc_start"], out["acc_end"] = stats["acc_end"], stats["acc_start"]
    k = int(np.flatnonzero(alphas == stats["alpha_max"])[0])
    out["alpha_max"] = float(alphas[len(alphas) - 1 - k])
    return out


# --------------------------------------------------------------------------------------------
# evaluation: batches of (path, pair, alpha) points as the slots of one ensemble model
