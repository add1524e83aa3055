"""The analysis-result store: every computed result under a key of its own inputs.

``<runs>/_analysis/results/<kind>/<key>.json`` (and ``<key>.npz`` for arrays), where ``key``
hashes the result's inputs: the masks it used (a content hash of each packed row, with the
run and seeds that place the mask over its random weights), its parameters and the
computation version of its kind. A new request reuses every entry whose key matches and
computes only the rest, so asking for more barrier pairs adds pairs and a re-analysis with
other options never discards what an earlier one computed. Entries are only ever removed by
:meth:`ResultStore.clean` (``landscape clean``).

Each kind carries a computation version (:data:`VERSIONS`), bumped when the toolkit changes
how that result is computed: a new toolkit release that leaves a computation alone keeps its
results valid (hours of barrier evaluations are not thrown away by an unrelated upgrade).
Every entry also records the toolkit version that wrote it.

Writes are atomic (temp file + rename); the JSON record is written after the arrays, so an
entry without its record does not exist. A corrupt entry is reported by path and ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from landscape.errors import DamagedFileWarning, StoreError
from landscape.store import _io

RESULTS_DIR = "results"
#: computation version per kind of result
# function_tables 2: the ensemble summary runs over the same networks at every K, pooled groups
# are split per mask into trained networks and masks, and groupby=None is keyed as None
VERSIONS = {"intersections": 1, "barrier_curve": 1, "embedding": 1, "function_tables": 2}


def mask_hashes(rows: np.ndarray) -> list[str]:
    """Content hash (16 hex digits of sha256) of each packed row ``uint8 (n, row_bytes)``."""
    return [hashlib.sha256(np.ascontiguousarray(r).tobytes()).hexdigest()[:16] for r in rows]


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_plain)


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    return str(obj)


class ResultStore:
    """Results of one analysis folder (``<runs>/_analysis`` by default)."""

    def __init__(self, folder: str | Path) -> None:
        self.root = Path(folder) / RESULTS_DIR

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # keys ---------------------------------------------------------------------------------------
    @staticmethod
    def key(kind: str, inputs: dict[str, Any]) -> str:
        """The key of a result of ``kind`` computed from ``inputs`` (JSON-able)."""
        if kind not in VERSIONS:
            raise ValueError(f"unknown kind of result {kind!r}")
        blob = canonical_json({"kind": kind, "version": VERSIONS[kind], "inputs": inputs})
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def _paths(self, kind: str, key: str) -> tuple[Path, Path]:
        folder = self.root / kind
        return folder / f"{key}.json", folder / f"{key}.npz"

    # reading ------------------------------------------------------------------------------------
    def get(self, kind: str, key: str, recomputed: bool = True) -> dict[str, Any] | None:
        """The record of an entry (``inputs``, ``payload``, provenance), or None.

        An unreadable entry is None with a :class:`DamagedFileWarning` naming the file; it says
        the entry is computed again when ``recomputed`` (the caller computes what is None).
        """
        record_path, _ = self._paths(kind, key)
        if not record_path.exists():
            return None
        try:
            record = _io.read_json(record_path)
        except StoreError as exc:
            _warn_damaged(record_path, f"{exc}", recomputed)
            return None
        return record if isinstance(record, dict) else None

    def get_arrays(self, kind: str, key: str, recomputed: bool = True) -> dict[str, np.ndarray] | None:
        """The arrays of an entry, or None when absent or unreadable (see :meth:`get`)."""
        if self.get(kind, key, recomputed) is None:
            return None
        _, array_path = self._paths(kind, key)
        try:
            with np.load(array_path) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError) as exc:
            _warn_damaged(array_path, f"{array_path}: unreadable ({type(exc).__name__})", recomputed)
            return None

    def records(self, kind: str, every_version: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every readable entry of ``kind`` as ``(key, record)``: those of the current
        computation version (:data:`VERSIONS`), or with ``every_version`` older ones too
        (which only :meth:`clean` needs: they stay stored, but no result is taken from them)."""
        folder = self.root / kind
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            if path.name.startswith("."):
                continue
            record = self.get(kind, path.stem, recomputed=False)  # listing computes nothing
            if record is not None and (every_version or record.get("version") == VERSIONS[kind]):
                yield path.stem, record

    # writing ------------------------------------------------------------------------------------
    def put(
        self,
        kind: str,
        key: str,
        inputs: dict[str, Any],
        payload: dict[str, Any],
        arrays: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Store an entry: arrays first, then the record (which makes the entry exist)."""
        from landscape import __version__

        record_path, array_path = self._paths(kind, key)
        record_path.parent.mkdir(parents=True, exist_ok=True)
        if arrays is not None:
            import io

            buf = io.BytesIO()
            np.savez(buf, **arrays)
            _io.write_atomic(array_path, buf.getvalue())
        record = {"kind": kind, "version": VERSIONS[kind], "landscape": __version__, "inputs": inputs}
        record["payload"] = payload
        _io.write_atomic(record_path, canonical_json(record).encode())

    # cleaning -----------------------------------------------------------------------------------
    def clean(self, keep=None) -> int:
        """Remove entries: all of them (``keep=None``), or those for which
        ``keep(kind, record)`` is false. Returns how many were removed."""
        if not self.root.exists():
            return 0
        if keep is None:
            n = sum(1 for _ in self.root.glob("*/*.json"))
            trash = self.root.with_name(f".{RESULTS_DIR}.trash-{os.getpid()}")
            os.replace(self.root, trash)  # a killed clean leaves a hidden folder, never half a store
            shutil.rmtree(trash, ignore_errors=True)
            return n
        removed = 0
        for kind in VERSIONS:
            for key, record in list(self.records(kind, every_version=True)):
                if not keep(kind, record):
                    record_path, array_path = self._paths(kind, key)
                    record_path.unlink(missing_ok=True)  # the record first: the entry is gone at once
                    array_path.unlink(missing_ok=True)
                    removed += 1
        return removed


def _warn_damaged(path: Path, problem: str, recomputed: bool) -> None:
    then = "ignored and will be recomputed" if recomputed else "ignored"
    warnings.warn(DamagedFileWarning(f"{problem}; the entry is {then}", path), stacklevel=3)
