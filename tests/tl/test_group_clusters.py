import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from landscape import tl
from landscape.errors import AnalysisError
from landscape.store.layout import Layout
from landscape.tl.group_clusters import adjusted_rand
from tests.tl.conftest import make_maskset

LAYOUT = Layout([("a", (60,)), ("b", (4, 25))])


def two_networks(rng, n_per=5, planted=(True, True)):
    """Two methods in each of two networks. The masks of a network share much (high-accuracy
    masks of one random network overlap), masks of two networks nothing. Where ``planted``,
    each method's masks are noisy copies of its own variant of the network's centre (they
    cluster by method); elsewhere every mask is its own noisy copy of the centre."""
    dense, obs = [], []
    for net, structured in zip((0, 1), planted):
        centre = rng.random(LAYOUT.n_weights) < 0.5
        for method in ("x", "y"):
            variant = centre ^ (rng.random(LAYOUT.n_weights) < (0.15 if structured else 0.0))
            flip = 0.04 if structured else 0.15
            dense.append(variant[None, :] ^ (rng.random((n_per, LAYOUT.n_weights)) < flip))
            obs.append(
                pd.DataFrame({"method": method, "density": 0.5, "weight_seed": net}, index=range(n_per))
            )
    obs = pd.concat(obs, ignore_index=True)
    obs.index = [f"m{i}" for i in range(len(obs))]
    return make_maskset(np.concatenate(dense), LAYOUT, obs)


def test_adjusted_rand_equals_scikit_learn():
    rng = np.random.default_rng(3)
    for _ in range(20):
        clusters = rng.integers(0, 3, 17)
        groups = rng.integers(0, 4, (5, 17))
        groups[:, 0] = 0  # codes from 0
        ours = adjusted_rand(np.unique(clusters, return_inverse=True)[1], groups)
        theirs = [adjusted_rand_score(g, clusters) for g in groups]
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_clusters_that_are_the_groups_score_one_per_network():
    ms = two_networks(np.random.default_rng(0))
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=199)
    per_net = table[table["network"] != "all networks"]
    assert list(per_net["weight_seed"]) == [0, 1]
    assert (per_net["n_masks"] == 10).all() and (per_net["n_groups"] == 2).all()
    assert (per_net["ari"] == 1.0).all()
    # a shuffle scores 1 too only if it keeps or swaps the two groups whole: 2 of C(10, 5)
    # labelings, so about 1.6 of 199 shuffles; p = (1 + hits) / 200
    assert (per_net["p_value"] < 0.05).all()
    assert (per_net["chance_ari"].abs() < 0.1).all()
    across = table[table["network"] == "all networks"].iloc[0]
    assert across["ari"] == 1.0 and across["n_masks"] == 20 and pd.isna(across["weight_seed"])
    # each network's clusters are its own: no label is shared by masks of two networks
    labels = ms.obs["cluster"].astype(str)
    assert set(labels[ms.obs["weight_seed"] == 0]).isdisjoint(labels[ms.obs["weight_seed"] == 1])
    assert ms.uns["cluster"]["params"]["within"] == "weight_seed"


def test_masks_pooled_across_networks_would_cluster_by_network():
    """Why per network: one network's masks cluster by method, the other's do not. Clustered
    per network, the first scores 1 and the second near 0 with a large p; one clustering of
    both networks (``tl.cluster``) finds the networks and says nothing of the methods."""
    ms = two_networks(np.random.default_rng(1), planted=(True, False))
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=499, rng=5).set_index("network")
    assert table.loc["0", "ari"] == 1.0 and table.loc["0", "p_value"] < 0.05
    assert table.loc["1", "ari"] < 0.5 and table.loc["1", "p_value"] > 0.05
    pooled = tl.cluster(ms, n_clusters=2, copy=True)
    assert adjusted_rand_score(ms.obs["weight_seed"], pooled.obs["cluster"]) == 1.0
    assert adjusted_rand_score(ms.obs["method"], pooled.obs["cluster"]) < 0.1


def test_p_values_of_unstructured_masks_are_not_too_small():
    """Under the null (masks that do not follow their methods) p <= alpha at most about alpha
    of the time. The ARI is discrete (an outlier split off as its own cluster gives every
    shuffle the same ARI), so shuffles tying the observed value count against it and p is
    conservative; counting only larger ones would put p at 1/100 for those ties."""
    ps, joint = [], []
    for seed in range(40):
        ms = two_networks(np.random.default_rng(100 + seed), planted=(False, False), n_per=6)
        tl.distances(ms)
        table = tl.group_clusters(ms, n_permutations=99, rng=seed)
        ps += list(table.loc[table["network"] != "all networks", "p_value"])
        joint.append(float(table.loc[table["network"] == "all networks", "p_value"].iloc[0]))
    ps, joint = np.array(ps), np.array(joint)
    assert len(ps) == 80 and (ps > 0).all()
    assert (ps <= 0.05).mean() <= 0.1 and (ps <= 0.2).mean() <= 0.3
    assert (joint <= 0.05).mean() <= 0.125 and (joint <= 0.2).mean() <= 0.35  # 40 tests


def test_one_group_per_network_gives_no_rows_and_copy_leaves_ms():
    ms = two_networks(np.random.default_rng(2))
    ms.obs["method"] = "x"
    tl.distances(ms)
    assert tl.group_clusters(ms, copy=True).empty
    assert "cluster" not in ms.obs
    with pytest.raises(AnalysisError, match="n_permutations"):
        tl.group_clusters(ms, n_permutations=0)
    with pytest.raises(AnalysisError, match="linkage|unknown"):
        tl.group_clusters(ms, method="nearest")


def test_the_mean_over_networks_is_tested_against_shuffles_of_every_network_at_once():
    """Both networks follow their groups (ARI 1, p about 0.01 each). A shuffle reaches a mean
    ARI of 1 only if it does so in both networks at once (about 1 in 16,000), so the joint
    p-value sits at (or next to) its floor, 1/1000; one network's shuffles alone would give
    about 0.01."""
    ms = two_networks(np.random.default_rng(0))
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=999, rng=0).set_index("network")
    assert (table.loc[["0", "1"], "p_value"] > 0.004).all()
    assert table.loc["all networks", "p_value"] <= 0.002
    assert table.loc["all networks", "chance_ari"] == pytest.approx(
        table.loc[["0", "1"], "chance_ari"].mean()
    )


def test_a_network_of_one_mask_per_group_gets_no_row_and_leaves_the_mean_defined():
    ms = two_networks(np.random.default_rng(0))
    ms.obs["method"] = [
        f"m{i}" if w == 0 else m for i, (w, m) in enumerate(zip(ms.obs["weight_seed"], ms.obs["method"]))
    ]
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=99)
    assert list(table["network"]) == ["1"] and table["ari"].notna().all()


def test_one_network_keeps_plain_labels_and_scipys_linkage():
    ms = two_networks(np.random.default_rng(0))
    ms = ms[np.flatnonzero(ms.obs["weight_seed"].to_numpy() == 0)]
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=99)
    assert list(table["network"]) == ["0"]  # no "all networks" row
    assert set(ms.obs["cluster"].astype(str)) == {"1", "2"}
    assert ms.uns["cluster"]["linkage"].shape == (9, 4)
