"""The function-space part of ``landscape analyze``: prediction agreement and mask ensembles,
from the predictions stored with the masks (masks without them are left out of these tables;
a listed predictions file that cannot be read is named in the analysis' skipped list).

The tables are kept in the result store under the masks, the checksums of their stored
predictions and the parameters: a re-analysis of the same masks reads them back, and masks
whose predictions were replaced (``landscape predict --force``) are computed again. Tables
computed while a listed file could not be read are not stored, so once it is restored the
next analysis computes them from every mask.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from landscape.analysis.views import one_row_per
from landscape.errors import AnalysisError, StoreError
from landscape.grouping import CONFIG

TABLES = ("agreement", "agreement_summary", "ensemble", "ensemble_summary")
KIND = "function_tables"
SPLIT, SELECT_SPLIT = "test", "val"


def function_tables(
    ms, groupby, store=None, recompute: bool = False
) -> tuple[dict[str, pd.DataFrame], str, list[dict[str, str]]]:
    """``{table: frame}`` of :func:`landscape.tl.agreement` and :func:`landscape.tl.ensemble`
    on the test split (empty when no mask has stored predictions); ``"computed"``,
    ``"reused"`` (from ``store``, a :class:`~landscape.store.results.ResultStore`) or
    ``"none"`` (nothing to compute); and the listed predictions files that could not be read
    (``{"path", "reason"}``; their masks are left out, and the tables are not stored)."""
    from landscape.store.results import ResultStore

    index_problems: list[dict[str, str]] = []  # predictions indexes that cannot be read
    inputs = _inputs(ms, groupby, index_problems) if store is not None else None
    if store is not None and inputs is None:
        return {}, "none", index_problems  # nothing to compute, but a damaged index is named
    key = ResultStore.key(KIND, inputs) if inputs is not None else None
    if key is not None and not recompute and _files_in_place(ms):
        record = store.get(KIND, key)
        if record is not None:
            try:
                tables = {name: _frame(t) for name, t in record["payload"]["tables"].items()}
                return tables, "reused", []
            except (KeyError, TypeError, ValueError):
                pass  # an unreadable entry is computed again (and replaced)
    tables, unreadable = _compute(ms, groupby)
    if key is not None and not unreadable:
        store.put(KIND, key, inputs, {"tables": {name: _plain_frame(t) for name, t in tables.items()}})
    return tables, "computed" if tables else "none", unreadable


def _compute(ms, groupby) -> tuple[dict[str, pd.DataFrame], list[dict[str, str]]]:
    from landscape import tl

    out: dict[str, pd.DataFrame] = {}
    with warnings.catch_warnings():
        # masks without predictions show as fewer masks; unreadable files are returned instead
        warnings.simplefilter("ignore")
        try:
            out["agreement"] = tl.agreement(ms, split=SPLIT, groupby=groupby)
            out["agreement_summary"] = ms.uns["agreement"]["summary"]
        except AnalysisError:
            pass
        try:
            out["ensemble"] = tl.ensemble(ms, split=SPLIT, select_split=SELECT_SPLIT, groupby=groupby)
            out["ensemble_summary"] = ms.uns["ensemble"]["summary"]
        except AnalysisError:
            pass
    unreadable: dict[str, dict[str, str]] = {}  # by path: one file holds both splits
    for files in ms.uns.get("unreadable_predictions", {}).values():
        for u in files:
            unreadable.setdefault(u["path"], u)
    return out, list(unreadable.values())


def _files_in_place(ms) -> bool:
    """Whether every listed predictions file of the masks exists with its listed size: a
    stored table is not reused over a file since truncated or removed, which a computation
    reports (without hashing, so reuse stays cheap; ``landscape verify`` hashes them)."""
    from landscape.store.predictions import size_problem

    return all(entry is None or size_problem(path, entry) is None for path, entry in _entries(ms) or [])


def _inputs(ms, groupby, unreadable: list[dict[str, str]] | None = None) -> dict[str, Any] | None:
    """What the tables depend on: each mask (bits and place), the checksum of its stored
    predictions, the grouping and the tools' parameters; None when no mask has predictions
    (a run whose index cannot be read is added to ``unreadable``)."""
    from landscape.analysis.cached import mask_ids
    from landscape.tl.baseline import _describe_groupby

    digests = prediction_digests(ms, unreadable)
    if digests is None or not any(digests):
        return None
    return {
        "masks": mask_ids(ms),
        "predictions": digests,
        "groupby": _describe_groupby(groupby),
        # "members": weight-trained members are named by whether they share an initialisation
        # (tables stored before say "independently trained" of networks of one weight seed)
        "params": {
            "split": SPLIT,
            "select_split": SELECT_SPLIT,
            "baseline": "confusion",
            "rng": 0,
            "members": "by weight seed",
            # pooled groups count a mask stored in two runs once (tables stored before did not);
            # under the default grouping no group holds two runs, and stored tables stay valid
            **({} if groupby == CONFIG else {"copies": "counted once"}),
        },  # fmt: skip
    }


def prediction_digests(ms, unreadable: list[dict[str, str]] | None = None) -> list[str | None] | None:
    """The sha256 of each mask's stored predictions (None for a mask without them); None when
    the masks do not say which runs they come from. A run whose predictions index cannot be
    read counts as without them, and is added to ``unreadable`` (``{"path", "reason"}``)."""
    entries = _entries(ms, unreadable)
    if entries is None:
        return None
    return [entry["sha256"] if entry else None for _, entry in entries]


def _entries(ms, unreadable: list[dict[str, str]] | None = None) -> list[tuple[str, dict | None]] | None:
    """Per mask, its run's folder and its entry in the run's predictions index (None without
    one); None when the masks do not say which runs they come from."""
    from landscape.store.predictions import mask_key
    from landscape.store.run_store import RunStore

    obs = ms.obs
    if not {"run_id", "weight_seed", "search_seed"} <= set(obs.columns):
        return None
    indexes: dict[str, dict] = {}
    out = []
    for run, w, s in zip(obs["run_id"].astype(str), obs["weight_seed"], obs["search_seed"]):
        if run not in indexes:
            try:
                indexes[run] = RunStore.open(ms.runs[run]).predictions_index() if run in ms.runs else {}
            except StoreError as exc:
                indexes[run] = {}
                if unreadable is not None:
                    unreadable.append({"path": str(ms.runs[run]), "reason": str(exc)})
        out.append((str(ms.runs.get(run, "")), indexes[run].get(mask_key(int(w), int(s)))))
    return out


def _plain_frame(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(t) for t in frame.dtypes],
        "data": frame.astype(object).where(frame.notna(), None).to_numpy().tolist(),
    }


def _frame(stored: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(stored["data"], columns=stored["columns"])
    for column, dtype in zip(stored["columns"], stored["dtypes"]):
        if dtype != "object":
            frame[column] = frame[column].astype(dtype)
    return frame


def format_function(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Summary lines: per group, disagreement beside independent errors and structure, and
    what an ensemble of all its masks gains."""
    agree = tables.get("agreement_summary")
    if agree is None or not len(agree):
        return []
    one_row_per(agree, ["group"], "agreement summary")
    ens = tables.get("ensemble_summary")
    if ens is not None:
        one_row_per(ens, ["group", "k"], "ensemble summary")
    if ens is not None and len(ens):  # groups with an ensemble but no pairs come last
        extra = ens.loc[~ens["group"].isin(agree["group"]), ["group", "n_masks"]].drop_duplicates("group")
        agree = pd.concat([agree, extra], ignore_index=True)
    lines = [
        "",
        "test predictions within a group: disagreement, and as a fraction of that of classifiers "
        "independent given the true class (normalised), errors shared (both wrong / independent) and "
        "structure (Jaccard distance / that of random masks), each [95% interval]",
    ]
    frame = pd.DataFrame(
        {
            "group": agree["group"],
            "masks": agree["n_masks"],
            "accuracy": agree["accuracy"].round(4),
            "disagreement": agree["disagreement"].round(4),
            "normalised": [
                f"{v:.3f} {_ci(lo, hi)}"
                for v, lo, hi in zip(
                    agree["normalised_disagreement"],
                    agree["normalised_disagreement_ci_low"],
                    agree["normalised_disagreement_ci_high"],
                )
            ],
            "errors shared": _with_ci(agree, "error_ratio", 2),
            "structure": _with_ci(agree, "structural_diversity", 3),
        }
    )
    if ens is not None and len(ens):
        largest = ens.sort_values("k").groupby("group", sort=False).tail(1).set_index("group")
        frame["ensemble (K)"] = [
            f"{largest.loc[g, 'acc']:.4f} ({int(largest.loc[g, 'k'])})" if g in largest.index else "—"
            for g in frame["group"]
        ]
        frame["gain"] = [
            f"{largest.loc[g, 'gain']:+.4f}" if g in largest.index else "—" for g in frame["group"]
        ]
        lines[-1] += (
            "; ensemble (K): mean accuracy of ensembles of K masks of one network, K the largest "
            "every network of the group has; gain: over the mean single mask"
        )
    lines += ["  " + line for line in frame.to_string(index=False).splitlines()]
    return lines


def _with_ci(table: pd.DataFrame, column: str, digits: int) -> list[str]:
    """``"1.29 [1.10, 1.48]"``: a column's values with their 95% intervals (where recorded)."""
    lows = table.get(f"{column}_ci_low", pd.Series(float("nan"), index=table.index))
    highs = table.get(f"{column}_ci_high", pd.Series(float("nan"), index=table.index))
    out = []
    for v, lo, hi in zip(table[column], lows, highs):
        if pd.isna(v):
            out.append("—")
        elif pd.isna(lo) or pd.isna(hi):
            out.append(f"{v:.{digits}f} [—]")
        else:
            out.append(f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]")
    return out


def _ci(lo: float, hi: float) -> str:
    return "[—]" if pd.isna(lo) or pd.isna(hi) else f"[{lo:.3f}, {hi:.3f}]"
