"""Named figures of masks during their search and of where their differences come from:
within-group similarity over training, distance from the initial top-k, bits flipped per
epoch, and the attribution of similarity to the score initialisation and the data order."""

from __future__ import annotations

from typing import Any

import pandas as pd

from landscape import pl
from landscape.config.seeds import BOTH
from landscape.errors import AnalysisError
from landscape.figures.registry import FigureSkipped, figure, step
from landscape.pl._common import attach

NO_SNAPSHOTS = "no snapshots stored: search with --set train.snapshot_every=1 (see docs/dynamics.md)"
NO_DESIGNS = (
    "no runs hold the score seed or the data seed fixed: search with --score-seeds 0-7 --data-seed 0 "
    "and --score-seed 0 --data-seeds 0-7 beside the ordinary run"
)
_NOT_SEARCHED = ("random", "dense")


def searched_runs(obs: pd.DataFrame) -> pd.Series:
    """searched masks of the ordinary runs (scores and data order both vary), if there are any"""
    keep = (
        ~obs["method"].astype(str).isin(_NOT_SEARCHED)
        if "method" in obs.columns
        else pd.Series(True, index=obs.index)
    )
    if "varies" in obs.columns and (keep & (obs["varies"] == BOTH)).any():
        keep &= obs["varies"] == BOTH
    return keep


def searched_masks(obs: pd.DataFrame) -> pd.Series:
    """searched masks (random masks and the dense weight-trained reference left out)"""
    if "method" not in obs.columns:
        return pd.Series(True, index=obs.index)
    return ~obs["method"].astype(str).isin(_NOT_SEARCHED)


def _trajectory_compute(ms: Any) -> None:
    import landscape.tl as tl
    from landscape.snapshots import read_snapshots

    try:
        snaps = read_snapshots(ms)
    except AnalysisError as exc:
        raise FigureSkipped(f"{NO_SNAPSHOTS} ({exc})".splitlines()[0]) from None
    tl.trajectory(snaps)
    ms.uns["trajectory"] = snaps.uns["trajectory"]
    methods = list(dict.fromkeys(snaps.obs["method"].astype(str)))
    if "edge_popup" in methods and "biprop" in methods:
        tl.seed_sources(snaps, a={"method": "edge_popup"}, b={"method": "biprop"}, key_added="twins")
        ms.uns["trajectory_twins"] = snaps.uns["twins"]


def _seed_sources_compute(ms: Any) -> None:
    import landscape.tl as tl

    if "varies" not in ms.obs.columns or ms.obs["varies"].nunique() < 2:
        raise FigureSkipped(NO_DESIGNS)
    tl.seed_sources(ms)


step("trajectory", lambda ms: isinstance(ms.uns.get("trajectory"), dict), _trajectory_compute, NO_SNAPSHOTS)
step(
    "seed_sources", lambda ms: isinstance(ms.uns.get("seed_sources"), dict), _seed_sources_compute, NO_DESIGNS
)


@figure("similarity_over_training", needs=("trajectory",), where=searched_runs, one_density=True, width="double",
        aspect=0.45)  # fmt: skip
def similarity_over_training(ms: Any) -> Any:
    """Within-configuration Jaccard similarity at each kept epoch against random masks, with
    the Edge-Popup/Biprop pairs of the same seeds (left); each mask's similarity with its own
    initial top-k and final mask (right)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=pl.figsize("double", 0.45), layout="constrained")
    pl.similarity_over_training(ms, ax=left)
    pl.distance_from_start(ms, ax=right)
    handles: dict[str, Any] = {}
    for ax in (left, right):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=2)
    drawn = [pl.data_of(left).assign(panel="within-group similarity"),
             pl.data_of(right).assign(panel="similarity with own masks")]  # fmt: skip
    return attach(
        fig,
        pd.concat(drawn, ignore_index=True),
        *(f"Left: {n}" for n in pl.notes_of(left)),
        *(f"Right: {n}" for n in pl.notes_of(right)),
    )


@figure("bits_flipped", needs=("trajectory",), where=searched_runs, one_density=True)
def bits_flipped(ms: Any) -> Any:
    """Fraction of the weights whose bit flips per epoch, per configuration (mean over masks)."""
    return pl.bits_flipped(ms)


@figure("seed_attribution", needs=("seed_sources",), where=searched_masks, width="double", aspect=0.4)
def seed_attribution(ms: Any) -> Any:
    """Similarity of two masks when scores and data order both vary, only the scores vary or
    only the data order varies, per method and density, against random masks."""
    return pl.seed_attribution(ms)
