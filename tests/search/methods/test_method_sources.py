"""ER and partially frozen sources, and the random-mask null model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from landscape.config import MethodConfig, SearchConfig, SourceConfig
from landscape.errors import ConfigError
from landscape.nn.models import MLP
from landscape.search.methods.base import floor_count, kept_count
from landscape.search.methods.edge_popup import EdgePopup
from landscape.search.methods.random_masks import RandomMasks
from landscape.search.methods.sources import apportion, erk_densities, frozen_counts


def make(cls, m=2, seeds=None, hidden=(40, 30), cfg=None, **overrides):
    cfg = cfg or SearchConfig().replace(**{"model.hidden": list(hidden), **overrides})
    model = MLP(cfg.model, (20,), 5, n_masks=m)
    model.init_weights(7, cfg.model.weight_init, cfg.method.density)
    seeds = list(range(1, m + 1)) if seeds is None else seeds
    model.init_scores(seeds, cfg.method.score_init)
    method = cls(cfg)
    method.setup(model, 7, seeds)
    return model, method


ER = {"method.source.kind": "er", "method.source.density": 0.6, "method.density": 0.3}
FROZEN = {
    "method.source.kind": "frozen",
    "method.source.pruned": 0.3,
    "method.source.locked": 0.2,
    "method.density": 0.45,
}


# ER source -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [EdgePopup, RandomMasks])
def test_er_masks_stay_inside_source_with_exact_count(cls):
    model, _ = make(cls, m=3, **ER)
    masks = model.current_masks()
    for name, layer in model.masked_layers():
        inside = (layer.frozen[0] == 0).numpy()
        assert layer.frozen.shape[0] == 1  # shared by every mask
        assert abs(inside.mean() - 0.6) < 0.1
        for i in range(3):
            assert not (masks[name][i] & ~inside).any()
            assert masks[name][i].sum() == floor_count(layer.numel, 0.3)


def test_er_source_depends_on_weight_seed_only():
    a, _ = make(EdgePopup, seeds=[1, 2], **ER)
    b, _ = make(EdgePopup, seeds=[5, 6], **ER)
    for (_, la), (_, lb) in zip(a.masked_layers(), b.masked_layers()):
        assert torch.equal(la.frozen, lb.frozen)


def test_er_global_topk_inside_source():
    model, _ = make(EdgePopup, m=2, **ER, **{"method.global_topk": True})
    masks = model.current_masks()
    total = sum(layer.numel for _, layer in model.masked_layers())
    assert sum(v.reshape(2, -1).sum(1) for v in masks.values()).tolist() == [floor_count(total, 0.3)] * 2
    for name, layer in model.masked_layers():
        assert not (masks[name] & (layer.frozen.numpy() < 0)).any()


def test_er_too_sparse_source_for_a_layer_is_a_config_error():
    cfg = SearchConfig(
        method=MethodConfig(density=0.5, source=SourceConfig(kind="er", density=0.5)),
    ).replace(**{"model.hidden": [3]})
    with pytest.raises(ConfigError, match="method.density"):
        # a 3x20 layer at source density 0.5 is very likely below 30 inside for some seed
        for seed in range(20):
            model = MLP(cfg.model, (20,), 2, n_masks=1)
            model.init_weights(seed, cfg.model.weight_init)
            EdgePopup(cfg).setup(model, seed, [0])


# partially frozen source -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [EdgePopup, RandomMasks])
@pytest.mark.parametrize("distribution", ["erk", "equal"])
def test_frozen_locked_in_pruned_out_global_density_exact(cls, distribution):
    model, method = make(cls, m=3, **FROZEN, **{"method.source.distribution": distribution})
    masks = model.current_masks()
    layers = dict(model.masked_layers())
    total = sum(layer.numel for layer in layers.values())
    n_pruned = sum(int((layer.frozen < 0).sum()) for layer in layers.values())
    n_locked = sum(int((layer.frozen > 0).sum()) for layer in layers.values())
    assert n_pruned == floor_count(total, 0.3) and n_locked == floor_count(total, 0.2)
    kept = sum(v.reshape(3, -1).sum(1) for v in masks.values())
    assert kept.tolist() == [kept_count(total, 0.45)] * 3
    for name, layer in layers.items():
        f = layer.frozen.numpy()
        assert (masks[name][:, f[0] > 0]).all()
        assert not (masks[name][:, f[0] < 0]).any()
    assert method.stored_bits(model) == total - n_pruned - n_locked


def test_frozen_search_ranks_free_entries_globally():
    model, _ = make(EdgePopup, m=1, **FROZEN)
    masks = model.current_masks()
    keys, kept = [], []
    for name, layer in model.masked_layers():
        free = layer.frozen[0] == 0
        keys.append(layer.scores[0].detach().abs()[free])
        kept.append(torch.as_tensor(masks[name][0])[free])
    keys, kept = torch.cat(keys), torch.cat(kept)
    assert keys[kept].min() >= keys[~kept].max()


def test_stored_bits_dense_source_counts_searchable_weights():
    model, method = make(EdgePopup, **{"model.last_layer_dense": True})
    assert method.stored_bits(model) == 20 * 40 + 40 * 30


def test_frozen_unreachable_density_is_a_config_error():
    # bypasses config validation on purpose: setup re-checks with exact counts
    cfg = SearchConfig(method=MethodConfig(density=0.1, source=SourceConfig(kind="frozen", locked=0.5)))
    model = MLP(cfg.model, (20,), 5, n_masks=1)
    model.init_weights(0, cfg.model.weight_init)
    with pytest.raises(ConfigError, match="method.density"):
        EdgePopup(cfg).setup(model, 0, [0])


def test_erk_densities_match_target_and_favour_small_layers():
    shapes = [(300, 20), (40, 300), (5, 40)]
    d = erk_densities(shapes, 0.3)
    sizes = [math.prod(s) for s in shapes]
    assert math.isclose(sum(x * n for x, n in zip(d, sizes)), 0.3 * sum(sizes))
    assert d[2] == 1.0 or d[2] > d[0]
    assert all(0 <= x <= 1 for x in d)


def test_apportion_exact_total_within_caps():
    assert sum(apportion([1.5, 2.5, 3.0], 7, [10, 10, 10])) == 7
    assert apportion([5.0, 0.2], 5, [3, 10]) == [3, 2]
    counts = frozen_counts([(30, 20), (10, 30), (5, 10)], 0.4, 0.3, "erk")
    assert sum(p for p, _ in counts) == floor_count(950, 0.4)
    assert sum(r for _, r in counts) == floor_count(950, 0.3)


# random masks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("density", [0.1, 0.5, 0.77])
def test_random_masks_exact_per_layer_density(density):
    model, method = make(RandomMasks, m=3, **{"method.density": density})
    assert not method.needs_training and method.parameters(model) == []
    for name, m in model.current_masks().items():
        n = dict(model.masked_layers())[name].numel
        assert m.reshape(3, -1).sum(1).tolist() == [kept_count(n, density)] * 3


def test_random_masks_differ_across_seeds_and_repeat_per_seed():
    a, _ = make(RandomMasks, seeds=[1, 2])
    b, _ = make(RandomMasks, seeds=[1, 3])
    ma, mb = a.current_masks(), b.current_masks()
    for name in ma:
        assert not np.array_equal(ma[name][0], ma[name][1])
        assert np.array_equal(ma[name][0], mb[name][0])
        assert not np.array_equal(ma[name][1], mb[name][1])


# ER source: exact sampling, layer-wise source densities --------------------------------------


def test_bernoulli_er_source_is_the_default_and_unchanged():
    # the default stream: one torch.rand per layer from (weight_seed, "source"), inside < d
    from landscape.nn.init import generator

    model, _ = make(EdgePopup, m=1, **ER)
    gen = generator(7, "source")
    for _, layer in model.masked_layers():
        inside = torch.rand(layer.weight_shape, generator=gen) < 0.6
        assert torch.equal(layer.frozen[0] == 0, inside)


def test_bernoulli_source_often_holds_fewer_than_the_kept_count_at_k_equal_d_src():
    cfg = SearchConfig().replace(
        **{
            "model.hidden": [40, 30],
            "method.source.kind": "er",
            "method.source.density": 0.5,
            "method.density": 0.5,
        }
    )
    refused = 0
    for seed in range(20):
        model = MLP(cfg.model, (20,), 5, n_masks=1)
        model.init_weights(seed, cfg.model.weight_init)
        try:
            EdgePopup(cfg).setup(model, seed, [0])
        except ConfigError:
            refused += 1
    assert refused >= 10  # three layers, each below floor(d N) about half the time


@pytest.mark.parametrize("distribution", ["uniform", "erk", "balanced", "pyramidal"])
@pytest.mark.parametrize("cls", [EdgePopup, RandomMasks])
def test_exact_er_source_reaches_k_equal_d_src_and_keeps_the_whole_source(cls, distribution):
    over = {
        "method.source.kind": "er",
        "method.source.density": 0.5,
        "method.density": 0.5,
        "method.source.sampling": "exact",
        "method.source.er_distribution": distribution,
    }
    for seed in range(5):
        cfg = SearchConfig().replace(**{"model.hidden": [40, 30], **over})
        model = MLP(cfg.model, (20,), 5, n_masks=2)
        model.init_weights(seed, cfg.model.weight_init)
        model.init_scores([1, 2], cfg.method.score_init)
        cls(cfg).setup(model, seed, [1, 2])
        masks = model.current_masks()
        for name, layer in model.masked_layers():
            inside = (layer.frozen[0] == 0).numpy()
            assert (masks[name] == inside).all(), (seed, name)  # the whole source, nothing else


def test_exact_er_counts_per_layer_and_network():
    from landscape.search.methods.sources import er_counts, er_patterns

    shapes = [(41, 20), (30, 41), (5, 30)]
    sizes = [820, 1230, 150]
    assert er_counts(shapes, [0.33] * 3) == [floor_count(n, 0.33) for n in sizes] == [270, 405, 49]
    network = er_counts(shapes, [0.33] * 3, network_total=True)
    assert sum(network) == floor_count(sum(sizes), 0.33) == 726  # 724 topped up by the 2 largest remainders
    assert network == [271, 406, 49]  # remainders .6, .9, .5
    patterns = er_patterns(shapes, 0.33, weight_seed=3, sampling="exact")
    assert [int((p == 0).sum()) for p in patterns] == [270, 405, 49]
    again = er_patterns(shapes, 0.33, weight_seed=3, sampling="exact")
    assert all(torch.equal(a, b) for a, b in zip(patterns, again))


def test_er_global_search_at_k_equal_d_src_with_exact_source():
    over = {**ER, "method.density": 0.6, "method.source.sampling": "exact", "method.global_topk": True}
    model, method = make(EdgePopup, m=2, **over)
    masks = model.current_masks()
    for name, layer in model.masked_layers():
        assert (masks[name] == (layer.frozen[0] == 0).numpy()).all()


def test_er_layerwise_targets_keep_the_same_fraction_of_each_layers_source():
    from landscape.search.methods.distributions import layer_densities
    from landscape.search.methods.sources import layer_targets

    over = {
        "method.source.kind": "er",
        "method.source.density": 0.4,
        "method.density": 0.2,
        "method.source.er_distribution": "erk",
        "method.source.sampling": "exact",
    }
    model, method = make(EdgePopup, m=2, **over)
    layers = [layer for _, layer in model.masked_layers()]
    shapes = [layer.weight_shape for layer in layers]
    d_src = layer_densities("erk", shapes, 0.4)
    assert layer_targets(shapes, method.cfg.method) == [
        max(1, floor_count(layer.numel, d * 0.5)) for layer, d in zip(layers, d_src)
    ]
    masks = model.current_masks()
    for (name, layer), d in zip(model.masked_layers(), d_src):
        kept = masks[name].reshape(2, -1).sum(1)
        assert kept.tolist() == [max(1, floor_count(layer.numel, d * 0.5))] * 2
        assert not (masks[name] & (layer.frozen.numpy() < 0)).any()


# partially frozen: the upper edge, layer-wise scope ------------------------------------------


@pytest.mark.parametrize(("pruned", "density"), [(0.8, 0.2), (0.55, 0.45), (0.9, 0.1)])
@pytest.mark.parametrize("distribution", ["erk", "equal", "epl", "igq"])
def test_frozen_upper_edge_keeps_exactly_every_unpruned_weight(pruned, density, distribution):
    over = {
        "method.source.kind": "frozen",
        "method.source.pruned": pruned,
        "method.density": density,
        "method.source.distribution": distribution,
    }
    model, method = make(EdgePopup, m=2, hidden=(60, 50), **over)
    masks = model.current_masks()
    total = sum(layer.numel for _, layer in model.masked_layers())
    assert method.global_k == kept_count(total, density) == total - floor_count(total, pruned)
    for name, layer in model.masked_layers():
        assert (masks[name] == (layer.frozen[0] >= 0).numpy()).all()


def test_frozen_layer_scope_keeps_the_density_of_every_layer():
    over = {**FROZEN, "method.source.scope": "layer", "method.source.distribution": "equal"}
    model, method = make(EdgePopup, m=2, **over)
    assert not method.global_topk
    masks = model.current_masks()
    for name, layer in model.masked_layers():
        f = layer.frozen[0].numpy()
        assert masks[name].reshape(2, -1).sum(1).tolist() == [kept_count(layer.numel, 0.45)] * 2
        assert masks[name][:, f > 0].all() and not masks[name][:, f < 0].any()
        free = layer.scores.detach().abs()[0][torch.as_tensor(f == 0)]
        kept = torch.as_tensor(masks[name][0])[torch.as_tensor(f == 0)]
        assert free[kept].min() >= free[~kept].max()  # the top-k of the layer's free entries


def test_frozen_layer_scope_refuses_a_layer_it_cannot_meet():
    over = {
        "method.source.kind": "frozen",
        "method.source.pruned": 0.6,
        "method.density": 0.39,
        "method.source.scope": "layer",
        "method.source.distribution": "erk",
    }
    with pytest.raises(ConfigError, match=r"^method\.density: layer '[^']+' keeps \d+ of \d+ weights"):
        make(EdgePopup, m=1, **over)  # ERK prunes the big layers more than 60%: 39% is out of reach
