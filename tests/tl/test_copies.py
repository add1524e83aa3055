"""A mask stored in two runs counts once when the runs are pooled."""

import numpy as np
import pandas as pd
import pytest

from landscape import tl
from landscape.copies import copy_positions, pooled_groups
from landscape.store.layout import Layout
from tests.tl.conftest import make_maskset

LAYOUT = Layout([("a", (60,)), ("b", (4, 25))])
POOL = ("method", "density")


def masks_of_two_runs(dense, runs=("a",) * 5 + ("b",) * 5, weight_seeds=(0,) * 10):
    """Random-mask runs ``a`` (3 epochs) and ``b`` (5 epochs): the null model reads neither."""
    n = len(dense)
    obs = pd.DataFrame(
        {
            "run_id": list(runs),
            "method": "random",
            "density": 0.5,
            "train.epochs": [3 if r == "a" else 5 for r in runs],
            "weight_seed": list(weight_seeds),
            "search_seed": [k % 5 for k in range(n)],
            "test_acc": np.linspace(0.1, 0.2, n),
        }
    )
    return make_maskset(dense, LAYOUT, obs)


def two_runs_of_the_same_masks():
    masks = np.random.default_rng(0).random((5, LAYOUT.n_weights)) < 0.5
    return masks_of_two_runs(np.concatenate([masks, masks])), masks


def test_pooled_copies_count_once_and_the_output_says_so():
    ms, masks = two_runs_of_the_same_masks()
    tl.distances(ms, per_layer=True)
    alone = tl.diversity(ms, copy=True)  # one group per run: nothing changes
    assert alone["n_masks"].tolist() == [5] * 6
    pooled = tl.diversity(ms, groupby=POOL, copy=True)
    whole = pooled[pooled["layer"] == "whole"].iloc[0]
    # the pairs of run A alone, not 45 pairs of which 5 are a mask with itself (similarity 1)
    assert whole["n_masks"] == 5 and whole["n_pairs"] == 10 and whole["n_twin_pairs"] == 0
    assert whole["similarity"] == pytest.approx(alone[alone["layer"] == "whole"]["similarity"].iloc[0])
    assert whole["similarity_max"] < 1
    assert whole["pooled"] == (
        "epochs 3, 5; 5 masks repeating another run's bit for bit left out (one mask counts once)"
    )
    np.testing.assert_array_equal(copy_positions(ms, POOL), [5, 6, 7, 8, 9])
    assert copy_positions(ms).size == 0
    # every tool over a pooled group's masks sees the same five
    assert tl.typicality(ms, groupby=POOL)["n_masks"].unique().tolist() == [5]
    assert tl.consensus(ms, groupby=POOL)["n_masks"].unique().tolist() == [5]  # per layer


def test_only_bit_identical_masks_of_two_runs_are_copies():
    _, masks = two_runs_of_the_same_masks()
    other = masks.copy()
    other[1, 0] ^= True  # one weight apart: another mask
    masks[3] = other[3] = True  # every weight kept: equal by construction, never a copy
    (group,) = pooled_groups(masks_of_two_runs(np.concatenate([masks, other])), POOL)
    # left out: B's copies of A's masks 0, 2, 4 (mask 1 differs, mask 3 keeps every weight)
    assert group.copies == (5, 7, 9)
    np.testing.assert_array_equal(np.setdiff1d(np.arange(10), group.positions), [5, 7, 9])


def test_a_mask_repeated_inside_one_run_stays_and_one_of_another_network_goes():
    _, masks = two_runs_of_the_same_masks()
    dense = np.concatenate([masks, masks])
    # one run's business (pooled with nothing): not a copy of another run's mask
    one_run = masks_of_two_runs(dense, runs=("a",) * 10)
    assert copy_positions(one_run, POOL).size == 0
    # one file imported twice: each import numbers its own networks, so the copies sit in
    # "another network", which would agree with the first exactly (an interval of width 0)
    two_networks = masks_of_two_runs(dense, weight_seeds=(0,) * 5 + (1,) * 5)
    tl.distances(two_networks, per_layer=True)
    np.testing.assert_array_equal(copy_positions(two_networks, POOL), [5, 6, 7, 8, 9])
    (group,) = pooled_groups(two_networks, POOL)
    assert list(group.networks) == [0] and group.copies == (5, 6, 7, 8, 9)
    summary = tl.diversity(two_networks, groupby=POOL, copy=True)
    assert summary["n_masks"].unique().tolist() == [5] and summary["weight_seed"].unique().tolist() == [0]


def test_clusters_and_the_random_baseline_count_a_copy_once():
    ms, _ = two_runs_of_the_same_masks()
    tl.distances(ms, per_layer=True)
    tl.group_clusters(ms, groupby=POOL)
    assert ms.obs["cluster"].isna().tolist() == [False] * 5 + [True] * 5  # copies: no cluster
    baseline = tl.random_baseline(ms, groupby=POOL)
    assert baseline["n_pairs"].unique().tolist() == [10]


def test_analyze_pools_two_random_runs_that_differ_only_in_epochs_as_one_set(tmp_path, capsys):
    """Real searches: the random null model never reads train.epochs, so two runs that differ
    only in it hold the same masks; pooled, the masks count once (and their accuracies)."""
    from landscape.cli import main

    runs = tmp_path / "runs"
    for epochs in (3, 5):
        sets = ["--set", "method.name=random", "--set", f"train.epochs={epochs}"]
        main(["search", "configs/digits_mlp_edge_popup.yaml", "--runs", str(runs), "--search-seeds", "0-3",
              "--quiet", *sets])  # fmt: skip
    capsys.readouterr()
    main(["analyze", str(runs), "--groupby", "method", "density"])
    text = capsys.readouterr().out
    assert "8 masks in 2 runs, 1 groups" in text
    assert "4 of them repeat masks of another pooled run bit for bit" in text
    accuracy = text.split("test accuracy")[1].split("\n\n")[0]
    assert "  random      4         1 " in accuracy
    jaccard = text.split("Jaccard similarity")[1].split("\n\n")[0]
    assert "  random      4         1 " in jaccard and "twins" not in jaccard
