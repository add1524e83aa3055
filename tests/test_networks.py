"""Which masks share random weights: a weight seed and the rule it draws by."""

import numpy as np
import pandas as pd

from landscape.networks import network_keys, network_text, network_values, same_weights, within_column


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
