"""The evaluation engine behind :func:`landscape.tl.barriers`: end networks from the run store,
path points batched into one ensemble forward, BatchNorm re-estimated per point.

torch is imported by the functions that need it, never at module import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landscape.errors import AnalysisError
from landscape.tl import _paths


class SwapUndefined(AnalysisError):
    """The swap path between two masks whose method changed their weights: not defined."""


CPU_POINTS = 64  # beyond this two CPU cores gain nothing per forward
CUDA_POINTS = 512


class StoreAccess:
    """Default factories: networks and datasets of the runs a MaskSet was read from."""

    def __init__(self, ms) -> None:
        self.runs = dict(getattr(ms, "runs", {}) or {})
        self.layers = list(ms.layout.names)
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

    def _rebuildable(self, run_id: str, what: str):
        from landscape.store.rebuild import rebuild_problem

        store = self.store(run_id)
        problem = rebuild_problem(store, what)
        if problem:
            raise AnalysisError(problem)
        return store

    def model(self, run_id: str, weight_seed: int, search_seeds: list[int], device: str):
        store = self._rebuildable(run_id, "network")
        if list(store.layout.names) != self.layers:  # pp.layers: masks of some layers only
            raise AnalysisError(
                f"run {run_id}: these masks cover layers {', '.join(self.layers)} of its "
                f"{', '.join(store.layout.names)}; a network needs a mask for every layer "
                "(evaluate the masks as read, before pp.layers)"
            )
        return store.build_model(weight_seed, search_seeds, device=device)

    def dataset(self, run_id: str):
        from landscape.search.runner import load_dataset

        return load_dataset(self._rebuildable(run_id, "data").config.data)


class Engine:
    """Evaluates path points in batches; keeps the data on the device between batches."""

    def __init__(
        self, ms, obs, *, model_factory, dataset_factory, device, split, bn_batches, batch_size, seed
    ):
        access = StoreAccess(ms)
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
                    raise SwapUndefined(
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
