"""Random masks are the null of every network: one search seed in two networks draws two
independent masks, and weight seed 0 keeps the masks earlier versions drew."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landscape.config import load_config
from landscape.nn.init import generator
from landscape.reading import read_runs
from landscape.search.runner import run_search
from landscape.store.records import RANDOM_DRAW, older_conventions

SMALL = {"method.name": "random", "train.epochs": 0, "model.hidden": [16, 16], "method.density": 0.3}


@pytest.fixture(scope="module")
def random_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("random")
    run_search(
        load_config("configs/digits_mlp_edge_popup.yaml", SMALL), root, [0, 1, 2], [0, 1], progress=False
    )
    dense = load_config(
        "configs/digits_mlp_edge_popup.yaml", {**SMALL, "method.name": "dense", "train.epochs": 1}
    )
    run_search(dense, root, [0, 1], [0], progress=False)
    return read_runs(root)


def test_one_search_seed_draws_other_masks_in_other_networks(random_runs):
    ms = random_runs
    for method in ("random", "dense"):
        part = ms[np.flatnonzero((ms.obs["method.name"] == method).to_numpy())]
        seed0 = part[np.flatnonzero((part.obs["search_seed"] == 0).to_numpy())]
        rows = seed0.dense()
        assert len(rows) >= 2 and len({r.tobytes() for r in rows}) == len(rows), method
        assert (part.obs[RANDOM_DRAW] == "per_network").all()


def test_weight_seed_0_keeps_the_masks_of_the_search_seed_stream(random_runs):
    from landscape import registries
    from landscape.search.methods.random_masks import draw_masks

    ms = random_runs
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", SMALL)
    model = registries.models.load(cfg.model.name)(cfg.model, (64,), 10, 1)
    layers = [layer for _, layer in model.masked_layers() if not layer.dense]
    for seed in (0, 1):
        want = draw_masks(layers, cfg.method, cfg.method.density, generator(seed, "method", "random"))
        pos = np.flatnonzero(
            (ms.obs["method.name"] == "random")
            & (ms.obs["weight_seed"] == 0)
            & (ms.obs["search_seed"] == seed)
        )
        got = ms.dense(pos)[0]
        assert np.array_equal(got, np.concatenate([w.reshape(-1).numpy() for w in want]))


def test_runs_whose_networks_shared_their_random_masks_are_named(random_runs):
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", SMALL)
    records = random_runs.obs[random_runs.obs["method.name"] == "random"]
    assert older_conventions(records, cfg) == []
    older = records.drop(columns=[RANDOM_DRAW])
    (said,) = older_conventions(older, cfg)
    assert said.startswith("4 of 6 random masks") and "not independent replicates" in said
    # a run of weight seed 0 alone drew what it draws now
    assert older_conventions(older[older["weight_seed"] == 0], cfg) == []
    weights = load_config(
        "configs/digits_mlp_edge_popup.yaml", {**SMALL, "method.name": "edge_popup", "train.epochs": 1}
    )
    # a searched mask is named for its search's streams, not for a random draw
    (searched,) = older_conventions(pd.DataFrame({"weight_seed": [1]}), weights)
    assert "random masks" not in searched and "same scores and batches" in searched


def test_random_masks_over_batchnorm_are_measured_with_training_statistics(tmp_path):
    """Masks that train nothing get BatchNorm statistics of the training split, as every
    searched mask has them, not the identity of statistics never estimated."""
    import torch

    from landscape.search.evaluate import evaluate
    from landscape.search.runner import load_dataset
    from landscape.store.records import UNTRAINED_BATCHNORM
    from landscape.store.run_store import RunStore

    cfg = load_config("configs/digits_mlp_edge_popup.yaml", {**SMALL, "model.batchnorm": "nonaffine"})
    run_search(cfg, tmp_path, [0], [0, 1], progress=False)
    ms = read_runs(tmp_path)
    assert (ms.obs[UNTRAINED_BATCHNORM] == "training_split").all()
    store = RunStore.open(next(p for p in tmp_path.iterdir() if p.is_dir()))
    model = store.build_model(0, [0, 1])
    means = [bn.bn.running_mean for bn in model.batchnorms()]
    assert all(m.abs().sum() > 0 for m in means)  # estimated, not the reset zeros
    data = load_dataset(cfg.data)
    train_x = data.train[0]
    n, size = len(train_x), cfg.train.batch_size
    model.reestimate_batchnorm(train_x, [np.arange(s, min(s + size, n)) for s in range(0, n, size)])
    with torch.no_grad():
        _, acc = evaluate(model, *data.test)
    np.testing.assert_allclose(acc, ms.obs["test_acc"].to_numpy(), atol=1e-9)
    older = ms.obs.drop(columns=[UNTRAINED_BATCHNORM])
    (said,) = [s for s in older_conventions(older, cfg) if "BatchNorm" in s]
    assert said.startswith("2 of 2 random masks") and "never estimated" in said
