"""Removing stored analysis results: the only way results leave the store."""

from __future__ import annotations

import warnings
from pathlib import Path

from landscape.analysis.cached import mask_ids
from landscape.analysis.function import KIND as FUNCTION_KIND
from landscape.analysis.function import prediction_digests
from landscape.analysis.roots import roots_of
from landscape.analysis.views import analysis_folder
from landscape.errors import AnalysisError
from landscape.store.results import VERSIONS, ResultStore


def _masks_of(kind: str, inputs: dict) -> list[str]:
    if kind == "barrier_curve":
        return [f"{inputs[e]['label']}@{inputs[e]['bits']}" for e in ("a", "b")]
    return list(inputs.get("masks", []))


def clean(runs: str | Path, out: str | Path | None = None, everything: bool = False) -> tuple[int, str]:
    """Remove every result (``everything``) or the stale ones: results of an older
    computation version, that used a mask no longer stored under ``runs`` nor under any other
    root that wrote results into the folder (a run removed, re-searched or repaired), or that were computed from predictions since replaced or
    removed (``landscape predict --force``). Returns ``(how many, "stale" | "all")``.

    A run that cannot be read (or whose predictions index cannot) may still hold the masks or
    predictions its results were computed from, so while any is unreadable the stale results
    cannot be told apart: :class:`AnalysisError` naming those runs, and nothing is removed
    (``everything`` still removes every result).
    """
    folder = analysis_folder(Path(runs), out)
    store = ResultStore(folder)
    if everything:
        return store.clean(), "all"
    from landscape.reading import read_readable

    present: set[str] = set()
    predictions: dict[str, str | None] = {}  # mask id -> checksum of its stored predictions
    unreadable: list[dict[str, str]] = []
    # every root that wrote here: a result of another root's masks is not stale
    for root in roots_of(folder, Path(runs)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unreadable runs are refused below, by path
            groups, skipped = read_readable(root)
        # a copy of a run that was read holds the same masks: not a reason to refuse
        unreadable += [s for s in skipped if "copy_of" not in s and _may_hold_masks(Path(s["path"]))]
        for ms in groups:
            ids = mask_ids(ms)
            present.update(ids)
            predictions.update(zip(ids, prediction_digests(ms, unreadable) or [None] * len(ids)))
    if unreadable:
        raise AnalysisError(_refusal(runs, unreadable))

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


def _may_hold_masks(run: Path) -> bool:
    """Whether a skipped run may hold masks: all but one that never stored any (no manifest and
    no shard files, a search that has only just begun)."""
    if (run / "manifest.json").exists():
        return True
    try:
        return any((run / "shards").iterdir())
    except OSError:  # no shards folder
        return False


def _refusal(runs: str | Path, unreadable: list[dict[str, str]]) -> str:
    paths = ", ".join(s["path"] for s in unreadable)
    return (
        f"{runs}: nothing removed: {len(unreadable)} run(s) could not be read ({paths}; first: "
        f"{unreadable[0]['reason']}), so results of their masks would look stale; restore the "
        "files named, or remove those runs (landscape rm), then clean again; --all removes every result"
    )
