"""Run a search into the run store: plan, claim, train in batches of masks, store, resume.

A search is idempotent: finished masks (listed in the run's manifest) are skipped, masks
another worker holds a live claim on are left to it, and an interrupted batch resumes from
its last epoch checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from landscape import registries
from landscape.config import DataConfig, SearchConfig
from landscape.store._io import write_json
from landscape.store.packing import pack_layers

# A claim whose heartbeat (refreshed every minute) is older than this belongs to a dead worker
# on another host; on the same host a dead owner is recognised at once (store.claims).
CLAIM_STALE_S = 30 * 60

# What a search did, one line per event (claims taken over, batches trained, masks stored);
# cluster jobs send these lines to their log (landscape.search.submitit_jobs.run_job).
log = logging.getLogger("landscape.search")


@dataclass
class SearchSummary:
    run_id: str
    path: Path
    done: int  # masks this call stored
    skipped: int  # already finished before this call
    busy: int  # claimed by another live worker
    weights_stored: int = 0  # random networks this call stored in the run (store_weights)
    # of the masks already finished, those without the snapshots this call asks for: a mask
    # is never searched again, so they stay without them
    without_snapshots: int = 0


_DATASETS: dict[DataConfig, object] = {}


def load_dataset(cfg: DataConfig):
    """Load (and cache per process) the dataset of a config."""
    if cfg not in _DATASETS:
        _DATASETS[cfg] = registries.datasets.load(cfg.name)(cfg)
    return _DATASETS[cfg]


def resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        from landscape.errors import ConfigError

        raise ConfigError(f"--device {device}: CUDA is not available on this machine")
    return str(device)


def open_run(cfg: SearchConfig, runs_root: str | Path):
    """Create (or open) the run directory of ``cfg`` under ``runs_root``."""
    from landscape.config.validate import check_searchable
    from landscape.search.methods.iterand import check_redraws_happen
    from landscape.search.trainer import build_model
    from landscape.store.run_store import RunStore

    check_searchable(cfg)  # before the run folder exists

    dataset = load_dataset(cfg.data)
    check_redraws_happen(cfg, math.ceil(len(dataset.train[1]) / cfg.train.batch_size))
    probe = build_model(cfg, dataset, 1, "cpu")
    data_info = {"input_shape": list(dataset.input_shape), "n_classes": dataset.n_classes}
    return RunStore.create(runs_root, cfg, probe.layout(), data_info=data_info)


def run_search(
    cfg: SearchConfig,
    runs_root: str | Path,
    weight_seeds: Sequence[int],
    search_seeds: Sequence[int],
    device: str | None = "cpu",
    masks_in_flight: int | None = None,
    progress: bool = True,
    owner: str | None = None,
    store_weights: bool = False,
) -> SearchSummary:
    """Search every (weight_seed, search_seed) mask of ``cfg`` not yet in the store.

    Parameters
    ----------
    masks_in_flight
        Masks trained together in one batched model (None: chosen from free memory).
    owner
        Claim owner name (defaults to host:pid:random).
    store_weights
        Also store each requested random network in the run (``random_weights/``, once per
        weight seed, also for a run whose masks are all done), so it rebuilds under a torch
        that regenerates other numbers. Does not change the run id.
    """
    from landscape.search.batching import auto_masks_in_flight
    from landscape.store.claims import Heartbeat, claim, make_owner, read_claim, release

    device = resolve_device(device)
    store = open_run(cfg, runs_root)
    pairs = list(dict.fromkeys((int(w), int(s)) for w in weight_seeds for s in search_seeds))
    store.add_plan(pairs)
    finished = store.finished()
    todo = [p for p in pairs if p not in finished]
    owner = owner or make_owner("search")
    summary = SearchSummary(cfg.run_id, store.path, 0, len(pairs) - len(todo), 0)
    if cfg.train.snapshot_set():
        summary.without_snapshots = sum(not store.has_snapshots(*p) for p in pairs if p in finished)
    if store_weights:
        from landscape.store.rebuild import store_random_weights

        summary.weights_stored = sum(store_random_weights(store, w) for w in sorted({w for w, _ in pairs}))
    if not todo:
        return summary
    dataset = load_dataset(cfg.data)
    method_cls = registries.methods.load(cfg.method.name)
    m_max = masks_in_flight or auto_masks_in_flight(cfg, dataset, device, len(todo))
    if not getattr(method_cls, "batchable", True):
        m_max = 1
    claims_dir = store.path / "claims"
    claims_dir.mkdir(exist_ok=True)
    for w in sorted({w for w, _ in todo}):
        seeds = sorted(s for ww, s in todo if ww == w)
        for chunk in _batches(store, w, seeds, m_max):
            mine = []
            for s in chunk:
                before = read_claim(claims_dir / f"w{w}-s{s}")
                if claim(claims_dir / f"w{w}-s{s}", owner, CLAIM_STALE_S):
                    mine.append(s)
                    if before and before.get("owner") not in (None, owner):
                        log.info("%s w%d s%d: took over the claim of %s", cfg.run_id, w, s, before["owner"])
                else:
                    summary.busy += 1
            if not mine:
                continue
            try:
                # another worker may have finished some of these since we listed them
                done_now = store.finished()
                fresh = [s for s in mine if (w, s) not in done_now]
                summary.skipped += len(mine) - len(fresh)
                if fresh:
                    with Heartbeat([claims_dir / f"w{w}-s{s}" for s in mine], owner):
                        summary.done += _search_batch(store, cfg, dataset, w, fresh, device, progress)
            finally:
                for s in mine:
                    release(claims_dir / f"w{w}-s{s}", owner)
    return summary


def _batches(store, weight_seed: int, seeds: list[int], size: int) -> Iterable[list[int]]:
    """Batches of masks for one weight seed: first those an interrupted search left a
    checkpoint for (so they resume even if the batch size changed since), then the rest in
    chunks of ``size``. Checkpoints whose masks are all stored are removed."""
    finished = store.finished()
    resumable: list[list[int]] = []
    for record in sorted((store.path / "checkpoints").glob(f"w{weight_seed}-*.json")):
        try:
            saved = [int(s) for s in json.loads(record.read_text())["search_seeds"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if all((weight_seed, s) in finished for s in saved):
            _drop_checkpoint(store, (weight_seed, tuple(saved)))
        elif set(saved) <= set(seeds) and not any(set(saved) & set(b) for b in resumable):
            resumable.append(saved)
    yield from resumable
    rest = [s for s in seeds if not any(s in b for b in resumable)]
    for i in range(0, len(rest), max(1, size)):
        yield rest[i : i + size]


def _checkpoint_record(store, key: tuple) -> Path:
    """Which masks a checkpoint belongs to (its file name may be a hash of the seeds)."""
    return store.checkpoint_path(*key).with_suffix(".json")


def _drop_checkpoint(store, key: tuple) -> None:
    store.drop_checkpoint(key)
    _checkpoint_record(store, key).unlink(missing_ok=True)


def _search_batch(
    store, cfg, dataset, weight_seed: int, seeds: list[int], device: str, progress: bool
) -> int:
    from landscape.search.trainer import Trainer

    key = (weight_seed, tuple(seeds))
    record = _checkpoint_record(store, key)
    record.parent.mkdir(exist_ok=True)
    write_json(record, {"weight_seed": weight_seed, "search_seeds": list(seeds)})
    checkpoint = (lambda state: store.save_checkpoint(key, state), lambda: store.load_checkpoint(key))
    label = f"{cfg.run_id} w{weight_seed} s{_seed_label(seeds)}"
    trainer = Trainer(cfg, dataset, weight_seed, seeds, device, checkpoint, label, progress)
    stored = store.weight_checksum(weight_seed)
    if stored:
        store.verify_weights(weight_seed, trainer.weight_checksum)
    result = trainer.run()
    if not stored:
        store.set_weight_checksum(weight_seed, result.weight_checksum)
    # the digest of each per-mask file goes into the mask's record, so verify can check it
    digests: list[dict[str, str]] = [{} for _ in seeds]
    if result.weights is not None:
        for digest, seed, tensors in zip(digests, seeds, result.weights):
            digest["weights"] = store.save_weights(weight_seed, seed, tensors)
    if result.batchnorm is not None:
        for digest, seed, stats in zip(digests, seeds, result.batchnorm):
            digest["batchnorm"] = store.save_batchnorm(weight_seed, seed, stats)
    if result.predictions is not None:  # before the masks: a stored mask has its predictions
        for seed, outputs in zip(seeds, result.predictions):
            store.save_predictions(weight_seed, seed, outputs)
    if trainer.snapshot_rows is not None:
        for digest, seed, snaps in zip(digests, seeds, trainer.snapshot_rows):
            digest["snapshots"] = store.save_snapshots(weight_seed, seed, snaps)
    for record, digest in zip(result.records, digests):
        if digest:
            record["files"] = digest
    rows = pack_layers(result.masks, store.layout)
    added = store.write_masks(rows, result.records)
    log.info("%s: stored %d of %d masks", label, added, len(seeds))
    _drop_checkpoint(store, key)
    return added


def _seed_label(seeds: list[int]) -> str:
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))
