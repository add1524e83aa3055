"""Each logged epoch is the network its training made: end-of-epoch events (weight recycling,
K-starts selection, dissipating pruning) act after the epoch is evaluated, as in the reference
codes (validate, then recycle); only the last epoch's step comes before its evaluation, since
it makes the stored masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape.config import load_config
from landscape.errors import ConfigError
from landscape.search.methods.base import kept_count
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

TINY = {"train.epochs": 3, "model.hidden": [16, 16], "train.batch_size": 128, "method.density": 0.9}


def _record(every: int) -> dict:
    torch.manual_seed(0)
    cfg = load_config(
        "configs/digits_mlp_edge_popup.yaml",
        {**TINY, "method.recycle.every": every, "method.recycle.rate": 0.2},
    )
    return Trainer(cfg, load_dataset(cfg.data), 0, [0, 1], progress=False).run().records


def test_recycling_at_the_end_of_an_epoch_is_not_in_that_epochs_accuracy():
    plain, recycled = _record(0), _record(1)
    for a, b in zip(plain, recycled):
        # epochs 0 and 1 train alike (the first recycling ends epoch 1): their logs agree,
        # although at density 0.9 recycling replaces kept weights
        for key in ("train_loss", "val_acc", "test_acc"):
            np.testing.assert_array_equal(a["curves"][key][:2], b["curves"][key][:2], err_msg=key)
        assert a["curves"]["train_loss"][2] != b["curves"]["train_loss"][2]  # the recycling did act
        assert b["test_acc"] == b["curves"]["test_acc"][-1]


def _run(overrides: dict) -> list[dict]:
    torch.manual_seed(0)
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", {**TINY, "method.density": 0.3, **overrides})
    return Trainer(cfg, load_dataset(cfg.data), 0, [0, 1], progress=False).run().records


def test_a_selection_at_the_last_epoch_is_in_its_accuracy_and_best_epoch():
    # K-starts selects at the end of the last epoch: the logged last epoch is the masked network
    records = _run({"method.name": "kstarts", "method.kstarts.select_after": 3, "train.lr": 0.05})
    for r in records:
        assert r["test_acc"] == r["curves"]["test_acc"][-1]
        # epochs 0 and 1 were dense: never the best-by-validation epoch of a masked network
        assert r["best_epoch"] == 3 and r["test_acc_at_best_val"] == r["test_acc"]
        # the stored network is the selected mask, at the density asked for
        assert r["n_kept"] == sum(kept_count(n, 0.3) for n in (64 * 16, 16 * 16, 16 * 10))
    # a selection after the last epoch never happens as asked: refused, not moved to the end
    with pytest.raises(ConfigError, match="method.kstarts.select_after: the selection after epoch 4"):
        _run({"method.name": "kstarts", "method.kstarts.select_after": 4, "train.lr": 0.05})


def test_the_best_epoch_of_a_selection_before_the_end_is_a_masked_one():
    records = _run({"method.name": "kstarts", "method.kstarts.select_after": 1, "train.lr": 0.05})
    for r in records:
        # the selection ends the first epoch, which was evaluated dense
        assert r["best_epoch"] >= 2  # epochs trained: curves[k] is after k + 1 epochs
        best = r["curves"]["val_acc"][r["best_epoch"] - 1]
        assert best == max(r["curves"]["val_acc"][1:]) and r["best_val_acc"] == best


def test_masks_searched_by_an_earlier_version_are_named_when_read(tmp_path, monkeypatch):
    import pandas as pd
    import pytest

    from landscape.reading import read_runs
    from landscape.search import trainer
    from landscape.search.runner import run_search
    from landscape.store.records import EPOCH_EVENTS, older_conventions, search_conventions

    cfg = load_config(
        "configs/digits_mlp_edge_popup.yaml", {**TINY, "method.recycle.every": 1, "method.recycle.rate": 0.2}
    )
    run_search(cfg, tmp_path / "now", [0], [0, 1], progress=False)
    ms = read_runs(tmp_path / "now")  # searched now: nothing to say (a warning would fail here)
    assert (ms.obs[EPOCH_EVENTS] == "after_evaluation").all()
    older = ms.obs.drop(columns=[EPOCH_EVENTS])  # records written before the field existed
    (said,) = older_conventions(older, cfg)
    assert said.startswith("2 of 2 masks") and "test_acc_at_best_val" in said
    plain = load_config("configs/digits_mlp_edge_popup.yaml", TINY)  # no end-of-epoch step
    assert older_conventions(older, plain) == []
    cifar = load_config("configs/cifar10_conv4_edge_popup.yaml", {"data.augment": True})
    assert "mean colour" in older_conventions(pd.DataFrame({"test_acc": [0.5]}), cifar)[0]
    # a run whose records say another order is named when read, its values kept
    said_then = {**search_conventions(cfg, False), EPOCH_EVENTS: "before_evaluation"}
    monkeypatch.setattr(trainer, "search_conventions", lambda *_: said_then)
    run_search(cfg, tmp_path / "then", [0], [0, 1], progress=False)
    with pytest.warns(UserWarning, match="end-of-epoch step"):
        back = read_runs(tmp_path / "then")
    assert back.obs["test_acc"].notna().all()


def test_a_search_resumed_from_an_older_checkpoint_records_no_marker_it_did_not_follow(tmp_path, monkeypatch):
    import pytest

    from landscape.reading import read_runs
    from landscape.search.outcome import CONVENTIONS
    from landscape.search.runner import run_search
    from landscape.store.records import EPOCH_EVENTS
    from landscape.store.run_store import RunStore

    cfg = load_config(
        "configs/digits_mlp_edge_popup.yaml",
        {**TINY, "train.epochs": 3, "method.recycle.every": 1, "method.recycle.rate": 0.2},
    )
    original = RunStore.save_checkpoint

    def older_version_then_kill(self, key, state):
        state["history"].extra.pop(CONVENTIONS, None)  # as a checkpoint of an earlier version
        original(self, key, state)
        raise KeyboardInterrupt  # a kill right after the first epoch's checkpoint

    monkeypatch.setattr(RunStore, "save_checkpoint", older_version_then_kill)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, tmp_path, [0], [0, 1], progress=False)
    monkeypatch.setattr(RunStore, "save_checkpoint", original)
    run_search(cfg, tmp_path, [0], [0, 1], progress=False)
    with pytest.warns(
        UserWarning, match=r"end-of-epoch step.*2 of them resumed from a checkpoint that does not say"
    ):
        ms = read_runs(tmp_path)
    assert (ms.obs[EPOCH_EVENTS] == "resumed_unmarked").all()


def test_best_epoch_counts_epochs_trained_as_a_snapshot_does(tmp_path):
    from landscape.reading import read_runs
    from landscape.search.runner import run_search
    from landscape.store.records import BEST_EPOCH_COUNTS, records_frame

    cfg = load_config("configs/digits_mlp_edge_popup.yaml", {**TINY, "train.snapshot_every": 1})
    run_search(cfg, tmp_path, [0], [0, 1, 2], progress=False)
    snaps = read_runs(tmp_path, snapshots=True)
    best = snaps.obs[snaps.obs["epoch"] == snaps.obs["best_epoch"]]
    assert len(best) == 3  # one snapshot per mask: the best network's
    assert (best["epoch_val_acc"] == best["best_val_acc"]).all()
    assert (best["epoch_test_acc"] == best["test_acc_at_best_val"]).all()
    # records of earlier versions counted from 0: read in the same count
    older = {"weight_seed": 0, "search_seed": 0, "best_epoch": 1}
    assert records_frame([older])["best_epoch"].iloc[0] == 2
    now = {"weight_seed": 0, "search_seed": 0, "best_epoch": 2, BEST_EPOCH_COUNTS: "epochs_trained"}
    assert records_frame([now])["best_epoch"].iloc[0] == 2
