"""Display names, method colours across figures and tick labels that never collide."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from landscape import pl  # noqa: E402
from landscape.pl import style  # noqa: E402
from landscape.pl._common import set_value_ticks, spaced_labels  # noqa: E402
from landscape.pl.names import display_names, layer_label, method_part, recipe_note  # noqa: E402


def test_methods_groups_and_layers_have_display_names():
    assert pl.method_name("edge_popup") == "Edge-Popup"
    assert pl.method_name("biprop+recycle") == "Biprop + IWR"
    assert pl.method_name("my_method") == "my_method"
    assert pl.display_label("edge_popup · density 0.3") == "Edge-Popup · density 0.3"
    assert pl.display_label("edge_popup (pools epochs 1, 3)") == "Edge-Popup (pools epochs 1, 3)"
    assert pl.display_label("biprop × edge_popup") == "Biprop × Edge-Popup"
    assert pl.display_label("epochs 3") == "epochs 3"
    assert layer_label("fcs.0", (256, 64)) == "fc 1 (64→256)"
    assert layer_label("convs.2", (128, 64, 3, 3)) == "conv 3"
    assert layer_label("layer2.1.conv1") == "stage 2 block 2 conv 1"
    assert layer_label("layer1.0.shortcut.0") == "stage 1 block 1 shortcut"
    assert layer_label("fc", (10, 512)) == "fc (512→10)"
    assert method_part("biprop · epochs 2") == "biprop" and method_part("epochs 2") is None


def test_recipe_fields_that_follow_from_the_method_leave_the_legend_but_not_the_caption():
    labels = ["edge_popup · init signed_constant", "biprop · init kaiming_normal"]
    assert display_names(labels) == {labels[0]: "Edge-Popup", labels[1]: "Biprop"}
    assert recipe_note(labels) == "Recipes: Edge-Popup init signed_constant; Biprop init kaiming_normal."
    # epochs are never a recipe: a confound stays in the legend
    labels = ["edge_popup · epochs 10", "biprop · epochs 2"]
    assert list(display_names(labels).values()) == ["Edge-Popup · epochs 10", "Biprop · epochs 2"]
    assert recipe_note(labels) == ""
    # an init that varies within a method is what tells the groups apart: kept
    labels = [
        "edge_popup · init signed_constant",
        "edge_popup · init kaiming_normal",
        "biprop · init kaiming_normal",
    ]
    assert list(display_names(labels).values()) == [
        "Edge-Popup · init signed_constant",
        "Edge-Popup · init kaiming_normal",
        "Biprop · init kaiming_normal",
    ]


def test_method_colours_match_on_the_method_part_and_shade_within_a_method():
    blue = pl.METHOD_COLORS["edge_popup"]
    assert pl.method_color("edge_popup · density 0.3") == blue
    colors = pl.group_colors(["edge_popup · epochs 2", "edge_popup · epochs 10", "biprop · epochs 2"])
    assert (
        colors["edge_popup · epochs 2"] == blue and colors["biprop · epochs 2"] == pl.METHOD_COLORS["biprop"]
    )
    assert colors["edge_popup · epochs 10"] not in (blue, pl.METHOD_COLORS["biprop"])
    assert colors["edge_popup · epochs 10"] == style.shade(blue, 1)
    # the method may come from the data when the label does not name it
    colors = pl.group_colors(["epochs 2", "epochs 10"], {"epochs 2": "biprop", "epochs 10": "biprop"})
    assert colors["epochs 2"] == pl.METHOD_COLORS["biprop"] and colors["epochs 10"] != colors["epochs 2"]


def test_spaced_labels_blank_only_what_would_collide():
    labels = ["0.05", "0.1", "0.3", "0.5", "0.7", "0.9"]
    x = np.array([0.05, 0.1, 0.3, 0.5, 0.7, 0.9])
    assert spaced_labels(x, labels, span_pt=150, size_pt=7) == ["0.05", "", "0.3", "0.5", "0.7", "0.9"]
    assert spaced_labels(x, labels, span_pt=1000, size_pt=7) == labels  # room for all
    assert spaced_labels(x, labels, span_pt=20, size_pt=7) == ["0.05", "", "", "", "", "0.9"]


def test_density_ticks_never_overlap_once_drawn():
    with pl.publication_style():
        fig, ax = plt.subplots(figsize=pl.figsize("single"))
        x = [0.05, 0.1, 0.3, 0.5, 0.7, 0.9]
        ax.plot(x, x, label="a long legend entry that squeezes the axes")
        pl._common.legend_outside(ax)
        set_value_ticks(ax, x)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        shown = [t for t in ax.get_xticklabels() if t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in shown]
        assert [t.get_text() for t in shown][0] == "0.05" and shown[-1].get_text() == "0.9"
        assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))


def test_accuracy_spread_runs_over_networks_when_there_are_several():
    from landscape.pl.accuracy import _prepare_accuracy_vs

    obs = pd.DataFrame(
        {
            "method": "edge_popup",
            "density": [0.5] * 6,
            "weight_seed": [0, 0, 0, 1, 1, 1],
            "test_acc": [0.80, 0.82, 0.84, 0.90, 0.92, 0.94],
        }
    )
    data = _prepare_accuracy_vs(obs, "density", "test_acc")
    row = data.curves.iloc[0]
    # the mean of the two networks' means, and the sd of those two means (not of six masks)
    assert row["mean"] == pytest.approx(0.87) and row["sd"] == pytest.approx(np.std([0.82, 0.92], ddof=1))
    assert row["spread"] == "networks" and row["n_networks"] == 2 and row["n"] == 6
    one = _prepare_accuracy_vs(obs[obs["weight_seed"] == 0], "density", "test_acc").curves.iloc[0]
    assert one["spread"] == "masks" and one["sd"] == pytest.approx(np.std([0.80, 0.82, 0.84], ddof=1))
    ax = pl.accuracy_vs(obs.assign(density=[0.5, 0.5, 0.5, 0.3, 0.3, 0.3]))
    assert "sd over masks" in ax.get_legend().get_title().get_text()
