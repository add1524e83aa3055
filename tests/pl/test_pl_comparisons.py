"""Plots across configurations: cross-method twins, accuracy against typicality, the
selection frequency of every configuration, barrier plots and per-layer intervals over
networks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from landscape import pl, tl  # noqa: E402
from landscape.errors import AnalysisError  # noqa: E402
from landscape.maskset import MaskSet  # noqa: E402
from landscape.pl.cross_method import _prepare_cross_method  # noqa: E402
from landscape.pl.typicality import _prepare_accuracy_vs_typicality  # noqa: E402
from landscape.tl.cross_method import COMPARISONS, SAME  # noqa: E402
from tests.pl.planted import T, planted_set, twins, twins_jaccard  # noqa: E402


def test_cross_method_bars_in_order_with_the_twin_effect_in_the_caption():
    ms = twins()
    tl.cross_method(ms)
    summary = ms.uns["cross_method"]["summary"]
    data = _prepare_cross_method(summary)
    assert data["comparison"].tolist() == list(COMPARISONS)
    assert data["pair"].iloc[0] == "edge_popup × biprop"
    same = data.set_index("comparison").loc[SAME]
    assert same["similarity"] == pytest.approx(twins_jaccard(T), abs=0.01)
    with pytest.raises(AnalysisError, match="pairs"):
        _prepare_cross_method(summary, pairs=[("edge_popup", "iterand")])
    assert len(_prepare_cross_method(summary, pairs=[("biprop", "edge_popup")])) == 4  # either order
    ax = pl.cross_method(ms)
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["within\nEdge-Popup", "within\nBiprop", "across,\nother seeds", "across,\nsame seed"]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx(data["similarity"].tolist())
    assert "over 2 networks" in ax.get_legend().get_title().get_text().replace("\n", " ")
    assert any("same − other seeds" in note for note in pl.notes_of(ax))
    ms.uns.pop("cross_method")
    with pytest.raises(AnalysisError, match="tl.cross_method"):
        pl.cross_method(ms)


def test_accuracy_against_typicality_reports_each_groups_correlation():
    ms = planted_set([{"method": "edge_popup", "density": 0.5, "share": 0.3}], seeds=range(6))
    # accuracy planted to follow typicality in each network
    tl.distances(ms)
    tl.typicality(ms)
    ms.obs["test_acc"] = 0.5 + ms.obs["typicality"]
    table = tl.typicality(ms)
    points, stats = _prepare_accuracy_vs_typicality(
        ms.obs, table, pl._common.group_labels(ms.obs), "typicality", "test_acc"
    )
    assert len(points) == len(ms) and points["x"].tolist() == ms.obs["typicality"].tolist()
    row = stats.iloc[0]
    assert row["spearman"] == 1 and row["n_networks"] == 2 and row["p_value"] < 0.01  # the "all" row
    ax = pl.accuracy_vs_typicality(ms)
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"Edge-Popup (ρ = +1.00, p = {row['p_value']:.2g})"
    ]
    ax = pl.accuracy_vs_typicality(ms, measure="consensus_similarity")
    assert "consensus" in ax.get_xlabel()
    with pytest.raises(AnalysisError, match="measure"):
        pl.accuracy_vs_typicality(ms, measure="nope")


def test_selection_frequency_of_every_configuration_pools_its_networks():
    ms = planted_set(
        [
            {"method": "edge_popup", "density": 0.5, "share": 0.4},
            {"method": "biprop", "density": 0.5, "share": 0.0},
        ],
        layer_sizes=(400,),
        seeds=range(4),
    )
    tl.consensus(ms)
    fig = pl.selection_frequency(ms)
    assert isinstance(fig, Figure)
    fig.canvas.draw()
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles == ["Edge-Popup (4 masks, 2 networks)", "Biprop (4 masks, 2 networks)"]
    data = pl.data_of(fig)
    ep = data[data["group"] == "edge_popup"]
    # counts over both networks: 400 weights each, the planted core is kept by all 4 masks
    assert ep["n_weights"].sum() == 800 and ep["fraction"].iloc[-1] > 0.2 > ep["expected"].iloc[-1]
    bp = data[data["group"] == "biprop"]
    assert bp["fraction"].to_numpy() == pytest.approx(bp["expected"].to_numpy(), abs=0.05)
    one = pl.selection_frequency(ms, group="biprop")
    assert "Biprop masks" in [t.get_text() for t in one.get_legend().get_texts()]
    with pytest.raises(AnalysisError, match="no consensus"):
        pl.selection_frequency(ms, group="iterand")


def test_random_mask_pairs_never_look_connected(toy):
    ms, _ = toy
    names = ms.obs.index.astype(str)
    pairs = [(0, 1), (5, 6), (9, 10)]  # edge_popup, biprop, random
    matrix = np.full((len(ms), len(ms)), np.nan)
    table = []
    for n, (i, j) in enumerate(pairs):
        matrix[i, j] = matrix[j, i] = 0.5 - 0.2 * n
        table.append({"pair": n, "i": i, "j": j, "obs_i": names[i], "obs_j": names[j], "path": "linear",
                      "split": "test", "barrier_loss": 0.5 - 0.2 * n, "barrier_acc": 0.0, "hamming": 0.5})  # fmt: skip
    curves = pd.DataFrame([{**t, "alpha": a, "loss": 1.0, "acc": 0.5} for t in table for a in (0.0, 1.0)])
    ms.uns["barrier"] = {"params": {"split": "test"}, "curves": curves, "table": pd.DataFrame(table)}
    ms.obsp["barrier"] = matrix
    fig = pl.barrier_matrix(ms)
    fig.canvas.draw()
    assert [a.get_title() for a in fig.axes if a.get_title()] == ["Edge-Popup", "Biprop"]
    assert any("Left out random masks" in n for n in pl.notes_of(fig))
    assert len(pl.barrier_matrix(ms, include_random=True).axes) >= 3
    ax = pl.barrier_vs_distance(ms)
    ax.figure.canvas.draw()
    null = [c for c in ax.collections if c.get_label().startswith("random masks")][0]
    assert len(null.get_facecolor()) == 0 or null.get_facecolor()[0][3] == 0  # open marks
    assert any("Open marks" in n for n in pl.notes_of(ax))


def test_layer_overlap_shows_the_interval_over_networks_from_tl_diversity():
    ms = planted_set([{"method": "edge_popup", "density": 0.5, "share": 0.4}])
    tl.distances(ms, per_layer=True)
    ax = pl.layer_overlap(ms)
    assert "over 2 networks" not in ax.get_legend().get_title().get_text()  # no tool, no interval
    tl.diversity(ms)
    ax = pl.layer_overlap(ms)
    ax.figure.canvas.draw()
    assert "over 2 networks (weight seeds)" in ax.get_legend().get_title().get_text().replace("\n", " ")
    data = pl.data_of(ax)
    summary = ms.uns["diversity"]["summary"]
    ref = summary[summary["layer"] == "fcs.0"].iloc[0]
    row = data[data["layer"] == "fcs.0"].iloc[0]
    assert row["network_mean"] == ref["similarity"] and row["ci_low"] == ref["similarity_ci_low"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc 1 (40→30)", "fc 2 (40→20)"]
    # a tool run per configuration is no summary of everything pooled (groupby=None)
    from landscape.pl.overlap import _summary_for

    assert _summary_for(ms, None, "jaccard") is None
    tl.diversity(ms, groupby=None)
    assert ms.uns["diversity"]["params"]["groupby"] is None
    assert _summary_for(ms, None, "jaccard") is ms.uns["diversity"]["summary"]
    assert _summary_for(ms, "config", "jaccard") is None


def mixed_networks() -> MaskSet:
    """Edge-Popup masks in networks 0 and 1, Biprop masks in network 0 only."""
    ms = twins()
    obs = ms.obs
    return ms[np.flatnonzero(~((obs["method"] == "biprop") & (obs["weight_seed"] == 1)).to_numpy())]


def test_layer_overlap_says_which_intervals_run_over_masks():
    ms = mixed_networks()
    tl.distances(ms, per_layer=True)
    tl.diversity(ms)
    ax = pl.layer_overlap(ms)
    title = ax.get_legend().get_title().get_text().replace("\n", " ")
    assert "over networks (delete-one-mask jackknife over masks where a group has one network)" in title
    assert "over 2 networks" not in title and "over 2 networks" not in " ".join(pl.notes_of(ax))


def test_cross_method_says_over_what_and_which_masks_when_networks_differ():
    ms = mixed_networks()
    tl.cross_method(ms)
    ax = pl.cross_method(ms)
    title = ax.get_legend().get_title().get_text()
    notes = " ".join(pl.notes_of(ax))
    assert "over search seeds (one network)" in title and "networks" not in title.split("(")[0]
    # within Edge-Popup uses network 0 only, as the across-method bars do: the caption says so
    assert "Edge-Popup: 5 masks of network 1 not compared (no Biprop masks there)" in notes
    used = pl.masks_of(ax)
    assert len(used) == 10 and all("/w0/" in name for name in used)


def test_cross_method_labels_each_pair_by_what_its_bars_run_over():
    ms = twins(extra_density=True)
    keep = ~((ms.obs["run_id"] == "biprop500") & (ms.obs["weight_seed"] == 1)).to_numpy()
    ms = ms[np.flatnonzero(keep)]
    tl.cross_method(ms, match=())
    ax = pl.cross_method(ms)
    bars = pl.notes_of(ax)[0]
    assert "over 2 networks" in bars and "over search seeds (one network)" in bars
    assert ax.get_legend().get_title().get_text() == "mean ± 95% CI"
