"""Find damaged files of a run, and quarantine them so a new search re-searches exactly those masks.

A shard holds several masks under one checksum per file, so a shard that fails its checksum
(or is missing) takes all its masks with it. A damaged per-mask file (``weights/``,
``batchnorm/``) takes only its own mask: the shard's other rows, verified, are written to a
new shard that replaces the old one in the manifest. A damaged predictions file (or index)
takes no mask: it leaves the predictions index, and ``landscape predict`` evaluates the
stored masks again. Either way the masks' pairs leave the
manifest, stay in ``plan.json`` and so are pending again; the next search of the run
searches them, and only them (searches are deterministic on the CPU, so it stores the same
masks again).

Nothing is deleted. What leaves the run goes to ``quarantine/<UTC time>-<what>/`` beside a
``reason.json`` (the fault, the pairs, the files, the toolkit version). Quarantining happens
under the manifest lock, in an order that leaves a consistent run at every step: the
reason first, then the per-mask files of the masks being dropped, then the new manifest
(atomic), then the superseded shard files. A repair killed half-way leaves either masks
that are still listed (the next verify finds them again) or files nobody lists.
"""

from __future__ import annotations

import datetime
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from landscape.errors import StoreError
from landscape.store import _io, predictions, shards
from landscape.store.claims import file_lock
from landscape.store.mask_files import MASK_FILE_KINDS

if TYPE_CHECKING:
    from landscape.store.run_store import RunStore

QUARANTINE = "quarantine"
Pair = tuple[int, int]


@dataclass(frozen=True)
class Fault:
    """One damaged file of a run.

    Attributes
    ----------
    kind
        ``"shard"`` (a shard file failed: every mask of the shard is lost), ``"mask_file"`` (a
        per-mask weights / BatchNorm file failed: that mask is lost) or ``"random_weights"``
        (a stored random network failed: no mask is lost, the run regenerates it),
        ``"predictions"`` (a predictions file or their index failed: no mask is lost,
        ``landscape predict`` evaluates them again) or ``"repeated"`` (a shard lists a mask
        an earlier shard lists already: no mask is lost, the later listing is dropped).
    reason
        The one-line message, naming the file.
    shard
        The manifest entry concerned (None for random weights and predictions).
    pairs
        The ``(weight_seed, search_seed)`` masks lost.
    path
        The damaged file itself, where one file is at fault.
    """

    kind: str
    reason: str
    shard: str | None = None
    pairs: tuple[Pair, ...] = ()
    path: Path | None = field(default=None, compare=False)


def find_faults(store: RunStore) -> list[Fault]:
    """Read every file the run lists in full; one :class:`Fault` per damaged file."""
    folder, row_bytes = store.path / "shards", store.layout.row_bytes
    entries = store.manifest(allow_repeats=True)["shards"]
    faults = _repeat_faults(store, entries)
    seen: set[Pair] = set()  # a later listing's files are the first listing's: checked once
    for entry in entries:
        pairs = tuple((int(w), int(s)) for w, s in entry["pairs"])
        try:
            shards.open_rows(folder, entry, row_bytes)
            records = shards.read_records(folder, entry)
        except StoreError as exc:
            faults.append(Fault("shard", str(exc), entry["name"], pairs))
            continue
        for (w, s), record in zip(pairs, records):
            if (w, s) in seen:
                continue
            seen.add((w, s))
            digests = record.get("files") or {}
            for kind in MASK_FILE_KINDS:
                path = store._mask_file(kind, w, s)
                if kind not in digests and not path.exists():
                    continue
                try:
                    store.check_mask_file(kind, w, s, digests.get(kind))
                except StoreError as exc:
                    faults.append(Fault("mask_file", str(exc), entry["name"], ((w, s),), path))
    for seed in store.stored_weight_seeds():
        try:
            store.load_random_weights(seed)
        except StoreError as exc:
            faults.append(Fault("random_weights", str(exc), path=store.random_weights_path(seed)))
    return faults + _prediction_faults(store)


def _repeat_faults(store: RunStore, entries: list[dict]) -> list[Fault]:
    """A fault per later listing of a pair the manifest lists already (a shard copied by hand,
    say): repair drops the later listing, and the mask stays stored by the first."""
    from landscape.store.run_store import MANIFEST, repeat_message, repeated_pairs

    path = store.path / MANIFEST
    return [
        Fault("repeated", repeat_message(path, pair, first, later), later, (pair,), path)
        for pair, first, later in repeated_pairs(entries)
    ]


def _prediction_faults(store: RunStore) -> list[Fault]:
    try:
        index = store.predictions_index()
    except StoreError as exc:
        return [Fault("predictions", str(exc), path=store.path / predictions.INDEX)]
    faults = []
    for entry in index.values():
        path = store.path / predictions.FOLDER / entry["file"]
        try:
            shards.verify_file(path, entry["sha256"], entry["bytes"])
        except StoreError as exc:
            faults.append(Fault("predictions", str(exc), path=path))
    return faults


def quarantine(store: RunStore, faults: list[Fault]) -> list[dict]:
    """Move what ``faults`` name out of the run; one ``{"pairs", "folder", "reason"}`` per move.

    The masks of quarantined shards (or of damaged per-mask files) become pending again.
    """
    moved: list[dict] = []
    by_shard: dict[str, list[Fault]] = {}
    if any(f.kind == "repeated" for f in faults):
        damaged = {f.shard for f in faults if f.kind == "shard"}
        moved += _drop_repeats(store, damaged)
    for fault in faults:
        if fault.kind == "repeated":
            continue  # done above
        if fault.kind == "predictions":
            # unlisted first, so no reader looks for the file once it has moved
            assert fault.path is not None
            if fault.path.name != predictions.INDEX:
                store.drop_predictions(fault.path.name)
            moved.append(_quarantine_file(store, fault))
        elif fault.kind == "random_weights":
            moved.append(_quarantine_file(store, fault))
        else:
            by_shard.setdefault(fault.shard, []).append(fault)
    for name, group in by_shard.items():
        done = _quarantine_masks(store, name, group)
        if done is not None:
            moved.append(done)
    return moved


def _drop_repeats(store: RunStore, damaged: set[str]) -> list[dict]:
    """Keep one listing of every pair listed twice: the first in a sound shard (the first of
    all when none is sound), and drop the others by their place in the manifest (one shard
    may be listed twice under its own name). A shard no longer listed at all moves to the
    quarantine; its masks stay stored by the listing kept, files included."""
    folder = store.path / "shards"
    moved = []
    with file_lock(store.path / ".manifest.lock"):
        manifest = store.manifest(allow_repeats=True)
        entries = manifest["shards"]
        keeper: dict[Pair, tuple[int, int]] = {}  # pair: (entry, position) of the listing kept
        for i, e in enumerate(entries):
            for k, p in enumerate(e["pairs"]):
                pair = (int(p[0]), int(p[1]))
                held = keeper.get(pair)
                if held is None or (entries[held[0]]["name"] in damaged and e["name"] not in damaged):
                    keeper[pair] = (i, k)
        new_entries, dropped, kept_names = [], [], set()
        for i, e in enumerate(entries):
            pairs = [(int(p[0]), int(p[1])) for p in e["pairs"]]
            if e["name"] in kept_names:  # the same shard listed again: the listing goes, not its files
                dropped.append((e["name"], pairs))
                continue
            keep = [k for k, pair in enumerate(pairs) if keeper[pair] == (i, k)]
            if len(keep) == len(pairs) or e["name"] in damaged:  # a damaged shard: its own fault
                new_entries.append(e)
                kept_names.add(e["name"])
                continue
            dropped.append((e["name"], [pairs[k] for k in range(len(pairs)) if k not in keep]))
            if keep:  # carry the listing's other masks over to a new shard
                replacement = _carry_over(store, e, pairs, keep)
                new_entries.append(replacement)
                kept_names.add(replacement["name"])
        manifest["shards"] = new_entries
        _io.write_json(store.path / "manifest.json", manifest)
        still_listed = {e["name"] for e in new_entries}
        for name, pairs in dropped:
            target = _new_folder(store, name)
            reason = f"{store.path / 'manifest.json'}: a later listing of masks listed before: {pairs}"
            _write_reason(target, reason, pairs, name)
            if name not in still_listed:
                for suffix in (".bin", ".json"):
                    _move(folder / f"{name}{suffix}", target / "shards")
            moved.append({"pairs": [], "folder": str(target.relative_to(store.path)), "reason": reason})
    return moved


def _carry_over(store: RunStore, entry: dict, pairs: list[Pair], keep: list[int]) -> dict:
    """A new shard holding the rows ``keep`` of the shard ``entry`` (whose pairs are
    ``pairs``), with their records: its manifest entry."""
    folder = store.path / "shards"
    rows = shards.open_rows(folder, entry, store.layout.row_bytes)
    records = shards.read_records(folder, entry)
    replacement = shards.write_shard(folder, rows[keep], [records[k] for k in keep])
    replacement["pairs"] = [list(pairs[k]) for k in keep]
    return replacement


def _quarantine_masks(store: RunStore, name: str, group: list[Fault]) -> dict | None:
    folder = store.path / "shards"
    whole = any(f.kind == "shard" for f in group)
    entry = next((e for e in store.manifest(allow_repeats=True)["shards"] if e["name"] == name), None)
    if entry is None:
        return None  # another repair got there first
    pairs = [tuple(p) for p in entry["pairs"]]
    drop = set(pairs) if whole else {p for f in group for p in f.pairs}
    keep = [i for i, p in enumerate(pairs) if p not in drop]
    replacement = None
    if keep:  # the shard itself is sound: carry its other masks over to a new shard
        replacement = _carry_over(store, entry, pairs, keep)
    reason = "; ".join(f.reason for f in group)
    dropped = sorted(drop)
    with file_lock(store.path / ".manifest.lock"):
        manifest = store.manifest(allow_repeats=True)
        position = next((i for i, e in enumerate(manifest["shards"]) if e["name"] == name), None)
        if position is None:
            if replacement is not None:
                shards.remove_shard(folder, replacement["name"])
            return None
        target = _new_folder(store, name)
        _write_reason(target, reason, dropped, name)
        if replacement is None:
            del manifest["shards"][position]
        else:
            manifest["shards"][position] = replacement
        listed = {tuple(p) for e in manifest["shards"] for p in e["pairs"]}
        lost = [p for p in dropped if p not in listed]  # a pair listed by another shard stays stored
        for w, s in lost:
            for kind in MASK_FILE_KINDS:
                _move(store._mask_file(kind, w, s), target / kind)
        _io.write_json(store.path / "manifest.json", manifest)
        for suffix in (".bin", ".json"):
            _move(folder / f"{name}{suffix}", target / "shards")
    return {
        "pairs": [list(p) for p in lost],
        "folder": str(target.relative_to(store.path)),
        "reason": reason,
    }


def _quarantine_file(store: RunStore, fault: Fault) -> dict:
    assert fault.path is not None
    target = _new_folder(store, fault.path.parent.name + "-" + fault.path.stem)
    _write_reason(target, fault.reason, [], None)
    _move(fault.path, target / fault.path.parent.name)
    return {"pairs": [], "folder": str(target.relative_to(store.path)), "reason": fault.reason}


def _new_folder(store: RunStore, what: str) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = store.path / QUARANTINE / f"{stamp}-{what}-{uuid.uuid4().hex[:6]}"
    target.mkdir(parents=True)
    return target


def _write_reason(target: Path, reason: str, pairs: list[Pair], shard: str | None) -> None:
    from landscape import __version__

    _io.write_json(
        target / "reason.json",
        {
            "quarantined_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "landscape": __version__,
            "reason": reason,
            "shard": shard,
            "pairs": [list(p) for p in pairs],
        },
    )


def _move(path: Path, folder: Path) -> None:
    if not path.exists():
        return
    folder.mkdir(exist_ok=True)
    os.replace(path, folder / path.name)
