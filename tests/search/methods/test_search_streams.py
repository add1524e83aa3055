"""A searched mask draws its scores, batches and the method's random steps from its search
seed's streams in its own network: one search seed in two networks gives two independent
searches (earlier, every network started it from weight seed 0's scores and batches, and
same-seed masks of two networks shared about twice the weights of two masks of one network).
Weight seed 0 keeps the streams it always drew."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape.config import load_config
from landscape.nn.init import generator, init_scores
from landscape.reading import read_runs
from landscape.search.runner import load_dataset, run_search
from landscape.search.trainer import Trainer
from landscape.store.records import SEARCH_DRAW, UNMARKED, older_conventions

SMALL = {"train.epochs": 3, "model.hidden": [32, 32], "method.density": 0.5}


def _cfg(**extra):
    return load_config("configs/digits_mlp_edge_popup.yaml", {**SMALL, **extra})


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def two_networks(tmp_path_factory):
    root = tmp_path_factory.mktemp("streams")
    run_search(_cfg(), root, [0, 1], [0, 1, 2, 3], progress=False)
    return read_runs(root)


def test_one_search_seed_searches_independently_in_two_networks(two_networks):
    ms = two_networks
    rows = ms.dense().astype(bool)
    at = {(int(w), int(s)): i for i, (w, s) in enumerate(zip(ms.obs["weight_seed"], ms.obs["search_seed"]))}
    same_seed = [_jaccard(rows[at[0, s]], rows[at[1, s]]) for s in range(4)]
    within = [
        _jaccard(rows[at[w, a]], rows[at[w, b]]) for w in (0, 1) for a in range(4) for b in range(a + 1, 4)
    ]
    # density 0.5 over 3,392 weights: chance is 1/3 (sd of one pair ~0.01); searched from
    # weight seed 0's streams these pairs were at 0.58 to 0.61
    assert max(same_seed) < 0.40 and np.mean(same_seed) < np.mean(within) + 0.03
    assert (ms.obs[SEARCH_DRAW] == "per_network").all()


def test_weight_seed_0_keeps_its_scores_and_other_networks_draw_their_own():
    cfg = _cfg(**{"train.epochs": 1})
    dataset = load_dataset(cfg.data)
    firsts = {}
    for w in (0, 1):
        trainer = Trainer(cfg, dataset, w, [5], progress=False)
        layer = next(layer for _, layer in trainer.model.masked_layers())
        firsts[w] = layer.scores[0].detach().clone()
    layer = next(layer for _, layer in Trainer(cfg, dataset, 0, [5], progress=False).model.masked_layers())
    want = init_scores(layer.weight_shape, layer.fan_in, cfg.method.score_init, generator(5, "scores"))
    assert torch.equal(firsts[0], want)  # the stream of every earlier version
    assert not torch.equal(firsts[0], firsts[1])


def test_batched_masks_equal_one_mask_searches_in_another_network():
    cfg = _cfg(
        **{"method.name": "iterand", "method.rerand.every": 5, "method.score_init": "kaiming_uniform_relu"}
    )
    dataset = load_dataset(cfg.data)
    batched = Trainer(cfg, dataset, 3, [0, 1], progress=False).run()
    for i, seed in enumerate((0, 1)):
        single = Trainer(cfg, dataset, 3, [seed], progress=False).run()
        for layer, masks in batched.masks.items():
            assert np.array_equal(masks[i], single.masks[layer][0]), (seed, layer)


def test_masks_searched_when_networks_shared_streams_are_named(two_networks):
    cfg = _cfg()
    records = two_networks.obs
    assert older_conventions(records, cfg) == []
    (said,) = older_conventions(records.drop(columns=[SEARCH_DRAW]), cfg)
    assert (
        said.startswith("4 of 8 masks of weight seeds other than 0") and "not independent replicates" in said
    )
    # weight seed 0 alone drew what it draws now
    only0 = records[records["weight_seed"] == 0].drop(columns=[SEARCH_DRAW])
    assert older_conventions(only0, cfg) == []
    # resumed from checkpoints that do not say: counted among the masks named, not the run's
    (said,) = older_conventions(records.assign(**{SEARCH_DRAW: UNMARKED}), cfg)
    assert "(4 of them resumed from a checkpoint" in said
    # weight training shared its batches, not scores
    dense = _cfg(**{"method.name": "dense", "method.density": 1.0})
    (said,) = older_conventions(records.drop(columns=[SEARCH_DRAW]), dense)
    assert "trained on the same batches" in said and "scores" not in said
