"""Barrier curves kept in the analysis-result store, one entry per (pair, path, setting).

A curve's key holds what decides its numbers: both masks (content hash, run, seeds and obs
label — the label seeds the swap order), the path, the alpha grid, the split, the BatchNorm
re-estimation setting and the seed of the BatchNorm batches and swap orders. The device is
recorded, not keyed: CPU and CUDA curves agree within float tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landscape.store.results import ResultStore, mask_hashes

KIND = "barrier_curve"


class BarrierCache:
    """Looks up and stores the curves of :func:`landscape.tl.barriers` (no-op without a store)."""

    def __init__(self, store: ResultStore | None, ms, obs, names: list[str]) -> None:
        self.store, self.ms, self.names = store, ms, names
        self.runs = obs["run_id"].astype(str).tolist()
        self.weight_seeds = [int(w) for w in obs["weight_seed"]]
        self.search_seeds = [int(s) for s in obs["search_seed"]]
        self._hashes: dict[int, str] = {}
        self.computed = 0
        self.reused = 0
        self._bn_used: int | None = None

    def _hash(self, rows: list[int]) -> None:
        todo = [r for r in dict.fromkeys(rows) if r not in self._hashes]
        if todo:
            self._hashes.update(zip(todo, mask_hashes(self.ms.rows(todo))))

    def _mask(self, row: int) -> dict[str, Any]:
        return {
            "run": self.runs[row],
            "weight_seed": self.weight_seeds[row],
            "search_seed": self.search_seeds[row],
            "label": self.names[row],
            "bits": self._hashes[row],
        }

    def inputs(self, pair: tuple[int, int], path: str, setting: dict) -> dict[str, Any]:
        return {"a": self._mask(pair[0]), "b": self._mask(pair[1]), "path": path, **setting}

    def load(self, pairs, paths, setting):
        """Curves and distances the store already holds, as the engine would return them."""
        curves: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        distances: dict[tuple[int, int], tuple[float, float]] = {}
        if self.store is None or not pairs:
            return curves, distances
        self._hash([r for pair in pairs for r in pair])
        for pair in pairs:
            for p in paths:
                record = self.store.get(KIND, ResultStore.key(KIND, self.inputs(pair, p, setting)))
                if record is None:
                    continue
                payload = record["payload"]
                curves[(pair, p)] = (np.asarray(payload["loss"], float), np.asarray(payload["acc"], float))
                distances[pair] = (float(payload["hamming"]), float(payload["jaccard"]))
                if payload.get("bn_batches_used") is not None:
                    self._bn_used = int(payload["bn_batches_used"])
                self.reused += 1
        return curves, distances

    def save(self, pairs, path: str, setting, curves, distances, engine) -> None:
        self.computed += len(pairs)
        if self.store is None:
            return
        self._hash([r for pair in pairs for r in pair])
        for pair in pairs:
            inputs = self.inputs(pair, path, setting)
            loss, acc = curves[(pair, path)]
            payload = {
                "loss": loss.tolist(),
                "acc": acc.tolist(),
                "hamming": distances[pair][0],
                "jaccard": distances[pair][1],
                "device": engine.device,
                "bn_batches_used": engine.bn_used,
            }
            self.store.put(KIND, ResultStore.key(KIND, inputs), inputs, payload)

    def bn_params(self, engine) -> dict[str, Any]:
        """BatchNorm facts of reused curves when this call computed none itself."""
        if engine.bn_used is not None or self._bn_used is None:
            return {}
        return {"bn_reestimated": True, "bn_batches_used": self._bn_used, "bn_batch_size": engine.batch_size}
