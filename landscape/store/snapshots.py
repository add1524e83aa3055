"""Per-mask snapshot files: a mask's bit-packed state after chosen epochs of its search.

``<run>/snapshots/w<weight_seed>-s<search_seed>.npz`` holds ``epochs`` (int64, increasing) and
``rows`` (uint8 ``(n_epochs, row_bytes)``, packed like the run's masks), written atomically
before the mask's shard. Its :func:`~landscape.store.mask_files.arrays_digest` is kept in the
mask's record (``files["snapshots"]``), so ``landscape verify`` checks it and ``--repair``
quarantines a damaged one with its mask, like the other per-mask files. The row of the last
epoch is the stored mask itself.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from landscape.errors import StoreError
from landscape.store import _io
from landscape.store.mask_files import arrays_digest, read_npz
from landscape.store.shards import check_rows

KIND = "snapshots"


class SnapshotFiles:
    """Mixed into :class:`~landscape.store.run_store.RunStore` (needs ``path``, ``run_id``,
    ``layout`` and ``_mask_file`` of :class:`~landscape.store.mask_files.PerMaskFiles`)."""

    path: Path
    run_id: str

    def has_snapshots(self, weight_seed: int, search_seed: int) -> bool:
        return self._mask_file(KIND, weight_seed, search_seed).exists()

    def save_snapshots(self, weight_seed: int, search_seed: int, rows_by_epoch: dict[int, np.ndarray]) -> str:
        """Store one mask's snapshots ``{epoch: packed row}``; returns their digest."""
        epochs = np.array(sorted(int(e) for e in rows_by_epoch), dtype=np.int64)
        if not len(epochs) or epochs[0] < 0:
            raise ValueError("snapshots need at least one epoch, all >= 0")
        rows = np.stack([np.asarray(rows_by_epoch[int(e)], dtype=np.uint8) for e in epochs])
        check_rows(rows, self.layout)
        arrays = {"epochs": epochs, "rows": rows}
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # packed bits do not compress
        path = self._mask_file(KIND, weight_seed, search_seed)
        path.parent.mkdir(exist_ok=True)
        _io.write_atomic(path, buf.getvalue())
        # the searcher holds this mask's claim: a temp sibling is a killed writer's leftover
        for orphan in path.parent.glob(f".{path.name}.tmp-*"):
            orphan.unlink(missing_ok=True)
        return arrays_digest(arrays)

    def load_snapshots(
        self, weight_seed: int, search_seed: int, digest: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(epochs int64 (E,), rows uint8 (E, row_bytes))`` of one mask.

        Raises
        ------
        StoreError
            Naming the file when it is missing, unreadable, not snapshots of this run's layout,
            or (given the ``digest`` recorded for it) not what the search stored.
        """
        path = self._mask_file(KIND, weight_seed, search_seed)
        if not path.exists():
            raise StoreError(f"{path}: missing (run {self.run_id} stored no snapshots for this mask)")
        arrays = read_npz(path, "snapshots")
        if digest is not None and arrays_digest(arrays) != digest:
            raise StoreError(f"{path}: corrupt (contents differ from the digest in the mask's record)")
        epochs, rows = arrays.get("epochs"), arrays.get("rows")
        if (
            epochs is None
            or rows is None
            or epochs.ndim != 1
            or rows.dtype != np.uint8
            or rows.shape != (len(epochs), self.layout.row_bytes)
            or np.any(np.diff(epochs) <= 0)
        ):
            raise StoreError(f"{path}: not the snapshots of a mask of this run's layout")
        try:
            check_rows(rows, self.layout)
        except ValueError as exc:
            raise StoreError(f"{path}: {exc}") from None
        return epochs.astype(np.int64), rows
