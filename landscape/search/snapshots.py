"""Masks kept during a search: each mask's bit-packed state after chosen epochs.

A snapshot of epoch ``e`` is the mask after ``e`` epochs of training; epoch 0 is the top-k of
the initial scores, before the first step, and the last epoch is the mask the run stores.
The packed rows live in the trainer's history (``extra["snapshots"]``: ``{epoch: uint8
(M, row_bytes)}``), so they travel in every checkpoint: a resumed search holds each snapshot
it took before the kill and takes each later one once. Taking a snapshot only reads the
masks; the search is the same with or without them (tested against the pinned masks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landscape.store.packing import pack_layers

KEY = "snapshots"


class Snapshots:
    """Which epochs to keep for a search of ``epochs`` epochs, and taking them.

    Parameters
    ----------
    requested
        ``TrainConfig.snapshot_set()`` (empty: off).
    epochs
        Epochs this search trains (0 for methods that train nothing): later requested epochs
        are dropped, and this last epoch is always kept when snapshots are on.
    layout
        The model's layout (rows are packed as the run's masks are).
    """

    def __init__(self, requested: tuple[int, ...], epochs: int, layout) -> None:
        kept = {e for e in requested if e <= epochs}
        self.epochs = tuple(sorted(kept | {0, epochs})) if requested else ()
        self.layout = layout

    def __bool__(self) -> bool:
        return bool(self.epochs)

    def take(self, model, extra: dict[str, Any], epoch: int) -> None:
        """Keep the masks of ``model`` as the snapshot of ``epoch`` (once; only requested epochs)."""
        if epoch not in self.epochs:
            return
        held = extra.setdefault(KEY, {})
        if epoch not in held:
            held[epoch] = pack_layers(model.current_masks(), self.layout)

    @staticmethod
    def per_mask(extra: dict[str, Any], n_masks: int) -> list[dict[int, np.ndarray]] | None:
        """``{epoch: packed row}`` for each of the ``n_masks`` masks, or None without snapshots."""
        held = extra.get(KEY) or {}
        if not held:
            return None
        return [{int(e): rows[i].copy() for e, rows in sorted(held.items())} for i in range(n_masks)]
