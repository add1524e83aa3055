"""Every plot drawn from a real MaskSet with the Agg backend; missing slots explain the fix."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from landscape import pl  # noqa: E402
from landscape.errors import AnalysisError  # noqa: E402
from landscape.maskset import MaskSet  # noqa: E402


def drawn(ax: Axes) -> Axes:
    assert isinstance(ax, Axes)
    ax.figure.canvas.draw()  # layout and rendering must not fail
    assert ax.get_xlabel() or ax.get_xticklabels()
    return ax


def test_similarity_heatmap(toy):
    ms, masks = toy
    ax = drawn(pl.similarity_heatmap(ms, lower="biprop", upper="edge_popup"))
    image = ax.get_images()[0].get_array()
    assert image.shape == (4, 4) and image.mask[np.diag_indices(4)].all()
    # lower triangle holds biprop pairs in seed order: masks 5..8
    inter = (masks[6] & masks[5]).sum()
    assert image[1, 0] == pytest.approx(inter / (masks[6] | masks[5]).sum())
    assert "upper: Edge-Popup" in ax.get_title()  # display names, not identifiers
    assert len(ax.figure.axes) == 2  # the colour bar


def test_layer_overlap_has_one_line_per_group_and_one_baseline(toy):
    ms, _ = toy
    ax = drawn(pl.layer_overlap(ms))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # the analytic chance and the random-mask runs are two different marks, both in the legend
    assert labels == [
        "independent random masks\n(analytic, 95% of pairs)",
        "Edge-Popup",
        "Biprop",
        "random-mask runs (searched null)",
    ]
    null = next(line for line in ax.get_lines() if line.get_label().startswith("random-mask"))
    chance = next(line for line in ax.get_lines() if line.get_label().startswith("independent"))
    assert (
        null.get_marker() == "s" and null.get_markerfacecolor() == "white" and chance.get_linestyle() == "--"
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc0", "fc1", "fc2"]
    ep = next(line for line in ax.get_lines() if line.get_label() == "Edge-Popup")
    dist = ms.obsp["dist_jaccard_layers"][:5, :5, 0]
    assert ep.get_ydata()[0] == pytest.approx(1 - dist[np.triu_indices(5, 1)].mean())


def test_layer_overlap_without_baseline_and_missing_slot(toy):
    ms, _ = toy
    ax = drawn(pl.layer_overlap(ms, baseline=False, groupby=None))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["all masks"]
    del ms.obsp["dist_jaccard_layers"]
    with pytest.raises(AnalysisError, match="tl.distances"):
        pl.layer_overlap(ms)


@pytest.mark.parametrize("null", ["random", "analytic", "both", None])
def test_distance_distribution(toy, null):
    ms, _ = toy
    ax = drawn(pl.distance_distribution(ms, null=null))
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == (
        ["Edge-Popup", "Biprop", "random-mask runs"]
        if null in ("random", "both")
        else ["Edge-Popup", "Biprop"]
    )


def test_distance_distribution_without_random_runs(toy):
    ms, _ = toy
    sub = ms[(ms.obs["method"] != "random").to_numpy()]
    with pytest.raises(AnalysisError, match="null='analytic'"):
        pl.distance_distribution(sub, null="random")
    with pytest.raises(AnalysisError, match="tl.distances\\(ms, metric='hamming'\\)"):
        pl.distance_distribution(sub, metric="hamming", null="analytic")


@pytest.mark.parametrize("groupby", ["config", "method"])
def test_distance_distribution_pairs_random_masks_within_their_configuration(layout, groupby):
    from tests.pl.conftest import fixed_k_masks, with_distances

    # random masks at two densities: each density is a null of its own, never paired across
    rng = np.random.default_rng(1)
    masks = np.vstack([fixed_k_masks(rng, 3, layout, d) for d in (0.5, 0.3, 0.5)])
    obs = pd.DataFrame(
        {
            "run_id": ["ep"] * 3 + ["r3"] * 3 + ["r5"] * 3,
            "method": ["edge_popup"] * 3 + ["random"] * 6,
            "density": [0.5] * 3 + [0.3] * 3 + [0.5] * 3,
            "weight_seed": 0,
            "search_seed": [0, 1, 2] * 3,
        }
    )
    ms = with_distances(MaskSet.from_dense(masks, layout, obs), masks)
    ax = drawn(pl.distance_distribution(ms, groupby=groupby, null="random"))
    table = pl.data_of(ax).set_index("group")
    dist = ms.obsp["dist_jaccard"]
    for label, first in (("random · density 0.3", 3), ("random · density 0.5", 6)):
        i, j = np.triu_indices(3, 1)
        assert table.loc[label, "n_pairs"] == 3
        assert table.loc[label, "mean"] == pytest.approx(dist[first + i, first + j].mean())
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[-2:] == ["random-mask runs · density 0.3", "random-mask runs · density 0.5"]


def test_embedding_categorical_and_continuous(toy):
    ms, _ = toy
    ax = drawn(pl.embedding(ms, basis="mds", color="method"))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Edge-Popup", "Biprop", "random masks"]
    assert ax.collections[0].get_facecolor()[0][:3] == pytest.approx(
        matplotlib.colors.to_rgb(pl.METHOD_COLORS["edge_popup"])
    )
    ax = drawn(pl.embedding(ms, basis="mds", color="test_acc"))
    assert len(ax.figure.axes) == 2 and "test accuracy" in ax.figure.axes[1].get_ylabel()
    with pytest.raises(AnalysisError, match="tl.umap"):
        pl.embedding(ms, basis="umap")


def test_pca_axes_carry_their_share_of_the_variance(toy):
    from landscape import tl

    ms, _ = toy
    tl.distances(ms)
    tl.pca(ms)
    ratio = ms.uns["pca"]["explained_variance_ratio"]
    ax = drawn(pl.embedding(ms, basis="pca", color="method"))
    assert ax.get_xlabel() == f"PC 1 ({100 * ratio[0]:.1f}%)"
    assert ax.get_ylabel() == f"PC 2 ({100 * ratio[1]:.1f}%)" and ratio[0] >= ratio[1] > 0
    assert drawn(pl.embedding(ms, basis="mds")).get_xlabel() == "MDS 1"  # no eigenvalues recorded


def test_interpolation_barrier_matrix_and_barrier_vs_distance(toy):
    ms, _ = toy
    rows, table = [], []
    for pair, (i, j) in enumerate([(0, 1), (0, 2), (5, 6)]):
        for alpha in np.linspace(0, 1, 5):
            rows.append(
                {
                    "pair": pair,
                    "i": i,
                    "j": j,
                    "path": "linear",
                    "alpha": alpha,
                    "split": "test",
                    "loss": 1 + np.sin(np.pi * alpha) * (pair + 1),
                    "acc": 0.9 - 0.1 * np.sin(np.pi * alpha),
                }
            )
        table.append(
            {
                "pair": pair,
                "i": i,
                "j": j,
                "path": "linear",
                "split": "test",
                "barrier_loss": pair + 1.0,
                "barrier_acc": 0.1,
                "hamming": 0.5,
            }
        )
    matrix = np.full((len(ms), len(ms)), np.nan)
    for t in table:
        matrix[t["i"], t["j"]] = matrix[t["j"], t["i"]] = t["barrier_loss"]
    ms.uns["barrier"] = {
        "params": {"split": "test"},
        "curves": pd.DataFrame(rows),
        "table": pd.DataFrame(table),
    }
    ms.obsp["barrier"] = matrix
    ax = drawn(pl.interpolation(ms))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Edge-Popup, linear", "Biprop, linear"]
    assert ax.get_ylabel() == "test loss"
    drawn(pl.interpolation(ms, metric="acc"))
    fig = pl.barrier_matrix(ms)
    fig.canvas.draw()
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles == ["Edge-Popup", "Biprop"] and fig.axes[-1].get_ylabel().startswith("test loss barrier (")
    assert pl.data_of(fig)["barrier"].tolist() == [1.0, 2.0, 3.0]
    drawn(pl.barrier_vs_distance(ms))


def test_barrier_plots_explain_missing_tool(toy):
    ms, _ = toy
    for fn in (pl.interpolation, pl.barrier_matrix, pl.barrier_vs_distance):
        with pytest.raises(AnalysisError, match="tl.barriers"):
            fn(ms)


def test_accuracy_vs_single_axes_and_panels():
    obs = pd.DataFrame(
        {
            "method": ["edge_popup", "edge_popup", "biprop", "biprop", "dense"] * 2,
            "density": [0.5, 0.05, 0.5, 0.05, 1.0] * 2,
            "model.name": ["conv2"] * 5 + ["conv4"] * 5,
            "test_acc": np.linspace(0.5, 0.9, 10),
        }
    )
    ax = drawn(pl.accuracy_vs(obs))
    assert ax.get_xscale() == "linear" and ax.get_xlabel() == "density (fraction of weights kept)"
    # the dense networks of two models are two references, never one averaged level
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"dense (weights trained) · model conv2", "dense (weights trained) · model conv4"} <= set(legend)
    levels = sorted(line.get_ydata()[0] for line in ax.lines if line.get_label().startswith("dense"))
    assert levels == pytest.approx([obs["test_acc"][4], obs["test_acc"][9]])
    reference = pl.data_of(ax).query("reference")
    assert reference["mean"].tolist() == pytest.approx([obs["test_acc"][4], obs["test_acc"][9]])
    fig = pl.accuracy_vs(obs, col="model.name")
    assert isinstance(fig, Figure) and [a.get_title() for a in fig.axes] == ["conv2", "conv4"]
    # one model per panel: its own reference, under the plain name
    panels = pl.data_of(fig).query("reference")
    assert panels["group"].tolist() == ["dense (weights trained)"] * 2
    assert panels["mean"].tolist() == pytest.approx([obs["test_acc"][4], obs["test_acc"][9]])
    fig.canvas.draw()


def test_selection_frequency_reads_consensus_slot(toy):
    ms, masks = toy
    ep = masks[:5]
    offsets = np.cumsum([0] + [s.numel for s in ms.layout])
    freq = {
        s.name: ep[:, lo:hi].sum(0).astype(np.uint16)
        for s, lo, hi in zip(ms.layout, offsets[:-1], offsets[1:])
    }
    ms.uns["consensus"] = {"params": {"groupby": "method"}, "edge_popup": {"freq": freq, "n_masks": 5}}
    ax = drawn(pl.selection_frequency(ms))
    bars = [p.get_height() for p in ax.patches]
    counts = np.bincount(ep.sum(0), minlength=6) / ep.shape[1]
    assert bars == pytest.approx(counts.tolist())
    drawn(pl.selection_frequency(ms, group="edge_popup", layer="fc1", logy=False))
    with pytest.raises(AnalysisError, match="layer"):
        pl.selection_frequency(ms, layer="nope")
    with pytest.raises(AnalysisError, match="tl.consensus"):
        pl.selection_frequency(ms, key="other")


# with the real analysis tools ----------------------------------------------------------------


def test_plots_from_real_tools(toy):
    from landscape import tl

    ms, masks = toy
    ours = {k: ms.obsp.pop(k) for k in ("dist_jaccard", "dist_jaccard_layers")}
    tl.distances(ms, metric="jaccard", per_layer=True)
    np.testing.assert_allclose(ms.obsp["dist_jaccard"], ours["dist_jaccard"], atol=1e-12)
    np.testing.assert_allclose(ms.obsp["dist_jaccard_layers"], ours["dist_jaccard_layers"], atol=1e-12)
    drawn(pl.layer_overlap(ms))
    drawn(pl.distance_distribution(ms, null="both"))
    tl.mds(ms)
    drawn(pl.embedding(ms, basis="mds", color="search_seed"))
    tl.consensus(ms, groupby="method")
    ax = drawn(pl.selection_frequency(ms, group="biprop"))
    bp = masks[5:9]
    expected = np.bincount(bp.sum(0), minlength=5) / bp.shape[1]
    assert [p.get_height() for p in ax.patches] == pytest.approx(expected.tolist())
    assert "Biprop masks" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_chance_level_agrees_with_tl_random_baseline(toy):
    from landscape import tl
    from landscape.pl.distances import _prepare_chance_levels
    from landscape.pl.overlap import _prepare_layer_baseline

    ms, _ = toy
    table = tl.random_baseline(ms, metric="jaccard", groupby="method", per_layer=True)
    counts = ms.densities().to_numpy() * np.array([s.numel for s in ms.layout])
    labels = ms.obs["method"]
    ours = _prepare_layer_baseline(
        counts, [s.numel for s in ms.layout], labels, ms.layout.names, similarity=False
    )
    theirs = table[(table["method"] == "edge_popup") & (table["layer"] != "whole")]
    np.testing.assert_allclose(ours["mean"].to_numpy(), 1 - theirs["chance_similarity"].to_numpy(), atol=2e-3)
    whole = _prepare_chance_levels(counts, np.array([s.numel for s in ms.layout]), labels)
    ref = table[(table["method"] == "edge_popup") & (table["layer"] == "whole")].iloc[0]
    assert whole.iloc[0]["mean"] == pytest.approx(1 - ref["chance_similarity"], abs=2e-3)
    assert whole.iloc[0]["sd"] == pytest.approx(ref["chance_similarity_sd"], rel=0.05)


def test_width_axis_is_log2_and_crowded_tick_labels_are_blanked():
    from landscape.pl.accuracy import _tick_labels

    obs = pd.DataFrame(
        {
            "method": ["edge_popup"] * 4 + ["dense"] * 4,
            "model.width_mult": [0.0625, 0.125, 0.25, 1.0] * 2,
            "density": [0.5] * 4 + [1.0] * 4,
            "test_acc": np.linspace(0.5, 0.9, 8),
        }
    )
    ax = drawn(pl.accuracy_vs(obs, x="model.width_mult"))
    assert ax.get_xscale() == "log"
    assert _tick_labels(np.array([0.05, 0.1, 0.3, 0.5, 0.7, 0.9]), False) == [
        "0.05",
        "",
        "0.3",
        "0.5",
        "0.7",
        "0.9",
    ]
    assert _tick_labels(np.array([0.0625, 0.125, 0.25, 1.0]), True) == ["0.0625", "0.125", "0.25", "1"]
