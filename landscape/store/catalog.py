"""Scan a runs root: one :class:`RunInfo` per run directory, never failing on one bad run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from landscape.errors import StoreError
from landscape.store import verification
from landscape.store.run_store import CONFIG, RunStore

if TYPE_CHECKING:
    import pandas as pd

    from landscape.config import SearchConfig


@dataclass(frozen=True)
class RunInfo:
    """What :func:`list_runs` knows about one run directory.

    ``error`` is None for a run that opened; otherwise the one-line reason it could not be
    opened, and the other fields hold what is known (path and folder name). ``verified``
    says when ``landscape verify`` last checked the run (``never``, a UTC time, or
    ``FAILED <time>``; see :func:`landscape.store.verification.describe`).
    """

    path: Path
    run_id: str
    status: str
    n_masks: int = 0
    n_planned: int = 0
    summary: str = ""
    error: str | None = None
    verified: str = "never"
    config: SearchConfig | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG).is_file()


ANALYSIS_RECORD = "landscape-analysis.json"  # written by landscape.analysis


def run_dirs(root: str | Path) -> list[Path]:
    """Run directories under ``root`` sorted by name (``root`` itself when it is a run).

    Hidden entries (temp folders of runs being created), ``_``-prefixed folders (the
    default analysis folder ``_analysis``) and folders holding an analysis record (tables
    written elsewhere with ``--out``) are skipped.
    """
    root = Path(root)
    if not root.exists():
        raise StoreError(f"{root}: runs root does not exist")
    if not root.is_dir():
        raise StoreError(f"{root}: runs root is a file, expected a folder")
    if is_run_dir(root):
        return [root]
    dirs = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and not (p / ANALYSIS_RECORD).exists()
    )
    if not dirs:
        raise StoreError(f"{root}: no runs found")
    return dirs


def inspect_run(path: Path) -> RunInfo:
    """What :func:`list_runs` reports of one run (cheap: no checksums)."""
    try:
        store = RunStore.open(path)
        status = store.status()
        try:
            n_masks = store.n_masks
        except StoreError:  # the manifest itself is damaged: status says so
            n_masks = 0
        verified = verification.describe(store.last_verification(), path, n_masks)
        return RunInfo(path, store.run_id, status, n_masks, store.n_planned, store.config.describe(),
                       verified=verified, config=store.config)  # fmt: skip
    except StoreError as exc:
        return RunInfo(path, path.name, "unreadable", error=str(exc))


def list_runs(root: str | Path) -> list[RunInfo]:
    """Every run under ``root``, with its status (complete, partial, empty, corrupt: ...).

    Raises
    ------
    StoreError
        When ``root`` is missing, is a file, or holds no run directories.
    """
    return [inspect_run(p) for p in run_dirs(root)]


def runs_table(infos: list[RunInfo]) -> pd.DataFrame:
    """One row per run, indexed by folder name: ``run_id, method, density, status, n_masks``
    and every config field flattened (``model.name``, ``train.epochs``, ...), the columns
    a ``where`` query on masks also sees. Runs that could not be opened have only
    ``run_id`` and ``status``."""
    import pandas as pd

    from landscape.store.records import flatten, method_label

    rows = []
    for info in infos:
        row = {"run_id": info.run_id, "status": info.status.split(":")[0], "n_masks": info.n_masks}
        if info.config is not None:
            row.update(method=method_label(info.config), density=info.config.method.density)
            row.update(flatten(info.config.to_dict()))
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index([i.path.name for i in infos], name="run"))
