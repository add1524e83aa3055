"""Publication plots of a MaskSet.

Every plot is ``pl.<name>(ms, *, ..., ax=None)``: it reads MaskSet slots, draws on the given
Axes (or a new one) and returns it; saving is left to the caller (:func:`save_figure`) or to
``landscape.figures``. The numbers each plot draws come from a ``_prepare_<name>`` function
that can be checked without drawing; :func:`data_of` returns the numbers a drawn plot used and
:func:`notes_of` the sentences its caption needs (what the bars run over). Legends and ticks
show display names (:func:`display_label`: ``"Edge-Popup · density 0.3"``, layer names such
as ``"fc 1 (64→256)"``); tables keep the identifiers.

Draw inside :func:`publication_style` to get print-size fonts and thin lines::

    with pl.publication_style():
        ax = pl.layer_overlap(ms)
        pl.save_figure(ax.figure, "figures/layer_overlap")
"""

from landscape.pl._common import data_of, masks_of, notes_of
from landscape.pl.accuracy import accuracy_vs
from landscape.pl.barriers import barrier_matrix, barrier_vs_distance
from landscape.pl.consensus import selection_frequency
from landscape.pl.cross_method import cross_method
from landscape.pl.distances import distance_distribution
from landscape.pl.diversity import diversity_vs
from landscape.pl.dynamics import (
    bits_flipped,
    distance_from_start,
    seed_attribution,
    similarity_over_training,
)
from landscape.pl.embedding import embedding
from landscape.pl.function import (
    cka_by_layer,
    disagreement_vs_distance,
    diversity_accuracy,
    ensemble_accuracy,
)
from landscape.pl.heatmap import similarity_heatmap
from landscape.pl.input_frequency import input_frequency
from landscape.pl.interpolation import interpolation
from landscape.pl.names import display_label, layer_label, method_name
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
from landscape.pl.typicality import accuracy_vs_typicality

__all__ = [
    "DOUBLE_COLUMN",
    "METHOD_COLORS",
    "SINGLE_COLUMN",
    "accuracy_vs",
    "accuracy_vs_typicality",
    "barrier_matrix",
    "barrier_vs_distance",
    "bits_flipped",
    "cka_by_layer",
    "cross_method",
    "data_of",
    "masks_of",
    "disagreement_vs_distance",
    "display_label",
    "distance_distribution",
    "distance_from_start",
    "diversity_accuracy",
    "diversity_vs",
    "embedding",
    "ensemble_accuracy",
    "figsize",
    "group_colors",
    "input_frequency",
    "interpolation",
    "layer_label",
    "layer_overlap",
    "method_color",
    "method_name",
    "notes_of",
    "publication_style",
    "save_figure",
    "seed_attribution",
    "selection_frequency",
    "similarity_heatmap",
    "similarity_over_training",
]
