"""Named figures of the function-space view: do diverse masks compute different functions?

Prediction disagreement against Jaccard distance, the diversity–accuracy plane, ensemble
accuracy against the number of masks averaged, and CKA of representations by layer. The first
three read the predictions a search stores with its masks (``landscape predict RUNS`` fills
them in for older runs); the last rebuilds each network and runs one batch through it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from landscape import pl
from landscape.figures.registry import FigureSkipped, figure, step
from landscape.figures.select import RANDOM
from landscape.figures.steps import _tool
from landscape.tl._predictions import WEIGHT_TRAINING


def _slot_present(key: str, part: str):
    def present(ms: Any) -> bool:
        slot = ms.uns.get(key)
        return isinstance(slot, dict) and isinstance(slot.get(part), pd.DataFrame) and not slot[part].empty

    return present


def _agreement(ms: Any) -> None:
    _tool("agreement")(ms)


def _ensemble(ms: Any) -> None:
    _tool("ensemble")(ms)


def _representations(ms: Any) -> None:
    _tool("representation_similarity")(ms)


step("agreement", _slot_present("agreement", "pairs"), _agreement, "no prediction agreement")
step("ensemble", _slot_present("ensemble", "summary"), _ensemble, "no mask ensembles")
step(
    "representation_similarity",
    _slot_present("representation_similarity", "summary"),
    _representations,
    "no representation similarity",
)


def _method(obs: pd.DataFrame) -> pd.Series:
    column = "method.name" if "method.name" in obs.columns else "method"
    if column not in obs.columns:
        return pd.Series("", index=obs.index)
    return obs[column].astype(str)


def mask_searches(obs: pd.DataFrame) -> pd.Series:
    """masks found by a search over shared random weights (no random null, no weight training)"""
    return ~_method(obs).isin([RANDOM, *WEIGHT_TRAINING])


def searches_and_trained(obs: pd.DataFrame) -> pd.Series:
    """searched masks at the density with the most of them, and the weight-trained networks"""
    searched = mask_searches(obs)
    keep = searched.copy()
    if "density" in obs.columns and searched.any():
        counts = obs.loc[searched, "density"].value_counts()
        main = counts[counts == counts.max()].index.max()
        keep &= obs["density"] == main
    return keep | _method(obs).isin(WEIGHT_TRAINING)


searches_and_trained.holds = {"density": "the density with the most searched masks"}


def _need_groups(ms: Any, key: str, what: str) -> None:
    if ms.uns[key]["summary"].empty:
        raise FigureSkipped(f"no group has {what}")


@figure(
    "disagreement_vs_distance",
    needs=("agreement",),
    where=mask_searches,
    one_density=True,
    params={"x": "jaccard distance", "y": "disagreement", "split": "test"},
)
def disagreement_vs_distance(ms: Any) -> Any:
    """Test-set prediction disagreement of every pair of masks in one network against their Jaccard distance, dashed: two classifiers with independent errors."""
    _need_groups(ms, "agreement", "two masks with predictions")
    return pl.disagreement_vs_distance(ms)


@figure(
    "diversity_accuracy",
    needs=("agreement",),
    where=mask_searches,
    one_density=True,
    params={"x": "pair accuracy", "y": "normalised disagreement", "split": "test"},
)
def diversity_accuracy(ms: Any) -> Any:
    """The diversity–accuracy plane: each pair's disagreement as a fraction of that of independent errors (1) against the pair's mean test accuracy."""
    _need_groups(ms, "agreement", "two masks with predictions")
    return pl.diversity_accuracy(ms)


@figure(
    "ensemble_accuracy",
    needs=("ensemble",),
    where=searches_and_trained,
    params={"x": "masks averaged", "y": "test accuracy"},
    # the legend beside the axes names the dense networks' initialisations: a column is too narrow
    width="double",
    aspect=0.4,
)
def ensemble_accuracy(ms: Any) -> Any:
    """Test accuracy of averaging K masks' probabilities (mean over K-subsets, 95% band) against K; dotted: the best single mask by validation; black: trained dense networks (the legend says whether from independent initialisations or one)."""
    _need_groups(ms, "ensemble", "masks with predictions")
    return pl.ensemble_accuracy(ms)


@figure(
    "cka_by_layer",
    needs=("representation_similarity",),
    where=mask_searches,
    one_density=True,
    params={"similarity": "linear CKA", "split": "test"},
)
def cka_by_layer(ms: Any) -> Any:
    """Linear CKA between the masks' representations of a fixed test batch, layer by layer (95% band), dashed: independent random masks over the same weights."""
    return pl.cka_by_layer(ms)
