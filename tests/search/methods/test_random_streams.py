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
    assert older_conventions(pd.DataFrame({"weight_seed": [1]}), weights) == []
