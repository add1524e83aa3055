"""Which masks share random weights: a weight seed and the rule it draws by."""

import numpy as np
import pandas as pd

from landscape.networks import (
    draws_differ,
    network_keys,
    network_text,
    network_values,
    same_weights,
    within_column,
)


def test_one_initialiser_keeps_plain_weight_seeds():
    obs = pd.DataFrame({"weight_seed": [0, 1, 1.0, np.nan], "model.weight_init": "signed_constant"})
    assert network_keys(obs) == [0, 1, 1, None]
    assert network_values(obs) == [0, 1, 1, None] and within_column(obs) == "weight_seed"
    assert network_keys(pd.DataFrame(index=range(2))) == [None, None]  # no seeds: one network
    assert network_text(None) == "weight seed unknown" and network_text(3) == "weight seed 3"


def test_two_initialisers_of_one_seed_are_two_networks():
    # Edge-Popup's signed constants and Biprop's Kaiming normal values of one seed: other weights
    obs = pd.DataFrame(
        {
            "weight_seed": [0, 0, 1],
            "model.weight_init": ["signed_constant", "kaiming_normal", "kaiming_normal"],
        }
    )
    assert network_keys(obs) == [(0, "signed_constant"), (0, "kaiming_normal"), (1, "kaiming_normal")]
    assert network_values(obs)[1] == "weight seed 0 · init kaiming_normal"
    assert within_column(obs) == "network"
    assert not same_weights(obs, 0, 1) and same_weights(obs, 1, 2)
    assert same_weights(obs.drop(columns="model.weight_init"), 0, 1)


def test_figure_selections_count_networks_by_seed_and_initialiser():
    from landscape.figures.caption import selection_summary, selection_text

    obs = pd.DataFrame(
        {"method": ["edge_popup"] * 2 + ["biprop"] * 2, "weight_seed": 0,
         "model.weight_init": ["signed_constant"] * 2 + ["kaiming_normal"] * 2}
    )  # fmt: skip
    summary = selection_summary(obs)
    assert summary["n_networks"] == 2 and summary["weight_inits"] == ["kaiming_normal", "signed_constant"]
    assert (
        "4 masks in 2 networks (weight seed 0; drawn as kaiming_normal, signed_constant)"
        in selection_text(summary)
    )
    one = selection_summary(obs.iloc[:2])
    assert one["n_networks"] == 1 and "weight_inits" not in one
    assert "2 masks in 1 network (weight seed 0)" in selection_text(one)


def test_unrecorded_initialisers_are_never_taken_for_a_known_one():
    obs = pd.DataFrame(
        {"weight_seed": [0, 0, 0], "model.weight_init": ["signed_constant", "signed_constant", None]}
    )
    assert network_keys(obs) == [(0, "signed_constant"), (0, "signed_constant"), (0, "unknown")]
    assert same_weights(obs, 0, 1) and not same_weights(obs, 0, 2)
    assert same_weights(obs, [0, 1], [1]) and not same_weights(obs, [0], [1, 2])
    from landscape.figures.caption import selection_summary

    mixed = pd.DataFrame(
        {"weight_seed": [0, 1, np.nan], "model.weight_init": ["kaiming_normal", "signed_constant", None]}
    )
    summary = selection_summary(mixed)  # no crash on the missing initialiser
    assert summary["weight_inits"] == ["kaiming_normal", "signed_constant", "unknown"]
    assert summary["n_networks"] == 2 and summary["weight_seeds"] == [0, 1]


def test_a_pooled_group_over_two_initialisers_never_pairs_their_masks():
    from landscape import tl
    from landscape.grouping import group_masks
    from landscape.maskset import MaskSet
    from landscape.store.layout import Layout

    rng = np.random.default_rng(0)
    obs = pd.DataFrame(
        {"method": ["edge_popup"] * 3 + ["biprop"] * 3, "density": 0.5, "weight_seed": 0,
         "search_seed": [0, 1, 2] * 2, "model.weight_init": ["signed_constant"] * 3 + ["kaiming_normal"] * 3},
        index=[f"m{i}" for i in range(6)],
    )  # fmt: skip
    (group,) = group_masks(obs, "density")
    assert {k: v.tolist() for k, v in group.networks.items()} == {
        "weight seed 0 · init signed_constant": [0, 1, 2],
        "weight seed 0 · init kaiming_normal": [3, 4, 5],
    }
    ms = MaskSet.from_dense(rng.random((6, 40)) < 0.5, Layout([("fcs.0", (4, 10))]), obs)
    tl.distances(ms)
    per_network = tl.diversity(ms, groupby="density")
    assert per_network[per_network["layer"] == "whole"]["n_pairs"].tolist() == [3, 3]
    summary = ms.uns["diversity"]["summary"]
    whole = summary[summary["layer"] == "whole"].iloc[0]
    assert whole["n_networks"] == 2
    from landscape.pl._common import networks_of, within_pairs

    i, j = within_pairs(np.arange(6), networks_of(ms.obs))
    assert all((a < 3) == (b < 3) for a, b in zip(i, j)) and len(i) == 6


def test_embedding_panels_are_the_networks_the_embedding_was_made_in():
    from landscape import pl
    from landscape.analysis.summary import _mean_interval
    from landscape.maskset import MaskSet
    from landscape.store.layout import Layout
    from landscape.tl.embed import per_network

    rng = np.random.default_rng(1)
    obs = pd.DataFrame(
        {"method": "edge_popup", "density": 0.5, "weight_seed": [0, 0, 0, np.nan, np.nan, np.nan]},
        index=[f"m{i}" for i in range(6)],
    )
    ms = MaskSet.from_dense(rng.random((6, 40)) < 0.5, Layout([("fcs.0", (4, 10))]), obs)

    def one(part):
        coords = np.arange(2 * len(part), dtype=float).reshape(-1, 2)
        return coords, {"params": {"method": "mds"}, "eigenvalue_ratio": [0.5, 0.25]}

    coords, shares, _ = per_network(ms, one, min_masks=3)
    assert np.isfinite(coords).all() and set(shares["eigenvalue_ratio"]) == {0, None}
    ms.obsm["X_mds"] = coords
    ms.uns["mds"] = {"params": {"method": "mds", "within": "weight_seed"}, **shares}
    fig = pl.embedding(ms, basis="mds")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["network 0", "network of unknown weight seed"]
    assert all(len(ax.collections[0].get_offsets()) == 3 for ax in fig.axes if ax.get_visible())
    assert all("(50.0%)" in ax.get_xlabel() for ax in fig.axes if ax.get_visible())
    # accuracy over networks keeps the masks of unknown seed as a network of their own
    acc = pd.DataFrame({"test_acc": [0.9, 0.9, 0.5, 0.5], "weight_seed": [0, 0, np.nan, np.nan]})
    lo, hi = (float(x) for x in _mean_interval(acc).strip("[]").split(", "))
    assert lo < 0.7 < hi


def test_trained_members_are_named_by_their_initialisations():
    from landscape.tl._predictions import NETWORKS, ONE_INIT, trained_members

    obs = pd.DataFrame(
        {
            "weight_seed": [0, 0, 1],
            "model.weight_init": ["kaiming_normal", "kaiming_uniform", "kaiming_normal"],
        }
    )
    assert trained_members(obs, [0, 1]) == NETWORKS  # one seed, two draws: two initialisations
    assert trained_members(obs.assign(**{"model.weight_init": "kaiming_normal"}), [0, 1]) == ONE_INIT
    assert (
        trained_members(obs.assign(weight_seed=np.nan), [0, 1])
        == "trained networks (initialisations not recorded)"
    )


def test_per_network_labels_of_a_pooled_group_over_two_initialisers():
    from landscape import tl
    from landscape.maskset import MaskSet
    from landscape.pl.consensus import _base_groups
    from landscape.store.layout import Layout

    obs = pd.DataFrame(
        {"method": ["edge_popup"] * 3 + ["biprop"] * 3, "density": 0.5, "weight_seed": 0,
         "model.weight_init": ["signed_constant"] * 3 + ["kaiming_normal"] * 3},
        index=[f"m{i}" for i in range(6)],
    )  # fmt: skip
    ms = MaskSet.from_dense(np.random.default_rng(2).random((6, 40)) < 0.5, Layout([("fcs.0", (4, 10))]), obs)
    table = tl.consensus(ms, groupby="density")
    labels = list(dict.fromkeys(table["group"]))
    assert labels == [
        f"{labels[0].split(' · ')[0]} · weight seed 0 · init {i}"
        for i in ("signed_constant", "kaiming_normal")
    ]
    assert list(_base_groups(ms.uns["consensus"])) == [labels[0].split(" · ")[0]]


def test_imported_runs_number_their_networks_apart_from_every_other_run():
    # weight seed 0 of two imported runs and of a searched run, all "signed_constant": the
    # imported seeds number checkpoint weights within their own run, so three networks
    obs = pd.DataFrame(
        {
            "run_id": ["imp_a", "imp_a", "imp_b", "searched"],
            "origin.format": ["hidden_networks", "hidden_networks", "biprop", ""],
            "weight_seed": [0, 0, 0, 0],
            "model.weight_init": ["signed_constant"] * 4,
        }
    )
    keys = network_keys(obs)
    assert keys[0] == keys[1] and len({keys[0], keys[2], keys[3]}) == 3
    assert same_weights(obs, 0, 1) and not same_weights(obs, 0, 2) and not same_weights(obs, 2, 3)
    assert network_text(keys[2]) == "weight seed 0 · init signed_constant (imported, run imp_b)"
    # one imported run alone: its networks are its weight seeds, as for a searched run
    assert network_keys(obs.iloc[:2]) == [0, 0] and not draws_differ(obs.iloc[:2])
    # masks written from Python keep the seeds their author gave: one network with a search
    written = obs.assign(**{"origin.format": ["maskset", "maskset", "biprop", ""]})
    assert network_keys(written)[0] == network_keys(written)[3] != network_keys(written)[2]
    # a searched run's missing origin (older obs) is a searched run
    older = obs.assign(**{"origin.format": [None, None, "biprop", None]})
    assert network_keys(older)[0] == network_keys(older)[3]


def test_captions_and_unknown_draws_of_imported_runs():
    from landscape.figures.caption import selection_summary, selection_text

    obs = pd.DataFrame(
        {
            "run_id": ["imp", "imp", "searched", "searched"],
            "origin.format": ["arrays", "arrays", "", ""],
            "weight_seed": [0, 0, 0, 0],
            "search_seed": [0, 1, 0, 1],
            "model.weight_init": ["unknown", "unknown", "signed_constant", "signed_constant"],
        }
    )
    # an unknown initialiser is never taken for one network, imported or not
    assert not same_weights(obs, 0, 1) and same_weights(obs, 2, 3)
    summary = selection_summary(obs)
    assert summary["n_networks"] == 2 and summary["weight_inits"] == ["signed_constant", "unknown"]
    text = selection_text(summary)
    assert "(weight seed 0; drawn as signed_constant, unknown; 1 imported run over its own weights)" in text
    assert "(imported, run" not in text
