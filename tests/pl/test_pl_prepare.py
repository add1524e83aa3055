"""The numbers each plot draws, checked on hand-made data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from landscape.errors import AnalysisError
from landscape.pl._baseline import chance_distance
from landscape.pl.accuracy import _prepare_accuracy_vs
from landscape.pl.barriers import _prepare_barrier_matrix, _prepare_barrier_vs_distance
from landscape.pl.consensus import _prepare_selection_frequency
from landscape.pl.distances import _prepare_chance_levels, _prepare_distance_distribution
from landscape.pl.embedding import _prepare_embedding, is_categorical
from landscape.pl.heatmap import _prepare_similarity_heatmap
from landscape.pl.interpolation import _prepare_interpolation
from landscape.pl.overlap import _prepare_layer_baseline, _prepare_layer_overlap


def sym(values: dict[tuple[int, int], float], n: int) -> np.ndarray:
    m = np.zeros((n, n))
    for (i, j), v in values.items():
        m[i, j] = m[j, i] = v
    return m


# similarity heatmap -------------------------------------------------------------------------


def test_heatmap_puts_each_group_in_its_triangle():
    # masks 0,1,2 in group a; 3,4,5 in group b
    dist = sym({(0, 1): 0.1, (0, 2): 0.2, (1, 2): 0.3, (3, 4): 0.4, (3, 5): 0.5, (4, 5): 0.6, (0, 3): 0.9}, 6)
    labels = pd.Series(list("aaabbb"), index=[f"m{i}" for i in range(6)])
    data = _prepare_similarity_heatmap(dist, labels, lower="a", upper="b")
    expected = np.array([[np.nan, 0.6, 0.5], [0.9, np.nan, 0.4], [0.8, 0.7, np.nan]])
    np.testing.assert_allclose(data.matrix, expected)
    assert data.lower_index == ["m0", "m1", "m2"] and data.upper_index == ["m3", "m4", "m5"]


def test_heatmap_distances_and_unequal_groups_use_the_smaller_size():
    dist = sym({(0, 1): 0.1, (0, 2): 0.2, (1, 2): 0.3, (3, 4): 0.4}, 5)
    labels = pd.Series(list("aaabb"))
    data = _prepare_similarity_heatmap(dist, labels, lower="a", upper="b", similarity=False)
    assert data.matrix.shape == (2, 2)
    assert data.matrix[1, 0] == pytest.approx(0.1) and data.matrix[0, 1] == pytest.approx(0.4)
    assert np.isnan(np.diag(data.matrix)).all()


def test_heatmap_order_and_seed_ticks():
    dist = sym({(0, 1): 0.1, (0, 2): 0.2, (1, 2): 0.3}, 3)
    labels = pd.Series(list("aaa"))
    seeds = pd.Series([2, 0, 1], name="search_seed")
    data = _prepare_similarity_heatmap(dist, labels, order=np.array([1, 2, 0]), seeds=seeds)
    assert data.lower == data.upper == "a"
    assert data.ticklabels == ["0", "1", "2"] and data.tick_title == "search seed"
    # rows are masks 1, 2, 0: entry (row 1, col 0) is pair (2, 1)
    assert data.matrix[1, 0] == pytest.approx(1 - 0.3) and data.matrix[0, 1] == pytest.approx(1 - 0.3)
    assert data.matrix[2, 0] == pytest.approx(1 - 0.1)


def test_heatmap_groups_can_be_named_by_their_method():
    dist = sym({(0, 1): 0.1, (2, 3): 0.4}, 4)
    labels = pd.Series(["edge_popup · init signed_constant"] * 2 + ["biprop · init kaiming_normal"] * 2)
    data = _prepare_similarity_heatmap(dist, labels, lower="biprop", upper="edge_popup")
    assert data.lower == "biprop · init kaiming_normal" and data.matrix[1, 0] == pytest.approx(0.6)
    with pytest.raises(AnalysisError, match="several groups 'edge_popup'"):
        _prepare_similarity_heatmap(
            dist, pd.Series(["edge_popup · epochs 1"] * 2 + ["edge_popup · epochs 2"] * 2), lower="edge_popup"
        )


def test_heatmap_rejects_unknown_group_and_tiny_groups():
    dist = np.zeros((3, 3))
    with pytest.raises(AnalysisError, match="no group 'z'"):
        _prepare_similarity_heatmap(dist, pd.Series(list("aab")), lower="z")
    with pytest.raises(AnalysisError, match=">= 2 masks"):
        _prepare_similarity_heatmap(dist, pd.Series(list("aab")), lower="a", upper="b")


def test_heatmap_never_pairs_masks_of_different_networks():
    # a: masks 0-3, b: masks 4-7; networks 0, 1, 0, 1 in each group
    n = 8
    dist = np.full((n, n), 0.5)
    np.fill_diagonal(dist, 0.0)
    labels = pd.Series(list("aaaabbbb"), index=[f"m{i}" for i in range(n)])
    nets = pd.Series([0, 1, 0, 1] * 2, name="weight_seed")
    seeds = pd.Series([0, 0, 1, 1] * 2, name="search_seed")
    order = np.array([0, 2, 1, 3, 4, 6, 5, 7])  # seed order: by network, then search seed
    data = _prepare_similarity_heatmap(dist, labels, "a", "b", order=order, seeds=seeds, networks=nets)
    assert data.networks == [0, 0, 1, 1]
    assert data.lower_index == ["m0", "m2", "m1", "m3"] and data.upper_index == ["m4", "m6", "m5", "m7"]
    assert data.ticklabels == ["w0/s0", "w0/s1", "w1/s0", "w1/s1"]
    same = np.equal.outer(data.networks, data.networks)
    assert np.isfinite(data.matrix[same & ~np.eye(4, dtype=bool)]).all()
    assert np.isnan(data.matrix[~same]).all()  # no cell pairs a w0 mask with a w1 mask
    # a network holding fewer than two masks of a group gives no block
    with pytest.raises(AnalysisError, match="one network"):
        _prepare_similarity_heatmap(dist[:2, :2], pd.Series(list("aa")), networks=pd.Series([0, 1]))


# per-layer overlap ---------------------------------------------------------------------------


def test_layer_overlap_mean_min_max_over_pairs():
    n = 4
    dist = np.zeros((n, n, 2))
    dist[..., 0] = sym({(0, 1): 0.2, (0, 2): 0.4, (1, 2): 0.6, (0, 3): 0.9}, n)
    dist[..., 1] = sym({(0, 1): 0.5, (0, 2): 0.5, (1, 2): 0.5}, n)
    labels = pd.Series(list("aaab"))  # group b has one mask: no pairs
    data = _prepare_layer_overlap(dist, labels, ["l0", "l1"])
    assert list(data["group"]) == ["a", "a"]
    first = data.iloc[0]
    assert first["mean"] == pytest.approx(0.6) and first["min"] == pytest.approx(0.4)
    assert first["max"] == pytest.approx(0.8) and first["n_pairs"] == 3
    assert first["sd"] == pytest.approx(np.std([0.8, 0.6, 0.4], ddof=1))
    assert data.iloc[1]["mean"] == pytest.approx(0.5) and data.iloc[1]["layer"] == "l1"


def test_layer_baseline_matches_random_jaccard_and_merges_equal_densities():
    sizes = [4000, 1000]
    counts = np.array([[2000, 500], [2000, 500], [2000, 500], [2000, 500], [400, 100], [400, 100]])
    labels = pd.Series(["ep", "ep", "bp", "bp", "sparse", "sparse"])
    base = _prepare_layer_baseline(counts, sizes, labels, ["l0", "l1"], "jaccard", similarity=True)
    assert list(dict.fromkeys(base["groups"])) == ["ep, bp", "sparse"]
    half = base[base["groups"] == "ep, bp"]
    # two random masks at density d have Jaccard similarity ~ d / (2 - d)
    np.testing.assert_allclose(half["mean"], 1 / 3, atol=2e-3)
    sparse = base[base["groups"] == "sparse"]
    np.testing.assert_allclose(sparse["mean"], 0.1 / 1.9, atol=2e-3)
    assert (base["lo"] < base["mean"]).all() and (base["mean"] < base["hi"]).all()


# chance level --------------------------------------------------------------------------------


def test_chance_hamming_is_exact():
    level = chance_distance("hamming", 100, 30, 30)
    assert level.mean == pytest.approx(2 * 0.3 * 0.7, abs=1e-9)
    var_i = stats.hypergeom(100, 30, 30).var()
    assert level.sd == pytest.approx(2 * np.sqrt(var_i) / 100, rel=1e-6)


def test_chance_jaccard_agrees_with_simulation():
    rng = np.random.default_rng(1)
    n, k = 500, 100
    inter = stats.hypergeom(n, k, k).rvs(size=20000, random_state=rng)
    sim = 1 - inter / (2 * k - inter)
    level = chance_distance("jaccard", n, k, k)
    assert level.mean == pytest.approx(sim.mean(), abs=4 * sim.std() / np.sqrt(len(sim)))
    assert level.sd == pytest.approx(sim.std(), rel=0.05)
    assert level.lo == pytest.approx(np.quantile(sim, 0.025), abs=0.01)
    assert level.hi == pytest.approx(np.quantile(sim, 0.975), abs=0.01)


def test_chance_whole_network_sums_layers():
    rng = np.random.default_rng(2)
    n, k = np.array([3000, 800]), np.array([1500, 100])
    inter = sum(stats.hypergeom(a, b, b).rvs(size=20000, random_state=rng) for a, b in zip(n, k))
    sim = 1 - inter / (2 * k.sum() - inter)
    level = chance_distance("jaccard", n, k, k)
    assert level.mean == pytest.approx(sim.mean(), abs=1e-3)
    assert level.sd == pytest.approx(sim.std(), rel=0.05)
    similarity = level.as_similarity()
    assert similarity.mean == pytest.approx(1 - level.mean) and similarity.lo == pytest.approx(1 - level.hi)


def test_chance_rejects_bad_counts():
    with pytest.raises(AnalysisError):
        chance_distance("jaccard", 10, 11, 3)
    with pytest.raises(AnalysisError, match="cosine"):
        chance_distance("cosine", 10, 3, 3)


# distance distribution -----------------------------------------------------------------------


def test_distance_distribution_lists_within_group_pairs():
    dist = sym({(0, 1): 0.1, (0, 2): 0.2, (1, 2): 0.3, (3, 4): 0.7, (0, 4): 0.99}, 5)
    data = _prepare_distance_distribution(dist, pd.Series(list("aaabb")))
    a = data[data["group"] == "a"]
    assert sorted(a["value"]) == pytest.approx([0.1, 0.2, 0.3])
    b = data[data["group"] == "b"]
    assert list(zip(b["i"], b["j"])) == [(3, 4)] and b["value"].iloc[0] == pytest.approx(0.7)
    sim = _prepare_distance_distribution(dist, pd.Series(list("aaabb")), similarity=True)
    assert sorted(sim["value"]) == pytest.approx([0.3, 0.7, 0.8, 0.9])


def test_chance_levels_band_is_two_sd():
    counts = np.array([[50, 10], [50, 10], [20, 5], [20, 5]])
    chance = _prepare_chance_levels(counts, np.array([100, 20]), pd.Series(list("aabb")), "hamming")
    a = chance.iloc[0]
    assert a["mean"] == pytest.approx(2 * 0.5 * 0.5, abs=1e-9)  # both layers at density 0.5
    assert a["hi"] - a["mean"] == pytest.approx(2 * a["sd"]) and a["mean"] - a["lo"] == pytest.approx(
        2 * a["sd"]
    )
    assert chance.iloc[1]["mean"] == pytest.approx(2 * 0.2 * 0.8 * (100 / 120) + 2 * 0.25 * 0.75 * (20 / 120))


# embedding -----------------------------------------------------------------------------------


def test_embedding_kinds_and_dims():
    coords = np.arange(12.0).reshape(4, 3)
    assert is_categorical(pd.Series(["a", "b"])) and is_categorical(pd.Series([0, 1, 0]))
    assert not is_categorical(pd.Series([0.1, 0.2])) and not is_categorical(pd.Series(range(50)))
    data = _prepare_embedding(coords, pd.Series([3, 1, 3, 2]), dims=(2, 0))
    assert data.categorical and data.categories == ["1", "2", "3"]
    np.testing.assert_allclose(data.frame["x"], coords[:, 2])
    np.testing.assert_allclose(data.frame["y"], coords[:, 0])
    cont = _prepare_embedding(coords, pd.Series([0.5, 0.6, 0.7, 0.8]))
    assert not cont.categorical and cont.frame["value"].tolist() == [0.5, 0.6, 0.7, 0.8]
    with pytest.raises(AnalysisError):
        _prepare_embedding(coords, pd.Series([1, 2, 3, 4]), dims=(0, 3))


# interpolation and barriers ------------------------------------------------------------------


def curves_frame() -> pd.DataFrame:
    rows = []
    for pair, (i, j), bump in ((0, (0, 1), 1.0), (1, (0, 2), 3.0), (2, (1, 3), 5.0)):
        for path in ("linear", "swap"):
            for alpha in (0.0, 0.5, 1.0):
                loss = 1.0 + (bump if alpha == 0.5 else 0.0) + (0.5 if path == "swap" else 0.0)
                rows.append(
                    {
                        "pair": pair,
                        "i": i,
                        "j": j,
                        "path": path,
                        "alpha": alpha,
                        "split": "test",
                        "loss": loss,
                        "acc": 0.9 - 0.1 * loss,
                    }
                )
    return pd.DataFrame(rows)


def test_interpolation_means_over_pairs_per_group_and_path():
    labels = pd.Series(["a", "a", "a", "b"])
    data = _prepare_interpolation(curves_frame(), labels, "loss", "test")
    mid = data[(data["group"] == "a") & (data["path"] == "linear") & (data["alpha"] == 0.5)].iloc[0]
    assert mid["mean"] == pytest.approx(1 + 2.0) and mid["n_pairs"] == 2
    assert mid["sd"] == pytest.approx(np.std([2.0, 4.0], ddof=1))
    cross = data[(data["group"] == "a × b") & (data["path"] == "swap") & (data["alpha"] == 0.5)].iloc[0]
    assert cross["mean"] == pytest.approx(6.5) and cross["sd"] == 0.0
    acc = _prepare_interpolation(curves_frame(), labels, "acc", None)
    assert acc["mean"].max() <= 0.8 + 1e-12
    with pytest.raises(AnalysisError, match="split"):
        _prepare_interpolation(curves_frame(), labels, "loss", "train")


def test_interpolation_accepts_obs_names():
    frame = curves_frame()
    names = ["m0", "m1", "m2", "m3"]
    frame["i"] = [names[i] for i in frame["i"]]
    frame["j"] = [names[j] for j in frame["j"]]
    data = _prepare_interpolation(frame, pd.Series(list("aaab"), index=names), "loss", "test")
    assert set(data["group"]) == {"a", "a × b"}


def test_barrier_matrix_has_one_panel_per_group_with_only_interpolated_masks():
    m = np.full((6, 6), np.nan)
    m[0, 2] = m[2, 0] = 0.5  # group a: masks 0 and 2 (mask 4 of a takes part in no pair)
    m[1, 3] = m[3, 1] = 0.25  # group b
    m[1, 5] = m[5, 1] = 0.75
    data = _prepare_barrier_matrix(m, pd.Series(["a", "b", "a", "b", "a", "b"]))
    assert [p.group for p in data.panels] == ["a", "b"]  # no empty a × b block
    a, b = data.panels
    assert a.rows.tolist() == [0, 2] and a.matrix[0, 1] == 0.5 and np.isnan(a.matrix[0, 0])
    assert b.rows.tolist() == [1, 3, 5] and b.matrix[0, 2] == 0.75 and np.isnan(b.matrix[1, 2])
    # pairs across groups get a panel of their own; excluded groups are named, not drawn
    m[0, 1] = m[1, 0] = 0.1
    data = _prepare_barrier_matrix(m, pd.Series(["a", "b", "a", "b", "a", "b"]), exclude={"b": "random"})
    assert [p.group for p in data.panels] == ["a"] and data.left_out == {"b": "random"}
    data = _prepare_barrier_matrix(m, pd.Series(["a", "b", "a", "b", "a", "b"]))
    cross = next(p for p in data.panels if p.group == "a × b")
    assert cross.rows.tolist() == [0] and cross.cols.tolist() == [1] and cross.matrix[0, 0] == 0.1


def test_barrier_vs_distance_picks_split_and_metric():
    table = pd.DataFrame(
        {
            "i": [0, 0],
            "j": [1, 2],
            "path": ["linear", "linear"],
            "split": ["test", "train"],
            "hamming": [0.4, 0.5],
            "barrier_loss": [0.1, 0.2],
            "barrier_acc": [0.01, 0.02],
        }
    )
    data = _prepare_barrier_vs_distance(table, pd.Series(list("aab")), "acc", "test")
    assert data.to_dict("records") == [{"group": "a", "path": "linear", "hamming": 0.4, "barrier": 0.01}]


# accuracy vs density / width -----------------------------------------------------------------


def test_accuracy_vs_density_means_and_dense_level():
    obs = pd.DataFrame(
        {
            "method": ["edge_popup"] * 4 + ["biprop"] * 2 + ["dense"] * 2,
            "density": [0.5, 0.5, 0.1, 0.1, 0.5, 0.5, 1.0, 0.5],
            "test_acc": [0.8, 0.9, 0.6, 0.7, 0.85, 0.85, 0.95, 0.97],
        }
    )
    data = _prepare_accuracy_vs(obs, "density", "test_acc")
    ep = data.curves[data.curves["group"] == "edge_popup"]
    assert ep["x"].tolist() == [0.1, 0.5] and ep["mean"].tolist() == pytest.approx([0.65, 0.85])
    assert ep["sd"].tolist() == pytest.approx([np.std([0.6, 0.7], ddof=1)] * 2)
    assert list(dict.fromkeys(data.curves["group"])) == ["edge_popup", "biprop"]
    assert data.dense_kind == "line" and data.dense["mean"].iloc[0] == pytest.approx(0.96)


def test_accuracy_vs_width_draws_dense_as_a_curve():
    obs = pd.DataFrame(
        {
            "method": ["edge_popup", "edge_popup", "dense", "dense", "dense"],
            "model.width_mult": [0.5, 1.0, 0.5, 1.0, 1.0],
            "test_acc": [70.0, 80.0, 75.0, 85.0, 87.0],
        }
    )
    data = _prepare_accuracy_vs(obs, "model.width_mult", "test_acc")
    assert data.dense_kind == "curve"
    assert data.dense["x"].tolist() == [0.5, 1.0] and data.dense["mean"].tolist() == [75.0, 86.0]
    # a second dense configuration (another dataset) is its own curve, not averaged in
    other = obs[obs["method"] == "dense"].assign(test_acc=[40.0, 50.0, 52.0])
    both = pd.concat([obs.assign(**{"data.name": "digits"}), other.assign(**{"data.name": "mnist1d"})])
    two = _prepare_accuracy_vs(both.reset_index(drop=True), "model.width_mult", "test_acc")
    assert two.dense_kind == "curve" and two.dense["group"].nunique() == 2
    by_group = {g: part["mean"].tolist() for g, part in two.dense.groupby("group", sort=False)}
    assert list(by_group.values()) == [[75.0, 86.0], [40.0, 51.0]]
    assert [g.split(" · ")[-1] for g in by_group] == ["data digits", "data mnist1d"]
    none = _prepare_accuracy_vs(obs, "model.width_mult", "test_acc", dense_line=None)
    assert none.dense_kind is None and set(none.curves["group"]) == {"edge_popup", "dense"}
    with pytest.raises(AnalysisError, match="val_acc"):
        _prepare_accuracy_vs(obs, "model.width_mult", "val_acc")


# selection frequency -------------------------------------------------------------------------


def test_selection_frequency_histogram_and_binomial_null():
    freq = {"l0": np.array([0, 1, 2, 2, 4, 4, 4, 3]), "l1": np.array([0, 0, 4, 4])}
    data = _prepare_selection_frequency(freq, n_masks=4)
    assert data["k"].tolist() == [0, 1, 2, 3, 4]
    assert data["n_weights"].tolist() == [3, 1, 2, 1, 5]
    assert data["fraction"].sum() == pytest.approx(1.0) and data["expected"].sum() == pytest.approx(1.0)
    d0, d1 = 20 / 32, 8 / 16
    mix = (8 * stats.binom.pmf(range(5), 4, d0) + 4 * stats.binom.pmf(range(5), 4, d1)) / 12
    np.testing.assert_allclose(data["expected"], mix)
    with pytest.raises(AnalysisError, match="outside"):
        _prepare_selection_frequency(np.array([0, 5]), n_masks=4)
