"""Removing stored analysis results: the only way results leave the store."""

from __future__ import annotations

import warnings
from pathlib import Path

from landscape.analysis.cached import mask_ids
from landscape.analysis.function import KIND as FUNCTION_KIND
from landscape.analysis.function import prediction_digests
from landscape.analysis.views import analysis_folder
from landscape.store.results import VERSIONS, ResultStore


def _masks_of(kind: str, inputs: dict) -> list[str]:
    if kind == "barrier_curve":
        return [f"{inputs[e]['label']}@{inputs[e]['bits']}" for e in ("a", "b")]
    return list(inputs.get("masks", []))


def clean(runs: str | Path, out: str | Path | None = None, everything: bool = False) -> tuple[int, str]:
    """Remove every result (``everything``) or the stale ones: results of an older
    computation version, that used a mask no longer stored under ``runs`` (a run removed,
    re-searched or repaired), or that were computed from predictions since replaced or
    removed (``landscape predict --force``). Returns ``(how many, "stale" | "all")``."""
    store = ResultStore(analysis_folder(Path(runs), out))
    if everything:
        return store.clean(), "all"
    from landscape.errors import AnalysisError
    from landscape.reading import read_layout_groups

    present: set[str] = set()
    predictions: dict[str, str | None] = {}  # mask id -> checksum of its stored predictions
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for ms in read_layout_groups(runs):
                ids = mask_ids(ms)
                present.update(ids)
                predictions.update(zip(ids, prediction_digests(ms) or [None] * len(ids)))
    except AnalysisError:  # no readable runs left: every result is stale
        pass

    def keep(kind: str, record: dict) -> bool:
        if record.get("version") != VERSIONS.get(kind):
            return False
        inputs = record.get("inputs", {})
        if not all(m in present for m in _masks_of(kind, inputs)):
            return False
        if kind == FUNCTION_KIND:  # tables of predictions that are no longer the stored ones
            return all(
                predictions.get(m) == d
                for m, d in zip(inputs.get("masks", []), inputs.get("predictions", []))
            )
        return True

    return store.clean(keep), "stale"
