"""Named figures of one ensemble's masks: heatmap, per-layer overlap, distance distribution,
embedding and selection frequency (all at one density, the one with the most masks)."""

from __future__ import annotations

from typing import Any

from landscape import pl
from landscape.figures import steps as _steps  # noqa: F401  (registers the steps used below)
from landscape.figures.registry import FigureSkipped, figure
from landscape.figures.select import RANDOM, config_groups, methods_of, searched_masks


@figure(
    "similarity_heatmap",
    needs=("distances",),
    where=searched_masks,
    one_density=True,
    params={"metric": "jaccard"},
)
def similarity_heatmap(ms: Any) -> Any:
    """Pairwise Jaccard similarity of the masks of each network, one configuration per triangle."""
    groups = {g: m for g, m in config_groups(ms).items() if m != RANDOM} or config_groups(ms)
    if not groups:
        raise FigureSkipped("no searched masks")

    def first(method: str | None, exclude: str | None = None) -> str | None:
        return next((g for g, m in groups.items() if (method is None or m == method) and g != exclude), None)

    lower = first("edge_popup") or first(None)
    upper = first("biprop", lower) or first(None, lower) or lower
    return pl.similarity_heatmap(ms, metric="jaccard", lower=lower, upper=upper)


@figure(
    "layer_overlap",
    needs=("distances", "diversity"),
    where=searched_masks,
    one_density=True,
    params={"metric": "jaccard"},
)
def layer_overlap(ms: Any) -> Any:
    """Mean pairwise Jaccard similarity per layer with min–max bands, against random masks."""
    return pl.layer_overlap(ms, metric="jaccard", groupby="config", baseline=True)


@figure("distance_distribution", needs=("distances",), where=searched_masks, one_density=True)
def distance_distribution(ms: Any) -> Any:
    """Pairwise Jaccard distances per configuration against random masks (searched and analytic)."""
    has_random = RANDOM in methods_of(ms) and (ms.obs["method"].astype(str) == RANDOM).sum() >= 2
    return pl.distance_distribution(
        ms, metric="jaccard", groupby="config", null="both" if has_random else "analytic"
    )


@figure("embedding", needs=("distances", "mds_networks"), where=searched_masks, one_density=True, width="double",
        aspect=0.45)  # fmt: skip
def embedding(ms: Any) -> Any:
    """Classical MDS of the Jaccard distances between the masks of each network, coloured by
    configuration."""
    from landscape.networks import network_values

    if len(set(network_values(ms.obs))) <= 1:  # one panel: one column
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=pl.figsize("single"))
        return pl.embedding(ms, basis="mds_networks", color="group", ax=ax)
    return pl.embedding(ms, basis="mds_networks", color="group")


@figure(
    "selection_frequency",
    needs=("consensus",),
    where=searched_masks,
    one_density=True,
    width="double",
    aspect=0.3,
)
def selection_frequency(ms: Any) -> Any:
    """How many masks of each configuration keep each weight, against independent masks."""
    import matplotlib.pyplot as plt

    groups = [g for g, m in config_groups(ms).items() if m != RANDOM]
    if len(groups) <= 1:  # one panel: a single-column figure
        _, ax = plt.subplots(figsize=pl.figsize("single"))
        return pl.selection_frequency(ms, group=groups[0] if groups else None, ax=ax)
    return pl.selection_frequency(ms)
