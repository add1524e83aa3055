"""Named figures of accuracy against density and width (every run's table, any layout)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from landscape import pl
from landscape.figures.registry import figure
from landscape.figures.select import DENSE, at_main_density, at_main_width, need_levels


@figure(
    "accuracy_vs_density",
    masks=False,
    width="single",
    where=at_main_width,
    params={"x": "density", "y": "test_acc"},
)
def accuracy_vs_density(obs: pd.DataFrame) -> Any:
    """Test accuracy against density per configuration, dense weight-trained reference line."""
    need_levels(obs, "density", "accuracy_vs_density")
    return pl.accuracy_vs(obs, x="density", y="test_acc", groupby="config", dense_line=DENSE)


@figure(
    "accuracy_vs_width",
    masks=False,
    width="single",
    where=at_main_density,
    params={"x": "model.width_mult", "y": "test_acc"},
)
def accuracy_vs_width(obs: pd.DataFrame) -> Any:
    """Test accuracy against the width multiplier per configuration, dense weight-trained reference."""
    need_levels(obs, "model.width_mult", "accuracy_vs_width")
    return pl.accuracy_vs(obs, x="model.width_mult", y="test_acc", groupby="config", dense_line=DENSE)
