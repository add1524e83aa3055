"""The named paper figures and the analysis steps they rely on.

The set follows the mask-diversity figures of the strong-lottery-ticket literature: a pairwise
similarity heatmap with two methods in the two triangles, per-layer overlap curves with
min–max bands against random masks, distance distributions against the chance level, a 2-D
embedding, interpolation curves and barriers, accuracy against density and width with the
dense weight-trained reference, and the per-weight selection frequency.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from landscape import pl
from landscape.figures.registry import FigureSkipped, figure, step

RANDOM, DENSE = "random", "dense"
BARRIERS_MISSING = (
    "no loss barriers computed: run `landscape analyze RUNS --barriers N` (or landscape.tl.barriers(ms))"
)


# analysis steps --------------------------------------------------------------------------------


def _tool(name: str) -> Any:
    """``landscape.tl.<name>``, or a skip naming the tool when this installation lacks it."""
    import landscape.tl as tl

    fn = getattr(tl, name, None)
    if fn is None:
        raise FigureSkipped(f"landscape.tl.{name} is not available in this installation")
    return fn


def _distances(metric: str):
    def present(ms: Any) -> bool:
        return f"dist_{metric}" in ms.obsp and f"dist_{metric}_layers" in ms.obsp

    def compute(ms: Any) -> None:
        _tool("distances")(ms, metric=metric, per_layer=True)

    return present, compute


for _metric in ("jaccard", "hamming"):
    _present, _compute = _distances(_metric)
    step(f"distances:{_metric}", _present, _compute, f"no {_metric} distances")
step("distances", *_distances("jaccard"), "no jaccard distances")


def _embedding(basis: str):
    def present(ms: Any) -> bool:
        return f"X_{basis}" in ms.obsm

    def compute(ms: Any) -> None:
        if len(ms) < 4:
            raise FigureSkipped(f"{len(ms)} masks: an embedding needs at least 4")
        # t-SNE and UMAP are random: a fixed seed makes the figure rebuildable
        kwargs = {"rng": 0} if basis in ("tsne", "umap") else {}
        _tool(basis)(ms, **kwargs)

    return present, compute


for _basis in ("pca", "mds", "tsne", "umap"):
    step(_basis, *_embedding(_basis), f"no {_basis} embedding")


def _barriers_present(ms: Any) -> bool:
    slot = ms.uns.get("barrier")
    return (
        isinstance(slot, dict) and isinstance(slot.get("curves"), pd.DataFrame) and not slot["curves"].empty
    )


step("barriers", _barriers_present, None, BARRIERS_MISSING)


def _consensus_compute(ms: Any) -> None:
    _tool("consensus")(ms)


step("consensus", lambda ms: isinstance(ms.uns.get("consensus"), dict), _consensus_compute, "no consensus")


# mask selections -------------------------------------------------------------------------------


def searched_masks(obs: pd.DataFrame) -> pd.Series:
    """Masks found by a search (the dense weight-trained reference left out)."""
    if "method" not in obs.columns:
        return pd.Series(True, index=obs.index)
    return obs["method"].astype(str) != DENSE


def _groups(ms: Any) -> list[str]:
    """The methods present (for choosing what a figure shows)."""
    if "method" not in ms.obs.columns:
        return []
    return list(dict.fromkeys(ms.obs["method"].astype(str)))


def _config_groups(ms: Any) -> dict[str, str]:
    """``{group label: method}`` of the configuration groups, largest first."""
    from landscape.grouping import group_masks

    groups = sorted(group_masks(ms.obs), key=lambda g: -g.n_masks)
    method = ms.obs["method"].astype(str).to_numpy() if "method" in ms.obs.columns else None
    return {g.label: (method[g.positions[0]] if method is not None else "") for g in groups}


# figures ---------------------------------------------------------------------------------------


@figure(
    "similarity_heatmap",
    needs=("distances",),
    where=searched_masks,
    one_density=True,
    params={"metric": "jaccard"},
)
def similarity_heatmap(ms: Any) -> Any:
    """Pairwise Jaccard similarity, one configuration per triangle (Edge-Popup below, Biprop above)."""
    groups = {g: m for g, m in _config_groups(ms).items() if m != RANDOM} or _config_groups(ms)
    if not groups:
        raise FigureSkipped("no searched masks")

    def first(method: str | None, exclude: str | None = None) -> str | None:
        return next((g for g, m in groups.items() if (method is None or m == method) and g != exclude), None)

    lower = first("edge_popup") or first(None)
    upper = first("biprop", lower) or first(None, lower) or lower
    return pl.similarity_heatmap(ms, metric="jaccard", lower=lower, upper=upper)


@figure(
    "layer_overlap",
    needs=("distances",),
    where=searched_masks,
    one_density=True,
    params={"metric": "jaccard"},
)
def layer_overlap(ms: Any) -> Any:
    """Mean pairwise Jaccard similarity per layer with min–max bands, against random masks."""
    return pl.layer_overlap(ms, metric="jaccard", groupby=_groupby(ms), baseline=True)


@figure("distance_distribution", needs=("distances",), where=searched_masks, one_density=True)
def distance_distribution(ms: Any) -> Any:
    """Pairwise Jaccard distances per method against random masks (searched and analytic)."""
    has_random = RANDOM in _groups(ms) and (ms.obs["method"].astype(str) == RANDOM).sum() >= 2
    return pl.distance_distribution(
        ms, metric="jaccard", groupby=_groupby(ms), null="both" if has_random else "analytic"
    )


@figure("embedding", needs=("distances", "mds"), where=searched_masks, one_density=True)
def embedding(ms: Any) -> Any:
    """Classical MDS of the Jaccard distances, coloured by method."""
    color = "method" if "method" in ms.obs.columns else None
    return pl.embedding(ms, basis="mds", color=color)


@figure(
    "interpolation", needs=("barriers",), where=searched_masks, one_density=True, params={"metric": "loss"}
)
def interpolation(ms: Any) -> Any:
    """Loss along the interpolation paths between masks (mean ± sd over pairs)."""
    split = ms.uns["barrier"].get("params", {}).get("split")
    return pl.interpolation(ms, metric="loss", split=split, groupby=_groupby(ms))


@figure("barrier_matrix", needs=("barriers",), where=searched_masks, one_density=True)
def barrier_matrix(ms: Any) -> Any:
    """Loss barrier of every interpolated pair (blank where not computed)."""
    return pl.barrier_matrix(ms, groupby=_groupby(ms))


def _hold_fixed(obs: pd.DataFrame, vary: str, fixed: str) -> pd.Series:
    """Rows at the value of ``fixed`` where ``vary`` takes the most values among searched masks;
    the dense weight-trained reference is kept at any density (it has no mask)."""
    if fixed not in obs.columns or vary not in obs.columns:
        return pd.Series(True, index=obs.index)
    searched = obs[searched_masks(obs)]
    if searched.empty:
        return pd.Series(True, index=obs.index)
    levels = searched.groupby(fixed)[vary].nunique()
    best = levels[levels == levels.max()].index
    value = searched[searched[fixed].isin(best)][fixed].value_counts().idxmax()
    keep = obs[fixed] == value
    if fixed == "density":
        keep |= obs["method"].astype(str) == DENSE
    return keep


def at_main_width(obs: pd.DataFrame) -> pd.Series:
    """masks at the width multiplier with the most densities (one width per density figure)"""
    return _hold_fixed(obs, "density", "model.width_mult")


def at_main_density(obs: pd.DataFrame) -> pd.Series:
    """masks at the density with the most widths, plus the dense weight-trained reference"""
    return _hold_fixed(obs, "model.width_mult", "density")


@figure(
    "accuracy_vs_density",
    masks=False,
    width="single",
    where=at_main_width,
    params={"x": "density", "y": "test_acc"},
)
def accuracy_vs_density(obs: pd.DataFrame) -> Any:
    """Test accuracy against density per method (mean ± sd over seeds), dense reference line."""
    _need_levels(obs, "density", "accuracy_vs_density")
    return pl.accuracy_vs(obs, x="density", y="test_acc", groupby="method", dense_line=DENSE)


@figure(
    "accuracy_vs_width",
    masks=False,
    width="single",
    where=at_main_density,
    params={"x": "model.width_mult", "y": "test_acc"},
)
def accuracy_vs_width(obs: pd.DataFrame) -> Any:
    """Test accuracy against the width multiplier per method, dense weight-trained reference."""
    _need_levels(obs, "model.width_mult", "accuracy_vs_width")
    return pl.accuracy_vs(obs, x="model.width_mult", y="test_acc", groupby="method", dense_line=DENSE)


@figure("selection_frequency", needs=("consensus",), where=searched_masks, one_density=True)
def selection_frequency(ms: Any) -> Any:
    """How many masks keep each weight, against independent masks at the same density."""
    groups = [g for g, m in _config_groups(ms).items() if m != RANDOM]
    return pl.selection_frequency(ms, group=groups[0] if groups else None)


def _groupby(ms: Any) -> str:
    """Figures follow the toolkit's rule: one group per configuration."""
    return "config"


def _need_levels(obs: pd.DataFrame, column: str, name: str) -> None:
    for col in (column, "test_acc", "method"):
        if col not in obs.columns:
            raise FigureSkipped(f"obs has no {col!r} column")
    searched = obs[searched_masks(obs) & obs["test_acc"].notna()]
    levels = sorted(pd.to_numeric(searched[column], errors="coerce").dropna().unique())
    if len(levels) < 2:
        shown = ", ".join(f"{v:g}" for v in levels) or "none"
        raise FigureSkipped(f"{name} needs searched masks at two or more values of {column} (found {shown})")
