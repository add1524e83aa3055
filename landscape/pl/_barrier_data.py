"""Reading what ``landscape.tl.barriers`` stores, shared by the interpolation and barrier plots.

``uns[key]["curves"]``: one row per pair, path, split and alpha, with ``loss`` and ``acc``;
``uns[key]["table"]``: one row per pair, path and split, with ``barrier_loss``,
``barrier_acc`` and the normalised Hamming distance ``hamming``; ``obsp[key]``: n × n, NaN
where a pair was not interpolated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError

METRICS = ("loss", "acc")
_FIX = "landscape.tl.barriers(ms)"


def _barrier_slot(ms: Any, key: str) -> dict:
    if key not in ms.uns or not isinstance(ms.uns[key], dict):
        raise AnalysisError(f'uns["{key}"] is missing: run {_FIX} first')
    return ms.uns[key]


def _with_names(curves: pd.DataFrame, table: Any) -> pd.DataFrame:
    """Add the obs names of each pair to the curves (the table records them per pair)."""
    if {"obs_i", "obs_j"} <= set(curves.columns) or not isinstance(table, pd.DataFrame):
        return curves
    if not {"pair", "obs_i", "obs_j"} <= set(table.columns) or "pair" not in curves.columns:
        return curves
    names = table.drop_duplicates("pair").set_index("pair")[["obs_i", "obs_j"]]
    return curves.join(names, on="pair")


def _pair_groups(frame: pd.DataFrame, labels: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The pairs whose masks are in ``labels`` and the group of each.

    A pair's group is the shared group of its masks, or ``"a × b"`` across groups. Pairs are
    found by obs name (``obs_i``/``obs_j``, or ``i``/``j`` holding names), which survives
    subsetting the MaskSet; integer ``i``/``j`` are positions and are used only when no names
    are recorded.
    """
    names = labels.astype(str)
    if {"obs_i", "obs_j"} <= set(frame.columns):
        cols = ("obs_i", "obs_j")
    elif pd.api.types.is_integer_dtype(frame["i"]):
        bad = (frame["i"] < 0) | (frame["i"] >= len(names)) | (frame["j"] < 0) | (frame["j"] >= len(names))
        if bad.any():
            raise AnalysisError(
                f"barrier pairs refer to masks beyond the {len(names)} in this set; rerun {_FIX}"
            )
        a = names.to_numpy()[frame["i"].to_numpy()]
        b = names.to_numpy()[frame["j"].to_numpy()]
        return frame, _combine(a, b, frame.index)
    else:
        cols = ("i", "j")
    first, second = frame[cols[0]].astype(str), frame[cols[1]].astype(str)
    present = first.isin(names.index) & second.isin(names.index)
    frame = frame[present.to_numpy()]
    if frame.empty:
        raise AnalysisError(f"none of the interpolated pairs lie in this set of masks; rerun {_FIX}")
    a = names.loc[first[present]].to_numpy()
    b = names.loc[second[present]].to_numpy()
    return frame, _combine(a, b, frame.index)


def _combine(a: np.ndarray, b: np.ndarray, index: pd.Index) -> pd.Series:
    from landscape.grouping import pair_label

    pair = [pair_label(x, y) for x, y in zip(a, b)]
    return pd.Series(pair, index=index, name="group")


def pair_masks(frame: pd.DataFrame, obs: pd.DataFrame) -> list[str]:
    """The obs names of the masks of the pairs in ``frame`` that lie in ``obs`` (found as
    :func:`_pair_groups` finds them)."""
    index = obs.index.astype(str)
    if {"obs_i", "obs_j"} <= set(frame.columns):
        first, second = frame["obs_i"].astype(str), frame["obs_j"].astype(str)
    elif pd.api.types.is_integer_dtype(frame["i"]):
        ok = frame["i"].between(0, len(index) - 1) & frame["j"].between(0, len(index) - 1)
        first = pd.Series(index[frame.loc[ok, "i"].to_numpy()])
        second = pd.Series(index[frame.loc[ok, "j"].to_numpy()])
    else:
        first, second = frame["i"].astype(str), frame["j"].astype(str)
    present = (first.isin(index) & second.isin(index)).to_numpy()
    used = set(first[present]) | set(second[present])
    return [n for n in index if n in used]


def networks_text_of_pairs(frame: pd.DataFrame, obs: pd.DataFrame) -> tuple[str, list[str]]:
    """``"2 networks"`` counted over the networks that hold a drawn pair (not every network of
    the MaskSet), and the masks of those pairs."""
    used = pair_masks(frame, obs)
    if "weight_seed" not in obs.columns:
        return "1 network", used
    nets = set(obs.loc[obs.index.astype(str).isin(used), "weight_seed"].tolist())
    return ("1 network" if len(nets) == 1 else f"{len(nets)} networks"), used
