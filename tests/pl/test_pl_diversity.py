"""Diversity against density and width: planted overlaps give the expected lines, intervals
come from tl.diversity over networks, and the chance band is independent random masks'."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from landscape import pl, tl  # noqa: E402
from landscape.errors import AnalysisError  # noqa: E402
from landscape.pl.diversity import _prepare_diversity_vs, diversity_table  # noqa: E402
from tests.pl.planted import expected_jaccard, planted_set  # noqa: E402

SIZES = (1200, 800)


@pytest.fixture(scope="module")
def density_set():
    groups = [
        {"method": m, "density": d, "share": share}
        for m, share in (("edge_popup", 0.4), ("random", 0.0))
        for d in (0.5, 0.2)
    ]
    ms = planted_set(groups, SIZES)
    tl.distances(ms, per_layer=True)
    tl.diversity(ms)
    return ms


def test_lines_join_densities_and_carry_the_tools_numbers(density_set):
    table = diversity_table(density_set, "density")
    data = _prepare_diversity_vs(table, "similarity", "whole")
    assert list(dict.fromkeys(data["line"])) == ["edge_popup", "random"]  # one line per configuration
    summary = density_set.uns["diversity"]["summary"]
    whole = summary[summary["layer"] == "whole"]
    for _, row in data.iterrows():
        ref = whole[(whole["method"] == row["method"]) & (whole["density"] == row["x"])].iloc[0]
        assert row["y"] == ref["similarity"] and row["lo"] == ref["similarity_ci_low"]
        assert row["interval"] == "networks" and row["n_networks"] == 2 and row["n_masks"] == 10
    ep = data[data["line"] == "edge_popup"]
    assert ep["x"].tolist() == [0.2, 0.5]  # sorted along the line
    n = sum(SIZES) // len(SIZES)
    for _, row in ep.iterrows():
        k = round(row["x"] * n)
        assert row["y"] == pytest.approx(expected_jaccard(n, k, round(0.4 * k)), abs=0.01)
        assert row["lo"] < row["y"] < row["hi"] and row["lo"] > row["chance_hi"]  # clearly above chance
    rnd = data[data["line"] == "random"]
    for _, row in rnd.iterrows():  # independent masks: at chance, d / (2 - d) for Jaccard
        assert row["chance"] == pytest.approx(row["x"] / (2 - row["x"]), abs=2e-3)
        assert row["y"] == pytest.approx(row["chance"], abs=0.01)


def test_excess_is_measured_from_chance_and_its_band_sits_at_zero(density_set):
    data = _prepare_diversity_vs(diversity_table(density_set, "density"), "excess", "whole")
    assert (data["chance"] == 0).all() and (data["chance_lo"] < 0).all() and (data["chance_hi"] > 0).all()
    ep = data[data["line"] == "edge_popup"]
    assert (ep["y"] > 0.05).all()
    rnd = data[data["line"] == "random"]
    assert rnd["y"].abs().max() < 0.01
    per_layer = _prepare_diversity_vs(diversity_table(density_set, "density"), "excess", "fcs.1")
    assert set(per_layer["layer"]) == {"fcs.1"} and len(per_layer) == 4
    with pytest.raises(AnalysisError, match="layer"):
        _prepare_diversity_vs(diversity_table(density_set, "density"), "excess", "nope")


def test_width_lines_span_several_layouts():
    sets = []
    for width, sizes in ((1.0, SIZES), (2.0, tuple(2 * s for s in SIZES))):
        ms = planted_set([{"method": "edge_popup", "density": 0.5, "share": 0.4, "width": width}], sizes)
        tl.distances(ms, per_layer=True)
        tl.diversity(ms)
        sets.append(ms)
    data = _prepare_diversity_vs(diversity_table(sets, "model.width_mult"), "similarity", "whole")
    assert data["line"].nunique() == 1 and data["x"].tolist() == [1.0, 2.0]
    # the planted share is the same fraction of kept weights at both widths
    for (_, row), sizes in zip(data.iterrows(), (SIZES, tuple(2 * s for s in SIZES))):
        n = sizes[0]
        assert row["y"] == pytest.approx(expected_jaccard(n, n // 2, round(0.2 * n)), abs=0.01)
    ax = pl.diversity_vs(sets, x="model.width_mult")
    ax.figure.canvas.draw()
    assert ax.get_xlabel() == "width multiplier"


def test_drawing_lines_band_and_legend(density_set):
    ax = pl.diversity_vs(density_set, x="density")
    ax.figure.canvas.draw()
    legend = ax.get_legend()
    assert "95% CI over 2 networks" in legend.get_title().get_text().replace("\n", " ")
    assert [t.get_text() for t in legend.get_texts()] == [
        "independent random masks (95% range)",
        "Edge-Popup",
        "random masks (searched null)",
    ]
    assert "Error bars" in pl.notes_of(ax)[0] and len(pl.data_of(ax)) == 4
    ax = pl.diversity_vs(density_set, x="density", value="excess")
    ax.figure.canvas.draw()
    assert "above chance" in ax.get_ylabel()
    fig = pl.diversity_vs(density_set, x="density", layer="each")
    assert isinstance(fig, Figure)
    fig.canvas.draw()
    titles = [a.get_title() for a in fig.axes if a.get_visible() and a.get_title()]
    assert titles == ["whole network", "fc 1 (40→30)", "fc 2 (40→20)"]


def test_needs_the_tool_and_its_grouping(density_set):
    bare = density_set[np.arange(len(density_set))]
    bare.uns = {}
    with pytest.raises(AnalysisError, match="tl.diversity"):
        pl.diversity_vs(bare)
    with pytest.raises(AnalysisError, match="rerun landscape.tl.diversity"):
        pl.diversity_vs(density_set, groupby="method")
    tl.diversity(bare, groupby=None)
    with pytest.raises(AnalysisError, match="takes 2 values inside group"):
        pl.diversity_vs(bare, groupby=None)


def test_lines_inside_a_source_get_their_own_chance_band(density_set):
    """A band spanning the whole-layer level of one line and a source's level of another
    would claim a range neither null has: each source line gets its own band."""
    import matplotlib.pyplot as plt

    from landscape.pl.diversity import _draw_panel

    data = _prepare_diversity_vs(diversity_table(density_set, "density"), "similarity", "whole")
    assert (data["chance_null"] == "layers").all()
    inside = data["line"] == "random"
    data.loc[inside, ["chance", "chance_lo", "chance_hi"]] += 0.3  # as a source's higher level
    data.loc[inside, "chance_null"] = "source"
    fig, ax = plt.subplots()
    try:
        _draw_panel(ax, data, "similarity", "density", log=False)
        bands = [c for c in ax.collections if c.get_label().endswith("(95% range)")]
        assert [c.get_label() for c in bands] == [
            "independent random masks (95% range)",
            "random masks inside the line's source (95% range)",
        ]
        grey, own = (c.get_paths()[0].vertices[:, 1] for c in bands)
        layers = data[~inside]
        assert grey.max() == pytest.approx(layers["chance_hi"].max()) and grey.min() == pytest.approx(
            layers["chance_lo"].min()
        )
        assert own.min() == pytest.approx(data.loc[inside, "chance_lo"].min())
    finally:
        plt.close(fig)
