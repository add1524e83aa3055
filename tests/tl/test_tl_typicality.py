"""Typicality of a mask and its relation to accuracy, on hand-checked masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from landscape import tl
from landscape.maskset import MaskSet
from landscape.store.layout import Layout
from landscape.tl.typicality import consensus_similarity, spearman_test


def small(masks: list[str], acc=None, networks=None) -> MaskSet:
    bits = np.array([[c == "1" for c in m] for m in masks])
    n = len(masks)
    obs = pd.DataFrame(
        {
            "run_id": "r",
            "method": "edge_popup",
            "weight_seed": networks if networks is not None else [0] * n,
            "search_seed": range(n),
            "test_acc": acc if acc is not None else np.linspace(0.5, 0.9, n),
        },
        index=[f"r/m{i}" for i in range(n)],
    )
    ms = MaskSet.from_dense(bits, Layout([("fcs.0", (2, len(masks[0]) // 2))]), obs)
    tl.distances(ms)
    return ms


def test_consensus_of_the_others_by_hand():
    ms = small(["11110000", "11101000", "11000100"])
    # m0: the others vote 2,2,1,0,1,1,0,0; kept by at least half of 2 -> 11101100; J = 3/6
    # m1: votes 2,2,1,1,0,1,0,0 -> 11110100, J = 3/6; m2: votes 2,2,2,1,1,0,0,0 -> 11111000, J = 2/6
    np.testing.assert_allclose(consensus_similarity(ms, np.arange(3)), [0.5, 0.5, 1 / 3])
    np.testing.assert_allclose(consensus_similarity(ms, np.arange(3), "hamming"), [5 / 8, 5 / 8, 4 / 8])
    tl.typicality(ms)
    sim = 1 - ms.obsp["dist_jaccard"]
    expected = [(sim[k].sum() - 1) / 2 for k in range(3)]
    np.testing.assert_allclose(ms.obs["typicality"], expected)
    np.testing.assert_allclose(ms.obs["consensus_similarity"], [0.5, 0.5, 1 / 3])


def test_exact_permutation_test_and_the_across_network_row():
    masks = ["0111000100", "1011001000", "1101010000", "1110100000", "1111000000"]
    ms = small(masks, acc=[0.9, 0.8, 0.7, 0.6, 0.5])
    table = tl.typicality(ms)
    row = table[table["measure"] == "typicality"].iloc[0]
    rho_expected = pd.Series(ms.obs["typicality"]).rank().corr(ms.obs["test_acc"].rank())
    assert row["spearman"] == pytest.approx(rho_expected)
    # exact over the 5! orderings: p is a multiple of 1 / 120
    assert row["p_value"] * 120 == pytest.approx(round(row["p_value"] * 120)) and row["n_networks"] == 1
    two = small(masks * 2, acc=[0.9, 0.8, 0.7, 0.6, 0.5] * 2, networks=[0] * 5 + [1] * 5)
    table = tl.typicality(two)
    rows = table[table["measure"] == "typicality"]
    assert rows["weight_seed"].astype(str).tolist() == ["0", "1", "all"]
    both = rows.iloc[-1]
    assert both["n_networks"] == 2 and both["n_masks"] == 10
    assert both["spearman"] == pytest.approx(rows.iloc[:2]["spearman"].mean())


def test_a_perfect_relation_is_found_and_no_relation_is_not():
    x = np.arange(6.0)
    rho, p = spearman_test([(x, 0.1 * x)], 999, np.random.default_rng(0))
    assert rho == 1 and p == pytest.approx(2 / 720)
    rho, p = spearman_test([(x, 0.1 * x), (x, 0.2 * x)], 999, np.random.default_rng(0))
    assert rho == 1 and p == pytest.approx(1 / 1000)  # no permutation of either network is as extreme
    rho, p = spearman_test([(x, np.array([3.0, 1, 4, 1, 5, 9]))], 999, np.random.default_rng(0))
    assert -1 < rho < 1 and p > 0.05
    assert np.isnan(spearman_test([(x[:2], x[:2])], 99, np.random.default_rng(0))[0])  # too few masks


def test_the_across_network_row_counts_only_the_networks_it_uses():
    # Network 2's masks all have one accuracy, so it has no rank correlation: the "all" row's
    # mean, interval, masks and networks are those of networks 0 and 1.
    rng = np.random.default_rng(0)
    masks = ["".join("1" if b else "0" for b in rng.random(40) < 0.5) for _ in range(15)]
    acc = rng.random(15)
    acc[10:] = 0.5
    ms = small(masks, acc=acc, networks=np.repeat([0, 1, 2], 5))
    table = tl.typicality(ms, n_permutations=199)
    for measure in ("typicality", "consensus_similarity"):
        rows = table[table["measure"] == measure]
        rows = rows.set_index(rows["weight_seed"].astype(str))
        rhos = rows.loc[["0", "1"], "spearman"].to_numpy()
        assert np.all(np.isfinite(rhos)) and np.isnan(rows.loc["2", "spearman"])
        both = rows.loc["all"]
        assert both["n_networks"] == 2 and both["n_masks"] == 10
        assert both["n_networks_dropped"] == 1 and both["dropped"] == "weight seed 2: equal accuracies"
        assert both["spearman"] == pytest.approx(rhos.mean())
        half = stats.t.ppf(0.975, 1) * rhos.std(ddof=1) / np.sqrt(2)
        assert both["ci_low"] == pytest.approx(rhos.mean() - half)
        assert both["ci_high"] == pytest.approx(rhos.mean() + half)
        assert rows.loc["2", "n_networks"] == 0 and rows.loc["2", "dropped"] == "equal accuracies"
