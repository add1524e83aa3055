"""The tables of an analysis, written as views beside the result store.

``<analysis folder>/<table>.csv`` (and ``.parquet`` when pyarrow is installed) are what the
latest ``landscape analyze`` showed; the results behind them live in the store
(``results/``), which these writes never touch. The record ``landscape-analysis.json``
(parameters, skipped runs, what was computed or reused) goes last, so a write that dies
half-way is never taken for a finished analysis, and it marks the folder as an analysis
(never a run) wherever it lives.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from landscape.copies import pooled_groups
from landscape.errors import AnalysisError
from landscape.store.catalog import ANALYSIS_RECORD

ANALYSIS_DIR = "_analysis"
RECORD = ANALYSIS_RECORD
TABLES = (
    "masks",
    "diversity",
    "diversity_summary",
    "baseline",
    "consensus",
    "clusters",
    "barriers",
    "barrier_curves",
    "embedding",
    "agreement",
    "agreement_summary",
    "ensemble",
    "ensemble_summary",
)


def analysis_folder(root: Path, out: str | Path | None) -> Path:
    """Where the result store and the views of ``root`` live (default ``<root>/_analysis``)."""
    return Path(out) if out is not None else Path(root) / ANALYSIS_DIR


def masks_table(ms, groupby) -> pd.DataFrame:
    """One row per mask: its group label, obs and kept count, and ``pooled_copy``: a mask a
    pooled group leaves out as a bit-for-bit copy of another run's (:mod:`landscape.copies`),
    which the accuracy table then leaves out too."""
    table = ms.obs.copy()
    table.insert(0, "mask", table.index)
    labels = pd.Series("", index=table.index, dtype=object)
    copies = np.zeros(len(ms), dtype=bool)
    for g in pooled_groups(ms, groupby):
        labels.iloc[[*g.positions, *g.copies]] = g.label
        copies[list(g.copies)] = True
    table.insert(1, "group", labels.to_numpy())
    table["n_kept"] = ms.counts()
    table["pooled_copy"] = copies
    _blank_unread_data_fields(table)
    return table.reset_index(drop=True)


def _blank_unread_data_fields(table: pd.DataFrame) -> None:
    """Empty the data fields a mask's dataset never reads (a digits mask's ``data.input_shape``
    and ``data.mnist1d.*``): their schema defaults would read as facts about its data."""
    from landscape.config.schema import data_fields_used

    if "data.name" not in table:
        return
    for name in table["data.name"].dropna().unique():
        used = set(data_fields_used(str(name)))
        rows = (table["data.name"] == name).to_numpy()
        for column in table.columns:
            parts = str(column).split(".")
            if parts[0] == "data" and len(parts) > 1 and parts[1] not in used:
                if table[column].dtype != object:
                    table[column] = table[column].astype(object)
                table.loc[rows, column] = None


def one_row_per(table: pd.DataFrame, columns: list[str], what: str) -> None:
    """Refuse ``table`` if two of its rows share ``columns``: every label names one group, so a
    repeat means two groups under one label, which a summary must not merge or average."""
    repeated = table[table.duplicated(columns, keep=False)]
    if len(repeated):
        first = ", ".join(f"{c} {v!r}" for c, v in zip(columns, repeated[columns].iloc[0]))
        raise AnalysisError(f"{what}: more than one row for {first} (two groups share a label)")


def write_views(out_dir: Path, tables: dict[str, pd.DataFrame], record: dict) -> None:
    """Write the tables, drop views of tables this analysis did not produce, then the record."""
    from landscape.store._io import write_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RECORD).unlink(missing_ok=True)
    for name in TABLES:
        if name not in tables:  # a view of an earlier analysis; its results stay in the store
            (out_dir / f"{name}.csv").unlink(missing_ok=True)
            (out_dir / f"{name}.parquet").unlink(missing_ok=True)
    for name, table in tables.items():
        write_atomic(out_dir / f"{name}.csv", _plain(table).to_csv(index=False).encode())
        _maybe_parquet(out_dir / f"{name}.parquet", table)
    record = {**record, "tables": sorted(tables)}
    write_atomic(out_dir / RECORD, json.dumps(record, indent=1, default=str).encode())


def read_record(out_dir: Path) -> dict:
    try:
        data = json.loads((Path(out_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """Tuples (e.g. ``model.hidden``) as strings so CSV and Parquet round-trip."""
    table = table.copy()
    for col in table.columns:
        if table[col].dtype == object and table[col].map(lambda v: isinstance(v, (tuple, list))).any():
            table[col] = table[col].map(lambda v: json.dumps(list(v)) if isinstance(v, (tuple, list)) else v)
    return table


def _maybe_parquet(path: Path, table: pd.DataFrame) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    _plain(table).to_parquet(path, index=False)
