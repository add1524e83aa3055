"""The "every weight kept" reference: measured like a searched mask, BatchNorm included."""

from __future__ import annotations

from pathlib import Path

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
