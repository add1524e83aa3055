"""The named paper figures and the analysis steps they rely on (importing this registers them).

The set follows the mask-diversity figures of the strong-lottery-ticket literature: a pairwise
similarity heatmap with two methods in the two triangles, per-layer overlap curves against
random masks, distance distributions against the chance level, a 2-D embedding, diversity
against density and width, the cross-method "twin" comparison, accuracy against typicality,
interpolation curves and barriers, accuracy against density and width with the dense
weight-trained reference, and the per-weight selection frequency. Each family lives in its
own module (``fig_masks``, ``fig_diversity``, ``fig_barriers``, ``fig_accuracy``).
"""

from __future__ import annotations

from landscape.figures import fig_accuracy, fig_barriers, fig_diversity, fig_masks, steps
from landscape.figures.select import at_main_density, at_main_width, searched_masks
from landscape.figures.steps import BARRIERS_MISSING

FAMILIES = (fig_masks, fig_diversity, fig_barriers, fig_accuracy)

__all__ = ["BARRIERS_MISSING", "FAMILIES", "at_main_density", "at_main_width", "searched_masks", "steps"]
