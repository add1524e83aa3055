"""Where dataset files live and how missing ones are reported."""

from __future__ import annotations

import os
from pathlib import Path

from landscape.config import DataConfig
from landscape.errors import DataError


def data_root(cfg: DataConfig) -> Path:
    """``data.root``, else the environment variable ``LANDSCAPE_DATA``, else ``./data``."""
    root = cfg.root or os.environ.get("LANDSCAPE_DATA", "") or "data"
    return Path(root).expanduser()


def find_folder(cfg: DataConfig, subfolder: str, marker: str) -> Path:
    """The folder holding ``marker`` (a file name, or its ``.gz``): ``<root>/<subfolder>``, or
    ``<root>`` itself when the root already points there. Falls back to
    ``<root>/<subfolder>`` so error messages name the conventional place."""
    root = data_root(cfg)
    if root.is_file():
        raise DataError(f"data.root: {root} is a file, expected the folder holding the {subfolder} files")
    for folder in (root / subfolder, root):
        if (folder / marker).exists() or (folder / f"{marker}.gz").exists():
            return folder
    return root / subfolder


def missing(path: Path, what: str, hint: str) -> DataError:
    """The one-line error for a dataset file that is not there."""
    return DataError(f"data.root: {what} not found: {path}; {hint} or set data.root")
