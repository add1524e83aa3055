import numpy as np
import pandas as pd
import pytest

from landscape import tl
from landscape.errors import AnalysisError
from landscape.store.layout import Layout
from tests.tl.conftest import make_maskset

LAYOUT = Layout([("a", (60,)), ("b", (4, 25))])


def planted(rng, n_per=6, flip=0.05):
    """Three clusters: noisy copies of three random centres."""
    centres = rng.random((3, LAYOUT.n_weights)) < 0.5
    dense = np.repeat(centres, n_per, axis=0)
    dense ^= rng.random(dense.shape) < flip
    obs = pd.DataFrame({"method": np.repeat(["x", "y", "z"], n_per), "density": 0.5})
    return make_maskset(dense, LAYOUT, obs), dense


def test_diversity_table():
    ms, dense = planted(np.random.default_rng(0))
    with pytest.raises(AnalysisError, match="tl.distances"):
        tl.diversity(ms)
    tl.distances(ms, per_layer=True)
    table = tl.diversity(ms, metric="hamming")
    assert ms.uns["diversity"]["table"] is table
    assert list(table["group"].unique()) == ["x", "y", "z"]  # the field that differs, not ids
    assert set(table["layer"]) == {"whole", "a", "b"}
    row = table[(table["method"] == "y") & (table["layer"] == "whole")].iloc[0]
    block = 1 - ms.obsp["dist_hamming"][6:12, 6:12][np.triu_indices(6, 1)]
    assert row["n_pairs"] == 15 and row["n_masks"] == 6
    assert row["similarity"] == pytest.approx(block.mean())
    assert row["similarity_max"] == block.max() and row["similarity_min"] == block.min()
    assert row["chance_similarity"] == pytest.approx(0.5, abs=0.03)
    assert row["excess_similarity"] == pytest.approx(row["similarity"] - row["chance_similarity"])
    assert row["excess_similarity"] > 0.3  # noisy copies overlap far more than chance
    assert row["excess_ci_low"] < row["excess_similarity"] < row["excess_ci_high"]
    assert row["excess_ci_low"] > 0 and row["p_value"] < 1e-6
    assert "z" not in table and "mean" not in table  # similarity columns only, named as such
    pooled = tl.diversity(ms, groupby=None, copy=True)
    assert len(pooled) == 3 and pooled["n_pairs"].iloc[0] == 153
    assert pooled["pooled"].iloc[0] == "method x, y, z"  # the output names what was pooled
    with pytest.raises(AnalysisError, match="nothere"):
        tl.diversity(ms, groupby="nothere")


def test_consensus_on_a_known_example():
    layout = Layout([("w", (2, 3))])
    dense = np.array(
        [[1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 1], [1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 1, 1]], dtype=bool
    )
    ms = make_maskset(dense, layout)
    table = tl.consensus(ms, groupby=None)
    freq = ms.uns["consensus"]["all masks"]["freq"]["w"]
    assert freq.dtype == np.uint16 and freq.shape == (2, 3)
    np.testing.assert_array_equal(freq.ravel(), [4, 2, 0, 2, 3, 2])
    row = table.iloc[0]
    assert row["density"] == pytest.approx(13 / 24)
    assert row["frac_all"] == pytest.approx(1 / 6) and row["frac_none"] == pytest.approx(1 / 6)
    # the masks keep 3, 3, 3 and 4 of the 6 weights: the null is the count of kept weights
    # when mask i keeps each with its own density p_i
    p = np.array([3, 3, 3, 4]) / 6
    assert row["frac_all_null"] == pytest.approx(np.prod(p))
    assert row["frac_none_null"] == pytest.approx(np.prod(1 - p))
    pmf = np.convolve(np.convolve([0.5, 0.5], [0.5, 0.5]), np.convolve([0.5, 0.5], [1 / 3, 2 / 3]))
    hist = ms.uns["consensus"]["all masks"]["hist"]["w"]
    np.testing.assert_array_equal(hist["observed"], [1, 0, 3, 1, 1])
    np.testing.assert_allclose(hist["expected"], 6 * pmf)
    assert row["ks"] == pytest.approx(np.max(np.abs(np.cumsum([1, 0, 3, 1, 1]) / 6 - np.cumsum(pmf))))


def test_consensus_of_independent_masks_looks_binomial():
    rng = np.random.default_rng(4)
    layout = Layout([("w", (20000,))])
    ms = make_maskset(rng.random((8, 20000)) < 0.3, layout)
    row = tl.consensus(ms, groupby=None).iloc[0]
    assert row["dispersion"] == pytest.approx(1, abs=0.05)
    assert row["chi2_pvalue"] > 1e-4


def test_cluster_recovers_planted_clusters():
    ms, _ = planted(np.random.default_rng(1))
    tl.distances(ms, metric="jaccard")
    tl.cluster(ms, n_clusters=3)
    labels = ms.obs["cluster"]
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    truth = ms.obs["method"].to_numpy()
    for t in "xyz":
        assert labels[truth == t].nunique() == 1
    assert labels.nunique() == 3
    assert ms.uns["cluster"]["linkage"].shape == (17, 4)
    tl.cluster(ms, threshold=0.9, key_added="coarse")
    assert ms.obs["coarse"].nunique() == 1
    with pytest.raises(AnalysisError, match="exactly one"):
        tl.cluster(ms)
