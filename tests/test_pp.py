import numpy as np
import pandas as pd
import pytest

from landscape import pp
from landscape.errors import AnalysisError
from landscape.maskset import MaskSet
from landscape.store.layout import Layout

LAYOUT = Layout([("a", (3, 7)), ("b", (65,)), ("c", (5,))])


@pytest.fixture
def ms():
    rng = np.random.default_rng(0)
    dense = rng.random((6, LAYOUT.n_weights)) < 0.4
    obs = pd.DataFrame({"method": list("xxyyzz"), "test_acc": [0.9, 0.5, 0.8, np.nan, 0.95, 0.7]})
    return MaskSet.from_dense(dense, LAYOUT, obs), dense


def test_subset_forms(ms):
    ms, dense = ms
    ms.obsp["d"] = np.arange(36.0).reshape(6, 6)
    a = pp.subset(ms, "method == 'y'")
    b = pp.subset(ms, {"method": ["y"]})
    c = pp.subset(ms, ms.obs["method"].to_numpy() == "y")
    for out in (a, b, c):
        assert len(out) == 2
        np.testing.assert_array_equal(out.dense(), dense[2:4])
        np.testing.assert_array_equal(out.obsp["d"], [[14, 15], [20, 21]])
    assert len(ms) == 6
    with pytest.raises(AnalysisError, match="nocol"):
        pp.subset(ms, {"nocol": 1})
    with pytest.raises(AnalysisError, match="where"):
        pp.subset(ms, "method +")


def test_filter_accuracy_drops_missing(ms):
    ms, _ = ms
    out = pp.filter_accuracy(ms, 0.75)
    assert list(out.obs["test_acc"]) == [0.9, 0.8, 0.95]


def test_sample_is_reproducible(ms):
    ms, _ = ms
    a, b = pp.sample(ms, 3, rng=5), pp.sample(ms, 3, rng=np.random.default_rng(5))
    assert list(a.obs.index) == list(b.obs.index) and len(a) == 3
    assert list(a.obs.index) == sorted(a.obs.index, key=list(ms.obs.index).index)
    with pytest.raises(AnalysisError):
        pp.sample(ms, 7, rng=0)


def test_layers_repacks(ms):
    ms, dense = ms
    out = pp.layers(ms, ["c", "a"])
    assert out.layout.names == ["a", "c"] and out.layout.n_weights == 26
    np.testing.assert_array_equal(out.dense(layer="c"), dense[:, -5:])
    np.testing.assert_array_equal(out.dense(layer="a"), dense[:, :21])
    np.testing.assert_array_equal(out.obs["n_kept"], dense[:, :21].sum(1) + dense[:, -5:].sum(1))
    assert list(out.obs["method"]) == list(ms.obs["method"])
    with pytest.raises(AnalysisError, match="zzz"):
        pp.layers(ms, "zzz")
