"""Named figures of diversity across configurations: against density and width, across
methods from one weight seed (twins), and accuracy against typicality."""

from __future__ import annotations

from typing import Any

from landscape import pl
from landscape.figures import steps as _steps  # noqa: F401  (registers the steps used below)
from landscape.figures.registry import FigureSkipped, figure
from landscape.figures.select import need_levels, not_random, searched_masks
from landscape.pl._common import attach


def _two_panels(draw, aspect: float = 0.36) -> Any:
    """Similarity (left) and excess over chance (right), one legend beside both."""
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, (left, right) = plt.subplots(1, 2, figsize=pl.figsize("double", aspect))
    a = draw(left, "similarity")
    b = draw(right, "excess")
    legend = left.get_legend()
    title = legend.get_title().get_text() if legend is not None else None
    for ax in (left, right):
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", title=title)
    data = pd.concat(
        [pl.data_of(a).assign(value="similarity"), pl.data_of(b).assign(value="excess over chance")],
        ignore_index=True,
    )
    return attach(fig, data, *pl.notes_of(a))


@figure("diversity_vs_density", needs=("distances", "diversity"), where=searched_masks, width="double")
def diversity_vs_density(ms: Any) -> Any:
    """Mean within-configuration Jaccard similarity (left) and its excess over chance (right)
    against density."""
    need_levels(ms.obs, "density", "diversity_vs_density", y=None)
    return _two_panels(lambda ax, value: pl.diversity_vs(ms, x="density", value=value, ax=ax))


@figure("diversity_vs_density_layers", needs=("distances", "diversity"), where=searched_masks, width="double")
def diversity_vs_density_layers(ms: Any) -> Any:
    """Mean within-configuration Jaccard similarity against density, one panel per layer."""
    need_levels(ms.obs, "density", "diversity_vs_density_layers", y=None)
    return pl.diversity_vs(ms, x="density", layer="each")


@figure(
    "diversity_vs_width",
    needs=("distances", "diversity"),
    where=searched_masks,
    one_density=True,
    layouts=True,
    width="double",
)
def diversity_vs_width(sets: list) -> Any:
    """Mean within-configuration Jaccard similarity (left) and its excess over chance (right)
    against the width multiplier."""
    import pandas as pd

    need_levels(pd.concat([s.obs for s in sets]), "model.width_mult", "diversity_vs_width", y=None)
    return _two_panels(lambda ax, value: pl.diversity_vs(sets, x="model.width_mult", value=value, ax=ax))


@figure(
    "cross_method",
    needs=("distances", "cross_method"),
    where=not_random,
    one_density=True,
    width="double",
    aspect=0.4,
)
def cross_method(ms: Any) -> Any:
    """Similarity of masks of two methods from one weight seed, same vs other search seeds,
    beside each method's within-method similarity."""
    import matplotlib.pyplot as plt

    summary = ms.uns["cross_method"].get("summary")
    if summary is None or summary.empty:
        raise FigureSkipped(
            "cross_method needs two configurations at one density searched from one weight seed"
        )
    n_pairs = summary[["group_a", "group_b"]].drop_duplicates().shape[0]
    size = pl.figsize("single", 1.0) if n_pairs == 1 else pl.figsize("double", 0.45)
    _, ax = plt.subplots(figsize=size)
    return pl.cross_method(ms, ax=ax)


@figure(
    "accuracy_vs_typicality",
    needs=("distances", "typicality"),
    where=not_random,
    one_density=True,
    width="double",
    aspect=0.42,
)
def accuracy_vs_typicality(ms: Any) -> Any:
    """Test accuracy of each mask against its mean similarity to the other masks (left) and
    its similarity to their consensus (right)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    if "test_acc" not in ms.obs.columns or ms.obs["test_acc"].isna().all():
        raise FigureSkipped("obs has no test accuracies")
    fig, (left, right) = plt.subplots(1, 2, figsize=pl.figsize("double", 0.42), sharey=True)
    a = pl.accuracy_vs_typicality(ms, measure="typicality", ax=left)
    pl.accuracy_vs_typicality(ms, measure="consensus_similarity", ax=right)
    right.set_ylabel("")
    data = pd.concat(
        [
            pl.data_of(a).assign(measure="typicality"),
            pl.data_of(right).assign(measure="consensus_similarity"),
        ],
        ignore_index=True,
    )
    return attach(fig, data, *pl.notes_of(a))
