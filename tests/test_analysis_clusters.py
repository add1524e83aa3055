"""``landscape analyze`` clusters and embeds each network's masks on their own."""

import numpy as np
import pytest

from landscape import tl
from landscape.analysis import analyze
from tests.tl.test_group_clusters import two_networks


@pytest.fixture(scope="module")
def two_network_runs(tmp_path_factory):
    """Two runs (Edge-Popup, Biprop), each with 5 masks in each of two networks; in every
    network each method's masks are close to one another and apart from the other's."""
    root = tmp_path_factory.mktemp("clusters") / "runs"
    ms = two_networks(np.random.default_rng(0))
    ms.obs["search_seed"] = list(range(5)) * 4
    for name, method in (("x", "edge_popup"), ("y", "biprop")):
        part = ms[np.flatnonzero(ms.obs["method"].to_numpy() == name)]
        part.obs = part.obs.drop(columns=["method", "density"])
        part.write(root, {"method.name": method, "method.density": 0.5})
    return root


def test_clusters_are_tested_per_network_and_summarised(two_network_runs):
    result = analyze(two_network_runs, embed=(), progress=False)
    clusters = result.tables["clusters"]
    assert list(clusters["stratum"]) == ["weight seed 0 · density 0.5", "weight seed 1 · density 0.5", "all"]
    assert (clusters["ari"] == 1.0).all() and (clusters["p_value"] < 0.05).all()
    assert clusters["groups"].iloc[0] == "biprop | edge_popup"
    assert (two_network_runs / "_analysis" / "clusters.csv").stat().st_size > 0
    text = result.summary()
    section = text[text.index("do masks cluster by group?") :]
    rows = [line.split() for line in section.splitlines()[2:5]]
    # masks of, masks, groups, ARI, chance (95th pct), p; the "all" row shows no group count
    assert [r[-6:-3] for r in rows[:2]] == [["10", "2", "1.0"]] * 2 and rows[2][:3] == ["all", "20", "1.0"]
    assert all(float(r[-1]) < 0.05 for r in rows)
    masks = next(iter(result.masksets.values()))
    labels = masks.obs["cluster"].astype(str)
    assert set(labels[masks.obs["weight_seed"] == 0]) == {"weight seed 0:1", "weight seed 0:2"}


def test_each_network_is_embedded_alone_and_the_embedding_is_reused(two_network_runs):
    result = analyze(two_network_runs, embed=("mds",), progress=False)
    assert result.work["embeddings"] == {"computed": 2, "reused": 0}
    ms = next(iter(result.masksets.values()))
    table = result.tables["embedding"].set_index("mask")
    assert set(table["within"]) == {"weight_seed"}
    for net in (0, 1):
        alone = ms[np.flatnonzero(ms.obs["weight_seed"].to_numpy() == net)]
        tl.mds(alone)
        rows = table.loc[list(alone.obs.index), ["mds_1", "mds_2"]].to_numpy()
        np.testing.assert_allclose(rows, alone.obsm["X_mds"], atol=1e-9)
    assert ms.uns["mds"]["params"]["within"] == "weight_seed"
    assert set(ms.uns["mds"]["eigenvalue_ratio"]) == {0, 1}  # each network's own shares
    again = analyze(two_network_runs, embed=("mds",), progress=False)
    assert again.work["embeddings"] == {"computed": 0, "reused": 2}
    np.testing.assert_array_equal(
        again.tables["embedding"][["mds_1", "mds_2"]], result.tables["embedding"][["mds_1", "mds_2"]]
    )


def test_a_network_too_small_to_embed_gets_no_coordinates(tmp_path):
    ms = two_networks(np.random.default_rng(1))
    keep = np.flatnonzero((ms.obs["weight_seed"] == 0).to_numpy() | np.isin(np.arange(len(ms)), [10, 15]))
    ms = ms[keep]  # network 1 keeps one mask of each method
    ms.obs["search_seed"] = np.arange(len(ms))
    for name, method in (("x", "edge_popup"), ("y", "biprop")):
        part = ms[np.flatnonzero(ms.obs["method"].to_numpy() == name)]
        part.obs = part.obs.drop(columns=["method", "density"])
        part.write(tmp_path / "runs", {"method.name": method, "method.density": 0.5})
    result = analyze(tmp_path / "runs", embed=("mds",), progress=False)
    table = result.tables["embedding"]
    assert len(table) == 10 and set(table["weight_seed"]) == {0}
    assert list(result.tables["clusters"]["stratum"]) == [
        "weight seed 0 · density 0.5"
    ]  # two masks in network 1: no test


def test_the_groups_a_clustering_compared_carry_the_analysis_wide_labels():
    """Each layout labels its groups by what differs inside it; the table names them as the
    rest of the analysis does (here: widths that two layouts' labels leave out)."""
    import pandas as pd

    from landscape.analysis.labels import clusters_table

    table = pd.DataFrame(
        {"stratum": ["weight seed 0", "all"], "groups": ["a | b", "mean over 2 networks × densities"]}
    )
    out = clusters_table(table, "mlp-1234", {"a": "a · width 2", "b": "b · width 2"})
    assert list(out["groups"]) == ["a · width 2 | b · width 2", "mean over 2 networks × densities"]
    assert set(out["layout"]) == {"mlp-1234"}
