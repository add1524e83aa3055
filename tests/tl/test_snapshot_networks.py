"""Tools that rebuild a mask's network refuse snapshots of earlier epochs whose network the
run's files cannot rebuild: weights changed by the search (only the final ones are stored)
and, where the tool uses them, stored BatchNorm statistics (the final mask's only)."""

from __future__ import annotations

import numpy as np
import pytest

from landscape import tl
from landscape.config import load_config
from landscape.errors import AnalysisError
from landscape.reading import read_runs
from landscape.search.runner import run_search

SNAPSHOTS = {"train.epochs": 2, "train.snapshot_every": 1, "model.hidden": [16, 16], "train.batch_size": 256}


def _snapshots(root, **overrides):
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", {**SNAPSHOTS, **overrides})
    run_search(cfg, root, [0], [0, 1], progress=False)
    return read_runs(root, snapshots=True)


def test_barriers_refuse_earlier_masks_of_a_method_that_changes_the_weights(tmp_path):
    ms = _snapshots(tmp_path, **{"method.name": "iterand", "method.rerand.every": 1})
    epoch = ms.obs["epoch"].to_numpy()
    early = np.flatnonzero(epoch == 1)
    with pytest.raises(AnalysisError, match=r"epoch 1.*changes the weights.*final masks"):
        tl.barriers(ms, pairs=[tuple(early)], path="linear", n_points=3, progress=False)
    final = np.flatnonzero(epoch == ms.obs["final_epoch"].to_numpy())
    table = tl.barriers(ms, pairs=[tuple(final)], path="linear", n_points=3, progress=False)
    # the rebuilt end points are the stored networks: their recorded test accuracy
    assert table["acc_start"].iloc[0] == pytest.approx(ms.obs["test_acc"].iloc[final[0]], abs=1e-6)


def test_earlier_masks_over_fixed_weights_rebuild_as_searched(tmp_path):
    ms = _snapshots(tmp_path)
    early = np.flatnonzero(ms.obs["epoch"].to_numpy() == 1)
    table = tl.barriers(ms, pairs=[tuple(early)], n_points=3, progress=False)
    assert table["acc_start"].iloc[0] == pytest.approx(ms.obs["epoch_test_acc"].iloc[early[0]], abs=1e-6)


def test_cka_with_stored_batchnorm_refuses_earlier_masks(tmp_path):
    ms = _snapshots(tmp_path, **{"model.batchnorm": "nonaffine"})
    early = ms[np.flatnonzero(ms.obs["epoch"].to_numpy() == 1)]
    with pytest.raises(AnalysisError, match=r"BatchNorm statistics of its final masks.*reestimate"):
        tl.representation_similarity(early, bn="stored", n_examples=32, n_random=2)
    table = tl.representation_similarity(early, bn="reestimate", n_examples=32, n_random=2)
    assert len(table)


def test_cka_random_masks_of_masks_in_a_source_stay_inside_it(tmp_path):
    from landscape.tl._representation_engine import slot_masks
    from landscape.tl._source_frame import SourceFrames
    from landscape.tl.baseline import layer_sizes

    cfg = load_config(
        "configs/digits_mlp_edge_popup.yaml",
        {"method.name": "random", "train.epochs": 0, "model.hidden": [16, 16], "method.density": 0.2,
         "method.source.kind": "frozen", "method.source.pruned": 0.3, "method.source.locked": 0.1},
    )  # fmt: skip
    run_search(cfg, tmp_path, [0], [0, 1, 2], progress=False)
    ms = read_runs(tmp_path)
    frames = SourceFrames(ms)
    (k,) = np.unique(frames.ids(np.arange(len(ms))))
    source = frames.patterns(int(k))
    counts, _ = layer_sizes(ms)
    masks = slot_masks(ms, np.arange(3), counts, 4, np.random.default_rng(0), source)
    assert any(out.any() for out, _ in source.values()) and any(lk.any() for _, lk in source.values())
    for li, spec in enumerate(ms.layout):
        left_out, locked = source[spec.name]
        rand = masks[spec.name][3:].reshape(4, -1)
        assert not rand[:, left_out].any() and rand[:, locked].all()
        assert (rand.sum(1) == counts[np.arange(4) % 3, li]).all()  # each a stored mask's count
    table = tl.representation_similarity(ms, n_examples=32, n_random=3)
    # random masks drawn like the stored ones: nothing to set them apart
    assert ((table["excess_ci_low"] < 0) & (table["excess_ci_high"] > 0)).all()
    # a mask that leaves its source: no random masks like it, so no random CKA or excess
    from landscape.maskset import MaskSet

    dense = ms.dense()
    dense[0, np.flatnonzero(dense.all(axis=0))[0]] = False
    moved = MaskSet.from_dense(dense, ms.layout, ms.obs)
    moved.runs = dict(ms.runs)
    table = tl.representation_similarity(moved, n_examples=32, n_random=3)
    assert table["cka"].notna().all() and table[["random_cka", "excess"]].isna().all().all()
    assert (table["n_random"] == 0).all()
    (matrix,) = moved.uns["representation_similarity"]["matrices"]
    assert matrix["n_random"] == 0 and matrix["cka"].shape[1:] == (3, 3)
    assert (
        "random-mask runs of the same source" in moved.uns["representation_similarity"]["params"]["no_random"]
    )
