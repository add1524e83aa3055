"""Removing runs without ever leaving half of one.

A run folder is first renamed, atomically, to a hidden trash name in the same runs root
(``.trash-<run_id>-<random>``), then deleted. Readers skip hidden folders, so from the
rename on the run is gone for everybody; a removal killed while deleting leaves only a
trash folder, which the next removal under that root deletes.

A run that a search is filling holds live claims (``claims/``); removing it would pull the
folder from under that search, so :func:`remove_run` refuses unless told otherwise.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from landscape.errors import StoreError
from landscape.store import _io
from landscape.store.claims import is_stale, read_claim

TRASH_PREFIX = ".trash-"


def live_claims(run: Path, stale_after_s: float) -> list[str]:
    """Owners of the claims in ``run/claims`` whose worker is alive (heartbeat fresh)."""
    folder = Path(run) / "claims"
    if not folder.is_dir():
        return []
    owners = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or is_stale(path, stale_after_s):
            continue
        info = read_claim(path)
        if info is not None:
            owners.append(str(info.get("owner") or "unknown owner"))
    return owners


def remove_run(run: str | Path, stale_after_s: float, force: bool = False) -> Path:
    """Remove one run folder; returns the trash folder it passed through (now deleted).

    Raises
    ------
    StoreError
        When ``run`` is not a run folder, or a search holds live claims on it and not
        ``force``.
    """
    run = Path(run)
    if not (run / "config.json").is_file():
        raise StoreError(f"{run}: not a run directory (no config.json)")
    owners = live_claims(run, stale_after_s)
    if owners and not force:
        raise StoreError(
            f"run {run.name}: a search is running in it ({len(owners)} live claims, e.g. {owners[0]}); "
            "stop it first, or remove anyway with --force"
        )
    trash = run.parent / f"{TRASH_PREFIX}{run.name}-{uuid.uuid4().hex[:12]}"
    try:
        run.rename(trash)  # atomic: the run is either all there or gone
    except OSError as exc:
        raise StoreError(f"{run}: cannot remove ({exc.strerror})") from None
    _io.fsync_dir(run.parent)
    shutil.rmtree(trash, ignore_errors=True)
    return trash


def sweep_trash(root: str | Path) -> list[Path]:
    """Delete the trash folders an interrupted removal left under ``root``; returns them."""
    root = Path(root)
    if not root.is_dir():
        return []
    swept = sorted(p for p in root.iterdir() if p.name.startswith(TRASH_PREFIX) and p.is_dir())
    for path in swept:
        shutil.rmtree(path, ignore_errors=True)
    return swept
