"""``meta.json`` of a run: versions, git sha, host and time of creation, data shape."""

from __future__ import annotations

import datetime
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np


def _version(package: str) -> str | None:
    # read from the installed metadata so torch is never imported just to name its version
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_sha() -> str | None:
    """The commit of the source tree landscape runs from, or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def make_meta(provenance: dict | None = None, data_info: dict | None = None) -> dict:
    """The meta record of a new run."""
    from landscape import __version__

    meta = {
        "versions": {
            "landscape": __version__,
            "torch": _version("torch"),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "git_sha": git_sha(),
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
    }
    if data_info is not None:
        meta["data_shape"] = {
            "input_shape": [int(s) for s in data_info["input_shape"]],
            "n_classes": int(data_info["n_classes"]),
        }
    if provenance:
        meta["provenance"] = dict(provenance)
    return meta
