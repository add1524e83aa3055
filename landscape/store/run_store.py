"""RunStore: one run directory ``runs/<run_id>/`` (see docs/architecture.md, "Run store").

Every file is written to a temp name and ``os.replace``d; read-modify-writes of shared files
(plan, manifest, weight checksums) happen under a :func:`~landscape.store.claims.file_lock`,
so many workers, on one host or several sharing a network filesystem, can fill one run.
A mask exists only once the manifest lists its shard. torch is imported only by the methods
that need it (checkpoints, :meth:`RunStore.build_model`).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from landscape.config import SearchConfig, from_dict
from landscape.errors import ConfigError, StoreError
from landscape.store import _io, shards
from landscape.store.checkpoints import CheckpointFiles
from landscape.store.claims import file_lock
from landscape.store.layout import Layout
from landscape.store.mask_files import PerMaskFiles
from landscape.store.meta import make_meta
from landscape.store.predictions import PredictionFiles
from landscape.store.random_weights import RandomWeights
from landscape.store.records import curves_frame, first_difference, flatten, records_frame
from landscape.store.snapshots import SnapshotFiles

if TYPE_CHECKING:
    import pandas as pd

CONFIG, META, LAYOUT, PLAN = "config.json", "meta.json", "layout.json", "plan.json"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_SHARD_NAME = re.compile(r"^shard-[0-9a-f]{32}$")
_RUN_ID = re.compile(r"^[0-9a-f]{12}$")
Pair = tuple[int, int]


class RunStore(PerMaskFiles, RandomWeights, CheckpointFiles, SnapshotFiles, PredictionFiles):
    """One run directory. Build with :meth:`create` (writers) or :meth:`open` (readers)."""

    def __init__(self, path: Path, run_id: str, config: SearchConfig, layout: Layout, meta: dict):
        self.path, self.run_id, self.config, self.layout, self.meta = path, run_id, config, layout, meta

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r}, {self.config.describe()}, {self.n_masks} masks)"

    # creation and opening ------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        runs_root: str | Path,
        cfg: SearchConfig,
        layout: Layout,
        provenance: dict | None = None,
        data_info: dict | None = None,
    ) -> RunStore:
        """Create ``runs_root/<cfg.run_id>`` (or join it when it exists and matches).

        The folder is assembled under a temp name and renamed into place, so concurrent
        creators all end up with the same valid run. An existing run must have the same
        identity (``cfg.canonical()``), layout and data shape, else :class:`StoreError`.

        Parameters
        ----------
        data_info
            ``{"input_shape": [...], "n_classes": k}`` of the dataset, kept in
            ``meta["data_shape"]`` so :meth:`build_model` can rebuild the network.
        """
        root = Path(runs_root)
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: runs root is a file, expected a folder")
        root.mkdir(parents=True, exist_ok=True)
        final = root / cfg.run_id
        files = {
            CONFIG: _io.dumps({**cfg.stored_dict(), "run_id": cfg.run_id}),
            LAYOUT: layout.dumps().encode(),
            META: _io.dumps(make_meta(provenance, data_info)),
        }
        if not (final / CONFIG).exists():
            _publish_dir(root, final, files)
        store = cls.open(final, check_id=False)  # _check_matches names the field that differs
        store._check_matches(cfg, layout, data_info)
        return store

    @classmethod
    def open(cls, path: str | Path, check_id: bool = True) -> RunStore:
        """Open an existing run; :class:`StoreError` naming the file at fault otherwise.

        The run id is a hash of the config, so a ``config.json`` edited or damaged into other
        valid values no longer hashes to the id it records (or, when it records none, to the
        folder's name if that is a run id): refused unless ``check_id`` is false, so masks are
        never labelled with values they were not searched with.
        """
        path = Path(path)
        if not path.is_dir():
            raise StoreError(f"{path}: not a run directory" + ("" if path.exists() else " (missing)"))
        data = _io.read_json(path / CONFIG)
        if not isinstance(data, dict):
            raise StoreError(f"{path / CONFIG}: expected a table of config sections")
        data = dict(data)
        recorded = "run_id" in data
        run_id = str(data.pop("run_id", path.name))
        try:
            config = from_dict(data)
        except ConfigError as exc:
            raise StoreError(f"{path / CONFIG}: {exc}") from None
        # a folder name only states the id when it looks like one (a copy may be renamed)
        if check_id and (recorded or _RUN_ID.match(run_id)) and run_id != config.run_id:
            raise StoreError(
                f"{path / CONFIG}: its fields hash to run id {config.run_id}, not to the {run_id} "
                "it was stored as; the file was edited or damaged (restore it, or remove the run)"
            )
        layout = Layout.from_json(_io.read_json(path / LAYOUT), source=str(path / LAYOUT))
        meta = _io.read_json(path / META) if (path / META).exists() else {}
        return cls(path, run_id, config, layout, meta if isinstance(meta, dict) else {})

    def _check_matches(self, cfg: SearchConfig, layout: Layout, data_info: dict | None) -> None:
        if self.config.canonical() != cfg.canonical() or self.run_id != cfg.run_id:
            diff = _identity_difference(self.config, cfg)
            raise StoreError(
                f"run {self.run_id} at {self.path}: config.json does not match the requested config "
                f"({diff}); the run directory is corrupt"
            )
        if self.layout != layout:
            raise StoreError(
                f"run {self.run_id}: stored layout differs from the model's ({self.layout.difference(layout)})"
            )
        stored = self.meta.get("data_shape")
        if data_info and stored and _io.dumps(stored) != _io.dumps(_data_shape(data_info)):
            raise StoreError(f"run {self.run_id}: stored data shape {stored} differs from {data_info}")

    # plan -------------------------------------------------------------------------------------
    def add_plan(self, pairs: Iterable[Pair]) -> None:
        """Add requested ``(weight_seed, search_seed)`` pairs to ``plan.json`` (a union)."""
        new = {_pair(p) for p in pairs}
        with file_lock(self.path / ".plan.lock"):
            merged = self.plan() | new
            _io.write_json(self.path / PLAN, {"pairs": sorted(merged)}, indent=None)

    def plan(self) -> set[Pair]:
        """The requested ``(weight_seed, search_seed)`` pairs."""
        if not (self.path / PLAN).exists():
            return set()
        data = _io.read_json(self.path / PLAN)
        try:
            return {_pair(p) for p in data["pairs"]}
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"{self.path / PLAN}: malformed plan") from None

    def pending(self) -> list[Pair]:
        """Planned pairs without a stored mask, sorted."""
        return sorted(self.plan() - self.finished())

    # manifest ----------------------------------------------------------------------------------
    @property
    def has_manifest(self) -> bool:
        return (self.path / MANIFEST).exists()

    def manifest(self, allow_repeats: bool = False) -> dict:
        """The parsed, validated manifest (an empty one when no mask was stored yet).

        A ``(weight_seed, search_seed)`` pair listed by two shards is a :class:`StoreError`
        naming both (the writers never list a pair twice), unless ``allow_repeats``: what
        :mod:`landscape.store.repair` reads to find and drop the later listing.
        """
        path = self.path / MANIFEST
        if not path.exists():
            return {"format": MANIFEST_FORMAT, "run_id": self.run_id, "shards": []}
        data = _io.read_json(path)
        entries = data.get("shards") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise StoreError(f"{path}: malformed manifest (no list of shards)")
        for i, e in enumerate(entries):
            if not _valid_entry(e):
                raise StoreError(f"{path}: malformed manifest entry {i}")
        repeats = repeated_pairs(entries)
        if repeats and not allow_repeats:
            raise StoreError(repeat_message(path, *repeats[0]))
        return data

    def finished(self) -> set[Pair]:
        """Pairs whose masks are listed in the manifest."""
        return {tuple(p) for e in self.manifest()["shards"] for p in e["pairs"]}

    @property
    def n_masks(self) -> int:
        return sum(e["n_rows"] for e in self.manifest()["shards"])

    @property
    def n_planned(self) -> int:
        return len(self.plan())

    # writing masks ---------------------------------------------------------------------------
    def write_masks(self, rows: np.ndarray, records: list[dict]) -> int:
        """Store packed masks and their records as one shard; return how many were added.

        Parameters
        ----------
        rows
            ``uint8 (n, layout.row_bytes)`` packed masks (:mod:`landscape.store.packing`).
        records
            One dict per row with ``weight_seed``, ``search_seed``, metrics and a ``curves``
            dict of per-epoch lists. ``n_kept`` is set from the rows (a given value must agree).

        Rows whose pair the manifest already lists (another worker finished it) are skipped.
        """
        counts = shards.check_rows(rows, self.layout)
        if len(records) != rows.shape[0]:
            raise ValueError(f"{rows.shape[0]} rows but {len(records)} records")
        pairs = [_record_pair(r) for r in records]
        if len(set(pairs)) != len(pairs):
            raise ValueError("records repeat a (weight_seed, search_seed) pair")
        for rec, k in zip(records, counts):
            if "n_kept" in rec and int(rec["n_kept"]) != int(k):
                raise ValueError(f"record {_record_pair(rec)}: n_kept {rec['n_kept']} but the row keeps {k}")
            rec["n_kept"] = int(k)
        keep = _new_rows(pairs, self.finished())
        if not keep:
            return 0
        folder = self.path / "shards"
        folder.mkdir(exist_ok=True)
        entry = shards.write_shard(folder, rows[keep], [records[i] for i in keep])
        with file_lock(self.path / ".manifest.lock"):
            manifest = self.manifest()
            done = {tuple(p) for e in manifest["shards"] for p in e["pairs"]}
            still = [i for i in keep if pairs[i] not in done]
            if len(still) < len(keep):  # lost a race for some pairs: store only the rest
                shards.remove_shard(folder, entry["name"])
                if not still:
                    return 0
                entry = shards.write_shard(folder, rows[still], [records[i] for i in still])
            entry["pairs"] = [list(pairs[i]) for i in still]
            manifest.update(format=MANIFEST_FORMAT, run_id=self.run_id, row_bytes=self.layout.row_bytes)
            manifest["shards"].append(entry)
            _io.write_json(self.path / MANIFEST, manifest)
        return len(still)

    # reading masks ---------------------------------------------------------------------------
    def shard_arrays(self) -> list[np.ndarray]:
        """Verified read-only memory maps, one ``uint8 (n_rows, row_bytes)`` per shard."""
        folder, rb = self.path / "shards", self.layout.row_bytes
        return [shards.open_rows(folder, e, rb) for e in self.manifest()["shards"]]

    def read_rows(self) -> np.ndarray:
        """All packed rows in manifest order, ``uint8 (n_masks, row_bytes)``."""
        parts = self.shard_arrays()
        if not parts:
            return np.zeros((0, self.layout.row_bytes), dtype=np.uint8)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _records(self) -> list[dict]:
        folder = self.path / "shards"
        return [r for e in self.manifest()["shards"] for r in shards.read_records(folder, e)]

    def records(self) -> pd.DataFrame:
        """Per-mask table in manifest order (without curves)."""
        return records_frame(self._records())

    def curves(self) -> pd.DataFrame:
        """Long table ``mask, weight_seed, search_seed, epoch, <metric>...``."""
        return curves_frame(self._records())

    # checking ---------------------------------------------------------------------------------
    def faults(self) -> list:
        """Every damaged file, as :class:`~landscape.store.repair.Fault` (empty when sound).

        Reads every listed shard, every per-mask file and the stored random weights in full.
        A manifest that cannot be parsed is not a fault to repair: :class:`StoreError`.
        """
        from landscape.store.repair import find_faults

        return find_faults(self)

    def verify(self) -> None:
        """Check every stored file against its checksum; :class:`StoreError` on the first fault."""
        faults = self.faults()
        if faults:
            raise StoreError(faults[0].reason)

    def repair(self) -> list[dict]:
        """Quarantine every damaged mask (see :mod:`landscape.store.repair`); what was moved."""
        from landscape.store.repair import quarantine

        return quarantine(self, self.faults())

    def last_verification(self):
        """The record of the last ``landscape verify`` (``verified.json``), or None."""
        from landscape.store import verification

        return verification.last(self.path)

    def status(self) -> str:
        """``"complete"``, ``"partial"``, ``"empty"`` or ``"corrupt: <reason>"``.

        Cheap: listed files must exist with the right sizes (no checksums), and a run whose
        last ``landscape verify`` failed stays corrupt until a verify passes again.
        """
        try:
            manifest = self.manifest()
            for e in manifest["shards"]:
                shards.check_sizes(self.path / "shards", e, self.layout.row_bytes)
            plan = self.plan()
            self._check_listed_files(manifest["shards"])
        except StoreError as exc:
            return f"corrupt: {exc}"
        last = self.last_verification()
        if last is not None and not last.ok:
            return f"corrupt: last verify failed: {last.fault}"
        done = {tuple(p) for e in manifest["shards"] for p in e["pairs"]}
        if not done:
            return "empty"
        return "complete" if plan <= done else "partial"

    def _check_listed_files(self, entries: list[dict]) -> None:
        """The per-mask files the records list and the predictions the index lists are there
        (predictions with their listed size); :class:`StoreError` naming the first missing."""
        from landscape.store import predictions
        from landscape.store.mask_files import MASK_FILE_KINDS

        folder = self.path / "shards"
        for entry in entries:
            for (w, s), record in zip(entry["pairs"], shards.listed_records(folder, entry)):
                for kind in MASK_FILE_KINDS:
                    if kind in (record.get("files") or {}):
                        self.require_mask_file(kind, w, s)
        for entry in self.predictions_index().values():
            problem = predictions.size_problem(self.path, entry)
            if problem:
                raise StoreError(problem)

    # models ----------------------------------------------------------------------------------
    def build_model(self, weight_seed: int, search_seeds=None, device="cpu", rule=None):
        """An ``EnsembleNet`` with the stored masks of ``weight_seed`` pinned (see ``rebuild``)."""
        from landscape.store.rebuild import build_model

        return build_model(self, weight_seed, search_seeds, device=device, rule=rule)


# helpers ---------------------------------------------------------------------------------------
def _publish_dir(root: Path, final: Path, files: dict[str, bytes]) -> None:
    """Make ``final`` hold ``files`` without ever showing a half-written run."""
    tmp = root / f".{final.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        try:
            os.rename(tmp, final)  # atomic; fails when another creator got there first
            _io.fsync_dir(root)
            return
        except OSError:
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # the folder exists without a config (created by hand, say): fill in what is missing
    for name, data in files.items():
        _io.write_new(final / name, data)


def _identity_difference(a: SearchConfig, b: SearchConfig) -> str:
    """First differing identity field, with default values spelled out (not ``None``)."""
    keys = set(flatten(a.canonical())) | set(flatten(b.canonical()))
    fa, fb = flatten(a.to_dict()), flatten(b.to_dict())
    return first_difference({k: fa.get(k) for k in keys}, {k: fb.get(k) for k in keys})


def _data_shape(info: dict) -> dict:
    return {"input_shape": [int(s) for s in info["input_shape"]], "n_classes": int(info["n_classes"])}


def _pair(p) -> Pair:
    w, s = p
    return (int(w), int(s))


def _record_pair(rec: dict) -> Pair:
    try:
        return (int(rec["weight_seed"]), int(rec["search_seed"]))
    except KeyError as exc:
        raise ValueError(f"a record lacks {exc.args[0]!r}") from None


def _new_rows(pairs: list[Pair], done: set[Pair]) -> list[int]:
    return [i for i, p in enumerate(pairs) if p not in done]


def repeated_pairs(entries: list[dict]) -> list[tuple[Pair, str, str]]:
    """``(pair, first shard, later shard)`` for each listing of a pair after its first."""
    first: dict[Pair, str] = {}
    repeats = []
    for e in entries:
        for p in e["pairs"]:
            pair = _pair(p)
            if pair in first:
                repeats.append((pair, first[pair], e["name"]))
            else:
                first[pair] = e["name"]
    return repeats


def repeat_message(path: Path, pair: Pair, first: str, later: str) -> str:
    return (
        f"{path}: mask w{pair[0]}/s{pair[1]} is listed twice, in {first} and again in {later}; "
        "landscape verify --repair keeps the first"
    )


def _valid_entry(e: Any) -> bool:
    try:
        return (
            bool(_SHARD_NAME.match(e["name"]))
            and type(e["n_rows"]) is int
            and e["n_rows"] == len(e["pairs"]) > 0
            and all(
                isinstance(p, list) and len(p) == 2 and all(type(x) is int for x in p) for p in e["pairs"]
            )
            and isinstance(e["sha256_bin"], str)
            and isinstance(e["sha256_json"], str)
        )
    except (KeyError, TypeError, ValueError):
        return False
