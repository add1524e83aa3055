"""Reading a runs root into MaskSets: every readable run's masks and tables, runs that cannot
be read skipped by path (warned, listed in ``uns["skipped_runs"]``), ``where`` selections, and
runs of different layouts never mixed."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.config.schema import NOT_STORED_FIELDS
from landscape.errors import AnalysisError, StoreError
from landscape.maskset import MaskSet, select_obs
from landscape.store.layout import Layout
from landscape.store.rows import PackedRows

__all__ = ["read_layout_groups", "read_readable", "read_runs"]


def _load_all(path: Path, allow_empty: bool = False) -> tuple[list[MaskSet], list[dict[str, str]]]:
    """Every readable run under ``path`` with stored masks, and the runs skipped (warned).
    ``allow_empty``: no error when no run is readable, or the folder holds no runs."""
    from landscape.store.catalog import run_dirs

    try:
        dirs = run_dirs(path)
    except StoreError as exc:
        if not (allow_empty and path.is_dir()):  # an existing folder without runs holds no masks
            raise AnalysisError(str(exc)) from None
        dirs = []
    loaded: dict[Path, MaskSet] = {}
    skipped: list[dict[str, str]] = []
    read_from: dict[str, Path] = {}  # run id -> the folder its masks are read from
    for d in dirs:
        try:
            ms = _load_run(d)
        except (StoreError, OSError) as exc:
            skipped.append({"path": str(d), "reason": str(exc)})
            warnings.warn(f"{d}: run skipped ({exc})", stacklevel=3)
            continue
        if ms is None:
            reason = "no finished masks (no manifest.json)"
            skipped.append({"path": str(d), "reason": reason})
            warnings.warn(f"{d}: run skipped ({reason})", stacklevel=3)
            continue
        if not len(ms):
            continue
        # a run copied to another folder holds the same masks twice: read the folder named by
        # its run id (else the first), name the copies
        run_id = next(iter(ms.runs))
        kept = read_from.get(run_id)
        if kept is not None:
            copy, kept = (kept, d) if d.name == run_id and kept.name != run_id else (d, kept)
            reason = f"a copy of run {run_id}, read from {kept}"
            skipped.append({"path": str(copy), "reason": reason, "copy_of": run_id})
            warnings.warn(f"{copy}: run skipped ({reason})", stacklevel=3)
            if kept != d:
                continue
            del loaded[copy]
        read_from[run_id] = d
        loaded[d] = ms
    if not loaded and not allow_empty:
        raise AnalysisError(f"{path}: no readable runs with stored masks{_skip_note(skipped)}")
    return list(loaded.values()), skipped  # folder order: each is inserted as its folder is read


def _skip_note(skipped: list[dict[str, str]]) -> str:
    """Why the runs were skipped, so a lone corrupt run is named instead of hidden."""
    if not skipped:
        return ""
    first = skipped[0]["reason"]
    if len(skipped) == 1:
        return f" (run {Path(skipped[0]['path']).name} skipped: {first})"
    return f" ({len(skipped)} runs skipped; first, {Path(skipped[0]['path']).name}: {first})"


def read_layout_groups(path: str | Path, where: str | Mapping[str, Any] | None = None) -> list[MaskSet]:
    """Like :func:`read_runs`, but runs of different layouts (widths, models) come back as
    separate MaskSets, largest first, instead of raising.

    Every MaskSet's ``uns["skipped_runs"]`` lists the runs that could not be read, and
    ``uns["unfinished_runs"]`` its runs that hold fewer masks than their plan asks for.
    """
    path = Path(path)
    loaded, skipped = _load_all(path)
    if where is not None:
        loaded = _select(loaded, where, path)
    groups = _by_layout(loaded)
    groups.sort(key=len, reverse=True)
    for ms in groups:
        ms.uns["skipped_runs"] = list(skipped)
    return groups


def read_readable(path: str | Path) -> tuple[list[MaskSet], list[dict[str, str]]]:
    """The readable runs' masks, one MaskSet per layout, and the runs skipped (``{"path",
    "reason"}``); an empty list rather than an error when none is readable, for callers that
    must tell a mask no longer stored from one that could not be read (``landscape clean``).
    :class:`AnalysisError` only when ``path`` is not a folder."""
    path = Path(path)
    loaded, skipped = _load_all(path, allow_empty=True)
    return _by_layout(loaded), skipped


def _by_layout(loaded: list[MaskSet]) -> list[MaskSet]:
    by_layout: dict[Layout, list[MaskSet]] = {}
    for ms in loaded:
        by_layout.setdefault(ms.layout, []).append(ms)
    return [MaskSet.concat(sets) for sets in by_layout.values()]


def read_runs(
    path: str | Path, where: str | Mapping[str, Any] | None = None, *, snapshots: bool = False
) -> MaskSet:
    """Load the stored masks of a runs root (or of one run directory) as one MaskSet.

    Parameters
    ----------
    path
        A runs root (every non-hidden subfolder is a run) or a single run directory.
    where
        Which masks to keep: a :meth:`pandas.DataFrame.query` string on ``obs``
        (``"method == 'biprop' and density == 0.5"``; dotted config columns need backticks:
        ``"`train.epochs` == 30"``) or a dict ``{column: value or list of values}``.

    Returns
    -------
    MaskSet
        Masks in run-folder order, then manifest order. ``obs`` holds ``run_id``, ``method``
        (``method.name`` with ``+recycle`` / ``+er`` / ``+frozen`` suffixes, see
        :func:`landscape.store.records.method_label`), ``density`` (the target
        ``method.density``), ``weight_seed``, ``search_seed``, ``n_kept``, every per-mask
        metric and every config field under its dotted name. ``uns["skipped_runs"]`` lists
        ``{"path", "reason"}`` of the runs left out; ``uns["unfinished_runs"]``
        ``{"path", "masks", "planned"}`` of runs whose search has not stored every planned
        mask (a search still running, killed or failing).

        With ``snapshots=True``: the masks kept during each search instead, one row per
        mask and kept epoch with an ``epoch`` column (see :func:`landscape.snapshots.read_snapshots`);
        masks searched without snapshots are left out.

    Runs without finished masks (no manifest) or with a corrupt, truncated or missing file
    are skipped with a warning. Runs of different layouts are never mixed: unless ``where``
    leaves only one layout, :class:`AnalysisError` lists the runs of each layout.
    """
    path = Path(path)
    loaded, skipped = _load_all(path)
    if where is not None:
        loaded = _select(loaded, where, path)
    out = MaskSet.concat(_one_layout(loaded, path))
    out.uns["skipped_runs"] = skipped
    out.uns["read_runs"] = {
        "params": {
            "path": str(path),
            "where": where if where is None or isinstance(where, str) else dict(where),
        }
    }
    if snapshots:
        from landscape.snapshots import read_snapshots

        return read_snapshots(out)
    return out


def _load_run(path: Path) -> MaskSet | None:
    from landscape.store.records import flatten, leave_out_stale_all_ones, method_label, older_conventions
    from landscape.store.run_store import RunStore

    store = RunStore.open(path)
    if not store.has_manifest:
        return None
    arrays = store.shard_arrays()  # verifies checksums (once per process)
    records = store.records()
    cfg = store.config
    first = records.iloc[0] if len(records) else None  # the masks of a run share one model
    has_batchnorm = cfg.model.uses_batchnorm or (
        first is not None and store.has_batchnorm(int(first["weight_seed"]), int(first["search_seed"]))
    )
    leave_out_stale_all_ones(records, has_batchnorm)
    for older in older_conventions(records, cfg):
        warnings.warn(f"{path}: {older}; remove and search them again to compare", stacklevel=4)
    labels = [f"{store.run_id}/w{w}/s{s}" for w, s in zip(records["weight_seed"], records["search_seed"])]
    head = pd.DataFrame(
        {"run_id": store.run_id, "method": method_label(cfg), "density": cfg.method.density},
        index=pd.Index(labels),
    )
    records.index = head.index
    _add_seed_columns(records, cfg)
    fields = {k: v for k, v in flatten(cfg.to_dict()).items() if k not in NOT_STORED_FIELDS}
    config = pd.DataFrame({k: [v] * len(labels) for k, v in fields.items()}, index=head.index)
    obs = pd.concat([head, records, config.drop(columns=[c for c in config if c in records])], axis=1)
    X = PackedRows.from_arrays(arrays, store.layout.row_bytes)
    ms = MaskSet(X, obs, store.layout, runs={store.run_id: str(store.path)})
    ms.uns["unfinished_runs"] = _unfinished(store, len(ms))
    return ms


def _unfinished(store, n_masks: int) -> list[dict]:
    """``[{"path", "masks", "planned"}]`` when the run's plan asks for more masks than it
    holds (a search still running, killed or failing): analysed as it is, but said."""
    try:
        planned = len(store.plan())
    except (StoreError, OSError):  # a plan that cannot be read says nothing about the masks
        return []
    return [{"path": str(store.path), "masks": n_masks, "planned": planned}] if planned > n_masks else []


def _add_seed_columns(records: pd.DataFrame, cfg) -> None:
    """``score_seed`` and ``data_seed`` after ``search_seed``, and ``varies`` (which of them
    differ between the run's masks), from the run's config (runs searched before these
    existed read as searched: both follow the search seed)."""
    from landscape.config.seeds import data_seed, score_seed, varies

    if "search_seed" not in records.columns:
        return
    at = records.columns.get_loc("search_seed") + 1
    seeds = records["search_seed"].to_numpy()
    records.insert(at, "score_seed", np.array([score_seed(cfg, s) for s in seeds], dtype=np.int64))
    records.insert(at + 1, "data_seed", np.array([data_seed(cfg, s) for s in seeds], dtype=np.int64))
    records.insert(at + 2, "varies", varies(cfg))


def _select(sets: list[MaskSet], where: str | Mapping[str, Any], path: Path) -> list[MaskSet]:
    """Apply ``where`` to the stacked obs tables (so a column absent from one run is NaN there)."""
    keep = select_obs(pd.concat([s.obs for s in sets]), where)
    out, start = [], 0
    for s in sets:
        part = keep[start : start + len(s)]
        start += len(s)
        if part.any():
            out.append(s[part])
    if not out:
        raise AnalysisError(f"{path}: where={where!r} selects no masks")
    return out


def _one_layout(sets: list[MaskSet], path: Path) -> list[MaskSet]:
    groups: dict[Layout, list[MaskSet]] = {}
    for s in sets:
        groups.setdefault(s.layout, []).append(s)
    if len(groups) > 1:
        layouts = list(groups)
        described = "; ".join(
            f"layout {i + 1}: runs {', '.join(r for s in groups[lay] for r in s.runs)}"
            for i, lay in enumerate(layouts)
        )
        raise AnalysisError(
            f"{path}: runs have {len(groups)} different layouts ({described}; first difference: "
            f"{layouts[0].difference(layouts[1])}); choose one with where="
        )
    return sets
