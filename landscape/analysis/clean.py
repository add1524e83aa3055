"""Removing stored analysis results: the only way results leave the store."""

from __future__ import annotations

import warnings
from pathlib import Path

from landscape.analysis.cached import mask_ids
from landscape.analysis.views import analysis_folder
from landscape.store.results import VERSIONS, ResultStore


def _masks_of(kind: str, inputs: dict) -> list[str]:
    if kind == "barrier_curve":
        return [f"{inputs[e]['label']}@{inputs[e]['bits']}" for e in ("a", "b")]
    return list(inputs.get("masks", []))


def clean(runs: str | Path, out: str | Path | None = None, everything: bool = False) -> tuple[int, str]:
    """Remove every result (``everything``) or the stale ones: results of an older
    computation version, or that used a mask no longer stored under ``runs`` (a run removed,
    re-searched or repaired). Returns ``(how many, "stale" | "all")``."""
    store = ResultStore(analysis_folder(Path(runs), out))
    if everything:
        return store.clean(), "all"
    from landscape.errors import AnalysisError
    from landscape.maskset import read_layout_groups

    present: set[str] = set()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for ms in read_layout_groups(runs):
                present.update(mask_ids(ms))
    except AnalysisError:  # no readable runs left: every result is stale
        pass

    def keep(kind: str, record: dict) -> bool:
        if record.get("version") != VERSIONS.get(kind):
            return False
        return all(m in present for m in _masks_of(kind, record.get("inputs", {})))

    return store.clean(keep), "stale"
