"""Resumable search state on disk: ``torch.save`` to a temp file, then ``os.replace``.

A checkpoint that cannot be read (cut short by a kill, written by an incompatible version)
is reported as a warning and removed: the search restarts from scratch instead of crashing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from landscape.store import _io


def save(path: Path, obj: Any) -> None:
    import torch

    path.parent.mkdir(exist_ok=True)
    tmp = _io.temp_name(path)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path) -> Any | None:
    """The saved object, or None when absent or unreadable (then with a RuntimeWarning)."""
    import torch

    if not path.exists():
        return None
    try:
        # written by this store for this run only; it holds optimiser and method state
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint means "start over"
        warnings.warn(
            f"{path}: unreadable checkpoint ({type(exc).__name__}); restarting from scratch",
            RuntimeWarning,
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
        return None


class CheckpointFiles:
    """Mixed into :class:`~landscape.store.run_store.RunStore` (needs ``path``):
    ``checkpoints/w<weight_seed>-s<seeds>.pt``, one per batch of masks being searched."""

    path: Path

    def checkpoint_path(self, weight_seed: int, search_seeds: Iterable[int]) -> Path:
        """Where the resumable state of one batch of masks lives."""
        seeds = [int(s) for s in search_seeds]
        label = "-".join(map(str, seeds)) if len(seeds) <= 4 else _short_hash(seeds, len(seeds))
        return self.path / "checkpoints" / f"w{int(weight_seed)}-s{label}.pt"

    def _ckpt(self, key: Path | tuple) -> Path:
        return Path(key) if isinstance(key, (str, Path)) else self.checkpoint_path(*key)

    def save_checkpoint(self, key: Path | tuple, obj: Any) -> None:
        """Save resumable state; ``key`` is a path or ``(weight_seed, search_seeds)``."""
        save(self._ckpt(key), obj)

    def load_checkpoint(self, key: Path | tuple) -> Any | None:
        """The saved state, or None when absent. A corrupt file is reported and dropped."""
        return load(self._ckpt(key))

    def drop_checkpoint(self, key: Path | tuple) -> None:
        """Remove a checkpoint and any temp file a killed writer left beside it.

        Only the worker holding the claims of these masks writes this checkpoint, so a temp
        sibling seen here belongs to a writer that is gone.
        """
        path = self._ckpt(key)
        path.unlink(missing_ok=True)
        for orphan in path.parent.glob(f".{path.name}.tmp-*"):
            orphan.unlink(missing_ok=True)


def _short_hash(seeds: list[int], n: int) -> str:
    digest = _io.sha256_bytes(",".join(map(str, seeds)).encode())[:10]
    return f"{seeds[0]}-n{n}-{digest}"
