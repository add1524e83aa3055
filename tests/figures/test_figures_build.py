"""The named-figure registry: files, provenance, skipped figures and name errors."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from landscape.errors import ConfigError  # noqa: E402
from landscape.figures import FIGURES, build_figures, figure, figure_names  # noqa: E402
from landscape.figures.registry import FigureSkipped  # noqa: E402
from tests.figures.conftest import DYNAMICS, add_barriers  # noqa: E402

EXPECTED = {
    "similarity_heatmap",
    "layer_overlap",
    "distance_distribution",
    "embedding",
    "interpolation",
    "barrier_matrix",
    "accuracy_vs_density",
    "accuracy_vs_width",
    "selection_frequency",
    "diversity_vs_density",
    "diversity_vs_density_layers",
    "diversity_vs_width",
    "cross_method",
    "barrier_vs_distance",
    "accuracy_vs_typicality",
}


def test_all_named_figures_are_registered():
    assert set(figure_names()) >= EXPECTED


def test_unknown_name_suggests_the_closest(tmp_path, annotated):
    with pytest.raises(ConfigError, match="did you mean 'layer_overlap'"):
        build_figures(annotated, ["layer_overlaps"], out=tmp_path)
    with pytest.raises(ConfigError, match="format"):
        build_figures(annotated, ["layer_overlap"], out=tmp_path, formats=("docx",))


def test_build_writes_files_and_provenance(tmp_path, annotated):
    add_barriers(annotated, [(0, 1), (0, 2), (5, 6)])
    # masks made in memory have no stored predictions: the figures of masks and barriers
    built = build_figures(annotated, sorted(EXPECTED), out=tmp_path / "figs")
    assert not built.skipped
    dynamics = build_figures(annotated, sorted(DYNAMICS), out=tmp_path / "dynamics")
    assert {name for name, _ in dynamics.skipped} == DYNAMICS  # no snapshots, no held seeds here
    assert set(built.files) == EXPECTED
    for name in EXPECTED:
        for ext in ("pdf", "png", "txt", "csv", "json"):
            path = tmp_path / "figs" / f"{name}.{ext}"
            assert path.exists() and path.stat().st_size > 0, path
    assert len(built) == 5 * len(EXPECTED) and built.index == tmp_path / "figs" / "index.html"
    record = json.loads((tmp_path / "figs" / "layer_overlap.json").read_text())
    # searched masks at the most common density: edge_popup, biprop and random at 0.5
    assert record["density"] == 0.5 and record["n_masks"] == 5 + 4 + 3 + 2
    assert "dense-1.0-1.0" not in record["run_ids"] and record["masks_per_run"]["edge_popup-0.5-1.0"] == 5
    assert {"landscape_version", "numpy_version", "matplotlib_version", "created_at"} <= set(record)
    # the selection, never chosen silently: on the image's caption, beside it and in the record
    assert record["selection"]["density"] == [0.5] and record["selection"]["n_networks"] == 1
    assert record["selection"]["chosen"]["density"] == {"value": 0.5, "also_present": [0.2]}
    caption = (tmp_path / "figs" / "layer_overlap.txt").read_text().strip()
    assert caption == record["caption"] and "Density 0.5 shown (the density with the most masks)" in caption
    assert record["data_file"] == "layer_overlap.csv" and set(record["files"]) >= {"layer_overlap.csv"}
    barrier = json.loads((tmp_path / "figs" / "interpolation.json").read_text())
    assert barrier["analysis"]["barrier"]["n_points"] == 5
    embedding = json.loads((tmp_path / "figs" / "embedding.json").read_text())
    assert embedding["computed_for_figure"] == ["mds_networks"] and "mds_networks" in embedding["analysis"]
    consensus = json.loads((tmp_path / "figs" / "selection_frequency.json").read_text())
    assert consensus["analysis"]["consensus"] == {"groupby": "config"}  # one group per configuration
    width = json.loads((tmp_path / "figs" / "accuracy_vs_width.json").read_text())
    # the width figure holds density at 0.5 (the density seen at most widths); the dense
    # reference is kept, the 3 edge_popup masks at density 0.2 are not
    assert width["n_masks"] == len(annotated) - 3
    assert "most widths" in width["figure_where"]
    density = json.loads((tmp_path / "figs" / "accuracy_vs_density.json").read_text())
    # the density figure holds the width at 1.0 (the width seen at most densities)
    assert density["n_masks"] == len(annotated) - 2 - 2


def test_the_callers_maskset_is_left_alone(tmp_path, annotated):
    before = (set(annotated.obsp), set(annotated.obsm), set(annotated.uns))
    build_figures(annotated, ["layer_overlap"], out=tmp_path, formats=("png",))
    assert (set(annotated.obsp), set(annotated.obsm), set(annotated.uns)) == before


def test_absent_data_is_skipped_with_a_reason(tmp_path, annotated):
    single = annotated[
        (annotated.obs["density"] == 0.5).to_numpy() & (annotated.obs["model.width_mult"] == 1.0).to_numpy()
    ]
    built = build_figures(
        single,
        ["interpolation", "barrier_matrix", "accuracy_vs_density", "accuracy_vs_width", "layer_overlap"],
        out=tmp_path,
        formats=("png",),
    )
    reasons = dict(built.skipped)
    assert set(reasons) == {"interpolation", "barrier_matrix", "accuracy_vs_density", "accuracy_vs_width"}
    assert "tl.barriers" in reasons["interpolation"]
    assert "found 0.5" in reasons["accuracy_vs_density"]
    assert "model.width_mult" in reasons["accuracy_vs_width"] and "found 1" in reasons["accuracy_vs_width"]
    assert all("\n" not in r for r in reasons.values())
    assert [p.name for p in built] == [
        "layer_overlap.png",
        "layer_overlap.txt",
        "layer_overlap.csv",
        "layer_overlap.json",
    ]


def test_global_where_selects_masks(tmp_path, annotated):
    built = build_figures(
        annotated, ["similarity_heatmap"], out=tmp_path, formats=("png",), where="method == 'edge_popup'"
    )
    record = json.loads((tmp_path / "similarity_heatmap.json").read_text())
    assert record["where"] == "method == 'edge_popup'" and set(record["run_ids"]) == {
        "edge_popup-0.5-1.0",
        "edge_popup-0.5-0.5",
    }
    assert len(built) == 4
    with pytest.raises(ConfigError, match="where"):
        build_figures(annotated, ["similarity_heatmap"], out=tmp_path, where="no_such_column > 1")


def test_custom_figures_register_and_can_skip(tmp_path, annotated):
    from landscape import pl

    @figure("test_custom_overlap", needs=("distances",))
    def custom(ms):
        """Custom overlap."""
        if len(ms) > 100:
            raise FigureSkipped("too many masks")
        return pl.layer_overlap(ms, baseline=False)

    @figure("test_custom_skip")
    def skipping(ms):
        raise FigureSkipped("nothing to show")

    try:
        built = build_figures(
            annotated, ["test_custom_overlap", "test_custom_skip"], out=tmp_path, formats=("png",)
        )
        assert (tmp_path / "test_custom_overlap.png").exists()
        assert built.skipped == [("test_custom_skip", "nothing to show")]
        assert FIGURES.get("test_custom_overlap").description == "Custom overlap."
    finally:
        FIGURES._entries.pop("test_custom_overlap")
        FIGURES._entries.pop("test_custom_skip")
    with pytest.raises(ConfigError, match="analysis step"):
        figure("bad", needs=("no_such_step",))


def test_interpolation_survives_subsetting(tmp_path, annotated):
    # pairs stored by position in the full set must be found by name in the subset a figure uses
    add_barriers(annotated, [(0, 1), (5, 6)])
    built = build_figures(
        annotated, ["interpolation"], out=tmp_path, formats=("png",), where="method != 'random'"
    )
    assert not built.skipped
    assert np.isfinite(annotated.obsp["barrier"]).sum() == 4


def test_selections_of_two_where_functions_of_one_name_are_not_shared(annotated):
    # figures.select.searched_masks keeps the random masks, fig_dynamics.searched_masks drops
    # them: a figure must get its own selection whichever figure was selected before it
    from landscape.figures.source import Source

    alone = Source(annotated, None).select(FIGURES.get("seed_attribution"))[0]
    source = Source(annotated, None)
    source.select(FIGURES.get("diversity_vs_density"))
    after = source.select(FIGURES.get("seed_attribution"))[0]
    assert "random" not in set(alone.obs["method"])
    assert after.obs.index.tolist() == alone.obs.index.tolist()


def test_heatmap_caption_names_the_groups_it_shows(tmp_path, annotated):
    built = build_figures(
        annotated, ["similarity_heatmap"], out=tmp_path, formats=("png",), where="method != 'biprop'"
    )
    text = built.captions["similarity_heatmap"]
    assert "Biprop" not in text
    assert "Lower triangle: Edge-Popup · width 1; upper triangle: Edge-Popup · width 0.5." in text
    # 3 of the 5 masks at width 1 (cut to the 2 at width 0.5) and the 3 random masks are not
    # drawn: the selection counts the masks drawn
    assert "4 masks of 2 configurations" in text and "6 further selected masks not drawn" in text
    record = json.loads((tmp_path / "similarity_heatmap.json").read_text())
    assert record["n_masks"] == 4 and len(record["masks_not_drawn"]) == 6


def test_barrier_captions_count_the_networks_of_the_pairs_drawn_and_name_the_path(annotated):
    from landscape import pl

    ms = annotated
    ms.obs.loc[ms.obs.index[3:5], "weight_seed"] = 1  # a second network, holding no pair
    add_barriers(ms, [(0, 1), (5, 6)])
    for drawn in (pl.interpolation(ms), pl.barrier_vs_distance(ms)):
        text = " ".join(pl.notes_of(drawn))
        assert "(1 network)" in text and "2 networks" not in text
        assert sorted(pl.masks_of(drawn)) == sorted(ms.obs.index[[0, 1, 5, 6]])
    fig = pl.barrier_matrix(ms)
    assert "linear path, chord-based" in fig.axes[-1].get_ylabel()
    table = pl.data_of(fig)
    assert set(table["path"]) == {"linear"} and table["definition"].str.contains("chord-based").all()
    assert any("loss barrier of the linear path" in n for n in pl.notes_of(fig))
