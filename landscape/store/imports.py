"""Masks that were not searched here (foreign checkpoints, plain arrays, a MaskSet built in
Python) enter the store as ordinary runs through :func:`write_imported`.

Imported masks need seeds like searched ones: ``weight_seed`` names the random network and
``search_seed`` the mask within it. Unless a source says (or the user gives) its seeds,
they are assigned here and remembered in ``<run>/imports.json``:

- masks whose source weights are bit-identical share a weight seed (the first network
  met gets the lowest free seed), whether or not the weights are kept; masks written
  without weights or a weight seed (a MaskSet without the column) get weight seed 0 (file
  imports of masks without weights must name their seed);
- each new source (file checksum and entry within the file) gets the next free search seed
  of its weight seed.

A source seen before keeps its seeds, so importing the same files again adds nothing. Two
sources never share a ``(weight_seed, search_seed)`` pair, and where the method leaves the
weights untouched every mask of one weight seed must carry the same network.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landscape.config import SearchConfig
from landscape.errors import StoreError
from landscape.store import _io, shards
from landscape.store.claims import file_lock
from landscape.store.layout import Layout
from landscape.store.run_store import RunStore

IMPORTS = "imports.json"
IMPORTS_FORMAT = 1
Pair = tuple[int, int]


@dataclass
class IncomingMask:
    """One mask to store, with what is known about where it came from.

    Attributes
    ----------
    row
        The packed mask, ``uint8 (layout.row_bytes,)``.
    source
        ``{"path": ..., "sha256": ..., "entry": ...}``: the file, its checksum and the entry
        within it ("" for a file holding one mask); identifies the mask across imports.
    record
        Per-mask values for the run's table (accuracies, epochs); seeds are added here.
    weight_seed, search_seed
        Seeds the source or the user gave (None: assigned, see the module docstring).
    network
        Checksum of the source's weights (None when it has none); set even where the
        weights are not kept (an external architecture).
    weights, batchnorm, pattern
        Per-layer weights, BatchNorm statistics and source pattern to keep with the mask.
    """

    row: np.ndarray
    source: dict
    record: dict = field(default_factory=dict)
    weight_seed: int | None = None
    search_seed: int | None = None
    network: str | None = None
    weights: dict[str, np.ndarray] | None = None
    batchnorm: dict[str, np.ndarray] | None = None
    pattern: dict[str, np.ndarray] | None = None

    @property
    def key(self) -> str:
        return f"{self.source['sha256']}#{self.source.get('entry', '')}"


@dataclass
class WriteSummary:
    """What :func:`write_imported` did to one run."""

    run_id: str
    path: Path
    added: int  # masks stored by this call
    already: int  # masks that were stored before (re-import)
    pairs: list[Pair]  # (weight_seed, search_seed) of every given mask, in order

    def line(self) -> str:
        seeds = sorted({w for w, _ in self.pairs})
        return (
            f"run {self.run_id} ({self.path}): {self.added} masks added, {self.already} already there "
            f"(weight seeds {', '.join(map(str, seeds))})"
        )


def write_imported(
    runs_root: str | Path,
    cfg: SearchConfig,
    layout: Layout,
    masks: Sequence[IncomingMask],
    provenance: dict | None = None,
    data_info: dict | None = None,
    shared_weights: bool = True,
) -> WriteSummary:
    """Store imported masks as a run of ``cfg`` under ``runs_root`` (created or joined).

    Parameters
    ----------
    provenance
        Kept in ``meta.json`` when the run is created (format, rule, network).
    data_info
        ``{"input_shape", "n_classes"}`` of the network, for rebuilding it.
    shared_weights
        The method leaves the weights as drawn, so masks of one weight seed must carry the
        same network (False for IWR and IteRand, which change them per mask).

    Raises
    ------
    StoreError
        When a source claims seeds another source holds, or a weight seed would mix networks.
    """
    store = RunStore.create(runs_root, cfg, layout, provenance=provenance, data_info=data_info)
    with file_lock(store.path / ".imports.lock"):
        table = _read_table(store)
        before = _io.dumps(table)
        pairs = _assign(store, table, masks, shared_weights)
        if _io.dumps(table) != before:  # a re-import changes nothing on disk
            _io.write_json(store.path / IMPORTS, table)
    finished = store.finished()
    new: list[int] = []
    seen: set[Pair] = set()
    for i, (mask, pair) in enumerate(zip(masks, pairs)):
        if pair in finished:
            _check_same(store, pair, mask)
        elif pair not in seen:
            _save_files(store, pair, mask)
            new.append(i)
        seen.add(pair)
    if not set(pairs) <= store.plan():
        store.add_plan(pairs)
    added = 0
    if new:
        rows = np.stack([np.asarray(masks[i].row, dtype=np.uint8) for i in new])
        records = [_record(masks[i], pairs[i]) for i in new]
        added = store.write_masks(rows, records)
    return WriteSummary(store.run_id, store.path, added, len(set(pairs)) - added, list(pairs))


def imported_sources(store: RunStore) -> dict[str, dict]:
    """``{source key: {"weight_seed", "search_seed", "path", ...}}`` of an imported run."""
    return dict(_read_table(store)["sources"])


# ----------------------------------------------------------------------------------------------


def _read_table(store: RunStore) -> dict:
    path = store.path / IMPORTS
    if not path.exists():
        return {"format": IMPORTS_FORMAT, "networks": {}, "sources": {}}
    table = _io.read_json(path)
    ok = isinstance(table, dict) and isinstance(table.get("networks"), dict)
    if not ok or not isinstance(table.get("sources"), dict):
        raise StoreError(f"{path}: malformed import table (expected networks and sources)")
    return table


def _assign(store: RunStore, table: dict, masks: Sequence[IncomingMask], shared: bool) -> list[Pair]:
    sources, networks = table["sources"], table["networks"]
    owner = {(int(v["weight_seed"]), int(v["search_seed"])): v.get("path", "?") for v in sources.values()}
    for pair in store.finished():
        owner.setdefault(pair, "a mask stored earlier")
    seed_network = {int(w): net for net, w in networks.items()}
    pairs: list[Pair] = []
    for mask in masks:
        known = sources.get(mask.key)
        if known is not None:
            pair = (int(known["weight_seed"]), int(known["search_seed"]))
            for given, have, what in (
                (mask.weight_seed, pair[0], "weight"),
                (mask.search_seed, pair[1], "search"),
            ):
                if given is not None and int(given) != have:
                    raise StoreError(
                        f"{mask.source['path']}: already imported into run {store.run_id} with {what} "
                        f"seed {have}, not {given}"
                    )
            pairs.append(pair)
            continue
        w = _weight_seed(mask, networks, owner)
        if shared and mask.network is not None:
            other = seed_network.get(w)
            if other is not None and other != mask.network:
                raise StoreError(
                    f"{mask.source['path']}: its weights differ from those of weight seed {w} in run "
                    f"{store.run_id}; masks of one weight seed share their random network (give "
                    "another weight_seed, or leave it out to number networks by their weights)"
                )
            seed_network.setdefault(w, mask.network)
            networks.setdefault(mask.network, w)
        if mask.search_seed is not None:
            s = int(mask.search_seed)
        else:
            s = 1 + max((ss for ww, ss in owner if ww == w), default=-1)
        if (w, s) in owner:
            raise StoreError(
                f"{mask.source['path']}: weight seed {w}, search seed {s} of run {store.run_id} "
                f"already holds a mask from {owner[(w, s)]} (give another search_seed)"
            )
        owner[(w, s)] = mask.source["path"]
        sources[mask.key] = {
            "weight_seed": w,
            "search_seed": s,
            "path": str(mask.source["path"]),
            "sha256": mask.source["sha256"],
            "entry": mask.source.get("entry", ""),
            "imported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            **{k: v for k, v in mask.source.items() if k not in ("path", "sha256", "entry")},
        }
        pairs.append((w, s))
    return pairs


def _weight_seed(mask: IncomingMask, networks: dict, owner: dict) -> int:
    if mask.weight_seed is not None:
        return int(mask.weight_seed)
    if mask.network is None:
        return 0
    if mask.network in networks:
        return int(networks[mask.network])
    used = set(networks.values()) | {w for w, _ in owner}
    return 1 + max(used, default=-1)


def _record(mask: IncomingMask, pair: Pair) -> dict:
    src = mask.source
    return {
        "weight_seed": pair[0],
        "search_seed": pair[1],
        **mask.record,
        "source_file": str(src["path"]),
        "source_sha256": src["sha256"],
        "source_entry": src.get("entry", ""),
    }


def _save_files(store: RunStore, pair: Pair, mask: IncomingMask) -> None:
    w, s = pair
    if mask.weights is not None:
        store.save_weights(w, s, mask.weights)
    if mask.batchnorm:
        store.save_batchnorm(w, s, mask.batchnorm)
    if mask.pattern is not None:
        store.save_pattern(w, s, mask.pattern)


def _check_same(store: RunStore, pair: Pair, mask: IncomingMask) -> None:
    """A source imported before must still give the stored mask."""
    for entry in store.manifest()["shards"]:
        for j, p in enumerate(entry["pairs"]):
            if tuple(p) == pair:
                stored = shards.open_rows(store.path / "shards", entry, store.layout.row_bytes)[j]
                if not np.array_equal(stored, np.asarray(mask.row, dtype=np.uint8)):
                    raise StoreError(
                        f"{mask.source['path']}: weight seed {pair[0]}, search seed {pair[1]} of run "
                        f"{store.run_id} already holds a different mask"
                    )
                return
