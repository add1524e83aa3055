"""Masks kept during a search: each mask's bit-packed state after chosen epochs.

A snapshot of epoch ``e`` is the mask after ``e`` epochs of training; epoch 0 is the top-k of
the initial scores, before the first step, and the last epoch is the mask the run stores.
The packed rows live in the trainer's history (``extra["snapshots"]``: ``{epoch: uint8
(M, row_bytes)}``), so they travel in every checkpoint: a resumed search holds each snapshot
it took before the kill and takes each later one once. Taking a snapshot only reads the
masks; the search is the same with or without them (tested against the pinned masks).

The snapshot setting is not part of the run id, so a search may resume under another one. The
history records which epochs its search takes (``extra["snapshot_epochs"]``); a resumed search
takes the epochs now asked for when every one of them already done is held, else the
checkpoint's own (with a warning naming the run), else none. A snapshot is never taken of an
epoch other than the one it is stored under, and a set missing one of its epochs is never stored.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from landscape.store.packing import pack_layers

KEY = "snapshots"
EPOCHS_KEY = "snapshot_epochs"  # the epochs the history's search takes (absent: an older checkpoint)


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
        self.asked = tuple(sorted(kept | {0, epochs})) if requested else ()
        self.epochs = self.asked  # what this search takes: settled by continue_from
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

    def continue_from(self, extra: dict[str, Any], epochs_done: int, label: str) -> None:
        """Settle which epochs to take for a search whose history (fresh or a checkpoint's, after
        ``epochs_done`` epochs) is ``extra``, drop held snapshots outside them and record them."""
        held = extra.get(KEY) or {}
        self.epochs = self._epochs_to_take(extra.get(EPOCHS_KEY), held, epochs_done, label)
        kept = {e: rows for e, rows in held.items() if e in self.epochs}
        if kept:
            extra[KEY] = kept
        else:
            extra.pop(KEY, None)
        extra[EPOCHS_KEY] = self.epochs

    def _epochs_to_take(self, recorded, held: dict, done: int, label: str) -> tuple[int, ...]:
        asked = self.asked
        where = f"run {label}: resumed after epoch {done} from a checkpoint"
        if not asked:
            if held:  # kept off as asked, but say so: the kept ones would have been lost unseen
                warnings.warn(
                    f"{where} that took snapshots at epochs {sorted(held)}; snapshots are off now, "
                    "so these masks store none (resume with the same train.snapshot_* to keep them)",
                    stacklevel=4,
                )
            return ()
        if done == 0 or held_all(asked, held, done):
            return asked
        past = [e for e in asked if e <= done and e not in held]
        if recorded and held_all(tuple(recorded), held, done):
            warnings.warn(
                f"{where} that takes snapshots at epochs {list(recorded)}; the epochs {past} now "
                "asked for are past, so these masks keep the checkpoint's epochs",
                stacklevel=4,
            )
            return tuple(int(e) for e in recorded)
        warnings.warn(
            f"{where} that holds no snapshots of epochs {past}; these masks store no snapshots "
            "(to have them, remove the run with `landscape rm` and search it again)",
            stacklevel=4,
        )
        return ()

    def rows(self, extra: dict[str, Any], n_masks: int, label: str) -> list[dict[int, np.ndarray]] | None:
        """``{epoch: packed row}`` for each of the ``n_masks`` masks, or None without snapshots
        (off, or an epoch to take is not held: a partial set is never stored as a whole one)."""
        held = extra.get(KEY) or {}
        if not self:
            return None
        missing = sorted(set(self.epochs) - set(held))
        if missing:
            warnings.warn(f"run {label}: snapshots of epochs {missing} missing; none stored", stacklevel=3)
            return None
        return [{int(e): held[e][i].copy() for e in self.epochs} for i in range(n_masks)]


def held_all(epochs: tuple[int, ...], held: dict, done: int) -> bool:
    """Whether every one of ``epochs`` that ``done`` epochs of training have passed is held."""
    return all(e in held for e in epochs if e <= done)
