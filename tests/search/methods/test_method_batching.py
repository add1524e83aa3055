"""Batched M = 3 equals three M = 1 runs; state dicts round-trip for resuming."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from landscape.config import SearchConfig
from landscape.nn.models import MLP
from landscape.registries import methods

SEEDS = [11, 12, 13]

CASES = {
    "edge_popup": {},
    "edge_popup_global": {"method.name": "edge_popup", "method.global_topk": True},
    "edge_popup_er": {"method.name": "edge_popup", "method.source.kind": "er", "method.source.density": 0.7},
    "edge_popup_frozen": {
        "method.name": "edge_popup",
        "method.source.kind": "frozen",
        "method.source.pruned": 0.2,
        "method.source.locked": 0.1,
    },
    "edge_popup_recycle": {"method.name": "edge_popup", "method.recycle.every": 1},
    "biprop": {},
    "iterand": {"method.rerand.every": 1, "method.rerand.prob": 0.5, "method.rerand.rate": 0.5},
    "iterand_global": {"method.name": "iterand", "method.global_topk": True, "method.rerand.every": 2},
    "iterand_epochs_manual": {
        "method.name": "iterand",
        "method.rerand.unit": "epoch",
        "method.rerand.every": 1,
        "method.rerand.mode": "manual",
        "method.rerand.mix_old": 0.6,
        "method.rerand.mix_new": 0.8,
        "method.score_init": "kaiming_uniform_relu",
    },
    "edge_popup_recycle_steps": {
        "method.name": "edge_popup",
        "method.recycle.every": 1,
        "method.recycle.unit": "step",
        "method.recycle.mode": "iterand_recycle",
        "method.recycle.rate": 0.4,
    },
    "edge_popup_frozen_layerwise_rescaled": {
        "method.name": "edge_popup",
        "method.source.kind": "frozen",
        "method.source.pruned": 0.2,
        "method.source.locked": 0.1,
        "method.source.scope": "layer",
        "method.source.distribution": "equal",
        "method.rescale": "dynamic",
    },
    "edge_popup_er_exact_erk": {
        "method.name": "edge_popup",
        "method.source.kind": "er",
        "method.source.density": 0.35,
        "method.source.sampling": "exact",
        "method.source.er_distribution": "erk",
    },
    "random": {},
    "dense": {"method.density": 0.4},
    "kstarts": {"method.kstarts.fitness": "both"},
    "kstarts_late": {
        "method.name": "kstarts",
        "method.kstarts.select_after": 3,
        "method.kstarts.fitness": "gradient",
    },
    "dissipating": {},
    "kstarts_dissipating": {},
}


def config(case: str) -> SearchConfig:
    extra = dict(CASES[case])
    name = extra.pop("method.name", case)
    return SearchConfig().replace(
        **{
            "method.name": name,
            "model.hidden": [16, 12],
            "model.weight_init": "kaiming_normal",
            "method.density": 0.35,
            "train.epochs": 4,
            **extra,
        }
    )


def build(case: str, seeds: list[int]):
    cfg = config(case)
    model = MLP(cfg.model, (8,), 5, n_masks=len(seeds))
    model.init_weights(0, cfg.model.weight_init, cfg.method.density, cfg.model.scale_fan)
    model.init_scores(seeds, cfg.method.score_init)
    method = methods.load(cfg.method.name)(cfg)
    method.setup(model, 0, seeds)
    return model, method


def drive(model, method, seeds: list[int]) -> None:
    """Two epochs of deterministic per-mask 'training' through every hook."""
    if not method.needs_training:
        return
    step = 0
    method.set_steps_per_epoch(2)
    for epoch in range(2):
        method.before_epoch(model, epoch)
        for _ in range(2):
            method.before_step(model, step)
            x = torch.stack(
                [torch.randn(4, 8, generator=torch.Generator().manual_seed(s + step)) for s in seeds]
            )
            model(x).square().mean(dim=(1, 2)).sum().backward()
            with torch.no_grad():
                for p in method.parameters(model):
                    p -= 0.1 * p.grad
                    p.grad = None
            method.after_step(model, step)
            step += 1
        method.after_epoch(model, epoch, is_last=epoch == 3)


def snapshot(model) -> tuple[dict, dict]:
    masks = model.current_masks()
    weights = {n: layer.weight.detach().clone() for n, layer in model.masked_layers()}
    return masks, weights


@pytest.mark.parametrize("case", sorted(CASES))
def test_batched_equals_sequential(case):
    model, method = build(case, SEEDS)
    assert method.batchable
    drive(model, method, SEEDS)
    masks, weights = snapshot(model)
    for i, seed in enumerate(SEEDS):
        single, single_method = build(case, [seed])
        drive(single, single_method, [seed])
        s_masks, s_weights = snapshot(single)
        for name in masks:
            assert np.array_equal(masks[name][i], s_masks[name][0]), (case, name, i)
            w = weights[name][min(i, weights[name].shape[0] - 1)]
            torch.testing.assert_close(w, s_weights[name][0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_state_dict_round_trip_resumes_identically(case):
    model, method = build(case, SEEDS)
    drive(model, method, SEEDS)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "method": method.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=False)

    resumed, resumed_method = build(case, SEEDS)
    resumed.load_state_dict(state["model"])
    resumed_method.load_state_dict(state["method"])
    assert resumed_method.state_dict().keys() == method.state_dict().keys()
    for other, other_method in ((model, method), (resumed, resumed_method)):
        other_method.after_epoch(other, 2, is_last=False)
        other_method.after_epoch(other, 3, is_last=True)
    a, b = snapshot(model), snapshot(resumed)
    for name in a[0]:
        assert np.array_equal(a[0][name], b[0][name]), (case, name)
        torch.testing.assert_close(a[1][name], b[1][name])
