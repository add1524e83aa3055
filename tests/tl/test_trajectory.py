"""tl.trajectory on hand-made snapshots: flips, distances to the start and end, settling,
and the within-group similarity per epoch (the same numbers as tl.diversity on that epoch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import landscape as ls
from landscape.errors import AnalysisError
from landscape.maskset import MaskSet
from landscape.store.layout import Layout

LAYOUT = Layout([("a", (6,)), ("b", (4,))])

# one mask, three snapshots (epochs 0, 2, 3); 3 of 6 and 2 of 4 weights kept throughout
MASK = np.array(
    [
        [1, 1, 1, 0, 0, 0, 1, 1, 0, 0],  # epoch 0
        [1, 1, 0, 1, 0, 0, 1, 0, 1, 0],  # epoch 2: a swaps 1 in/1 out, b swaps 1 in/1 out
        [0, 1, 0, 1, 1, 0, 1, 0, 1, 0],  # epoch 3: a swaps 1 in/1 out, b unchanged
    ],
    dtype=bool,
)


def snapshot_set(masks: dict[int, np.ndarray], epochs=(0, 2, 3)) -> MaskSet:
    """Snapshots of masks ``{search_seed: (E, n) bool}`` of one configuration and network."""
    dense, rows = [], []
    for seed, snaps in masks.items():
        for epoch, row in zip(epochs, snaps):
            dense.append(row)
            rows.append(
                {"run_id": "r", "method": "edge_popup", "density": 0.5, "weight_seed": 0, "search_seed": seed,
                 "score_seed": seed, "data_seed": seed, "epoch": epoch, "mask": f"r/w0/s{seed}"}
            )  # fmt: skip
    obs = pd.DataFrame(rows, index=[f"{r['mask']}/e{r['epoch']}" for r in rows])
    return MaskSet.from_dense(np.array(dense), LAYOUT, obs)


def test_flips_and_distances_equal_a_hand_computation():
    ms = snapshot_set({0: MASK, 1: MASK})
    table = ls.tl.trajectory(ms)
    one = table[table["mask"] == "r/w0/s0"].set_index(["layer", "epoch"])
    # layer a: epoch 0 -> 2 flips bits 2 and 3 (2 of 6 weights), 2 -> 3 flips bits 0 and 4
    assert one.loc[("a", 2), "flipped"] == 2
    assert one.loc[("a", 2), "flip_fraction"] == pytest.approx(2 / 6)
    assert one.loc[("a", 2), "flips_per_epoch"] == pytest.approx(2 / 6 / 2)  # two epochs apart
    assert one.loc[("a", 3), "flip_fraction"] == pytest.approx(2 / 6)
    assert one.loc[("b", 2), "flip_fraction"] == pytest.approx(2 / 4)
    assert one.loc[("b", 3), "flipped"] == 0
    assert one.loc[("whole", 2), "flipped"] == 4 and one.loc[("whole", 2), "flip_fraction"] == pytest.approx(
        0.4
    )
    assert np.isnan(one.loc[("a", 0), "flip_fraction"])
    # turnover: 1 of the 3 kept weights of layer a dropped at each step; 1 of 2 in b at epoch 2
    assert one.loc[("a", 2), "turnover"] == pytest.approx(1 / 3)
    assert one.loc[("b", 2), "turnover"] == pytest.approx(1 / 2)
    assert one.loc[("a", 0), "remaining_turnover"] == pytest.approx(2 / 3)
    assert one.loc[("a", 2), "remaining_turnover"] == pytest.approx(1 / 3)
    # Jaccard with its own start and end: layer a at epoch 3 shares {1} with epoch 0 of {0,1,2}
    assert one.loc[("a", 3), "similarity_initial"] == pytest.approx(1 / 5)
    assert one.loc[("a", 2), "similarity_final"] == pytest.approx(2 / 4)
    assert one.loc[("whole", 3), "similarity_initial"] == pytest.approx(2 / 8)
    assert one.loc[("a", 0), "similarity_initial"] == 1.0 and one.loc[("a", 3), "similarity_final"] == 1.0


def test_hamming_similarity_is_the_fraction_that_agrees():
    ms = snapshot_set({0: MASK, 1: MASK})
    table = ls.tl.trajectory(ms, metric="hamming").set_index(["mask", "layer", "epoch"])
    assert table.loc[("r/w0/s0", "a", 3), "similarity_initial"] == pytest.approx(1 - 4 / 6)


def test_settling_epoch_is_the_first_after_which_little_changes():
    ms = snapshot_set({0: MASK, 1: MASK})
    ls.tl.trajectory(ms, settle=0.0)
    settled = ms.uns["trajectory"]["settling"].set_index(["mask", "layer"])
    assert settled.loc[("r/w0/s0", "b"), "settling_epoch"] == 2  # b does not change after epoch 2
    assert settled.loc[("r/w0/s0", "a"), "settling_epoch"] == 3
    assert not settled.loc[("r/w0/s0", "a"), "settled_before_end"]
    ls.tl.trajectory(ms, settle=0.4)  # a: 1/3 of its kept weights still change after epoch 2
    assert (
        ms.uns["trajectory"]["settling"].set_index(["mask", "layer"]).loc[("r/w0/s0", "a"), "settling_epoch"]
        == 2
    )


def test_within_group_similarity_per_epoch_equals_diversity_on_that_epoch():
    rng = np.random.default_rng(0)
    masks = {s: rng.random((3, LAYOUT.n_weights)) < 0.5 for s in range(5)}
    ms = snapshot_set(masks)
    ls.tl.trajectory(ms)
    per_epoch = ms.uns["trajectory"]["similarity"].set_index(["epoch", "layer"])
    for epoch in (0, 2, 3):
        sub = ms[(ms.obs["epoch"] == epoch).to_numpy()]
        ls.tl.distances(sub, per_layer=True)
        expected = ls.tl.diversity(sub).set_index("layer")
        for layer in ("whole", "a", "b"):
            for col in (
                "similarity",
                "similarity_ci_low",
                "chance_similarity",
                "excess_similarity",
                "p_value",
            ):
                assert per_epoch.loc[(epoch, layer), col] == pytest.approx(expected.loc[layer, col])


def test_group_summary_is_the_mean_over_masks():
    rng = np.random.default_rng(1)
    masks = {s: rng.random((3, LAYOUT.n_weights)) < 0.5 for s in range(4)}
    ms = snapshot_set(masks)
    table = ls.tl.trajectory(ms)
    groups = ms.uns["trajectory"]["groups"].set_index(["layer", "epoch"])
    mine = table[(table["layer"] == "whole") & (table["epoch"] == 2)]
    assert groups.loc[("whole", 2), "flip_fraction"] == pytest.approx(mine["flip_fraction"].mean())
    assert groups.loc[("whole", 2), "n_masks"] == 4
    lo, hi = groups.loc[("whole", 2), ["flip_fraction_ci_low", "flip_fraction_ci_high"]]
    assert lo < mine["flip_fraction"].mean() < hi


def test_final_masks_are_refused_with_the_way_to_read_snapshots():
    ms = MaskSet.from_dense(MASK, LAYOUT)
    with pytest.raises(AnalysisError, match="snapshots=True"):
        ls.tl.trajectory(ms)
