"""Each logged epoch is the network its training made: end-of-epoch events (weight recycling,
K-starts selection, dissipating pruning) act after the epoch is evaluated, as in the reference
codes (validate, then recycle); only the last epoch's step comes before its evaluation, since
it makes the stored masks."""

from __future__ import annotations

import numpy as np
import torch

from landscape.config import load_config
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
