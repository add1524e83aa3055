"""Masks during their search: the stored snapshots of a set of masks as one MaskSet.

A snapshot MaskSet has one row per mask and kept epoch. Its ``obs`` is the mask's own row
(run, seeds, config fields, final metrics) repeated, with

- ``epoch``: epochs of training behind the row (0: the top-k of the initial scores; the
  last: the stored mask);
- ``mask``: the label of the final mask in the MaskSet of final masks;
- ``final_epoch``: the mask's last kept epoch;
- ``epoch_train_loss``, ``epoch_val_acc``, ``epoch_test_acc``: the mask's curves at that
  epoch (NaN at epoch 0, before any training).

Labels are ``"<run_id>/w<weight_seed>/s<search_seed>/e<epoch>"``. Grouping keeps epochs
apart (:mod:`landscape.grouping`): a group is one configuration at one epoch.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError, StoreError

__all__ = ["read_snapshots"]

_CURVES = {"epoch_train_loss": "train_loss", "epoch_val_acc": "val_acc", "epoch_test_acc": "test_acc"}


def read_snapshots(source: Any, where: Any = None):
    """The stored snapshots of masks, as one MaskSet with an ``epoch`` column.

    Parameters
    ----------
    source
        A runs root or run directory (read with :func:`landscape.read_runs` and ``where``),
        or a MaskSet of final masks read from runs (its ``runs`` say where they live).
    where
        With a path: which masks, as in :func:`landscape.read_runs`.

    Returns
    -------
    MaskSet
        Masks in the order of the final masks, epochs increasing within each.
        ``uns["snapshots"]`` records ``n_masks`` (with snapshots), ``without`` (how many of
        the given masks have none) and ``skipped`` (``{"mask", "reason"}`` of damaged files,
        also warned about).

    Raises
    ------
    AnalysisError
        When none of the masks has snapshots (search with ``--set train.snapshot_every=1``).
    """
    from landscape.maskset import MaskSet
    from landscape.reading import read_runs
    from landscape.store.rows import PackedRows

    ms = source if isinstance(source, MaskSet) else read_runs(Path(source), where)
    if "run_id" not in ms.obs.columns or not ms.runs:
        raise AnalysisError("snapshots: these masks were not read from runs (no run_id / runs)")
    records = _records_by_mask(ms)
    arrays, frames, skipped, without = [], [], [], 0
    final_rows = ms.rows()
    for pos, (label, row) in enumerate(ms.obs.iterrows()):
        key = (str(row["run_id"]), int(row["weight_seed"]), int(row["search_seed"]))
        store, record = records[key]
        digest = (record.get("files") or {}).get("snapshots")
        if digest is None:
            without += 1
            continue
        try:
            epochs, rows = store.load_snapshots(key[1], key[2], digest)
            if not np.array_equal(rows[-1], final_rows[pos]):
                raise StoreError(
                    f"{store._mask_file('snapshots', key[1], key[2])}: the last snapshot is not the stored mask"
                )
        except StoreError as exc:
            skipped.append({"mask": str(label), "reason": str(exc)})
            warnings.warn(f"{label}: snapshots skipped ({exc})", stacklevel=2)
            continue
        arrays.append(rows)
        frames.append(_obs_rows(label, row, epochs, record.get("curves") or {}))
    if not arrays:
        reason = f"; {len(skipped)} damaged" if skipped else ""
        raise AnalysisError(
            f"none of these {len(ms)} masks has stored snapshots{reason} "
            "(search with --set train.snapshot_every=1 to keep them)"
        )
    obs = pd.concat(frames)
    X = PackedRows.from_arrays(arrays, ms.layout.row_bytes)
    out = MaskSet(X, obs, ms.layout, runs=ms.runs)
    out.uns["snapshots"] = {
        "params": {"masks": ms.uns.get("read_runs", {}).get("params")},
        "n_masks": len(arrays),
        "without": without,
        "skipped": skipped,
    }
    return out


def _records_by_mask(ms) -> dict[tuple[str, int, int], tuple[Any, dict]]:
    """``(run_id, weight_seed, search_seed) -> (store, record)`` for every run of ``ms``."""
    from landscape.store.run_store import RunStore

    out = {}
    for run_id in dict.fromkeys(ms.obs["run_id"].astype(str)):
        if run_id not in ms.runs:
            raise AnalysisError(f"snapshots: run {run_id} is not among the MaskSet's runs")
        store = RunStore.open(ms.runs[run_id])
        for record in store._records():
            out[(run_id, int(record["weight_seed"]), int(record["search_seed"]))] = (store, record)
    return out


def _obs_rows(label: str, row: pd.Series, epochs: np.ndarray, curves: dict) -> pd.DataFrame:
    n = len(epochs)
    frame = pd.DataFrame([row.to_dict()] * n, index=pd.Index([f"{label}/e{int(e)}" for e in epochs]))
    frame.insert(0, "epoch", epochs.astype(np.int64))
    frame.insert(1, "mask", str(label))
    frame.insert(2, "final_epoch", int(epochs[-1]))
    for column, key in _CURVES.items():
        values = np.asarray(curves.get(key) or [], dtype=float)
        # curves[k] is measured after epoch k + 1; epoch 0 precedes any training
        at = epochs.astype(np.int64) - 1
        ok = (at >= 0) & (at < len(values))
        col = np.full(n, np.nan)
        col[ok] = values[at[ok]]
        frame.insert(3 + list(_CURVES).index(column), column, col)
    return frame


def refuse_earlier_snapshots(ms, tool: str, stored_batchnorm: bool = False, positions=None) -> None:
    """Raise :class:`AnalysisError` for a row of ``ms`` (of ``positions``: all by default)
    that is a snapshot before its mask's final epoch and whose network the run's files
    cannot rebuild: its method changes the weights (only the final ones are stored), or,
    with ``stored_batchnorm``, its model has BatchNorm (only the final mask's running
    statistics are stored)."""
    obs = ms.obs
    if "epoch" not in obs.columns or "final_epoch" not in obs.columns or "run_id" not in obs.columns:
        return
    earlier = (pd.to_numeric(obs["epoch"]) < pd.to_numeric(obs["final_epoch"])).to_numpy()
    if positions is not None:
        earlier = earlier & np.isin(np.arange(len(obs)), np.asarray(positions, dtype=np.int64))
    if not earlier.any():
        return
    from landscape.store.rebuild import method_changes_weights
    from landscape.store.run_store import RunStore

    labels = obs.index.astype(str).to_numpy()
    runs = obs["run_id"].astype(str).to_numpy()
    for run in dict.fromkeys(runs[earlier]):
        path = ms.runs.get(run)
        if path is None:
            continue  # the tool's own check names the run it cannot find
        store = RunStore.open(path)
        first = labels[earlier & (runs == run)][0]
        epoch = int(obs["epoch"].to_numpy()[labels == first][0])
        if method_changes_weights(store):
            raise AnalysisError(
                f"{tool}: {first} is the mask of epoch {epoch}, but run {run}'s method changes the "
                "weights during the search and only the final ones are stored, so that network "
                "cannot be rebuilt; select the final masks (epoch == final_epoch)"
            )
        if stored_batchnorm and store.config.model.uses_batchnorm:
            raise AnalysisError(
                f"{tool}: {first} is the mask of epoch {epoch}, but run {run} stores BatchNorm "
                "statistics of its final masks only; use bn='reestimate' or the final masks"
            )
