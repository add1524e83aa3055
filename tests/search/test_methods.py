"""Defining rules of the score-based search methods on small layers with known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from landscape.config import SearchConfig
from landscape.nn.models import MLP
from landscape.search.methods.base import floor_count, kept_count, topk_mask
from landscape.search.methods.biprop import Biprop
from landscape.search.methods.edge_popup import EdgePopup, annealed_density
from landscape.search.methods.iterand import IteRand
from landscape.search.methods.recycle import recycle_due, recycle_weights_


def registered_name(cls) -> str:
    """The method.name of a method class (its config then holds what that method reads)."""
    from landscape import registries

    return next(name for name in registries.methods.names() if registries.methods.load(name) is cls)


def make(cls, m: int = 2, seeds=None, hidden=(16, 12), weight_init="kaiming_normal", **overrides):
    """A small MLP 8 -> hidden -> 5 with M masks, set up with method ``cls``."""
    overrides.setdefault("method.name", registered_name(cls))
    cfg = SearchConfig().replace(
        **{"model.hidden": list(hidden), "model.weight_init": weight_init, **overrides}
    )
    model = MLP(cfg.model, (8,), 5, n_masks=m)
    model.init_weights(0, weight_init, cfg.method.density, cfg.model.scale_fan)
    seeds = list(range(1, m + 1)) if seeds is None else seeds
    model.init_scores(seeds, cfg.method.score_init)
    method = cls(cfg)
    method.setup(model, 0, seeds)
    return model, method


def counts(model) -> dict[str, np.ndarray]:
    return {n: v.reshape(v.shape[0], -1).sum(1) for n, v in model.current_masks().items()}


# kept counts and exact top-k -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "density", "expected"),
    [(10, 0.9, 9), (10, 0.7, 7), (10, 0.3, 3), (7, 0.5, 4), (100, 0.29, 29), (3, 0.01, 1), (5, 1.0, 5)],
)
def test_kept_count_guards_float_error(n, density, expected):
    assert kept_count(n, density) == expected


def test_kept_and_floor_counts_are_exact_for_decimal_fractions():
    # N - floor((1 - d) N) in rational arithmetic on the decimal d; a tolerance relative to
    # d * N once moved 11,164,352 x 0.946 = 10,561,476.992 up to an integer
    import math
    from fractions import Fraction

    rng = np.random.default_rng(0)
    sizes = [int(n) for n in rng.integers(1, 2**24, 200)] + [11_164_352, 4_300_992, 2_425_024, 200, 10, 7]
    fractions = [round(float(x), digits) for digits in (2, 3, 4, 6) for x in rng.random(12)]
    fractions += [0.054, 0.179, 0.9, 0.7, 0.3, 0.29, 0.01, 0.99, 0.5, 1.0]
    for n in sizes:
        for d in fractions:
            exact = Fraction(repr(d))
            assert kept_count(n, d) == n - math.floor((1 - exact) * n), (n, d)
            assert floor_count(n, d) == math.floor(exact * n), (n, d)
    assert kept_count(11_164_352, 0.054) == 602_876 and kept_count(11_164_352, 0.179) == 1_998_420


def test_counts_of_fractions_computed_in_floats_ignore_their_rounding_error():
    assert floor_count(10, 0.1 * 3) == 3  # 0.30000000000000004
    assert floor_count(10, 1 - 0.7) == 3  # 0.30000000000000004
    assert kept_count(10, 0.1 * 7) == 7  # 0.7000000000000001
    assert kept_count(100, 1 - 0.07) == 93  # 0.9299999999999999
    assert kept_count(11_164_352, 1 - 0.25) == 11_164_352 - 2_791_088


def test_floor_count_guards_float_error():
    assert floor_count(10, 0.3) == 3
    assert floor_count(10, 0.7) == 7
    assert floor_count(7, 0.5) == 3


def test_topk_mask_exact_with_ties():
    gen = torch.Generator().manual_seed(0)
    values = torch.randint(0, 3, (5, 40), generator=gen).float()  # massive ties
    values[0] = 1.0
    for k in (0, 1, 13, 20, 39, 40):
        mask = topk_mask(values, k)
        assert mask.sum(1).tolist() == [k] * 5
        # every kept value is >= every dropped value
        for row, keep in zip(values, mask):
            if 0 < k < 40:
                assert row[keep].min() >= row[~keep].max()


def test_topk_mask_breaks_ties_by_lowest_index():
    values = torch.tensor([[0.0, 1.0, 1.0, 2.0, 1.0, 1.0], [1.0] * 6])
    assert topk_mask(values, 3).tolist() == [
        [False, True, True, True, False, False],
        [True, True, True, False, False, False],
    ]


def test_topk_mask_infinite_keys():
    values = torch.tensor([[math.inf, 0.1, -math.inf, 0.5, math.inf, 0.2]])
    assert topk_mask(values, 3)[0].tolist() == [True, False, False, True, True, False]
    assert topk_mask(values, 1).sum() == 1


@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("hidden", [(16, 12), (7, 3)])
def test_edge_popup_exact_count_per_layer(density, hidden):
    model, _ = make(EdgePopup, m=3, hidden=hidden, **{"method.density": density})
    for name, c in counts(model).items():
        n = dict(model.masked_layers())[name].numel
        assert c.tolist() == [kept_count(n, density)] * 3


def test_edge_popup_exact_count_with_tied_scores():
    model, _ = make(EdgePopup, m=2, **{"method.density": 0.4, "method.score_init": "constant"})
    for _, layer in model.masked_layers():
        layer.scores.data.fill_(0.5)  # every score tied
    for name, c in counts(model).items():
        assert c.tolist() == [kept_count(dict(model.masked_layers())[name].numel, 0.4)] * 2


def test_edge_popup_ranks_absolute_scores():
    model, _ = make(EdgePopup, m=1, **{"method.density": 0.5})
    name, layer = model.masked_layers()[0]
    keys = layer.scores.detach().abs().reshape(-1)
    expected = keys >= keys.sort(descending=True).values[kept_count(layer.numel, 0.5) - 1]
    assert torch.equal(torch.as_tensor(model.current_masks()[name]).reshape(-1), expected)


def test_dense_layers_are_all_ones_and_not_optimised():
    model, method = make(EdgePopup, **{"model.first_layer_dense": True})
    masks = model.current_masks()
    assert masks["fcs.0"].all()
    params = method.parameters(model)
    assert len(params) == 2 and all(p is not model.fcs[0].scores for p in params)


# straight-through gradients --------------------------------------------------------------------


@pytest.mark.parametrize("cls", [EdgePopup, Biprop])
def test_score_gradient_is_g_times_w_times_sign_s(cls):
    model, _ = make(cls, m=2, **{"method.density": 0.4})
    model.rule.prepare(model)
    layer = model.fcs[1]
    g = torch.randn(layer.scores.shape, generator=torch.Generator().manual_seed(3))
    layer.effective_weight().backward(g)
    expected = g * layer.weight * torch.sign(layer.scores.detach())
    torch.testing.assert_close(layer.scores.grad, expected)


def test_iterand_gradient_passes_straight_to_raw_scores():
    model, _ = make(IteRand, m=2)
    layer = model.fcs[0]
    g = torch.randn(layer.scores.shape, generator=torch.Generator().manual_seed(4))
    layer.effective_weight().backward(g)
    torch.testing.assert_close(layer.scores.grad, g * layer.weight)


# Biprop ----------------------------------------------------------------------------------------


def test_biprop_effective_weight_is_plus_minus_alpha():
    model, _ = make(Biprop, m=3, **{"method.density": 0.3})
    for _, layer in model.masked_layers():
        hard = layer.binary_mask()
        w_eff = layer.effective_weight().detach()
        for i in range(3):
            alpha = layer.weight[0][hard[i]].abs().mean()
            kept = w_eff[i][hard[i]]
            assert torch.equal(kept.abs(), kept.abs()[0].expand_as(kept))  # one exact value
            torch.testing.assert_close(kept.abs()[0], alpha)
            assert torch.equal(torch.sign(kept), torch.sign(layer.weight[0][hard[i]]))
            assert torch.equal(w_eff[i][~hard[i]], torch.zeros_like(w_eff[i][~hard[i]]))


def test_biprop_global_alpha_uses_actual_kept_count():
    model, _ = make(Biprop, m=2, **{"method.density": 0.3, "method.global_topk": True})
    model.rule.prepare(model)
    for _, layer in model.masked_layers():
        hard = layer.binary_mask()
        w_eff = layer.effective_weight().detach()
        for i in range(2):
            alpha = layer.weight[0][hard[i]].abs().sum() / hard[i].sum()
            torch.testing.assert_close(w_eff[i][hard[i]].abs().max(), alpha)


# global top-k ----------------------------------------------------------------------------------


def test_global_topk_keeps_global_count_and_ranks_across_layers():
    model, _ = make(EdgePopup, m=3, **{"method.density": 0.3, "method.global_topk": True})
    masks = model.current_masks()
    layers = dict(model.masked_layers())
    total = sum(layer.numel for layer in layers.values())
    assert sum(c for c in counts(model).values()).tolist() == [kept_count(total, 0.3)] * 3
    per_layer = [c for c in counts(model).values()]
    assert not all((c == per_layer[0]).all() for c in per_layer[1:])  # densities differ by layer
    for i in range(3):
        keys = torch.cat([layers[n].scores[i].detach().abs().reshape(-1) for n in masks])
        kept = torch.cat([torch.as_tensor(masks[n][i]).reshape(-1) for n in masks])
        assert keys[kept].min() >= keys[~kept].max()


def test_annealed_density_follows_the_cubic_schedule():
    assert annealed_density(0.1, 0, 10) == pytest.approx(0.5)
    assert annealed_density(0.1, 5, 10) == pytest.approx(0.1 + 0.4 * 0.5**3)
    assert [annealed_density(0.1, e, 10) for e in (10, 11, 40)] == [0.1, 0.1, 0.1]
    steps = [annealed_density(0.2, e, 4) for e in range(5)]
    assert all(a > b for a, b in zip(steps, steps[1:]))  # strictly down to the target
    assert annealed_density(0.7, 0, 10) == 0.7  # denser than half: never annealed
    assert annealed_density(0.1, 0, 0) == 0.1  # off


@pytest.mark.parametrize("cls", [EdgePopup, Biprop])
def test_global_annealing_starts_at_half_and_ends_at_the_target(cls):
    overrides = {"method.density": 0.2, "method.global_topk": True, "method.anneal_epochs": 4}
    model, method = make(cls, m=2, **overrides)
    total = sum(layer.numel for _, layer in model.masked_layers())
    for epoch, density in [(0, 0.5), (2, annealed_density(0.2, 2, 4)), (4, 0.2), (9, 0.2)]:
        method.before_epoch(model, epoch)
        # a direct mask() call (no prepare()) must not serve masks cached under the old count
        direct = sum(layer.binary_mask().reshape(2, -1).sum(1) for _, layer in model.masked_layers())
        assert direct.tolist() == [kept_count(total, density)] * 2, epoch
        assert sum(counts(model).values()).tolist() == [kept_count(total, density)] * 2, epoch


def test_the_trainer_anneals_at_the_start_of_every_epoch(monkeypatch):
    from landscape.config import load_config
    from landscape.search.runner import load_dataset
    from landscape.search.trainer import Trainer

    overrides = {"model.hidden": [32, 32], "train.epochs": 4, "method.global_topk": True,
                 "method.density": 0.1, "method.anneal_epochs": 3}  # fmt: skip
    cfg = load_config("configs/digits_mlp_edge_popup.yaml", overrides)
    kept = []
    real = EdgePopup.before_epoch

    def recording(self, model, epoch):
        real(self, model, epoch)
        kept.append((epoch, self.global_k))

    monkeypatch.setattr(EdgePopup, "before_epoch", recording)
    result = Trainer(cfg, load_dataset(cfg.data), 0, [0, 1], "cpu", progress=False).run()
    total = 64 * 32 + 32 * 32 + 32 * 10
    assert kept == [(e, kept_count(total, annealed_density(0.1, e, 3))) for e in range(4)]
    assert kept[0][1] == kept_count(total, 0.5) and kept[-1][1] == kept_count(total, 0.1)
    assert sum(m.reshape(2, -1).sum(1) for m in result.masks.values()).tolist() == [kept[-1][1]] * 2


def test_global_masks_follow_score_updates():
    model, _ = make(EdgePopup, m=1, **{"method.global_topk": True})
    before = model.current_masks()
    with torch.no_grad():
        model.fcs[2].scores.mul_(100.0)  # last layer now wins every global rank
    after = model.current_masks()
    assert after["fcs.2"].all() and not np.array_equal(before["fcs.2"], after["fcs.2"])


# Iterative Weight Recycling --------------------------------------------------------------------


def test_recycle_rank_pairing_exact():
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(2, 4, 5, generator=gen)
    keys = torch.rand(2, 4, 5, generator=gen)
    for ablation in (False, True):
        w = weight.clone()
        recycle_weights_(w, keys, 0.2, ablation=ablation)
        for i in range(2):
            order = np.argsort(keys[i].reshape(-1).numpy(), kind="stable")
            n = int(0.2 * 20)
            expected = weight[i].reshape(-1).clone()
            src = order[n : 2 * n] if ablation else order[20 - n :]
            expected[order[:n]] = weight[i].reshape(-1)[src]
            assert torch.equal(w[i].reshape(-1), expected)
            changed = (w[i] != weight[i]).reshape(-1).nonzero().flatten().tolist()
            assert set(changed) <= set(order[:n].tolist())


def test_recycle_schedule():
    due = [e for e in range(12) if recycle_due(e, every=3, warmup=0, is_last=e == 11)]
    assert due == [3, 6, 9]
    assert [e for e in range(12) if recycle_due(e, 3, warmup=3, is_last=e == 11)] == [6, 9]
    assert not recycle_due(9, 3, 0, is_last=True)
    assert not any(recycle_due(e, 0, 0, False) for e in range(5))


@pytest.mark.parametrize("cls", [EdgePopup, Biprop])
def test_recycling_in_after_epoch_changes_only_low_score_slots(cls):
    model, method = make(cls, m=2, **{"method.recycle.every": 2, "method.recycle.rate": 0.25})
    assert method.changes_weights
    layer = model.fcs[1]
    assert layer.weight.shape[0] == 2  # per-mask copies
    masks_before = model.current_masks()
    before = layer.weight.clone()
    method.after_epoch(model, 1, is_last=False)  # not due
    assert torch.equal(layer.weight, before)
    method.after_epoch(model, 2, is_last=False)
    for i in range(2):
        order = layer.scores[i].detach().abs().reshape(-1).argsort(stable=True)
        n = int(0.25 * layer.numel)
        flat_before = before[i].reshape(-1)
        expected = flat_before.clone()
        expected[order[:n]] = flat_before[order[layer.numel - n :]]
        assert torch.equal(layer.weight[i].reshape(-1), expected)
    for name, m in model.current_masks().items():  # scores untouched: same masks
        assert np.array_equal(m, masks_before[name])


# IteRand ---------------------------------------------------------------------------------------


def test_iterand_masks_by_raw_scores():
    model, _ = make(IteRand, m=1, **{"method.density": 0.5})
    name, layer = model.masked_layers()[1]
    s = layer.scores.detach().reshape(-1)
    expected = s >= s.sort(descending=True).values[kept_count(layer.numel, 0.5) - 1]
    assert torch.equal(torch.as_tensor(model.current_masks()[name]).reshape(-1), expected)


def test_iterand_redraws_about_prob_of_pruned_and_never_kept():
    prob = 0.3
    model, method = make(
        IteRand, m=2, hidden=(100, 100), **{"method.rerand.prob": prob, "method.rerand.every": 5}
    )
    masks = model.current_masks()
    before = {n: layer.weight.clone() for n, layer in model.masked_layers()}
    method.before_step(model, 3)  # (3 + 1) % 5 != 0: nothing
    assert all(torch.equal(before[n], layer.weight) for n, layer in model.masked_layers())
    method.before_step(model, 4)
    changed = pruned = 0
    for name, layer in model.masked_layers():
        kept = torch.as_tensor(masks[name])
        diff = layer.weight != before[name]
        assert not diff[kept].any()
        changed += int(diff[~kept].sum())
        pruned += int((~kept).sum())
    sd = math.sqrt(pruned * prob * (1 - prob))
    assert abs(changed - prob * pruned) < 5 * sd


def test_iterand_partial_rate_only_lowest_scores():
    model, method = make(
        IteRand,
        m=1,
        hidden=(100,),
        **{"method.rerand.prob": 1.0, "method.rerand.rate": 0.5, "method.rerand.every": 1},
    )
    layer = model.fcs[0]
    before = layer.weight.clone()
    method.before_step(model, 0)
    s = layer.scores.detach().reshape(-1)
    n_pruned = layer.numel - kept_count(layer.numel, 0.5)
    lowest = s.argsort()[: floor_count(n_pruned, 0.5)]
    changed = (layer.weight != before).reshape(-1)
    expected = torch.zeros_like(changed)
    expected[lowest] = True
    assert torch.equal(changed, expected)  # prob 1: every candidate re-drawn, nothing else


def test_iterand_redraw_uses_init_distribution():
    model, method = make(
        IteRand,
        m=1,
        hidden=(200,),
        weight_init="signed_constant",
        **{"method.rerand.prob": 1.0, "method.rerand.every": 1},
    )
    method.before_step(model, 0)
    layer = model.fcs[0]
    # signed constant: re-drawn values keep the magnitude sqrt(2 / fan_in), only signs change
    torch.testing.assert_close(layer.weight.abs(), torch.full_like(layer.weight, math.sqrt(2 / 8)))
