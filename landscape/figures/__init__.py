"""Named paper figures: a run query, the analysis steps it needs, and one ``landscape.pl`` call.

>>> from landscape.figures import build_figures
>>> built = build_figures("runs/", ["layer_overlap", "accuracy_vs_density"], out="figures")
>>> built.skipped   # [(name, reason), ...] for figures whose data is absent

New figures register with :func:`figure`; see :mod:`landscape.figures.builtin` for examples.
"""

from landscape.figures import builtin as _builtin  # noqa: F401  (registers the named figures)
from landscape.figures import fig_dynamics as _dynamics  # noqa: F401  (snapshots, seed sources)
from landscape.figures.build import BuiltFigures, build_figures, figure_names
from landscape.figures.registry import FIGURES, STEPS, FigureSkipped, FigureSpec, figure, step

__all__ = [
    "FIGURES",
    "STEPS",
    "BuiltFigures",
    "FigureSkipped",
    "FigureSpec",
    "build_figures",
    "figure",
    "figure_names",
    "step",
]
