"""The on-disk side of a tile job: its key, its description, the rows it reads, its tiles.

```
<tiles root>/<key>/
  job.json        key, toolkit version, layout, tile plan (written once: the first writer wins)
  rows.json       where the rows are read from (shard files, or rows-<sha>.bin saved here)
  tiles/          r<range>-<block>-<block>.<sha256[:16]>.npz, written atomically
  outputs/        memory-mapped result matrices (.npy) too large to hold in memory
```

The key hashes what the counts depend on: the content of every source of rows (the shard
checksums the run manifests list, or the bytes of in-memory rows), the row order, the
layout and the toolkit version. The plan is not part of it: a job resumed with another
memory budget keeps the geometry of its finished tiles. A tile file names the sha256 of its
own bytes, so a damaged one is recognised (reported by path and recomputed) without any
shared index that concurrent workers would have to update; it also holds the digest of the
plan it was computed under, so a tile of another geometry (a job.json replaced) is never
merged. Rows saved into the job are checked against their checksum before a worker reads
them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from landscape.errors import AnalysisError, DamagedFileWarning, StoreError
from landscape.store import _io
from landscape.store.layout import Layout
from landscape.tl._tiles import ACCOUNTING, Tile, TilePlan

FORMAT = 2  # 2: tiles name the plan they were computed under

JOB, ROWS = "job.json", "rows.json"


def _source_identity(array: np.ndarray) -> tuple[str, dict]:
    """Content digest of one source of rows, and how a worker process opens it."""
    filename = getattr(array, "filename", None)
    if isinstance(array, np.memmap) and filename:
        from landscape.store.shards import known_checksum

        path = Path(os.path.abspath(filename))
        st = path.stat()
        sha = known_checksum(path) or _io.sha256_file(path)
        entry = {"path": str(path), "offset": int(array.offset), "n_rows": int(array.shape[0]),
                 "size": st.st_size, "mtime_ns": st.st_mtime_ns}  # fmt: skip
        return sha, entry
    data = _flat_bytes(array)
    return _io.sha256_bytes(data), {"n_rows": int(array.shape[0])}


def _flat_bytes(array: np.ndarray) -> memoryview:
    """The bytes of in-memory rows without a copy (a budget must not hold them twice); only
    rows that are not one contiguous uint8 block are copied."""
    return memoryview(np.ascontiguousarray(array, dtype=np.uint8).reshape(-1))


def job_key(packed_rows, layout: Layout) -> tuple[str, dict]:
    """The job key of a MaskSet's rows (``ms.X``) and the ``rows.json`` describing them."""
    from landscape import __version__

    used = np.unique(packed_rows.src)
    remap = np.full(max(len(packed_rows.sources), 1), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    h = hashlib.sha256(json.dumps({"format": FORMAT, "version": __version__}).encode())
    h.update(layout.dumps().encode())
    sources = []
    for s in used:
        sha, entry = _source_identity(packed_rows.sources[s])
        h.update(sha.encode())
        sources.append({**entry, "sha256": sha})
    src = remap[packed_rows.src].astype(np.int64)
    pos = packed_rows.pos.astype(np.int64)
    h.update(src.tobytes())
    h.update(pos.tobytes())
    rows = {"sources": sources, "src": src.tolist(), "pos": pos.tolist(), "row_bytes": packed_rows.row_bytes}
    return h.hexdigest()[:24], rows


class TileStore:
    """The folder of one job (see the module docstring)."""

    def __init__(self, folder: Path, plan: TilePlan, layout: Layout, key: str, accounting: int = ACCOUNTING):
        self.folder, self.plan, self.layout, self.key = folder, plan, layout, key
        self.accounting = accounting  # how job.json's plan priced its working memory

    # creation ---------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, key: str, plan: TilePlan, layout: Layout) -> TileStore:
        """Open the job ``root/key``, creating it with ``plan`` when it does not exist yet."""
        folder = Path(root) / key
        (folder / "tiles").mkdir(parents=True, exist_ok=True)
        job = {"format": FORMAT, "key": key, "layout": layout.to_json(), "plan": plan.to_json(),
               "accounting": ACCOUNTING}  # fmt: skip
        from landscape import __version__

        job["version"] = __version__
        _io.write_new(folder / JOB, _io.dumps(job))  # a concurrent creator's identical plan may win
        return cls.open(folder)

    @classmethod
    def open(cls, folder: str | Path) -> TileStore:
        folder = Path(folder)
        try:
            job = _io.read_json(folder / JOB)
            plan = TilePlan.from_json(job["plan"])
            layout = Layout.from_json(job["layout"], source=str(folder / JOB))
            key = str(job["key"])
            accounting = int(job.get("accounting", 1))
        except StoreError as exc:
            raise AnalysisError(f"tile job {folder}: {exc}") from None
        except (KeyError, TypeError, ValueError):
            raise AnalysisError(f"{folder / JOB}: not a tile job description") from None
        return cls(folder, plan, layout, key, accounting)

    # the rows ---------------------------------------------------------------------------
    def write_rows(self, rows: dict, packed_rows) -> None:
        """Record where the rows come from; in-memory sources are saved into the job."""
        sources = []
        for entry, s in zip(rows["sources"], np.unique(packed_rows.src)):
            if "path" not in entry:
                name = f"rows-{entry['sha256'][:16]}.bin"
                saved = self.folder / name
                if not saved.exists() or _io.sha256_file(saved) != entry["sha256"]:  # damaged: rewritten
                    _io.write_atomic(self.folder / name, _flat_bytes(packed_rows.sources[s]))
                entry = {**entry, "path": name, "offset": 0}
            sources.append(entry)
        _io.write_json(self.folder / ROWS, {**rows, "sources": sources}, indent=None)

    def open_rows(self):
        """The job's rows as :class:`~landscape.store.rows.PackedRows` over memory maps."""
        from landscape.store.rows import PackedRows

        try:
            rows = _io.read_json(self.folder / ROWS)
        except StoreError as exc:
            raise AnalysisError(f"tile job {self.folder}: {exc}") from None
        arrays = []
        for entry in rows["sources"]:
            path = Path(entry["path"])
            path = path if path.is_absolute() else self.folder / path
            try:
                st = path.stat()
            except OSError:
                raise AnalysisError(f"{path}: rows of tile job {self.folder} are missing") from None
            if "mtime_ns" in entry and (st.st_size, st.st_mtime_ns) != (entry["size"], entry["mtime_ns"]):
                raise AnalysisError(f"{path}: changed since tile job {self.folder} was planned")
            if "mtime_ns" not in entry and _io.sha256_file(path) != entry.get("sha256"):
                raise AnalysisError(
                    f"{path}: rows of tile job {self.folder} are damaged (checksum differs); "
                    "run the analysis again to rewrite them"
                )
            shape = (int(entry["n_rows"]), int(rows["row_bytes"]))
            arrays.append(np.memmap(path, dtype=np.uint8, mode="r", offset=int(entry["offset"]), shape=shape))
        return PackedRows(arrays, np.asarray(rows["src"]), np.asarray(rows["pos"]), int(rows["row_bytes"]))

    # tiles ------------------------------------------------------------------------------
    def _tile_dir(self) -> Path:
        return self.folder / "tiles"

    def finished(self) -> dict[str, Path]:
        """Tile name -> file, for every tile stored (not yet verified)."""
        out = {}
        for path in sorted(self._tile_dir().glob("r*.npz")):
            out.setdefault(path.name.split(".")[0], path)
        return out

    def save(self, tile: Tile, counts: np.ndarray, worker: str) -> Path:
        """Store one tile's counts (uint32) atomically under a name holding their checksum."""
        if counts.size and counts.max() > np.iinfo(np.uint32).max:
            raise AnalysisError(f"tile {tile.name}: counts do not fit uint32")  # ranges are far smaller
        buf = io.BytesIO()
        np.savez(
            buf,
            counts=np.ascontiguousarray(counts, dtype=np.uint32),
            worker=np.array(worker),
            plan=np.array(self.plan.digest()),
        )
        data = buf.getvalue()
        path = self._tile_dir() / f"{tile.name}.{_io.sha256_bytes(data)[:16]}.npz"
        _io.write_atomic(path, data)
        return path

    def load(self, path: Path) -> tuple[np.ndarray, str] | None:
        """A tile's counts and the worker that computed it, or None (with a warning naming the
        file, which is removed so the tile is recomputed) when the file is damaged or was
        computed under another plan."""
        why = "damaged tile"
        try:
            data = path.read_bytes()
            if _io.sha256_bytes(data)[:16] == path.name.split(".")[1]:
                with np.load(io.BytesIO(data)) as z:
                    counts, worker, plan = z["counts"], str(z["worker"]), str(z["plan"])
                tile = Tile.parse(path.name.split(".")[0])
                if plan == self.plan.digest() and counts.shape == self.plan.tile_shape(tile):
                    return counts, worker
                why = "tile of another plan of this job (its job.json was replaced)"
        except (OSError, ValueError, KeyError, IndexError):
            pass
        warnings.warn(DamagedFileWarning(f"{path}: {why} removed; it will be recomputed", path), stacklevel=2)
        path.unlink(missing_ok=True)
        return None

    def output_path(self, name: str) -> Path:
        (self.folder / "outputs").mkdir(exist_ok=True)
        return self.folder / "outputs" / f"{name}.npy"


def remove_job(folder: Path) -> None:
    """Delete a job folder (temporary jobs)."""
    shutil.rmtree(folder, ignore_errors=True)
