"""Resumable search state on disk: ``torch.save`` to a temp file, then ``os.replace``.

A checkpoint that cannot be read (cut short by a kill, written by an incompatible version)
is reported as a warning and removed: the search restarts from scratch instead of crashing.
"""

from __future__ import annotations

import os
import warnings
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
