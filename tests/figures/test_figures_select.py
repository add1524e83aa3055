"""Accuracy figures never share an axes between two test sets, and their captions say which
dataset they show and how many networks (a weight seed at two widths draws two)."""

from __future__ import annotations

import pandas as pd
import pytest

from landscape.figures import build_figures
from landscape.figures.caption import selection_summary, selection_text
from landscape.figures.select import at_main_density, at_main_width
from tests.figures.conftest import make_paper_runs


def _obs(rows):
    return pd.DataFrame(rows, columns=["data.name", "method", "density", "model.width_mult"])


def test_the_density_figure_keeps_one_dataset_and_its_own_dense_reference():
    obs = _obs(
        [
            ("digits", "edge_popup", 0.1, 1.0),
            ("digits", "edge_popup", 0.5, 1.0),
            ("digits", "edge_popup", 0.5, 0.5),
            ("digits", "dense", 1.0, 1.0),
            ("mnist1d", "edge_popup", 0.5, 1.0),
            ("mnist1d", "edge_popup", 0.5, 1.0),
            ("mnist1d", "edge_popup", 0.5, 1.0),
            ("mnist1d", "dense", 1.0, 1.0),
        ]
    )
    # digits has two densities (mnist1d more masks but one): digits at width 1, its dense line
    assert at_main_width(obs).tolist() == [True, True, False, True, False, False, False, False]


def test_the_width_figure_keeps_the_dataset_with_the_most_widths():
    obs = _obs(
        [
            ("digits", "edge_popup", 0.5, 1.0),
            ("mnist1d", "edge_popup", 0.5, 0.5),
            ("mnist1d", "edge_popup", 0.5, 1.0),
            ("mnist1d", "edge_popup", 0.3, 1.0),
            ("mnist1d", "dense", 1.0, 0.5),
            ("digits", "dense", 1.0, 1.0),
        ]
    )
    assert at_main_density(obs).tolist() == [False, True, True, False, True, False]


def test_captions_name_the_dataset_shown_once_and_count_networks_per_layout():
    obs = pd.DataFrame(
        {
            "data.name": ["digits"] * 4,
            "model.width_mult": [0.5, 0.5, 1.0, 1.0],
            "weight_seed": [0, 0, 0, 0],
            "search_seed": [0, 1, 0, 1],
            "run_id": ["a", "a", "b", "b"],
        }
    )
    available = pd.concat([obs, obs.assign(**{"data.name": "mnist1d", "run_id": "c"})])
    summary = selection_summary(obs, available, layouts=[0, 0, 1, 1])
    # one weight seed at two widths: two networks
    assert summary["n_networks"] == 2 and summary["n_layouts"] == 2
    assert summary["chosen"]["dataset"] == {"value": "digits", "also_present": ["mnist1d"]}
    text = selection_text(summary, {"dataset": "the dataset with the most densities"})
    assert "4 masks of 2 configurations in 2 networks (weight seed 0; 2 layouts)." in text
    assert "Dataset digits shown (the dataset with the most densities); also present: mnist1d" in text
    assert selection_summary(obs, available)["n_networks"] == 1  # no layouts given: seeds alone
    # where a layout sentence names the dataset already, it is not named twice
    summary["layout"] = {"fields": ["data.name"], "value": {"data.name": "digits"}, "also_present": []}
    assert "Dataset digits shown" not in selection_text(summary)


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_datasets")
    ep = {"edge_popup": []}
    dense = {"dense": ["method.name=dense", "model.weight_init=kaiming_normal"]}
    make_paper_runs(root, methods=ep, densities=(0.1, 0.5), widths=(1.0,))
    make_paper_runs(root, methods=dense, densities=(1.0,), widths=(1.0,))
    for methods, density in ((ep, 0.5), (dense, 1.0)):
        make_paper_runs(
            root, methods=methods, densities=(density,), widths=(1.0,), extra=("data.name=mnist1d",)
        )
    return root


def test_the_accuracy_figure_of_a_root_with_two_datasets_draws_one(two_datasets, tmp_path):
    built = build_figures(two_datasets, ["accuracy_vs_density"], out=tmp_path, formats=("png",))
    text = built.captions["accuracy_vs_density"]
    assert "Selection: digits · mlp" in text
    assert "Dataset digits shown (the dataset with the most densities); also present: mnist1d" in text
    drawn = pd.read_csv(tmp_path / "accuracy_vs_density.csv")
    # 2 networks x 3 seeds of the digits dense run: the MNIST-1D dense run is not averaged in
    reference = drawn[drawn["reference"]]
    assert reference["group"].tolist() == ["dense (weights trained)"] and reference["n"].tolist() == [6]
    assert sorted(drawn.loc[~drawn["reference"], "x"]) == [0.1, 0.5]
    chosen = build_figures(
        two_datasets,
        ["accuracy_vs_density"],
        out=tmp_path / "m",
        formats=("png",),
        where="`data.name` == 'mnist1d'",
    )
    assert chosen.skipped and "two or more values of density" in chosen.skipped[0][1]


def test_a_caption_counts_the_epochs_of_masks_that_train_only():
    obs = pd.DataFrame(
        {
            "method.name": ["edge_popup", "random"],
            "method": ["edge_popup", "random"],
            "train.epochs": [30, 3],  # the random null model trains nothing: its 3 is no fact
            "weight_seed": [0, 0],
        }
    )
    assert selection_summary(obs)["epochs"] == [30]
    assert "epochs" not in selection_summary(obs.iloc[[1]])
