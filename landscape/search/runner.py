"""Run a search into the run store: plan, claim, train in batches of masks, store, resume.

A search is idempotent: finished masks (listed in the run's manifest) are skipped, masks
another worker holds a live claim on are left to it, and an interrupted batch resumes from
its last epoch checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from landscape import registries
from landscape.config import DataConfig, SearchConfig
from landscape.store.packing import pack_layers

# A claim whose heartbeat (refreshed every minute) is older than this belongs to a dead worker
# on another host; on the same host a dead owner is recognised at once (store.claims).
CLAIM_STALE_S = 30 * 60


@dataclass
class SearchSummary:
    run_id: str
    path: Path
    done: int  # masks this call stored
    skipped: int  # already finished before this call
    busy: int  # claimed by another live worker


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
    from landscape.search.trainer import build_model
    from landscape.store.run_store import RunStore

    dataset = load_dataset(cfg.data)
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
) -> SearchSummary:
    """Search every (weight_seed, search_seed) mask of ``cfg`` not yet in the store.

    Parameters
    ----------
    masks_in_flight
        Masks trained together in one batched model (None: chosen from free memory).
    owner
        Claim owner name (defaults to host:pid:random).
    """
    from landscape.search.batching import auto_masks_in_flight
    from landscape.store.claims import Heartbeat, claim, make_owner, release

    device = resolve_device(device)
    store = open_run(cfg, runs_root)
    pairs = [(int(w), int(s)) for w in weight_seeds for s in search_seeds]
    store.add_plan(pairs)
    finished = store.finished()
    todo = [p for p in pairs if p not in finished]
    owner = owner or make_owner("search")
    summary = SearchSummary(cfg.run_id, store.path, 0, len(pairs) - len(todo), 0)
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
        for chunk in _chunks(seeds, m_max):
            mine = []
            for s in chunk:
                if claim(claims_dir / f"w{w}-s{s}", owner, CLAIM_STALE_S):
                    mine.append(s)
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


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), max(1, size)):
        yield items[i : i + size]


def _search_batch(
    store, cfg, dataset, weight_seed: int, seeds: list[int], device: str, progress: bool
) -> int:
    from landscape.search.trainer import Trainer

    key = (weight_seed, tuple(seeds))
    checkpoint = (lambda state: store.save_checkpoint(key, state), lambda: store.load_checkpoint(key))
    label = f"{cfg.run_id} w{weight_seed} s{_seed_label(seeds)}"
    trainer = Trainer(cfg, dataset, weight_seed, seeds, device, checkpoint, label, progress)
    stored = store.weight_checksum(weight_seed)
    if stored:
        store.verify_weights(weight_seed, trainer.weight_checksum)
    result = trainer.run()
    if not stored:
        store.set_weight_checksum(weight_seed, result.weight_checksum)
    if result.weights is not None:
        for seed, tensors in zip(seeds, result.weights):
            store.save_weights(weight_seed, seed, tensors)
    rows = pack_layers(result.masks, store.layout)
    added = store.write_masks(rows, result.records)
    store.drop_checkpoint(key)
    return added


def _seed_label(seeds: list[int]) -> str:
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))
