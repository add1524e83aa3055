"""Twins across methods: masks of two methods from one search seed share a planted subset;
the tool finds it beside within-method and other-seed similarity at chance."""

from __future__ import annotations

import numpy as np
import pytest

from landscape import tl
from landscape.tl.cross_method import COMPARISONS, OTHER, SAME, TWIN_EFFECT, WITHIN_A, WITHIN_B
from tests.pl.planted import T, twins, twins_jaccard


def test_same_seed_twins_stand_out_against_within_and_other_seed_similarity():
    ms = twins()
    table = tl.cross_method(ms)
    assert list(dict.fromkeys(table["comparison"])) == [*COMPARISONS, TWIN_EFFECT]
    one = table[table["weight_seed"] == 0].set_index("comparison")
    chance = 1 / 3  # independent masks at density 0.5: d / (2 - d)
    assert one.loc[WITHIN_A, "chance_similarity"] == pytest.approx(chance, abs=1e-3)
    for comp in (WITHIN_A, WITHIN_B, OTHER):  # the twin subsets are random sets: chance
        assert one.loc[comp, "similarity"] == pytest.approx(chance, abs=0.01)
        assert one.loc[comp, "ci_low"] < chance < one.loc[comp, "ci_high"]
    assert one.loc[SAME, "similarity"] == pytest.approx(twins_jaccard(T), abs=0.01)
    assert one.loc[SAME, "ci_low"] > one.loc[OTHER, "ci_high"]
    assert one.loc[TWIN_EFFECT, "similarity"] == pytest.approx(twins_jaccard(T) - chance, abs=0.015)
    assert one[["n_pairs", "n_seeds"]].loc[[WITHIN_A, OTHER, SAME]].values.tolist() == [
        [10, 5],
        [20, 5],
        [5, 5],
    ]
    assert set(table["method_a"]) == {"edge_popup"} and set(table["method_b"]) == {"biprop"}
    summary = ms.uns["cross_method"]["summary"].set_index("comparison")
    assert summary.loc[SAME, "n_networks"] == 2 and summary.loc[SAME, "interval"] == "networks"
    per_net = table[table["comparison"] == SAME]["similarity"]
    assert summary.loc[SAME, "similarity"] == pytest.approx(per_net.mean())
    assert summary.loc[SAME, "sd_networks"] == pytest.approx(per_net.std(ddof=1))


def test_seeds_in_one_method_only_and_other_densities_are_handled():
    ms = twins(seeds_a=range(5), seeds_b=range(3), networks=(0,), extra_density=True)
    table = tl.cross_method(ms)
    # only equal densities are compared: the density-0.25 Biprop run pairs with nothing
    assert set(zip(table["group_a"], table["group_b"])) == {
        ("edge_popup · density 0.5", "biprop · density 0.5")
    }
    rows = table.set_index("comparison")
    assert rows.loc[SAME, "n_seeds"] == 3 and rows.loc[SAME, "n_pairs"] == 3
    assert rows.loc[OTHER, "n_pairs"] == 5 * 3 - 3
    summary = ms.uns["cross_method"]["summary"].set_index("comparison")
    assert (
        summary.loc[SAME, "interval"] == "seeds" and summary.loc[SAME, "ci_low"] == rows.loc[SAME, "ci_low"]
    )
    # the jackknife over seeds of a plain mean (twin pairs share no mask) is the usual t interval
    from scipy import stats

    names = ms.obs.index
    sim = 1 - ms.obsp["dist_jaccard"]
    pairs = [
        sim[names.get_loc(f"edge_popup1000/w0/s{s}"), names.get_loc(f"biprop1000/w0/s{s}")] for s in range(3)
    ]
    half = stats.t.ppf(0.975, 2) * np.std(pairs, ddof=1) / np.sqrt(3)
    assert rows.loc[SAME, "ci_high"] - rows.loc[SAME, "similarity"] == pytest.approx(half)
    assert tl.cross_method(ms, match=()).shape[0] > table.shape[0]  # unmatched: every pair of groups


def test_twins_over_weights_drawn_by_two_initialisers_say_so():
    from landscape import pl

    ms = twins()
    assert tl.cross_method(ms)["same_weights"].all()  # obs names no initialiser: one rule
    init = np.where(ms.obs["method"] == "edge_popup", "signed_constant", "kaiming_normal")
    ms.obs["model.weight_init"] = init
    table = tl.cross_method(ms)
    # the same numbers, flagged: one seed draws each method its own weights
    assert not table["same_weights"].any() and not ms.uns["cross_method"]["summary"]["same_weights"].any()
    notes = " ".join(pl.notes_of(pl.cross_method(ms)))
    assert "one weight seed draws different weights for each (signed_constant vs kaiming_normal)" in notes
    assert "not as subnetworks of one network" in notes
    ms.obs["model.weight_init"] = "kaiming_normal"
    assert tl.cross_method(ms)["same_weights"].all()
    assert "different weights" not in " ".join(pl.notes_of(pl.cross_method(ms)))
