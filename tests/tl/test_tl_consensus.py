"""The consensus null: each mask at its own density in each layer (Poisson-binomial)."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from landscape import pl, tl
from landscape.store.layout import Layout
from landscape.tl.consensus import compare_with_binomial, compare_with_null, count_pmf
from tests.tl.conftest import make_maskset


def brute_pmf(densities):
    """Number of masks keeping a weight, by enumerating every subset of the masks."""
    m = len(densities)
    pmf = np.zeros(m + 1)
    for keep in itertools.product([0, 1], repeat=m):
        pmf[sum(keep)] += np.prod([p if k else 1 - p for p, k in zip(densities, keep)])
    return pmf


def independent_masks(rng, densities, n):
    """One mask per density, each keeping exactly ``density * n`` weights chosen uniformly."""
    dense = np.zeros((len(densities), n), dtype=bool)
    for i, d in enumerate(densities):
        dense[i, rng.choice(n, int(round(d * n)), replace=False)] = True
    return dense


def test_count_pmf_is_the_poisson_binomial():
    densities = [0.1, 0.5, 0.5, 0.9, 0.3, 0.0, 1.0]
    np.testing.assert_allclose(count_pmf(densities), brute_pmf(densities), atol=1e-15)
    np.testing.assert_allclose(count_pmf(np.full(12, 0.37)), stats.binom.pmf(np.arange(13), 12, 0.37))
    assert count_pmf([]).tolist() == [1.0]


def test_equal_densities_give_the_binomial_formulas():
    rng = np.random.default_rng(2)
    m, p = 6, 0.4
    freq = rng.binomial(m, p, size=3000)
    summary, hist = compare_with_null(freq, np.full(m, p))
    assert summary["frac_all_null"] == pytest.approx(p**m)
    assert summary["frac_none_null"] == pytest.approx((1 - p) ** m)
    assert summary["dispersion"] == pytest.approx(freq.var() / (m * p * (1 - p)))
    np.testing.assert_allclose(hist["expected"], 3000 * stats.binom.pmf(np.arange(m + 1), m, p))
    cdf = stats.binom.cdf(np.arange(m + 1), m, p)
    observed = np.bincount(freq, minlength=m + 1)
    assert summary["ks"] == pytest.approx(np.max(np.abs(np.cumsum(observed) / 3000 - cdf)))
    assert compare_with_binomial(freq, m, p)[0] == summary


def test_independent_masks_of_two_densities_pooled_look_independent():
    # Five masks at density 0.5 and five at 0.3, drawn independently. Pooled, the count of masks
    # keeping a weight is Poisson-binomial, narrower than Binomial(10, 0.4): a binomial null at
    # the mean density reports dispersion 0.95 and chi-square p ~ 4e-4 on these masks.
    rng = np.random.default_rng(0)
    densities = [0.5, 0.3] * 5
    n = 20000
    dense = independent_masks(rng, densities, n)
    obs = pd.DataFrame(
        {"run_id": [f"r{d}" for d in densities], "weight_seed": 0, "search_seed": range(10),
         "method": "ep", "density": densities}
    )  # fmt: skip
    ms = make_maskset(dense, Layout([("w", (n,))]), obs)
    row = tl.consensus(ms, groupby=("method",)).iloc[0]
    assert row["n_masks"] == 10 and row["density"] == pytest.approx(0.4)
    assert row["frac_all_null"] == pytest.approx(0.5**5 * 0.3**5)
    assert row["frac_none_null"] == pytest.approx(0.5**5 * 0.7**5)
    assert row["dispersion"] == pytest.approx(1, abs=0.02)
    assert row["chi2_pvalue"] > 0.05
    assert row["density_min"] == pytest.approx(0.3) and row["density_max"] == pytest.approx(0.5)
    hist = ms.uns["consensus"]["ep"]["hist"]["w"]
    np.testing.assert_allclose(hist["expected"], n * brute_pmf(densities), rtol=1e-9)
    # the plot draws the same null
    data = pl.data_of(pl.selection_frequency(ms, group="ep"))
    np.testing.assert_allclose(data["expected"], brute_pmf(densities), rtol=1e-9)


def test_each_layer_uses_each_masks_own_density_there():
    # Global top-k: the masks split their kept weights differently between the layers.
    layout = Layout([("a", (8,)), ("b", (12,))])
    rng = np.random.default_rng(5)
    dense = rng.random((4, 20)) < rng.uniform(0.2, 0.8, size=(4, 1))
    ms = make_maskset(dense, layout)
    table = tl.consensus(ms, groupby=None).set_index("layer")
    for name, cols in (("a", slice(0, 8)), ("b", slice(8, 20))):
        p = dense[:, cols].mean(axis=1)
        pmf = brute_pmf(p)
        freq = dense[:, cols].sum(axis=0)
        row = table.loc[name]
        assert row["frac_all_null"] == pytest.approx(np.prod(p))
        assert row["frac_none_null"] == pytest.approx(np.prod(1 - p))
        assert row["dispersion"] == pytest.approx(freq.var() / np.sum(p * (1 - p)))
        ks = np.max(np.abs(np.cumsum(np.bincount(freq, minlength=5)) / freq.size - np.cumsum(pmf)))
        assert row["ks"] == pytest.approx(ks)


def test_chi_square_of_independent_fixed_count_masks_rejects_at_its_level():
    # Masks with exactly k kept weights: their counts fix the histogram's mean, which costs the
    # test a degree of freedom; counted as bins - 1 it rejected 2-3% of these sets at 5%.
    rng = np.random.default_rng(7)
    m, n, k, sets = 4, 400, 120, 1000
    rejected = 0
    for _ in range(sets):
        freq = np.zeros(n, dtype=np.int64)
        for _ in range(m):
            freq[rng.choice(n, k, replace=False)] += 1
        summary, _ = compare_with_null(freq, np.full(m, k / n))
        assert summary["chi2_dof"] == m + 1 - 2  # five bins (the last, expected 3.2, pooled alone)
        rejected += summary["chi2_pvalue"] < 0.05
    assert 0.035 < rejected / sets < 0.065
