"""Which runs roots wrote an analysis folder's results, so that ``landscape clean`` can tell a
result of a removed mask from one of another root's masks (a folder shared with ``--out``).

``roots.json`` in the folder lists them: ``"self"`` for the root the folder belongs to
(``<root>/_analysis``, so the entry follows the root when it is moved) and an absolute path
for each root analysed into it with ``--out``.
"""

from __future__ import annotations

import json
from pathlib import Path

from landscape.analysis.views import ANALYSIS_DIR
from landscape.errors import AnalysisError
from landscape.store._io import write_atomic

ROOTS_FILE = "roots.json"
OWN_ROOT = "self"


def is_own_folder(root: Path, folder: Path) -> bool:
    """Whether ``folder`` is ``root``'s own analysis folder (``<root>/_analysis``)."""
    return folder.resolve() == (root / ANALYSIS_DIR).resolve()


def record_root(folder: Path, root: Path) -> None:
    """Add ``root`` to the roots that wrote results into ``folder`` (once)."""
    entry = OWN_ROOT if is_own_folder(root, folder) else str(root.resolve())
    entries = recorded_entries(folder) or []
    if entry not in entries:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / ROOTS_FILE, json.dumps([*entries, entry], indent=1).encode())


def recorded_entries(folder: Path) -> list[str] | None:
    """The folder's entries, None for a folder that records none (written before it did)."""
    path = folder / ROOTS_FILE
    try:
        entries = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AnalysisError(f"{path}: unreadable list of runs roots ({exc})") from None
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise AnalysisError(f"{path}: not a list of runs roots")
    return entries


def roots_of(folder: Path, runs: Path) -> list[Path]:
    """Every runs root whose masks the results in ``folder`` may have used, ``runs`` first.

    :class:`AnalysisError` when that cannot be known: a recorded root is not found, or a folder
    that records no roots is not ``runs``' own (another root may have written into it)."""
    entries = recorded_entries(folder)
    if entries is None:
        if is_own_folder(runs, folder):
            return [runs]  # written before folders recorded their roots: its own root's results
        raise AnalysisError(
            f"{folder}: nothing removed: this analysis folder does not record which runs roots wrote "
            "its results, so another root's would look stale; analyze each root that writes here "
            f"once (landscape analyze ROOT --out {folder}: stored results are reused), then clean "
            "again; --all removes every result"
        )
    roots = {runs.resolve(): runs}
    for entry in entries:
        root = folder.parent if entry == OWN_ROOT else Path(entry)
        if not root.is_dir():
            raise AnalysisError(
                f"{folder}: nothing removed: runs root {root}, which wrote results here, is not found; "
                f"restore it, or take it out of {folder / ROOTS_FILE}, then clean again; --all "
                "removes every result"
            )
        roots.setdefault(root.resolve(), root)
    return list(roots.values())
