"""The reference codes' further options: IteRand's score init, epoch unit and manual mode; IWR
per step and combined with IteRand; rescaling; and each method's rule against its routes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from landscape.config import load_config
from landscape.nn.init import generator, init_scores
from landscape.search.methods import _fused_route
from landscape.search.methods.base import floor_count, kept_count
from landscape.search.methods.biprop import Biprop, biprop_weight
from landscape.search.methods.edge_popup import EdgePopup, edge_popup_mask, edge_popup_weight
from landscape.search.methods.iterand import IteRand, iterand_mask, rerand_period
from landscape.search.methods.recycle import recycle_step_due
from landscape.search.methods.rescale import rescale_factor
from tests.search.test_methods import make

# IteRand ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fan_in", [8, 27, 576])
def test_iterand_score_init_is_kaiming_uniform_with_relu_gain(fan_in):
    gen = generator(0, "scores")
    s = init_scores((64, fan_in), fan_in, "kaiming_uniform_relu", gen)
    bound = math.sqrt(6 / fan_in)
    assert s.abs().max() <= bound
    assert s.abs().max() > 0.99 * bound  # fills the interval
    assert s.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)  # uniform on [-b, b]
    # the same draw as hidden-networks' U(±1/sqrt(fan_in)), scaled by sqrt(6)
    plain = init_scores((64, fan_in), fan_in, "kaiming_uniform", generator(0, "scores"))
    torch.testing.assert_close(s, plain * math.sqrt(6), rtol=1e-6, atol=0)


def test_iterand_epoch_unit_fires_before_the_last_step_of_every_period():
    assert rerand_period(300, "step", None) == 300
    assert rerand_period(2, "epoch", 17) == 34
    with pytest.raises(RuntimeError, match="set_steps_per_epoch"):
        rerand_period(1, "epoch", None)
    model, method = make(IteRand, m=1, **{"method.rerand.unit": "epoch", "method.rerand.every": 2})
    method.set_steps_per_epoch(5)
    fired = []
    method.rerandomize = fired.append
    for step in range(30):
        method.before_step(model, step)
    assert fired == [9, 19, 29]  # the last (5th) step of epochs 1, 3, 5


def test_iterand_step_unit_is_the_global_step_count():
    model, method = make(IteRand, m=1, **{"method.rerand.every": 4})
    fired = []
    method.rerandomize = fired.append
    for step in range(13):
        method.before_step(model, step)
    assert fired == [3, 7, 11]


def test_iterand_manual_mode_mixes_every_candidate():
    over = {
        "method.rerand.mode": "manual",
        "method.rerand.mix_old": 0.6,
        "method.rerand.mix_new": 0.8,
        "method.rerand.every": 1,
    }
    model, method = make(IteRand, m=2, hidden=(30,), **over)
    assert method.changes_weights
    masks = model.current_masks()
    before = {n: layer.weight.clone() for n, layer in model.masked_layers()}
    method.before_step(model, 0)
    from landscape.nn.init import init_weight

    gens = [generator(seed, "method", "rerand", 0) for seed in method.search_seeds]
    for name, layer in model.masked_layers():
        kept = torch.as_tensor(masks[name])
        for i, gen in enumerate(gens):
            fresh = init_weight(layer.weight_shape, layer.fan_in, "kaiming_normal", gen, 0.5, False)
            expected = torch.where(kept[i], before[name][i], 0.6 * before[name][i] + 0.8 * fresh)
            torch.testing.assert_close(layer.weight[i], expected)


def test_iterand_mask_rule_matches_the_class_on_both_routes(monkeypatch):
    model, method = make(IteRand, m=3, hidden=(64, 48), **{"method.density": 0.3})
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(_fused_route, "fused_cpu", lambda: None)
        for name, layer in model.masked_layers():
            rule = iterand_mask(layer.scores, 0.3)
            assert torch.equal(layer.binary_mask(), rule), name
            assert torch.equal(layer.effective_weight().detach(), layer.weight * rule)


# IWR per step, combined mode ----------------------------------------------------------------------


def test_recycling_per_step_follows_the_reference_iteration_rule():
    due = [(e, b) for e in range(3) for b in range(7) if recycle_step_due(e, b, every=3, warmup=0)]
    assert due == [(1, 0), (1, 3), (1, 6), (2, 0), (2, 3), (2, 6)]  # not in the first epoch
    assert [b for b in range(7) if recycle_step_due(2, b, 3, warmup=2)] == []
    assert not any(recycle_step_due(5, b, 0, 0) for b in range(4))


def test_recycling_per_step_runs_after_the_due_steps_only():
    model, method = make(
        EdgePopup,
        m=1,
        **{"method.recycle.every": 2, "method.recycle.unit": "step", "method.recycle.rate": 0.1},
    )
    method.set_steps_per_epoch(4)
    events = []
    method.recycle = events.append
    for step in range(12):
        method.after_step(model, step)
    method.after_epoch(model, 1, is_last=False)  # the epoch schedule is off with unit "step"
    assert events == [("step", 4), ("step", 6), ("step", 8), ("step", 10)]


def test_recycling_per_epoch_is_not_run_by_steps():
    model, method = make(EdgePopup, m=1, **{"method.recycle.every": 1})
    method.set_steps_per_epoch(3)
    events = []
    method.recycle = events.append
    for step in range(9):
        method.after_step(model, step)
    method.after_epoch(model, 1, is_last=False)
    assert events == [("epoch", 1)]


def test_iterand_recycle_redraws_half_the_rate_then_recycles_half_the_rate():
    rate = 0.4
    over = {"method.recycle.every": 1, "method.recycle.mode": "iterand_recycle", "method.recycle.rate": rate}
    model, method = make(EdgePopup, m=2, hidden=(40,), **over)
    masks = model.current_masks()
    before = {n: layer.weight.clone() for n, layer in model.masked_layers()}
    method.recycle(("epoch", 3))
    from landscape.nn.init import init_weight

    gens = [generator(seed, "method", "iterand_recycle", "epoch", 3) for seed in method.search_seeds]
    for name, layer in model.masked_layers():
        kept = torch.as_tensor(masks[name])
        n = floor_count(layer.numel, rate / 2)
        for i, gen in enumerate(gens):
            # 1. IteRand: pruned weights re-drawn with probability rate / 2
            fresh = init_weight(layer.weight_shape, layer.fan_in, "kaiming_normal", gen, 0.5, False)
            coin = torch.rand(layer.weight_shape, generator=gen) < rate / 2
            step1 = torch.where(~kept[i] & coin, fresh, before[name][i]).reshape(-1)
            # 2. recycling of n = rate/2 N: the n lowest |S| slots get the n highest, rank-paired
            order = layer.scores[i].detach().abs().reshape(-1).argsort(stable=True)
            expected = step1.clone()
            expected[order[:n]] = step1[order[layer.numel - n :]]
            assert torch.equal(layer.weight[i].reshape(-1), expected), (name, i)
    after = model.current_masks()
    assert all(np.array_equal(after[k], masks[k]) for k in masks)  # scores untouched


def test_iterand_recycle_allows_rates_up_to_one():
    cfg = load_config(
        None, ["method.recycle.mode=iterand_recycle", "method.recycle.rate=1", "method.recycle.every=2"]
    )
    assert cfg.method.recycle.rate == 1.0


# rescaling --------------------------------------------------------------------------------------


def test_dynamic_rescale_factor_is_one_over_root_layer_density():
    hard = torch.zeros(3, 10, 10, dtype=torch.bool)
    hard[0, :5] = True  # 50 of 100
    hard[1, :1, :4] = True  # 4 of 100
    factor = rescale_factor(hard, "dynamic", 0.3)
    assert factor.shape == (3, 1, 1)
    torch.testing.assert_close(
        factor.reshape(-1), torch.tensor([1 / math.sqrt(0.5), 1 / math.sqrt(0.04), 1.0])
    )
    assert rescale_factor(hard, "static", 0.25) == pytest.approx(2.0)
    assert rescale_factor(hard, "none", 0.25) == 1.0


@pytest.mark.parametrize("how", ["static", "dynamic"])
def test_rescaled_masked_weight_and_its_score_gradient(how):
    over = {
        "method.rescale": how,
        "method.source.kind": "frozen",
        "method.source.pruned": 0.3,
        "method.source.locked": 0.1,
        "method.density": 0.4,
    }
    model, method = make(EdgePopup, m=2, **over)
    model.rule.prepare(model)
    for _, layer in model.masked_layers():
        hard = layer.binary_mask()
        kept_fraction = hard.reshape(2, -1).float().mean(1).reshape(2, 1, 1)
        factor = 1 / math.sqrt(0.4) if how == "static" else kept_fraction.rsqrt()
        w = layer.effective_weight()
        torch.testing.assert_close(w.detach(), layer.weight * hard * factor)
        g = torch.randn(w.shape, generator=torch.Generator().manual_seed(1))
        layer.scores.grad = None
        w.backward(g)
        torch.testing.assert_close(
            layer.scores.grad, g * layer.weight * factor * layer.scores.detach().sign()
        )
    per_layer = {n: float(m.reshape(2, -1).mean(1)[0]) for n, m in model.current_masks().items()}
    assert len(set(per_layer.values())) > 1  # a global search: the dynamic factors differ by layer


def test_rebuilt_rule_applies_the_rescaling_to_fixed_masks():
    # barriers and stored-mask evaluation pin masks and call the rule without setup()
    cfg = load_config(None, ["method.rescale=dynamic", "model.hidden=[16, 12]"])
    model, _ = make(EdgePopup, m=1, hidden=(16, 12), **{"method.rescale": "dynamic"})
    masks = model.current_masks()
    model.set_fixed_masks(masks)
    fresh = EdgePopup(cfg)
    model.set_rule(fresh)
    for name, layer in model.masked_layers():
        hard = torch.as_tensor(masks[name])
        expected = layer.weight * hard / math.sqrt(hard.float().mean())
        torch.testing.assert_close(layer.effective_weight().detach(), expected)


# each rule against the class's routes --------------------------------------------------------------


@pytest.mark.parametrize("density", [0.1, 0.5, 0.77])
def test_edge_popup_rule_matches_the_class_on_every_route(density, monkeypatch):
    from landscape.search.methods import score_search

    calls = []
    real = score_search.fused_cpu_weight

    def recording(*args):
        out = real(*args)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(score_search, "fused_cpu_weight", recording)
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(_fused_route, "fused_cpu", lambda: None)
        model, _ = make(EdgePopup, m=3, hidden=(64, 48), **{"method.density": density})
        for _, layer in model.masked_layers():
            rule_w = edge_popup_weight(layer.scores, layer.weight, density)
            class_w = layer.effective_weight()
            assert torch.equal(class_w.detach(), rule_w.detach())
            assert torch.equal(layer.binary_mask(), edge_popup_mask(layer.scores, density))
            g = torch.randn(class_w.shape, generator=torch.Generator().manual_seed(2))
            (g_class,) = torch.autograd.grad(class_w, layer.scores, g)
            (g_rule,) = torch.autograd.grad(rule_w, layer.scores, g)
            assert torch.equal(g_class, g_rule)
    assert any(calls) and not all(calls)  # both routes were among those compared


def test_edge_popup_rule_counts_and_ties():
    scores = torch.tensor([[[0.5, -2.0, 1.0, -1.0, 1.0, 0.1]]])
    # N = 6 at density 0.5 keeps 3: |S| = 2, then two of the three tied at 1 (lowest indices)
    assert edge_popup_mask(scores, 0.5).reshape(-1).tolist() == [False, True, True, True, False, False]
    assert int(edge_popup_mask(torch.randn(2, 200), 0.9).sum(1)[0]) == kept_count(200, 0.9) == 180


def test_biprop_rule_matches_the_class():
    model, _ = make(Biprop, m=2, **{"method.density": 0.3})
    for _, layer in model.masked_layers():
        mask = edge_popup_weight(layer.scores, torch.ones_like(layer.weight), 0.3)  # the STE mask
        rule_w = biprop_weight(mask, layer.weight)
        class_w = layer.effective_weight()
        assert torch.equal(class_w.detach(), rule_w.detach())
        g = torch.randn(class_w.shape, generator=torch.Generator().manual_seed(5))
        (g_class,) = torch.autograd.grad(class_w, layer.scores, g)
        (g_rule,) = torch.autograd.grad(rule_w, layer.scores, g)
        torch.testing.assert_close(g_class, g_rule)


def test_biprop_on_constant_magnitude_weights_is_edge_popup():
    # the reason the config refuses the pair: |W| constant gives alpha * sign(W) = W
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 12, 9, generator=gen)
    weight = (torch.randint(0, 2, (1, 12, 9), generator=gen).float() * 2 - 1) * 0.25
    mask = edge_popup_weight(scores, torch.ones_like(weight), 0.4)
    torch.testing.assert_close(biprop_weight(mask, weight), edge_popup_weight(scores, weight, 0.4))


def test_the_trainer_drives_the_epoch_and_step_schedules(monkeypatch):
    from landscape.search.runner import load_dataset
    from landscape.search.trainer import Trainer

    over = [
        "model.hidden=[16, 16]",
        "train.epochs=3",
        "train.batch_size=256",
        "method.name=iterand",
        "method.rerand.unit=epoch",
        "method.rerand.every=1",
        "method.recycle.every=2",
        "method.recycle.unit=step",
    ]
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", over)
    dataset = load_dataset(cfg.data)
    per_epoch = math.ceil(len(dataset.train[1]) / 256)
    rerand, recycle = [], []
    monkeypatch.setattr(IteRand, "rerandomize", lambda self, step: rerand.append(step))
    monkeypatch.setattr(IteRand, "recycle", lambda self, event: recycle.append(event))
    Trainer(cfg, dataset, 0, [0], progress=False).run()
    assert rerand == [per_epoch - 1, 2 * per_epoch - 1, 3 * per_epoch - 1]
    assert recycle == [("step", e * per_epoch + b) for e in (1, 2) for b in range(0, per_epoch, 2)]
