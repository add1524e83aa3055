"""Weight-training baselines: dense/random-pruned training, K-starts, dissipating gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape.config import SearchConfig
from landscape.errors import ConfigError
from landscape.nn.models import MLP
from landscape.search.methods.base import kept_count
from landscape.search.methods.pruning import (
    candidate_fitness,
    dissipate_row,
    relative_change,
    scheduled_kept,
)
from landscape.search.methods.weight_training import (
    DenseTraining,
    DissipatingGradients,
    KStarts,
    KStartsDissipating,
)
from tests.search.test_methods import registered_name


def make(cls, m=2, seeds=None, hidden=(12,), **overrides):
    overrides.setdefault("method.name", registered_name(cls))
    cfg = SearchConfig().replace(
        **{
            "model.hidden": list(hidden),
            "model.weight_init": "kaiming_normal",
            "train.epochs": 6,
            **overrides,
        }
    )
    model = MLP(cfg.model, (10,), 4, n_masks=m)
    model.init_weights(3, cfg.model.weight_init, cfg.method.density)
    seeds = list(range(1, m + 1)) if seeds is None else seeds
    model.init_scores(seeds, cfg.method.score_init)
    method = cls(cfg)
    method.setup(model, 3, seeds)
    return model, method


def test_dense_training_trains_weights_with_all_ones():
    model, method = make(DenseTraining, **{"method.density": 1.0})
    assert method.trains_weights and method.changes_weights
    params = method.parameters(model)
    assert len(params) == 2 and all(isinstance(p, torch.nn.Parameter) and p.shape[0] == 2 for p in params)
    assert all(m.all() for m in model.current_masks().values())
    x = torch.randn(2, 3, 10)
    model(x).sum().backward()
    assert all(p.grad is not None for p in params)


def test_dense_training_below_one_is_a_fixed_random_mask():
    model, _ = make(DenseTraining, **{"method.density": 0.3})
    for name, m in model.current_masks().items():
        n = dict(model.masked_layers())[name].numel
        assert m.reshape(2, -1).sum(1).tolist() == [kept_count(n, 0.3)] * 2


def test_weight_training_rejects_sources():
    with pytest.raises(ConfigError, match="method.source.kind"):
        make(KStarts, **{"method.source.kind": "er", "method.source.density": 0.8})


# K-starts --------------------------------------------------------------------------------------


def _plant(model, method, mask_index, best, value=1.0):
    """Make candidate ``best`` of mask ``mask_index`` hold the large weights."""
    with torch.no_grad():
        for (_, layer), c in zip(method.searchable(), method.candidates(mask_index, best)):
            layer.weight[mask_index] = 0.01
            layer.weight[mask_index][c] = value


@pytest.mark.parametrize("fitness", ["magnitude", "both"])
def test_kstarts_picks_fittest_by_magnitude(fitness):
    model, method = make(
        KStarts, **{"method.density": 0.3, "method.kstarts.k": 5, "method.kstarts.fitness": fitness}
    )
    _plant(model, method, 0, best=3)
    _plant(model, method, 1, best=1)
    if fitness == "both":  # equal gradient fitness for every candidate
        method.grad_sum = {n: torch.ones_like(layer.weight) for n, layer in method.searchable()}
    method.after_epoch(model, 0, is_last=False)  # select_after = 1
    assert method.phase == "masked" and method.chosen == [3, 1]
    masks = model.current_masks()
    for i, best in ((0, 3), (1, 1)):
        for (name, _), c in zip(method.searchable(), method.candidates(i, best)):
            assert np.array_equal(masks[name][i], c.numpy())


def test_kstarts_gradient_fitness_accumulates_backward_passes():
    model, method = make(
        KStarts, **{"method.density": 0.3, "method.kstarts.k": 4, "method.kstarts.fitness": "gradient"}
    )
    targets = {}
    for (name, layer), c in zip(method.searchable(), method.candidates(0, 2)):
        targets[name] = torch.where(c, 1.0, 0.001).expand(2, *layer.weight_shape).clone()
    for (name, _), c in zip(method.searchable(), method.candidates(1, 0)):
        targets[name][1] = torch.where(c, 1.0, 0.001)
    for _ in range(2):  # d/dW sum(W * T) = T, summed over two steps
        method.before_step(model, 0)
        loss = sum((layer.effective_weight() * targets[n]).sum() for n, layer in method.searchable())
        loss.backward()
    for name, t in targets.items():
        torch.testing.assert_close(method.grad_sum[name], 2 * t)
    method.after_epoch(model, 0, is_last=False)
    assert method.chosen == [2, 0]
    assert method.grad_sum == {}


def test_kstarts_waits_for_select_after():
    model, method = make(KStarts, **{"method.kstarts.select_after": 3})
    method.after_epoch(model, 0, is_last=False)
    method.after_epoch(model, 1, is_last=False)
    assert method.phase == "select" and all(m.all() for m in model.current_masks().values())
    method.after_epoch(model, 2, is_last=False)
    assert method.phase == "masked"


def test_candidate_fitness_both_is_normalised_product():
    mag = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    grad = torch.tensor([[3.0, 2.0, 0.5]], dtype=torch.float64)
    both = candidate_fitness(mag, grad, "both")
    torch.testing.assert_close(both, (mag / 2.0) * (grad / (5.5 / 3)))
    assert int(both.argmax()) == 1


# dissipating gradients -------------------------------------------------------------------------


def test_relative_change_and_schedule():
    w0 = torch.tensor([1.0, -2.0, 0.0, 0.0])
    w = torch.tensor([1.05, -1.0, 0.0, 0.3])
    torch.testing.assert_close(relative_change(w, w0), torch.tensor([0.05, 0.5, 0.0, float("inf")]))
    assert [scheduled_kept(10, 4, c, 3) for c in range(4)] == [10, 8, 6, 4]


def test_dissipate_row_criterion_cap_and_schedule():
    rel = torch.tensor([0.01, 0.5, 0.02, 0.9, 0.03, 0.7, 0.6, 0.8, 0.4, 0.3])
    kept = torch.ones(10, dtype=torch.bool)
    # three weights within tau = 0.05, cap 5, schedule needs 1: exactly those three go
    out = dissipate_row(kept, rel, tau=0.05, target=2, scheduled=9, max_step=5)
    assert (~out).nonzero().flatten().tolist() == [0, 2, 4]
    # cap 2: the two smallest relative changes among them
    out = dissipate_row(kept, rel, tau=0.05, target=2, scheduled=9, max_step=2)
    assert (~out).nonzero().flatten().tolist() == [0, 2]
    # schedule needs 5: the criterion's three plus the two next-smallest changes
    out = dissipate_row(kept, rel, tau=0.05, target=2, scheduled=5, max_step=2)
    assert (~out).nonzero().flatten().tolist() == [0, 2, 4, 8, 9]
    # never below the target
    out = dissipate_row(kept, torch.zeros(10), tau=0.05, target=7, scheduled=7, max_step=10)
    assert int(out.sum()) == 7


def test_dissipating_prunes_weights_within_tau_and_reaches_target():
    model, method = make(
        DissipatingGradients,
        m=1,
        **{
            "method.density": 0.4,
            "method.dissipate.tau": 0.1,
            "method.dissipate.step": 0.2,
            "train.epochs": 6,
        },
    )
    layer = model.fcs[0]  # 120 weights; target 48; 3 checks: schedule 120 -> 96 -> 72 -> 48
    with torch.no_grad():
        layer.weight.mul_(2.0)  # every weight moved by 100 %
        still = torch.zeros(layer.numel, dtype=torch.bool)
        still[torch.arange(0, 40, 2)] = True  # 20 weights barely moved: 5 %
        flat = layer.weight.view(1, -1)
        flat[0, still] = method.initial["fcs.0"].reshape(1, -1)[0, still] * 1.05
    method.after_epoch(model, 0, is_last=False)
    mask = torch.as_tensor(model.current_masks()["fcs.0"]).reshape(-1)
    # the criterion finds 20 (cap 24); the schedule needs 24: 4 more among the 100 % movers
    assert not mask[still].any()
    assert int((~mask).sum()) == 24
    method.after_epoch(model, 1, is_last=False)
    assert int(model.current_masks()["fcs.0"].sum()) == 72
    method.after_epoch(model, 2, is_last=False)
    for name, m in model.current_masks().items():
        n = dict(model.masked_layers())[name].numel
        assert int(m.sum()) == kept_count(n, 0.4)
    before = model.current_masks()
    method.after_epoch(model, 3, is_last=False)  # schedule over: nothing more
    assert all(np.array_equal(before[n], m) for n, m in model.current_masks().items())


def test_dissipating_reaches_target_on_a_short_run():
    model, method = make(DissipatingGradients, **{"method.density": 0.25, "train.epochs": 1})
    method.after_epoch(model, 0, is_last=True)
    for name, m in model.current_masks().items():
        n = dict(model.masked_layers())[name].numel
        assert m.reshape(2, -1).sum(1).tolist() == [kept_count(n, 0.25)] * 2


def test_kstarts_dissipating_selects_then_prunes_within_chosen_mask():
    model, method = make(
        KStartsDissipating, **{"method.density": 0.25, "method.kstarts.select_after": 2, "train.epochs": 6}
    )
    method.after_epoch(model, 0, is_last=False)
    method.after_epoch(model, 1, is_last=False)
    chosen = model.current_masks()
    for name, m in chosen.items():
        n = dict(model.masked_layers())[name].numel
        assert m.reshape(2, -1).sum(1).tolist() == [kept_count(n, 0.5)] * 2  # density 0.25 ** 0.5
    for epoch in range(2, 6):
        method.after_epoch(model, epoch, is_last=epoch == 5)
    for name, m in model.current_masks().items():
        n = dict(model.masked_layers())[name].numel
        assert m.reshape(2, -1).sum(1).tolist() == [kept_count(n, 0.25)] * 2
        assert not (m & ~chosen[name]).any()  # only pruned within the chosen mask


def test_masks_have_their_final_form_once_the_selection_or_every_check_ran():
    _, method = make(DissipatingGradients, **{"method.density": 0.4, "train.epochs": 6})
    n = method.n_checks()  # the checks end epochs 0 .. n - 1
    assert [method.final_form(e) for e in range(6)] == [e >= n for e in range(6)] and 0 < n < 6
    _, ks = make(KStarts, **{"method.density": 0.4, "method.kstarts.select_after": 2})
    assert not ks.final_form(0)  # the dense phase
    ks.phase = "masked"
    assert ks.final_form(1)
