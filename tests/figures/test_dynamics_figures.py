"""The named figures of masks during their search and of seed attribution, from real runs:
built by ``landscape figures``, drawing the numbers of tl.trajectory and tl.seed_sources,
and skipped with the way to get their data where a runs root has none."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import landscape as ls
from landscape import pl
from landscape.cli import main
from landscape.config.seeds import BOTH
from landscape.figures import build_figures, figure_names
from landscape.pl.names import display_names
from tests.conftest import search_tiny

NAMES = ["similarity_over_training", "bits_flipped", "seed_attribution"]
SMALL = ["model.hidden=[16, 16]", "train.epochs=2", "train.batch_size=128", "train.snapshot_every=1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Edge-Popup and Biprop with snapshots, and Edge-Popup holding the data seed, then the
    score seed (three masks each)."""
    root = tmp_path_factory.mktemp("dynamics")
    seeds = range(3)
    search_tiny(root, "edge_popup", seeds, SMALL)
    search_tiny(root, "biprop", seeds, SMALL)
    search_tiny(root, "edge_popup", seeds, [*SMALL, "train.data_seed=0"])
    search_tiny(root, "edge_popup", seeds, [*SMALL, "method.score_seed=0"])
    return root


def test_dynamics_figures_are_named_figures_of_the_cli(runs, tmp_path, capsys):
    assert set(NAMES) <= set(figure_names())
    out = tmp_path / "figs"
    argv = ["figures", *NAMES, "--runs", str(runs), "--out", str(out), "--format", "png", "--dpi", "50"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for name in NAMES:
        assert f"{name}: {out / name}.png" in text and (out / f"{name}.png").stat().st_size > 0
    over_training = json.loads((out / "similarity_over_training.json").read_text())
    assert over_training["n_masks"] == 6 and len(over_training["run_ids"]) == 2  # the free runs
    attribution = json.loads((out / "seed_attribution.json").read_text())
    assert attribution["n_masks"] == 12 and len(attribution["run_ids"]) == 4  # every searched run
    # the numbers each figure drew, beside it, and the caption says what its bands run over
    for name in NAMES:
        record = json.loads((out / f"{name}.json").read_text())
        assert record["data_file"] == f"{name}.csv" and len(pd.read_csv(out / f"{name}.csv"))
        assert "95%" in (out / f"{name}.txt").read_text()
    caption = (out / "similarity_over_training.txt").read_text()
    assert "Left: Within-group similarity" in caption and "Right: Each mask beside" in caption
    # one network: the similarity bands are the jackknife over its masks, not a t over networks
    assert "95% CI over masks (delete-one-mask jackknife; one network each)" in caption
    assert "over networks" not in caption
    drawn = pd.read_csv(out / "similarity_over_training.csv")
    assert set(drawn["panel"]) == {"within-group similarity", "similarity with own masks"}
    assert set(pd.read_csv(out / "seed_attribution.csv")["varies"]) == {
        "scores + data order",
        "scores",
        "data order",
    }


def free_snapshots(runs):
    ms = ls.read_runs(runs)
    return ls.read_runs(runs, ms.obs["varies"] == BOTH, snapshots=True)


def test_lines_over_training_are_the_trajectory_numbers(runs):
    snaps = free_snapshots(runs)
    ls.tl.trajectory(snaps)
    table = snaps.uns["trajectory"]["similarity"]
    whole = table[table["layer"] == "whole"]
    assert set(whole["epoch"]) == {0, 1, 2} and whole["group"].nunique() == 2
    ax = pl.similarity_over_training(snaps, twins=False)
    lines = {line.get_label(): line for line in ax.get_lines()}
    shown = display_names(list(whole["group"].unique()))  # the legend shows display names
    assert set(shown.values()) == {"Edge-Popup", "Biprop"}
    for group, part in whole.groupby("group"):
        part = part.sort_values("epoch")
        np.testing.assert_allclose(lines[shown[group]].get_xdata(), part["epoch"])
        np.testing.assert_allclose(lines[shown[group]].get_ydata(), part["similarity"])
    groups = snaps.uns["trajectory"]["groups"]
    ax = pl.bits_flipped(snaps, log=False)
    lines = {line.get_label(): line for line in ax.get_lines()}
    flips = groups[(groups["layer"] == "whole") & groups["flips_per_epoch"].notna()]
    for group, part in flips.groupby("group"):
        part = part.sort_values("epoch")
        assert part["epoch"].tolist() == [1, 2]
        np.testing.assert_allclose(lines[shown[group]].get_ydata(), part["flips_per_epoch"])
    # on the log axis too, the numbers kept are the intervals as computed (not the drawn clip)
    kept = pl.data_of(pl.bits_flipped(snaps, log=True)).sort_values(["group", "epoch"])
    np.testing.assert_allclose(kept["low"], flips.sort_values(["group", "epoch"])["flips_per_epoch_ci_low"])


def test_attribution_points_are_the_seed_sources_numbers(runs):
    ms = ls.read_runs(runs, {"method": "edge_popup"})
    assert set(ms.obs["varies"]) == {"scores + data order", "scores", "data order"}
    ls.tl.seed_sources(ms)
    summary = ms.uns["seed_sources"]["summary"]
    whole = summary[(summary["layer"] == "whole") & (summary["varies"] != "nothing")].set_index("varies")
    ax = pl.seed_attribution(ms)
    drawn = {c.get_label(): np.asarray(c.lines[0].get_ydata(), dtype=float) for c in ax.containers}
    for varies, (label, _) in pl.dynamics.ATTRIBUTION.items():
        np.testing.assert_allclose(drawn[label], [whole.loc[varies, "similarity"]])


def test_figures_without_their_data_say_how_to_get_it(tiny_runs, tmp_path):
    built = build_figures(tiny_runs, NAMES, out=tmp_path, formats=("png",))
    reasons = dict(built.skipped)
    assert set(reasons) == set(NAMES) and not list(built)
    assert "train.snapshot_every" in reasons["similarity_over_training"]
    assert "train.snapshot_every" in reasons["bits_flipped"]
    assert "--score-seeds" in reasons["seed_attribution"]


def test_the_interval_words_follow_what_each_row_ran_over():
    from landscape.pl._common import interval_text

    nets = pd.DataFrame({"interval": ["networks", "networks"], "n_networks": [3, 4]})
    assert interval_text(nets, "95% CI") == "95% CI over 3–4 networks (weight seeds)"
    one = pd.DataFrame({"interval": ["networks"], "n_networks": [2]})
    assert interval_text(one) == "mean ± 95% CI over 2 networks (weight seeds)"
    masks = pd.DataFrame({"interval": ["masks"], "n_networks": [1]})
    assert interval_text(masks) == "mean ± 95% CI over masks (delete-one-mask jackknife; one network each)"
    mixed = pd.DataFrame({"interval": ["networks", "masks"], "n_networks": [3, 1]})
    assert "where a group has one network" in interval_text(mixed)
