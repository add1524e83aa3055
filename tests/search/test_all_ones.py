"""The "every weight kept" reference: measured like a searched mask, BatchNorm included."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from landscape.config import load_config
from landscape.search import all_ones
from landscape.search.runner import load_dataset
from landscape.search.trainer import Trainer

BASE = Path(__file__).resolve().parents[2] / "configs/digits_mlp_edge_popup.yaml"


def _trainer(batchnorm: str) -> Trainer:
    torch.set_num_threads(1)
    cfg = load_config(BASE, {"model.hidden": [48, 32], "model.batchnorm": batchnorm, "train.epochs": 1})
    return Trainer(cfg, load_dataset(cfg.data), 0, [0, 1], progress=False)


def _buffers(model) -> list[torch.Tensor]:
    return [b.clone() for bn in model.batchnorms() for b in (bn.bn.running_mean, bn.bn.running_var)]


def test_batchnorm_statistics_come_from_the_training_split_not_the_test_batches(monkeypatch):
    trainer = _trainer("nonaffine")
    model = trainer.model
    before = _buffers(model)
    acc = trainer.all_ones_accuracy()
    # the search's own statistics are back, and its masks
    assert all(torch.equal(a, b) for a, b in zip(before, _buffers(model)))
    assert all(layer.fixed_mask is None or not layer.fixed_mask.all() for _, layer in model.masked_layers())
    # by hand: every weight kept, statistics averaged over training batches, eval mode
    saved = {name: layer.fixed_mask for name, layer in model.masked_layers()}
    with torch.no_grad():
        for _, layer in model.masked_layers():
            layer.fixed_mask = torch.ones((model.n_masks, *layer.weight_shape), dtype=torch.bool)
        for bn in model.batchnorms():
            bn.bn.momentum = None
            bn.bn.reset_running_stats()
        model.train()
        bs = trainer.cfg.train.batch_size
        for start in range(0, len(trainer.train_y), bs):
            xb = trainer.train_x[start : start + bs]
            model(xb.unsqueeze(0).expand(model.n_masks, *xb.shape))
        model.eval()
        logits = model(trainer.test_x.unsqueeze(0).expand(model.n_masks, *trainer.test_x.shape))
        by_hand = (logits[0].argmax(1) == trainer.test_y).double().mean().item()
        for name, layer in model.masked_layers():
            layer.fixed_mask = saved[name]
    assert acc == by_hand
    # and it does not depend on how the test set is batched (test-batch statistics did)
    real = all_ones.evaluate
    monkeypatch.setattr(all_ones, "evaluate", lambda *a, **k: real(*a, **{**k, "batch_size": 7}))
    assert _trainer("nonaffine").all_ones_accuracy() == acc


def _resumed_from_an_older_checkpoint(batchnorm: str):
    """A search resumed from a checkpoint whose history holds an every-weight-kept value (-1,
    to tell it apart) without the record of how BatchNorm was measured."""
    from landscape.search.state import History

    first = _trainer(batchnorm)
    old = History.empty(first.m)
    old.extra["all_ones_test_acc"] = -1.0
    state = first._state(old)
    again = _trainer(batchnorm)
    again.checkpoint = (lambda saved: None, lambda: state)
    return again.run().records


def test_a_batchnorm_value_of_an_older_checkpoint_is_measured_again():
    records = _resumed_from_an_older_checkpoint("nonaffine")
    assert all(r["all_ones_test_acc"] >= 0 and r["all_ones_batchnorm"] == "train" for r in records)
    # without BatchNorm the value never depended on the test batches: it is kept
    plain = _resumed_from_an_older_checkpoint("none")
    assert all(r["all_ones_test_acc"] == -1.0 and "all_ones_batchnorm" not in r for r in plain)


def test_stored_batchnorm_values_without_the_record_are_left_out_and_said_why():
    import pandas as pd

    from landscape.analysis.summary import _accuracy_table
    from landscape.store.records import ALL_ONES_STALE, leave_out_stale_all_ones

    def records(marker):
        frame = pd.DataFrame(
            {"weight_seed": 0, "search_seed": [0, 1], "test_acc": 0.9, "all_ones_test_acc": 0.08}
        )
        if marker is not None:
            frame["all_ones_batchnorm"] = marker
        return frame

    old = records(None)
    leave_out_stale_all_ones(old, True)
    assert old["all_ones_test_acc"].isna().all() and (old["all_ones_batchnorm"] == ALL_ONES_STALE).all()
    new = records("train")
    leave_out_stale_all_ones(new, True)
    assert (new["all_ones_test_acc"] == 0.08).all()
    plain = records(None)  # no BatchNorm: the value stands
    leave_out_stale_all_ones(plain, False)
    assert (plain["all_ones_test_acc"] == 0.08).all() and "all_ones_batchnorm" not in plain
    masks = pd.concat([old.assign(group="resnet", run_id="a"), plain.assign(group="mlp", run_id="b")])
    table = _accuracy_table(masks)  # the column is NaN for runs that never had it, as when read
    shown = table.set_index("group")["every weight kept"]
    assert shown["mlp"] == "0.0800" and shown["resnet"].startswith("— (test-batch BatchNorm")


def test_a_batchnorm_run_reads_with_its_value_and_an_older_one_without(tmp_path, monkeypatch):
    import landscape as ls
    from landscape.search import outcome, trainer
    from landscape.store.records import ALL_ONES_STALE
    from tests.conftest import search_tiny

    search_tiny(tmp_path / "new", "edge_popup", range(2), extra=["model.batchnorm=nonaffine"])
    obs = ls.read_runs(tmp_path / "new").obs
    assert (obs["all_ones_batchnorm"] == "train").all() and obs["all_ones_test_acc"].between(0, 1).all()
    # a run whose records do not say the value came from training-split statistics
    monkeypatch.setattr(trainer, "ALL_ONES_BATCHNORM", "test")
    monkeypatch.setattr(outcome, "ALL_ONES_BATCHNORM", "test")
    search_tiny(tmp_path / "old", "edge_popup", range(2), extra=["model.batchnorm=nonaffine"])
    obs = ls.read_runs(tmp_path / "old").obs
    assert (obs["all_ones_batchnorm"] == ALL_ONES_STALE).all() and obs["all_ones_test_acc"].isna().all()


@pytest.mark.parametrize("batchnorm", ["auto", "none", "nonaffine"])
def test_the_config_says_which_networks_have_batchnorm(batchnorm):
    """Reading decides from the config which runs' every-weight-kept values need the training
    split's statistics: it must agree with the networks built."""
    from landscape import registries
    from landscape.config.schema import ModelConfig

    shapes = {"mlp": (1, 8, 8), "cnn1d": (1, 40)}
    for name in registries.models.names():
        if name == "external":
            continue
        cfg = ModelConfig(name=name, hidden=(8,), width_mult=0.125, batchnorm=batchnorm)
        model = registries.models.load(name)(cfg, shapes.get(name, (3, 32, 32)), 10, 1)
        assert model.has_batchnorm == cfg.uses_batchnorm, name
