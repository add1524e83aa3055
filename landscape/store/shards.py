"""Mask shards: ``shard-<uuid>.bin`` (packed rows) and ``shard-<uuid>.json`` (per-mask records).

A shard is written to temp names, fsynced and renamed into place; it counts only once the
manifest lists it with the sha256 of both files. Checksums are verified on the first load in
each process and cached by (path, mtime, size), so re-reading an unchanged run is free.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import numpy as np

from landscape.errors import StoreError
from landscape.store import _io
from landscape.store.layout import Layout
from landscape.store.packing import layer_counts, pack_flat

_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()
_valid_bits: dict[Layout, np.ndarray] = {}


def valid_bits(layout: Layout) -> np.ndarray:
    """uint8 row with ones exactly where real weights sit (zeros on the padding)."""
    if layout not in _valid_bits:
        _valid_bits[layout] = pack_flat(np.ones((1, layout.n_weights), dtype=bool), layout)[0]
    return _valid_bits[layout]


def check_rows(rows: np.ndarray, layout: Layout) -> np.ndarray:
    """Validate packed rows and return their kept counts (int64 per row)."""
    if not isinstance(rows, np.ndarray) or rows.dtype != np.uint8 or rows.ndim != 2:
        raise ValueError("rows must be a uint8 array of shape (n_masks, row_bytes)")
    if rows.shape[1] != layout.row_bytes:
        raise ValueError(f"rows have {rows.shape[1]} bytes, the layout needs {layout.row_bytes}")
    if np.any(rows & ~valid_bits(layout)):
        raise ValueError("rows have bits set in the padding between layers (pack them with store.packing)")
    return layer_counts(rows, layout).sum(axis=1)


def write_shard(folder: Path, rows: np.ndarray, records: list[dict]) -> dict:
    """Write one shard into ``folder``; return its manifest entry (without the pairs)."""
    name = f"shard-{uuid.uuid4().hex}"
    data = np.ascontiguousarray(rows, dtype=np.uint8).tobytes()
    meta = _io.dumps({"n_rows": len(records), "row_bytes": rows.shape[1], "records": records}, indent=None)
    # records first: a .bin without its .json is never listed, so order only matters for tidiness
    _io.write_atomic(folder / f"{name}.json", meta)
    _io.write_atomic(folder / f"{name}.bin", data)
    return {
        "name": name,
        "n_rows": int(rows.shape[0]),
        "sha256_bin": _io.sha256_bytes(data),
        "sha256_json": _io.sha256_bytes(meta),
    }


def remove_shard(folder: Path, name: str) -> None:
    for suffix in (".bin", ".json"):
        (folder / f"{name}{suffix}").unlink(missing_ok=True)


def verify_file(path: Path, expected_sha: str, expected_size: int | None = None) -> None:
    """Raise :class:`StoreError` naming ``path`` if it is missing, truncated or corrupt."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StoreError(f"{path}: listed in the manifest but missing") from None
    if expected_size is not None and st.st_size != expected_size:
        raise StoreError(f"{path}: truncated or corrupt ({st.st_size:,} bytes, expected {expected_size:,})")
    key = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
    with _verified_lock:
        if _verified.get(key) == expected_sha:
            return
    actual = _io.sha256_file(path)
    if actual != expected_sha:
        raise StoreError(f"{path}: corrupt (sha256 does not match the manifest)")
    with _verified_lock:
        _verified[key] = actual


def known_checksum(path: Path) -> str | None:
    """The sha256 of ``path`` if this process verified the file as it is now, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    with _verified_lock:
        return _verified.get((os.path.abspath(path), st.st_mtime_ns, st.st_size))


def check_sizes(folder: Path, entry: dict, row_bytes: int) -> None:
    """Cheap existence and size check (no checksum): what ``status`` uses."""
    bin_path = folder / f"{entry['name']}.bin"
    json_path = folder / f"{entry['name']}.json"
    for path in (bin_path, json_path):
        if not path.is_file():
            raise StoreError(f"{path}: listed in the manifest but missing")
    size = bin_path.stat().st_size
    if size != entry["n_rows"] * row_bytes:
        raise StoreError(
            f"{bin_path}: truncated or corrupt ({size:,} bytes, expected {entry['n_rows'] * row_bytes:,})"
        )


def open_rows(folder: Path, entry: dict, row_bytes: int) -> np.ndarray:
    """Verified, read-only memory map ``uint8 (n_rows, row_bytes)`` of one shard."""
    path = folder / f"{entry['name']}.bin"
    verify_file(path, entry["sha256_bin"], entry["n_rows"] * row_bytes)
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(entry["n_rows"], row_bytes))


def listed_records(folder: Path, entry: dict) -> list[dict]:
    """One shard's per-mask records read without their checksum (what a cheap status check
    needs: which files they list); empty when they cannot be read, which a verify reports."""
    try:
        data = _io.read_json(folder / f"{entry['name']}.json")
    except StoreError:
        return []
    records = data.get("records") if isinstance(data, dict) else None
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def read_records(folder: Path, entry: dict) -> list[dict]:
    """Verified per-mask records of one shard."""
    path = folder / f"{entry['name']}.json"
    verify_file(path, entry["sha256_json"])
    data = _io.read_json(path)
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list) or len(records) != entry["n_rows"]:
        raise StoreError(f"{path}: expected {entry['n_rows']} records")
    return records
