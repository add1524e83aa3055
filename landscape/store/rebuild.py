"""Rebuild the network of stored masks: regenerated random weights, stored masks pinned.

Imports torch (through ``landscape.nn``); the rest of the store does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from landscape import registries
from landscape.config.validate import UNKNOWN_INIT
from landscape.errors import StoreError
from landscape.store.packing import unpack_layers
from landscape.store.shards import open_rows

if TYPE_CHECKING:
    from landscape.store.run_store import RunStore


def _select_rows(store: RunStore, weight_seed: int, search_seeds) -> tuple[list[int], np.ndarray]:
    """Search seeds (given order, or all stored for ``weight_seed`` sorted) and their rows."""
    where: dict[int, tuple[dict, int]] = {}
    for entry in store.manifest()["shards"]:
        for j, (w, s) in enumerate(entry["pairs"]):
            if int(w) == int(weight_seed):
                where[int(s)] = (entry, j)
    seeds = sorted(where) if search_seeds is None else [int(s) for s in search_seeds]
    if not seeds:
        raise StoreError(f"run {store.run_id}: no stored masks for weight seed {weight_seed}")
    missing = [s for s in seeds if s not in where]
    if missing:
        raise StoreError(
            f"run {store.run_id}: no stored mask for weight seed {weight_seed}, search seeds {missing}"
        )
    folder, rb = store.path / "shards", store.layout.row_bytes
    rows = np.stack([open_rows(folder, where[s][0], rb)[where[s][1]] for s in seeds])
    return seeds, rows


def _model_class_args(store: RunStore) -> tuple[tuple[int, ...], int]:
    shape = store.meta.get("data_shape") or {}
    cfg = store.config.data
    input_shape = tuple(int(x) for x in shape.get("input_shape", cfg.input_shape))
    return input_shape, int(shape.get("n_classes", cfg.n_classes))


def rebuild_problem(store: RunStore, what: str = "network") -> str | None:
    """Why the networks (``what="network"``) or the dataset (``what="data"``) of a run cannot
    be rebuilt for evaluation, in one line; None when they can.

    Imported runs rebuild only from what was imported: a toolkit architecture, a named
    dataset and the weights of every mask (their random network is not one of this toolkit's
    seeds, so regenerating it would give a different network).
    """
    cfg = store.config
    if not cfg.origin.format:
        return None
    missing = []
    if what == "network":
        if cfg.model.name == "external":
            why = (store.meta.get("provenance") or {}).get("import", {}).get("network")
            missing.append(f"a network this toolkit builds ({why or 'model.name external'})")
        if cfg.method.name == "external":
            missing.append("the search method (method.name external)")
        lacking = [p for p in sorted(store.finished()) if not store.has_weights(*p)]
        if lacking and cfg.model.name != "external":
            w, s = lacking[0]
            missing.append(f"the weights of its masks (none stored for weight seed {w}, search seed {s})")
    if cfg.data.name == "external":
        missing.append("the dataset (data.name external)")
    if not missing:
        return None
    return (
        f"run {store.run_id} (imported, {cfg.origin.format}) cannot be evaluated: it lacks "
        + "; ".join(missing)
        + ". Distances and diversity need none of these; to evaluate, import from files that hold "
        "them (with --set model.name/method.name/data.name) or pass model_factory= and dataset_factory="
    )


def method_changes_weights(store: RunStore) -> bool:
    """Whether the run's method changes each mask's weights during the search (its rule says
    so): only the final ones are stored, so its masks' networks at earlier epochs are lost.
    False for a method this toolkit cannot build (imported masks)."""
    from landscape.errors import LandscapeError

    cfg = store.config
    try:
        rule = registries.methods.load(cfg.method.name)(cfg)
    except LandscapeError:
        return False
    return bool(getattr(rule, "changes_weights", False))


def build_model(store: RunStore, weight_seed: int, search_seeds=None, device: Any = "cpu", rule=None):
    """An ``EnsembleNet`` reproducing stored masks of one weight seed.

    Parameters
    ----------
    store
        The run.
    weight_seed
        Which random network.
    search_seeds
        The masks to pin, one model slot each (None: every stored mask of ``weight_seed``,
        by increasing search seed).
    device
        Where the model goes.
    rule
        The mask rule / method (default: ``registries.methods`` entry of ``method.name``
        built from the run config).

    Returns
    -------
    EnsembleNet
        In eval mode, ``n_masks = len(search_seeds)``, masks pinned with ``set_fixed_masks``.
        The random weights are the run's stored ones (``random_weights/``, checked against
        ``weights.json``) when it has them, else regenerated from ``weight_seed`` and checked
        against ``weights.json``; masks whose method changed the weights get their stored
        final weights instead. BatchNorm
        running statistics are the stored ones of each mask (evaluation then reproduces the
        recorded accuracy); path points between masks need them re-estimated (tl.barriers).
    """
    import torch

    problem = rebuild_problem(store)
    if problem:
        raise StoreError(problem)
    cfg = store.config
    seeds, rows = _select_rows(store, weight_seed, search_seeds)
    input_shape, n_classes = _model_class_args(store)
    model_cls = registries.models.load(cfg.model.name)
    model = model_cls(cfg.model, input_shape, n_classes, len(seeds))
    if model.layout() != store.layout:
        raise StoreError(
            f"run {store.run_id}: the rebuilt model's layout differs from the stored one "
            f"({store.layout.difference(model.layout())})"
        )
    if rule is None:
        rule = registries.methods.load(cfg.method.name)(cfg)
    if cfg.model.weight_init != UNKNOWN_INIT:
        model.init_weights(weight_seed, cfg.model.weight_init, cfg.method.density, cfg.model.scale_fan)
        if store.has_random_weights(weight_seed):
            _load_random_weights(model, store.load_random_weights(weight_seed))
        else:
            store.verify_weights(weight_seed, model.weight_checksum())
    # else an imported run with nothing to draw: rebuild_problem saw every mask's weights stored
    stored = [store.has_weights(weight_seed, s) for s in seeds]
    if getattr(rule, "changes_weights", False) and not all(stored):
        lacking = [s for s, ok in zip(seeds, stored) if not ok]
        raise StoreError(
            f"run {store.run_id}: method changed the weights but none are stored for search seeds {lacking}"
        )
    if any(stored):
        _load_stored_weights(store, model, weight_seed, seeds, stored)
    if model.has_batchnorm:
        for slot, seed in enumerate(seeds):
            if store.has_batchnorm(weight_seed, seed):
                model.load_batchnorm_state(slot, store.load_batchnorm(weight_seed, seed))
    model.set_rule(rule)
    model.to(device)
    model.set_fixed_masks({k: torch.from_numpy(v) for k, v in unpack_layers(rows, store.layout).items()})
    return model.eval()


def _load_stored_weights(store, model, weight_seed: int, seeds: list[int], stored: list[bool]) -> None:
    import torch

    per_mask = [store.load_weights(weight_seed, s) if ok else None for s, ok in zip(seeds, stored)]
    for name, layer in model.masked_layers():
        base = layer.weight[0]
        stack = [base if w is None else torch.from_numpy(w[name]).to(base) for w in per_mask]
        layer.weight = torch.stack(stack)


def _load_random_weights(model, arrays: dict[str, np.ndarray]) -> None:
    import torch

    for name, layer in model.masked_layers():
        layer.weight = torch.from_numpy(arrays[name]).unsqueeze(0).to(layer.weight)


def random_weights(store: RunStore, weight_seed: int) -> dict[str, np.ndarray]:
    """The random network of ``weight_seed`` as this torch regenerates it, ``{layer: float32 array}``."""
    cfg = store.config
    input_shape, n_classes = _model_class_args(store)
    model = registries.models.load(cfg.model.name)(cfg.model, input_shape, n_classes, 1)
    model.init_weights(weight_seed, cfg.model.weight_init, cfg.method.density, cfg.model.scale_fan)
    return {name: layer.weight[0].detach().cpu().float().numpy() for name, layer in model.masked_layers()}


def store_random_weights(store: RunStore, weight_seed: int) -> bool:
    """Regenerate the random network of ``weight_seed`` and store it in the run (once).

    The regenerated weights must match ``weights.json`` (recorded here when absent), so only
    the network the masks were searched on is ever stored. False when already stored.
    """
    from landscape.store.random_weights import weights_checksum

    if store.has_random_weights(weight_seed):
        return False
    arrays = random_weights(store, weight_seed)
    store.set_weight_checksum(weight_seed, weights_checksum(arrays, store.layout))
    return store.save_random_weights(weight_seed, arrays)


def verify_weights(store: RunStore) -> dict[int, str]:
    """Regenerate the random network of every recorded weight seed and compare its checksum.

    Returns ``{weight_seed: "exact" | "stored"}``: ``"stored"`` when this torch regenerates
    other numbers but the run stores the weights (checked against ``weights.json``), so it
    still rebuilds. Raises :class:`StoreError` on the first seed that neither regenerates
    nor is stored intact.
    """
    from landscape.store.random_weights import weights_checksum

    out: dict[int, str] = {}
    for weight_seed in sorted(int(w) for w in store.weight_checksums()):
        regenerated = weights_checksum(random_weights(store, weight_seed), store.layout)
        if regenerated == store.weight_checksum(weight_seed):
            out[weight_seed] = "exact"
            continue
        if store.has_random_weights(weight_seed):
            store.load_random_weights(weight_seed)  # raises when the stored file is damaged
            out[weight_seed] = "stored"
            continue
        store.verify_weights(weight_seed, regenerated)  # raises, naming the run and seed
    return out
