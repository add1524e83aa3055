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


# the dense columns of each layer (masks keep exactly half of every layer: density 0.5)
SLICES = [slice(0, 60), slice(60, 160)]


def half(rng) -> np.ndarray:
    """A mask keeping exactly half of each layer."""
    mask = np.zeros(LAYOUT.n_weights, dtype=bool)
    for sl in SLICES:
        n = sl.stop - sl.start
        mask[sl.start + rng.choice(n, n // 2, replace=False)] = True
    return mask


def moved(mask: np.ndarray, share: float, rng) -> np.ndarray:
    """``mask`` with ``share`` of each layer's kept weights swapped for dropped ones (the counts stay)."""
    out = mask.copy()
    for sl in SLICES:
        kept, dropped = np.flatnonzero(mask[sl]) + sl.start, np.flatnonzero(~mask[sl]) + sl.start
        m = int(round(share * len(kept)))
        out[rng.choice(kept, m, replace=False)] = False
        out[rng.choice(dropped, m, replace=False)] = True
    return out


def two_networks(rng, n_per=5, planted=(True, True)):
    """Two methods in each of two networks, every mask keeping half of each layer. The masks
    of a network share much (high-accuracy masks of one random network overlap), masks of two
    networks nothing. Where ``planted``, each method's masks are noisy copies of its own
    variant of the network's centre (they cluster by method); elsewhere every mask is its own
    noisy copy of the centre."""
    dense, obs = [], []
    for net, structured in zip((0, 1), planted):
        centre = half(rng)
        for method in ("x", "y"):
            variant = moved(centre, 0.3 if structured else 0.0, rng)
            share = 0.08 if structured else 0.3
            dense.append(np.stack([moved(variant, share, rng) for _ in range(n_per)]))
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
    per_net = table[table["stratum"] != "all"]
    assert list(per_net["weight_seed"]) == [0, 1]
    assert (per_net["n_masks"] == 10).all() and (per_net["n_groups"] == 2).all()
    assert (per_net["ari"] == 1.0).all()
    # a shuffle scores 1 too only if it keeps or swaps the two groups whole: 2 of C(10, 5)
    # labelings, so about 1.6 of 199 shuffles; p = (1 + hits) / 200
    assert (per_net["p_value"] < 0.05).all()
    assert (per_net["chance_ari"].abs() < 0.1).all()
    across = table[table["stratum"] == "all"].iloc[0]
    assert across["ari"] == 1.0 and across["n_masks"] == 20 and pd.isna(across["weight_seed"])
    assert str(table["weight_seed"].dtype) == "Int64"
    # each network's clusters are its own: no label is shared by masks of two networks
    labels = ms.obs["cluster"].astype(str)
    assert set(labels[ms.obs["weight_seed"] == 0]).isdisjoint(labels[ms.obs["weight_seed"] == 1])
    assert ms.uns["cluster"]["params"]["within"] == ["weight_seed", "density"]


def test_masks_pooled_across_networks_would_cluster_by_network():
    """Why per network: one network's masks cluster by method, the other's do not. Clustered
    per network, the first scores 1 and the second near 0 with a large p; one clustering of
    both networks (``tl.cluster``) finds the networks and says nothing of the methods."""
    ms = two_networks(np.random.default_rng(1), planted=(True, False))
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=499, rng=5).set_index("stratum")
    assert (
        table.loc["weight seed 0 · density 0.5", "ari"] == 1.0
        and table.loc["weight seed 0 · density 0.5", "p_value"] < 0.05
    )
    assert (
        table.loc["weight seed 1 · density 0.5", "ari"] < 0.5
        and table.loc["weight seed 1 · density 0.5", "p_value"] > 0.05
    )
    pooled = tl.cluster(ms, n_clusters=2, copy=True)
    # (one network's unplanted masks are far apart: one of them may join the other network)
    assert adjusted_rand_score(ms.obs["weight_seed"], pooled.obs["cluster"]) > 0.75
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
        ps += list(table.loc[table["stratum"] != "all", "p_value"])
        joint.append(float(table.loc[table["stratum"] == "all", "p_value"].iloc[0]))
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
    table = tl.group_clusters(ms, n_permutations=999, rng=0).set_index("stratum")
    assert (
        table.loc[["weight seed 0 · density 0.5", "weight seed 1 · density 0.5"], "p_value"] > 0.004
    ).all()
    assert table.loc["all", "p_value"] <= 0.002
    assert table.loc["all", "chance_ari"] == pytest.approx(
        table.loc[["weight seed 0 · density 0.5", "weight seed 1 · density 0.5"], "chance_ari"].mean()
    )


def test_a_network_of_one_mask_per_group_gets_no_row_and_leaves_the_mean_defined():
    ms = two_networks(np.random.default_rng(0))
    ms.obs["method"] = [
        f"m{i}" if w == 0 else m for i, (w, m) in enumerate(zip(ms.obs["weight_seed"], ms.obs["method"]))
    ]
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=99)
    assert list(table["stratum"]) == ["weight seed 1 · density 0.5"] and table["ari"].notna().all()


def test_one_network_keeps_plain_labels_and_records_its_linkage():
    ms = two_networks(np.random.default_rng(0))
    ms = ms[np.flatnonzero(ms.obs["weight_seed"].to_numpy() == 0)]
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=99)
    assert list(table["stratum"]) == ["weight seed 0 · density 0.5"]  # no "all" row
    assert set(ms.obs["cluster"].astype(str)) == {"1", "2"}
    linkage = ms.uns["cluster"]["linkage"][(0, 0.5)]
    assert linkage["Z"].shape == (9, 4) and sorted(linkage["obs_names"]) == sorted(ms.obs.index)


def test_seeds_and_densities_that_are_missing_or_rounded_form_their_own_strata():
    ms = two_networks(np.random.default_rng(0))
    obs = ms.obs.copy()
    obs["density"] = obs["density"].astype(object)
    obs.iloc[:10, obs.columns.get_loc("density")] = 0.30000000000000004  # network 0: 0.1 + 0.2
    obs.iloc[10:15, obs.columns.get_loc("density")] = np.nan  # method x of network 1
    obs.iloc[15:, obs.columns.get_loc("density")] = 0.5
    ms.obs = obs
    tl.distances(ms)
    table = tl.group_clusters(ms, n_permutations=99)
    assert list(table["stratum"]) == ["weight seed 0 · density 0.3"]  # the others hold one group
    assert str(table["weight_seed"].dtype) == "Int64" and table["density"].iloc[0] == 0.3
    labels = ms.obs["cluster"].astype(str)
    assert set(labels[10:15]) == {"weight seed 1 · density unknown:1"}
    ms.obs = obs.assign(weight_seed=[np.nan] * 10 + [1] * 10)
    table = tl.group_clusters(ms, n_permutations=99)
    assert list(table["stratum"]) == ["weight seed unknown · density 0.3"]
    assert pd.isna(table["weight_seed"].iloc[0])


def test_groups_of_two_densities_are_never_clustered_together():
    """Independent random masks of two densities are apart for their counts alone: one
    clustering of both would "find" the groups (ARI 1); per density there is nothing to test.
    Masks keeping every weight (weight training) are identical and are left out too."""
    rng = np.random.default_rng(4)
    sparse = rng.random((6, LAYOUT.n_weights)) < 0.2
    wide = rng.random((6, LAYOUT.n_weights)) < 0.8
    full = np.ones((6, LAYOUT.n_weights), dtype=bool)
    obs = pd.DataFrame({"method": ["x"] * 6 + ["y"] * 6 + ["dense"] * 3 + ["kstarts"] * 3,
                        "density": [0.2] * 6 + [0.8] * 6 + [1.0] * 6, "weight_seed": 0})  # fmt: skip
    obs.index = [f"m{i}" for i in range(len(obs))]
    ms = make_maskset(np.concatenate([sparse, wide, full]), LAYOUT, obs)
    tl.distances(ms, metric=("jaccard", "hamming"))
    pooled = tl.cluster(ms[np.arange(12)], metric="hamming", n_clusters=2, copy=True)
    assert adjusted_rand_score(obs["method"][:12], pooled.obs["cluster"]) == 1.0
    assert tl.group_clusters(ms, metric="hamming").empty and tl.group_clusters(ms).empty
    labels = ms.obs["cluster"].astype(str)
    assert set(labels[:6]) == {"density 0.2:1"} and set(labels[12:]) <= {"density 1:1", "density 1:2"}


def test_one_seed_drawn_by_two_initialisers_is_two_networks():
    """Edge-Popup's signed constants and Biprop's Kaiming normal values of one weight seed are
    different weights: masks of each overlap their own, not the other's, so one clustering of
    both "finds" the methods (ARI 1) for the weights alone. They are two strata of one group
    each: nothing to test, and each keeps its own clusters and linkage."""
    rng = np.random.default_rng(5)
    dense, obs = [], []
    for init in ("signed_constant", "kaiming_normal"):
        centre = half(rng)  # each initialiser's weights: its own centre
        dense.append(np.stack([moved(centre, 0.1, rng) for _ in range(5)]))
        method = "edge_popup" if init == "signed_constant" else "biprop"
        obs.append(pd.DataFrame({"method": method, "density": 0.5, "weight_seed": 0, "model.weight_init": init},
                                index=range(5)))  # fmt: skip
    obs = pd.concat(obs, ignore_index=True)
    obs.index = [f"m{i}" for i in range(10)]
    ms = make_maskset(np.concatenate(dense), LAYOUT, obs)
    tl.distances(ms)
    pooled = tl.cluster(ms, n_clusters=2, copy=True)
    assert adjusted_rand_score(obs["method"], pooled.obs["cluster"]) == 1.0
    assert tl.group_clusters(ms, n_permutations=99).empty
    linkage = ms.uns["cluster"]["linkage"]
    assert set(linkage) == {((0, "signed_constant"), 0.5), ((0, "kaiming_normal"), 0.5)}
    labels = ms.obs["cluster"].astype(str)
    assert set(labels[:5]) <= {"weight seed 0 · init signed_constant:1"}
    assert ms.uns["cluster"]["params"]["within"] == ["weight_seed", "model.weight_init", "density"]
    # with a second method over each initialiser's weights, each network gets its own row
    more = make_maskset(
        np.concatenate([ms.dense(), ms.dense()]),
        LAYOUT,
        pd.concat([obs, obs.assign(method=obs["method"] + "_iwr")]).set_axis([f"m{i}" for i in range(20)]),
    )
    tl.distances(more)
    table = tl.group_clusters(more, n_permutations=99)
    assert list(table["stratum"]) == [
        "weight seed 0 · init signed_constant · density 0.5",
        "weight seed 0 · init kaiming_normal · density 0.5",
        "all",
    ]
    assert list(table["weight_init"][:2]) == ["signed_constant", "kaiming_normal"]


def test_clusters_and_their_tests_do_not_depend_on_the_order_of_the_masks():
    # a small layout: few distinct distances, so hierarchical clustering meets many ties
    layout = Layout([("fc1", (8, 16)), ("out", (10,))])
    rng = np.random.default_rng(0)
    rows, obs = [], []
    for w in (0, 1):
        for density in (0.3, 0.5):
            base = {m: rng.random(layout.n_weights) < density for m in "xyz"}
            for m in "xyz":
                for s in range(12):
                    near = rng.random(layout.n_weights) < 0.8
                    rows.append(np.where(near, rng.random(layout.n_weights) < density, base[m]))
                    obs.append({"method": m, "density": density, "weight_seed": w, "search_seed": s})
    ms = make_maskset(np.array(rows), layout, pd.DataFrame(obs, index=[f"m{i}" for i in range(len(rows))]))
    tl.distances(ms, metric=("jaccard", "hamming"))
    shuffled = ms[rng.permutation(len(ms))]
    just_one = ms[np.flatnonzero((ms.obs["weight_seed"] == 1) & (ms.obs["density"] == 0.5))]
    for metric in ("jaccard", "hamming"):
        tables = [
            tl.group_clusters(m, metric=metric, n_permutations=99).set_index("stratum")
            for m in (ms, shuffled)
        ]
        strata = [s for s in tables[0].index if s != "all"]
        # the same numbers; only the groups are listed in the order the set meets them
        pd.testing.assert_frame_equal(tables[0].loc[strata].drop(columns="groups"),
                                      tables[1].loc[strata].drop(columns="groups"))  # fmt: skip
        assert tables[0].loc["all", "ari"] == tables[1].loc["all", "ari"]
        labels = {name: ms.obs.loc[name, "cluster"] for name in ms.obs.index}
        assert all(shuffled.obs.loc[name, "cluster"] == labels[name] for name in shuffled.obs.index)
        # a stratum's p-value is the same when the set holds no other stratum
        alone = tl.group_clusters(just_one, metric=metric, n_permutations=99).iloc[0]
        assert (
            alone[["ari", "p_value"]].tolist() == tables[0].loc[alone["stratum"], ["ari", "p_value"]].tolist()
        )
        for m in (ms, shuffled):
            tl.cluster(m, metric=metric, n_clusters=5)
        assert all(shuffled.obs.loc[n, "cluster"] == ms.obs.loc[n, "cluster"] for n in ms.obs.index)
