"""The intervals and the test of tl.diversity on synthetic masks whose truth is known.

Masks of a planted structure (a shared template every mask draws from, by a per-mask
amount) have an exact expected similarity; independent uniform masks are the null. The
numbers asserted here are documented, with larger runs, in docs/statistics.md.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from landscape import tl
from landscape.maskset import MaskSet
from landscape.store.layout import Layout
from landscape.tl import _stats
from landscape.tl._chance_moments import jaccard_exact
from landscape.tl._planted import expected_jaccard, planted_masks

N, K, T = 400, 120, 150
LAYOUT = Layout([("w", (N,))])


def many_sets(rng, n_sets, m, levels, networks=1):
    """One MaskSet holding ``n_sets`` independent sets (runs) of ``m`` masks per network."""
    dense, obs = [], []
    for s in range(n_sets):
        for w in range(networks):
            dense.append(planted_masks(rng, m, N, K, T, levels))
            obs += [{"run_id": f"set{s}", "weight_seed": w, "search_seed": q} for q in range(m)]
    ms = MaskSet.from_dense(np.vstack(dense), LAYOUT, pd.DataFrame(obs))
    tl.distances(ms, metric="jaccard")
    return ms


def test_leave_one_out_means_and_jackknife_match_a_direct_computation():
    rng = np.random.default_rng(0)
    sim = rng.random((6, 6, 2))
    sim = (sim + sim.transpose(1, 0, 2)) / 2
    loo = _stats.leave_one_out_means(sim)
    for k in range(6):
        keep = [i for i in range(6) if i != k]
        assert np.allclose(loo[k], _stats.pair_means(sim[np.ix_(keep, keep)]))
    se = np.sqrt(5 / 6 * ((loo - loo.mean(0)) ** 2).sum(0))
    assert np.allclose(_stats.jackknife_se(sim), se)
    assert np.isnan(_stats.jackknife_se(sim[:2, :2])).all()  # no interval from two masks


def test_interval_covers_a_planted_overlap_at_about_its_nominal_rate():
    levels = (60, 80)  # masks differ in how much of the template they take
    truth = expected_jaccard(N, K, T, levels)
    chance = 1 - jaccard_exact(N, K, K)[0]
    table = tl.diversity(many_sets(np.random.default_rng(1), 300, 10, levels), metric="jaccard")
    assert len(table) == 300 and (table["n_masks"] == 10).all()
    covered = (table["similarity_ci_low"] <= truth) & (truth <= table["similarity_ci_high"])
    assert 0.92 <= covered.mean() <= 0.975
    excess = (table["excess_ci_low"] <= truth - chance) & (truth - chance <= table["excess_ci_high"])
    assert 0.92 <= excess.mean() <= 0.975
    assert (table["excess_similarity"] > 0).mean() > 0.99 and (table["p_value"] < 0.05).all()


def test_interval_is_conservative_when_masks_are_exchangeable():
    levels = (70,)  # every mask takes the same share: no mask is more typical than another
    truth = expected_jaccard(N, K, T, levels)
    table = tl.diversity(many_sets(np.random.default_rng(2), 200, 8, levels), metric="jaccard")
    covered = (table["similarity_ci_low"] <= truth) & (truth <= table["similarity_ci_high"])
    assert covered.mean() >= 0.95


def test_the_test_keeps_its_level_under_the_null():
    table = tl.diversity(many_sets(np.random.default_rng(3), 600, 8, None), metric="jaccard")
    level = (table["p_value"] < 0.05).mean()
    assert 0.03 <= level <= 0.07  # 600 sets: the binomial sd of the level is 0.009
    assert abs(table["excess_similarity"].mean()) < 3 * table["excess_similarity"].std() / np.sqrt(600)


def test_across_networks_is_a_t_interval_over_networks():
    ms = many_sets(np.random.default_rng(4), 3, 6, (60, 80), networks=4)
    per_network = tl.diversity(ms, metric="jaccard")
    summary = ms.uns["diversity"]["summary"]
    assert len(per_network) == 12 and len(summary) == 3
    row = summary.iloc[0]
    values = per_network[per_network["run_id"] == "set0"]["excess_similarity"].to_numpy()
    half = stats.t.ppf(0.975, 3) * values.std(ddof=1) / 2
    assert row["n_networks"] == 4 and row["interval"] == "networks"
    assert row["excess_similarity"] == pytest.approx(values.mean())
    assert row["excess_ci_low"] == pytest.approx(values.mean() - half)
    assert row["excess_ci_high"] == pytest.approx(values.mean() + half)
    assert row["n_pairs"] == 4 * 15  # pairs never cross networks
