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
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.tl import _paths

PATHS = ("linear", "swap")
SPLITS = ("train", "val", "test")
CPU_POINTS = 64  # beyond this two CPU cores gain nothing per forward
CUDA_POINTS = 512
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
) -> pd.DataFrame:
    """Loss and accuracy along paths between pairs of masks, and their barriers.

    Parameters
    ----------
    ms
        A MaskSet whose ``obs`` has ``run_id``, ``weight_seed`` and ``search_seed``
        (as from ``ls.read_runs``).
    pairs
        None: every pair within each ``(run_id, weight_seed)`` group. An int N: N distinct
        pairs drawn with ``rng`` from those (all of them if there are fewer). A list of
        ``(i, j)`` obs positions: exactly those, path from mask i (alpha 0) to mask j.
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
        run); only the linear path is defined for them.
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
    """
    from landscape.search.runner import resolve_device

    paths = _check_paths(path)
    _check_args(n_points, split, bn_batches, batch_size, batch_points)
    obs = _check_obs(ms)
    seed = _base_seed(rng)
    groups = _group_labels(obs)
    requested = _select_pairs(len(obs), groups, pairs, across_seeds, seed)
    cross = [p for p in requested if groups[p[0]] != groups[p[1]]]
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

    engine = _Engine(
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
    curves_by_pair, distances = engine.run(unique, paths, alphas, batch_points, progress)

    table, curves = _assemble(requested, canon, names, paths, split, alphas, curves_by_pair, distances)
    matrix = np.full((len(obs), len(obs)), np.nan)
    first = table[table["path"] == paths[0]]
    matrix[first["i"].to_numpy(), first["j"].to_numpy()] = first["barrier_loss"].to_numpy()
    matrix[first["j"].to_numpy(), first["i"].to_numpy()] = first["barrier_loss"].to_numpy()
    params = {
        "path": list(paths),
        "n_points": int(n_points),
        "split": split,
        "pairs": _describe_pairs(pairs),
        "n_pairs": len(requested),
        "across_seeds": bool(across_seeds),
        "rng": seed,
        "device": engine.device,
        "batch_points": engine.points_per_batch,
        **engine.bn_params(),
        "definitions": dict(DEFINITIONS),
    }
    ms.obsp[key_added] = matrix
    ms.uns[key_added] = {"params": params, "curves": curves, "table": table}
    return table


# --------------------------------------------------------------------------------------------
# argument checks and pair selection


def _check_paths(path: str | Sequence[str]) -> tuple[str, ...]:
    paths = (path,) if isinstance(path, str) else tuple(path)
    if not paths:
        raise AnalysisError("path: give at least one of 'linear', 'swap'")
    for p in paths:
        if p not in PATHS:
            raise AnalysisError(f"path: unknown path {p!r} (choose from {', '.join(PATHS)})")
    return tuple(dict.fromkeys(paths))


def _check_args(n_points, split, bn_batches, batch_size, batch_points) -> None:
    if int(n_points) != n_points or n_points < 2:
        raise AnalysisError(f"n_points: need an integer >= 2 (both ends), got {n_points!r}")
    if split not in SPLITS:
        raise AnalysisError(f"split: unknown split {split!r} (choose from {', '.join(SPLITS)})")
    if bn_batches is not None and (int(bn_batches) != bn_batches or bn_batches < 1):
        raise AnalysisError(f"bn_batches: need a positive integer or None, got {bn_batches!r}")
    if int(batch_size) != batch_size or batch_size < 2:
        raise AnalysisError(f"batch_size: need an integer >= 2, got {batch_size!r}")
    if batch_points is not None and (int(batch_points) != batch_points or batch_points < 1):
        raise AnalysisError(f"batch_points: need a positive integer or None, got {batch_points!r}")


def _check_obs(ms) -> pd.DataFrame:
    obs = ms.obs
    for col in ("run_id", "weight_seed", "search_seed"):
        if col not in obs.columns:
            raise AnalysisError(
                f"obs lacks column {col!r}: barriers rebuild each mask's network from its run "
                "(read masks with ls.read_runs)"
            )
        if obs[col].isna().any():
            raise AnalysisError(f"obs column {col!r} has missing values; barriers need it for every mask")
    if len(obs) < 1:
        raise AnalysisError("the MaskSet holds no masks")
    return obs


def _base_seed(rng: int | np.random.Generator) -> int:
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**62))
    if isinstance(rng, (bool, float)) or not isinstance(rng, (int, np.integer)):
        raise AnalysisError(f"rng: need an int seed or a numpy Generator, got {rng!r}")
    return int(rng)


def _group_labels(obs: pd.DataFrame) -> list[str]:
    return [f"{r}/w{int(w)}" for r, w in zip(obs["run_id"].astype(str), obs["weight_seed"])]


def _select_pairs(n: int, groups: list[str], pairs, across_seeds: bool, seed: int) -> list[tuple[int, int]]:
    if isinstance(pairs, bool):
        raise AnalysisError(f"pairs: expected None, a number of pairs or a list of (i, j), got {pairs!r}")
    if pairs is None or isinstance(pairs, (int, np.integer)):
        candidates = [
            (i, j) for i in range(n) for j in range(i + 1, n) if across_seeds or groups[i] == groups[j]
        ]
        if not candidates:
            where = "" if across_seeds else " within a (run_id, weight_seed) group"
            raise AnalysisError(f"no pairs of masks{where}: every group holds a single mask")
        if pairs is None:
            return candidates
        if pairs < 1:
            raise AnalysisError(f"pairs: need a positive number of pairs, got {pairs}")
        if pairs >= len(candidates):
            return candidates
        from landscape.nn.init import derive_seed

        gen = np.random.default_rng(derive_seed(seed, "barrier_pairs"))
        return [candidates[k] for k in np.sort(gen.choice(len(candidates), int(pairs), replace=False))]
    out = []
    for p in pairs:
        try:
            i, j = (int(v) for v in p)
        except (TypeError, ValueError):
            raise AnalysisError(f"pairs: expected (i, j) obs positions, got {p!r}") from None
        if not (0 <= i < n and 0 <= j < n):
            raise AnalysisError(f"pairs: ({i}, {j}) is out of range for {n} masks")
        if groups[i] != groups[j] and not across_seeds:
            raise AnalysisError(
                f"pairs: ({i}, {j}) mixes {groups[i]} and {groups[j]}; masks over different random "
                "weights interpolate different weights, not just masks (pass across_seeds=True to allow)"
            )
        out.append((i, j))
    if not out:
        raise AnalysisError("pairs: the list of pairs is empty")
    return out


def _canonical(p: tuple[int, int], names: list[str]) -> tuple[int, int]:
    """The orientation a pair is computed in: ordered by obs label (then position)."""
    i, j = p
    return (i, j) if (names[i], i) <= (names[j], j) else (j, i)


def _describe_pairs(pairs) -> Any:
    if pairs is None:
        return "all"
    if isinstance(pairs, (int, np.integer)):
        return int(pairs)
    return [[int(a), int(b)] for a, b in pairs]


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


class _StoreAccess:
    """Default factories: networks and datasets of the runs a MaskSet was read from."""

    def __init__(self, ms) -> None:
        self.runs = dict(getattr(ms, "runs", {}) or {})
        self._stores: dict[str, Any] = {}

    def store(self, run_id: str):
        if run_id not in self._stores:
            from landscape.store.run_store import RunStore

            if run_id not in self.runs:
                raise AnalysisError(
                    f"run {run_id}: not in ms.runs, so its network cannot be rebuilt "
                    "(read masks with ls.read_runs, or pass model_factory= and dataset_factory=)"
                )
            self._stores[run_id] = RunStore.open(self.runs[run_id])
        return self._stores[run_id]

    def model(self, run_id: str, weight_seed: int, search_seeds: list[int], device: str):
        return self.store(run_id).build_model(weight_seed, search_seeds, device=device)

    def dataset(self, run_id: str):
        from landscape.search.runner import load_dataset

        return load_dataset(self.store(run_id).config.data)


class _Engine:
    """Evaluates path points in batches; keeps the data on the device between batches."""

    def __init__(
        self, ms, obs, *, model_factory, dataset_factory, device, split, bn_batches, batch_size, seed
    ):
        access = _StoreAccess(ms)
        self.ms = ms
        self.model_factory = model_factory or access.model
        self.dataset_factory = dataset_factory or access.dataset
        self.device, self.split, self.seed = device, split, seed
        self.bn_batches, self.batch_size = bn_batches, int(batch_size)
        self.runs = obs["run_id"].astype(str).tolist()
        self.weight_seeds = [int(w) for w in obs["weight_seed"]]
        self.search_seeds = [int(s) for s in obs["search_seed"]]
        self.names = obs.index.astype(str).tolist()
        self.layout = ms.layout
        self.points_per_batch: int | None = None
        self.bn_used: int | None = None
        self._datasets: dict[str, Any] = {}
        self._tensors: dict[int, dict[str, Any]] = {}
        self._orders: dict[tuple[int, int], dict] = {}

    def group(self, row: int) -> tuple[str, int]:
        return (self.runs[row], self.weight_seeds[row])

    def bn_params(self) -> dict[str, Any]:
        return {
            "bn_reestimated": self.bn_used is not None,
            "bn_batches": self.bn_batches,
            "bn_batches_used": self.bn_used,
            "bn_batch_size": self.batch_size if self.bn_used is not None else None,
            "bn_augment": False,
            "bn_data": "train",
        }

    # planning -------------------------------------------------------------------------------
    def run(self, pairs, paths, alphas, batch_points, progress):
        from tqdm.auto import tqdm

        n = len(alphas)
        self.points_per_batch = int(batch_points or self._auto_points(pairs[0], len(pairs) * n * len(paths)))
        segments: dict[tuple, list] = {}
        for p in paths:
            for pair in pairs:
                key = (p, self.group(pair[0]), self.group(pair[1]))
                segments.setdefault(key, []).extend((p, pair, k) for k in range(n))
        size = self.points_per_batch
        batches = [seg[s : s + size] for seg in segments.values() for s in range(0, len(seg), size)]
        curves = {(pair, p): (np.full(n, np.nan), np.full(n, np.nan)) for p in paths for pair in pairs}
        distances: dict[tuple[int, int], tuple[float, float]] = {}
        for batch in tqdm(batches, desc="barriers", unit="batch", disable=not progress, leave=False):
            loss, acc = self._evaluate_batch(batch, alphas, distances)
            for (p, pair, k), lv, av in zip(batch, loss, acc):
                curves[(pair, p)][0][k] = lv
                curves[(pair, p)][1][k] = av
        return curves, distances

    def _auto_points(self, pair, n_total: int) -> int:
        row = pair[0]
        model = self.model_factory(
            self.runs[row], self.weight_seeds[row], [self.search_seeds[row]], self.device
        )
        from landscape.nn.memory import available_bytes

        self._pin_rows(model, [row])
        dataset = self._dataset(self.runs[row])
        per_point = _paths.bytes_per_point(model, tuple(dataset.input_shape), self.batch_size)
        cap = CUDA_POINTS if str(self.device).startswith("cuda") else CPU_POINTS
        fit = available_bytes(self.device) // max(1, per_point)
        return max(1, min(cap, fit, n_total))

    # one batch ------------------------------------------------------------------------------
    def _evaluate_batch(self, batch, alphas, distances):
        from landscape.search.evaluate import evaluate

        path = batch[0][0]
        pairs = list(dict.fromkeys(pair for _, pair, _ in batch))
        rows = list(dict.fromkeys(r for pair in pairs for r in pair))
        masks = self._masks(rows)
        for pair in pairs:
            if pair not in distances:
                a, b = rows.index(pair[0]), rows.index(pair[1])
                distances[pair] = _paths.mask_distances(
                    {k: v[a] for k, v in masks.items()}, {k: v[b] for k, v in masks.items()}
                )
        models = self._end_models(rows, masks)
        base = models[self.group(rows[0])][0]
        wide = _paths.widen(base, len(batch))
        if path == "linear":
            ends = _per_row(models, lambda layer: layer.effective_weight())
            slots = [(i, j, alphas[k]) for _, (i, j), k in batch]
            _paths.pin_weights(wide, _paths.linear_slot_weights(ends, slots))
        else:
            weights = _per_row(models, lambda layer: layer.weight)
            slot_pairs = [pair for _, pair, _ in batch]
            self._check_shared_weights(weights, slot_pairs)
            slot_weights = _paths.slot_weights(weights, [i for i, _ in slot_pairs])
            _paths.pin_masks(wide, base.rule, self._swap_masks(batch, rows, masks, alphas), slot_weights)
        del models, base
        data = self._data(pairs)
        if wide.has_batchnorm:
            _paths.reestimate_batchnorm(wide, data["x_train"], data["bn_batches"])
            self.bn_used = len(data["bn_batches"])
        loss, acc = evaluate(wide, data["x"], data["y"], batch_size=self.batch_size)
        return loss.numpy(), acc.numpy()

    def _masks(self, rows: list[int]) -> dict[str, np.ndarray]:
        """``{layer: bool (len(rows), *shape)}`` from the MaskSet (the masks analysed)."""
        return {
            spec.name: self.ms.dense(rows, spec.name).reshape(len(rows), *spec.shape) for spec in self.layout
        }

    def _pin_rows(self, model, rows: list[int], masks: dict[str, np.ndarray] | None = None) -> None:
        import torch

        masks = masks if masks is not None else self._masks(rows)
        model.set_fixed_masks({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in masks.items()})

    def _end_models(self, rows, masks) -> dict[tuple[str, int], tuple[Any, dict[int, int]]]:
        """One network per (run, weight seed): the rows' masks pinned, row -> model slot."""
        out = {}
        for g in dict.fromkeys(self.group(r) for r in rows):
            members = [r for r in rows if self.group(r) == g]
            model = self.model_factory(g[0], g[1], [self.search_seeds[r] for r in members], self.device)
            if model.layout() != self.layout:
                raise AnalysisError(f"run {g[0]}: the rebuilt network's layout differs from the MaskSet's")
            pos = [rows.index(r) for r in members]
            self._pin_rows(model, members, {k: v[pos] for k, v in masks.items()})
            out[g] = (model.eval(), {r: s for s, r in enumerate(members)})
        return out

    def _check_shared_weights(self, weights, pairs) -> None:
        """The swap path moves bits between two masks over ONE weight tensor."""
        import torch

        for i, j in dict.fromkeys(pairs):
            for name, w in weights[i].items():
                if w is not weights[j][name] and not torch.equal(w, weights[j][name]):
                    raise AnalysisError(
                        f"path='swap': masks {self.names[i]} and {self.names[j]} carry different weights "
                        f"in layer {name!r} (their method changed them); use path='linear'"
                    )

    def _swap_masks(self, batch, rows, masks, alphas) -> dict[str, np.ndarray]:
        from landscape.nn.init import derive_seed

        self._orders = {p: o for p, o in self._orders.items() if any(p == q for _, q, _ in batch)}
        out = {name: np.empty((len(batch), *m.shape[1:]), dtype=bool) for name, m in masks.items()}
        by_pair: dict[tuple[int, int], list[int]] = {}
        for slot, (_, pair, _) in enumerate(batch):
            by_pair.setdefault(pair, []).append(slot)
        for pair, slots in by_pair.items():
            a, b = rows.index(pair[0]), rows.index(pair[1])
            if pair not in self._orders:
                gen = np.random.default_rng(
                    derive_seed(self.seed, "swap", self.names[pair[0]], self.names[pair[1]])
                )
                self._orders[pair] = _paths.swap_orders(
                    {k: v[a] for k, v in masks.items()}, {k: v[b] for k, v in masks.items()}, gen
                )
            ks = np.array([alphas[batch[s][2]] for s in slots])
            for name, m in masks.items():
                out[name][slots] = _paths.swap_masks(m[a], self._orders[pair][name], ks)
        return out

    # data -----------------------------------------------------------------------------------
    def _dataset(self, run_id: str):
        if run_id not in self._datasets:
            self._datasets[run_id] = self.dataset_factory(run_id)
        return self._datasets[run_id]

    def _data(self, pairs) -> dict[str, Any]:
        """Evaluation split and BatchNorm batches of the pairs' dataset, on the device."""
        datasets = {id(d): d for d in (self._dataset(self.runs[r]) for pair in pairs for r in pair)}
        first = next(iter(datasets.values()))
        for other in datasets.values():
            if other is not first and not _same_data(first, other):
                raise AnalysisError(
                    "pairs span runs whose datasets differ; a barrier needs one dataset for both masks"
                )
        key = id(first)
        if key not in self._tensors:
            x, y = getattr(first, self.split)
            if len(y) == 0:
                raise AnalysisError(
                    f"split={self.split!r}: the {first.name} split is empty for this run "
                    "(data.val_fraction = 0?); choose another split"
                )
            x_train = first.train[0]
            self._tensors[key] = {
                "x": x.to(self.device),
                "y": y.to(self.device),
                "x_train": x_train.to(self.device),
                "bn_batches": _paths.bn_batches(len(x_train), self.batch_size, self.bn_batches, self.seed),
                "dataset": first,  # keeps id() valid
            }
        return self._tensors[key]


def _per_row(models, get) -> dict[int, dict[str, Any]]:
    """``{row: {layer: get(layer)[slot of row]}}`` over the end networks (no gradient)."""
    import torch

    out: dict[int, dict[str, Any]] = {}
    with torch.no_grad():
        for model, slots in models.values():
            per_layer = {name: get(layer).detach() for name, layer in model.masked_layers()}
            for row, slot in slots.items():
                out[row] = {n: w[slot if w.shape[0] > 1 else 0] for n, w in per_layer.items()}
    return out


def _same_data(a, b) -> bool:
    import torch

    return all(
        torch.equal(ta, tb) for sa, sb in ((a.train, b.train), (a.test, b.test)) for ta, tb in zip(sa, sb)
    )
