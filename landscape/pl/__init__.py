"""Publication plots of a MaskSet.

Every plot is ``pl.<name>(ms, *, ..., ax=None)``: it reads MaskSet slots, draws on the given
Axes (or a new one) and returns it; saving is left to the caller (:func:`save_figure`) or to
``landscape.figures``. The numbers each plot draws come from a ``_prepare_<name>`` function
that can be checked without drawing.

Draw inside :func:`publication_style` to get print-size fonts and thin lines::

    with pl.publication_style():
        ax = pl.layer_overlap(ms)
        pl.save_figure(ax.figure, "figures/layer_overlap")
"""

from landscape.pl.accuracy import accuracy_vs
from landscape.pl.barriers import barrier_matrix, barrier_vs_distance, interpolation
from landscape.pl.consensus import selection_frequency
from landscape.pl.distances import distance_distribution
from landscape.pl.dynamics import (
    bits_flipped,
    distance_from_start,
    seed_attribution,
    similarity_over_training,
)
from landscape.pl.embedding import embedding
from landscape.pl.heatmap import similarity_heatmap
from landscape.pl.input_frequency import input_frequency
from landscape.pl.overlap import layer_overlap
from landscape.pl.style import (
    DOUBLE_COLUMN,
    METHOD_COLORS,
    SINGLE_COLUMN,
    figsize,
    group_colors,
    method_color,
    publication_style,
    save_figure,
)

__all__ = [
    "DOUBLE_COLUMN",
    "METHOD_COLORS",
    "SINGLE_COLUMN",
    "accuracy_vs",
    "barrier_matrix",
    "barrier_vs_distance",
    "bits_flipped",
    "distance_from_start",
    "distance_distribution",
    "embedding",
    "figsize",
    "group_colors",
    "input_frequency",
    "interpolation",
    "layer_overlap",
    "method_color",
    "publication_style",
    "save_figure",
    "seed_attribution",
    "selection_frequency",
    "similarity_heatmap",
    "similarity_over_training",
]
