"""Score checkpoints of hidden-networks, Biprop, IWR and IteRand: the imported masks are each
code's rule applied by hand (torch, in that code's arithmetic), kept counts included."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from landscape.errors import ConfigError
from landscape.importers import import_masks
from landscape.search.methods.base import kept_count
from landscape.store import RunStore
from tests.importers.conftest import TINY_DATA, frankle_state, save_checkpoint, save_settings, stored_masks


# --- the rules, by hand ---------------------------------------------------------------------
def drop_smallest_by_hand(scores: torch.Tensor, keep: float) -> np.ndarray:
    """hidden-networks / Biprop / IWR layer-wise: the int((1 - k) N) smallest |S| are zeroed."""
    flat = scores.abs().flatten()
    order = flat.sort(stable=True).indices
    out = torch.ones_like(flat)
    out[order[: int((1 - keep) * flat.numel())]] = 0
    return out.reshape(scores.shape).bool().numpy()


def biprop_global_by_hand(scores: list[torch.Tensor], keep: float) -> list[np.ndarray]:
    """One threshold: the sorted |S| of all layers at index int((1 - k) N) - 1, kept if above."""
    z = torch.cat([s.abs().flatten() for s in scores]).sort().values
    t = z[int((1 - keep) * z.numel()) - 1]
    return [(s.abs() > t).numpy() for s in scores]


def iterand_by_hand(scores: torch.Tensor, sparsity: float) -> np.ndarray:
    """IteRand: keep raw scores not below the (100 sparsity)-th percentile (kthvalue)."""
    k = 1 + round(0.01 * float(sparsity * 100) * (scores.numel() - 1))
    value = scores.flatten().kthvalue(k).values.item()
    return (~(scores < value)).numpy()


def _import(tmp_path, fmt, sources, *overrides, **kw):
    result = import_masks(sources, tmp_path / "runs", fmt, [*TINY_DATA, *overrides], **kw)
    assert len(result.runs) == 1
    return result, result.runs[0]


def _ckpt_layers(state: dict, key: str = "scores") -> dict[str, torch.Tensor]:
    return {k[: -len(key) - 1]: v for k, v in state.items() if k.endswith("." + key)}


TOOLKIT_NAMES = dict(
    zip(
        [
            "convs.0",
            "convs.2",
            "convs.5",
            "convs.7",
            "convs.10",
            "convs.12",
            "linear.0",
            "linear.2",
            "linear.4",
        ],
        ["convs.0", "convs.1", "convs.2", "convs.3", "convs.4", "convs.5", "fcs.0", "fcs.1", "fcs.2"],
    )
)


# --- hidden-networks ------------------------------------------------------------------------
def test_hidden_networks_masks_are_getsubnet_and_weights_come_along(tmp_path):
    states = [frankle_state(score_seed=s) for s in range(2)]
    for s, state in enumerate(states):
        run = tmp_path / "ckpts" / f"seed{s}"
        save_checkpoint(run / "checkpoints" / "model_best.pth", state)
        save_settings(
            run, prune_rate=0.3, arch="Conv6Wide", width_mult=0.0625, conv_type="SubnetConv", epochs=100
        )
    result, summary = _import(tmp_path, "hidden_networks", [tmp_path / "ckpts"])
    store = RunStore.open(summary.path)
    assert store.config.model.name == "conv6" and store.config.model.width_mult == 0.0625
    assert store.config.method.density == 0.3 and store.config.train.epochs == 100
    assert store.config.origin.format == "hidden_networks"
    masks = stored_masks(summary.path)
    assert sorted(masks) == [(0, 0), (0, 1)]  # one random network (identical weights), two masks
    for s, state in enumerate(states):
        for ref, scores in _ckpt_layers(state).items():
            expected = drop_smallest_by_hand(scores, 0.3).reshape(masks[(0, s)][TOOLKIT_NAMES[ref]].shape)
            np.testing.assert_array_equal(masks[(0, s)][TOOLKIT_NAMES[ref]], expected)
        weights = store.load_weights(0, s)
        np.testing.assert_array_equal(
            weights["fcs.0"], state["linear.0.weight"].numpy().reshape(weights["fcs.0"].shape)
        )
    records = store.records()
    assert records["test_acc"].tolist() == [0.805, 0.805] and records["epochs"].tolist() == [100, 100]
    meta = json.loads((summary.path / "meta.json").read_text())
    assert "int((1 - k) * N)" in meta["provenance"]["import"]["rule"]


# settings.txt of one Conv-6 run per format (the keys each code's importer reads)
RUN_SETTINGS = {
    "hidden_networks": dict(conv_type="SubnetConv"),
    "biprop": dict(conv_type="SubnetConv"),
    "iwr": dict(conv_type="SubnetConvEdgePopup", rerand_type=None),
}


@pytest.mark.parametrize("fmt", sorted(RUN_SETTINGS))
def test_model_best_of_an_earlier_epoch_gives_no_test_acc(tmp_path, fmt):
    # model_best.pth is copied whenever an epoch beats all earlier ones on the test set, so
    # curr_acc1 == best_acc1 is the best test accuracy over epochs, not a final-epoch one
    run = tmp_path / "ckpts" / "seed0"
    save_checkpoint(
        run / "checkpoints" / "model_best.pth", frankle_state(), curr_acc1=81.25, best_acc1=81.25, epoch=37
    )
    save_settings(run, prune_rate=0.5, arch="Conv6Wide", width_mult=0.0625, epochs=100, **RUN_SETTINGS[fmt])
    result, summary = _import(tmp_path, fmt, [tmp_path / "ckpts"])
    records = RunStore.open(summary.path).records()
    assert records["test_acc"].isna().all()
    assert records["best_test_acc"].tolist() == [0.8125] and records["epochs"].tolist() == [37]
    assert records["selected_on"].tolist() == ["test"]
    assert any("selected on the test set" in n and "epoch 37 of 100" in n for n in result.notes), result.notes


@pytest.mark.parametrize(
    ("name", "curr", "best"), [("epoch_99.state", 80.5, 81.25), ("model_best.pth", 81.25, 81.25)]
)
def test_the_last_epoch_gives_test_acc(tmp_path, name, curr, best):
    # epoch counts finished epochs: 100 of 100 is the last, whether or not it was also the best
    run = tmp_path / "ckpts" / "seed0"
    save_checkpoint(run / "checkpoints" / name, frankle_state(), curr_acc1=curr, best_acc1=best, epoch=100)
    save_settings(
        run, prune_rate=0.5, arch="Conv6Wide", width_mult=0.0625, conv_type="SubnetConv", epochs=100
    )
    result, summary = _import(tmp_path, "hidden_networks", [run / "checkpoints" / name])
    records = RunStore.open(summary.path).records()
    assert records["test_acc"].tolist() == [curr / 100] and records["best_test_acc"].tolist() == [best / 100]
    assert "selected_on" not in records or records["selected_on"].isna().all()
    assert not any("selected on the test set" in n for n in result.notes)


def test_an_earlier_best_checkpoint_without_settings_is_taken_as_test_selected(tmp_path):
    path = save_checkpoint(
        tmp_path / "ckpts" / "b.pth", frankle_state(), curr_acc1=79.0, best_acc1=79.0, epoch=60
    )
    result, summary = _import(tmp_path, "hidden_networks", [path], "method.density=0.5")
    records = RunStore.open(summary.path).records()
    assert records["test_acc"].isna().all() and records["best_test_acc"].tolist() == [0.79]
    assert any("the run's length is not saved" in n for n in result.notes)
    # given the run's length, epoch 60 of 60 is the last
    result, summary = _import(
        tmp_path / "again", "hidden_networks", [path], "method.density=0.5", "train.epochs=60"
    )
    assert RunStore.open(summary.path).records()["test_acc"].tolist() == [0.79]


def test_reimport_is_a_no_op(tmp_path):
    save_checkpoint(tmp_path / "ckpts" / "a.pth", frankle_state())
    _, first = _import(tmp_path, "hidden_networks", [tmp_path / "ckpts" / "a.pth"], "method.density=0.5")
    before = {p.relative_to(first.path): p.read_bytes() for p in first.path.rglob("*") if p.is_file()}
    result, again = _import(tmp_path, "hidden_networks", [tmp_path / "ckpts" / "a.pth"], "method.density=0.5")
    after = {p.relative_to(again.path): p.read_bytes() for p in again.path.rglob("*") if p.is_file()}
    assert (again.added, again.already) == (0, 1)
    changed = {k for k in before if before[k] != after.get(k)}
    assert not changed and set(after) == set(before), changed
    assert "0 masks added, 1 already there" in result.summary()


@pytest.mark.parametrize(("keep", "n"), [(0.9, 10), (0.7, 10), (0.57, 100), (0.29, 100)])
def test_kept_counts_follow_the_reference_float_arithmetic(tmp_path, keep, n):
    # int((1 - 0.9) * 10) == 0: hidden-networks keeps all 10, the toolkit's own rule keeps 9
    from landscape.importers._rules import topk_drop_smallest

    scores = torch.randn(n)
    mask = topk_drop_smallest(scores.abs().numpy(), keep)
    assert mask.sum() == n - int((1 - keep) * n)
    np.testing.assert_array_equal(mask, drop_smallest_by_hand(scores, keep))
    if (keep, n) == (0.9, 10):
        assert mask.sum() == 10 and kept_count(n, keep) == 9


def test_a_layer_where_rounding_matters_is_stored_with_the_reference_count(tmp_path):
    # an MLP checkpoint (hidden-networks FC naming) whose last layer has 10 weights at k = 0.9
    g = torch.Generator().manual_seed(0)
    state = {}
    for i, shape in zip((0, 2, 4), ((8, 20, 1, 1), (5, 8, 1, 1), (2, 5, 1, 1))):
        state[f"linear.{i}.weight"] = torch.randn(shape, generator=g)
        state[f"linear.{i}.scores"] = torch.randn(shape, generator=g)
    save_checkpoint(tmp_path / "fc.pth", state, prefix="")
    shape = ["data.input_shape=[20]", "data.n_classes=2"]
    _, summary = _import(tmp_path, "hidden_networks", [tmp_path / "fc.pth"], "method.density=0.9", *shape)
    masks = stored_masks(summary.path)[(0, 0)]
    assert RunStore.open(summary.path).config.model.name == "mlp"
    assert masks["fcs.2"].sum() == 10  # 10 - int(0.9999999999999998)
    assert masks["fcs.1"].sum() == 40 - int((1 - 0.9) * 40)


def test_a_layer_of_the_right_size_in_another_arrangement_is_not_mapped_onto_the_model():
    """A mapping is checked layer by layer on shapes (unit axes aside), not sizes: an MLP's
    last layer stored transposed (16 x 10 instead of 10 x 16) is refused, the same layer as
    a 1 x 1 convolution is taken."""
    from landscape.importers import _naming

    fields = {"name": "mlp", "hidden": [16]}
    names = {"a": "fcs.0", "b": "fcs.1"}
    as_conv = [("a", (16, 8, 1, 1)), ("b", (10, 16, 1, 1))]
    assert _naming._checked(fields, names, {}, as_conv, (8,), 10).layout.names == ["fcs.0", "fcs.1"]
    transposed = [("a", (16, 8)), ("b", (16, 10))]
    with pytest.raises(_naming._NoFit, match="fcs.1 has another shape"):
        _naming._checked(fields, names, {}, transposed, (8,), 10)


# --- Biprop -----------------------------------------------------------------------------------
@pytest.mark.parametrize("conv_type", ["SubnetConv", "GlobalSubnetConv"])
def test_biprop_layerwise_and_global(tmp_path, conv_type):
    state = frankle_state(depth=4, width=0.125)
    path = save_checkpoint(tmp_path / "b.pth", state, conv_type=conv_type, prune_rate=0.2)
    _, summary = _import(tmp_path, "biprop", [path])
    store = RunStore.open(summary.path)
    assert store.config.method.name == "biprop" and store.config.method.density == 0.2
    assert store.config.method.global_topk == (conv_type == "GlobalSubnetConv")
    masks = stored_masks(summary.path)[(0, 0)]
    refs = _ckpt_layers(state)
    names = dict(zip(refs, [*(f"convs.{j}" for j in range(4)), "fcs.0", "fcs.1", "fcs.2"]))
    if conv_type == "SubnetConv":
        expected = {names[r]: drop_smallest_by_hand(s, 0.2) for r, s in refs.items()}
    else:
        expected = dict(zip(names.values(), biprop_global_by_hand(list(refs.values()), 0.2)))
        total = sum(m.size for m in expected.values())
        assert sum(int(m.sum()) for m in expected.values()) == total - int(0.8 * total)
    for name, mask in expected.items():
        np.testing.assert_array_equal(masks[name], mask.reshape(masks[name].shape))


@pytest.mark.parametrize(
    ("target", "epoch", "saved", "anneal", "noted"),
    [
        (0.3, 100, 0.3, 10, False),  # past the ramp: the run's target, annealed as main.py did
        (0.3, 4, 0.42, 0, True),  # model_best of epoch 4: masks of a density on the way
        (0.7, 100, 0.7, 0, False),  # targets above half the weights are never annealed
    ],
)
def test_a_global_biprop_run_keeps_its_density_ramp(tmp_path, target, epoch, saved, anneal, noted):
    run = tmp_path / "ckpts" / "r0"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state(depth=4), epoch=epoch,
                    conv_type="GlobalSubnetConv", prune_rate=saved)  # fmt: skip
    save_settings(run, prune_rate=target, prune_rate_epoch=10, width_mult=0.0625, conv_type="GlobalSubnetConv",
                  epochs=100, init="kaiming_normal")  # fmt: skip
    result, summary = _import(tmp_path, "biprop", [tmp_path / "ckpts"])
    method = RunStore.open(summary.path).config.method
    assert (method.global_topk, method.density, method.anneal_epochs) == (True, saved, anneal)
    assert any("inside the density ramp of 10 epochs" in n for n in result.notes) == noted, result.notes


@pytest.mark.parametrize(
    ("settings", "given", "anneal"),
    [({"prune_rate_epoch": -1}, [], 0), ({}, [], 0), ({}, ["train.epochs=100"], 10)],
)
def test_a_density_ramp_without_a_length_or_with_a_negative_one_is_not_claimed(
    tmp_path, settings, given, anneal
):
    run = tmp_path / "ckpts" / "r0"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state(depth=4), epoch=100,
                    conv_type="GlobalSubnetConv", prune_rate=0.3)  # fmt: skip
    save_settings(run, prune_rate=0.3, width_mult=0.0625, conv_type="GlobalSubnetConv", init="kaiming_normal",
                  **{"prune_rate_epoch": 10, **settings})  # fmt: skip
    result, summary = _import(tmp_path, "biprop", [tmp_path / "ckpts"], *given)
    assert RunStore.open(summary.path).config.method.anneal_epochs == anneal
    length_unknown = not settings and not given
    assert any("its density ramp of 10 epochs is not recorded" in n for n in result.notes) == length_unknown


def test_biprop_density_from_the_checkpoint_must_agree_with_set(tmp_path):
    from landscape.errors import ConfigError

    path = save_checkpoint(tmp_path / "b.pth", frankle_state(), conv_type="SubnetConv", prune_rate=0.5)
    with pytest.raises(
        ConfigError, match=r"method.density=0.3: the source says 0.5 \(checkpoint key prune_rate\)"
    ):
        _import(tmp_path, "biprop", [path], "method.density=0.3")


# --- IWR --------------------------------------------------------------------------------------
def test_iwr_reads_recycling_and_seeds_from_settings_and_keeps_recycled_weights(tmp_path):
    states = [frankle_state(score_seed=s, weight_seed=s) for s in range(2)]  # recycled: weights differ
    for s, state in enumerate(states):
        run = tmp_path / "iwr" / f"r{s}"
        save_checkpoint(run / "checkpoints" / "model_best.pth", state)
        save_settings(
            run, conv_type="SubnetConvBiprop", prune_rate=0.5, rerand_type="recycle", rerand_epoch_freq=10,
            rerand_rate=0.2, weight_seed=0, score_seed=s + 3, width_mult=0.0625,
        )  # fmt: skip
    _, summary = _import(tmp_path, "iwr", [tmp_path / "iwr"])
    store = RunStore.open(summary.path)
    cfg = store.config
    assert (cfg.method.name, cfg.method.recycle.every, cfg.method.recycle.rate) == ("biprop", 10, 0.2)
    masks = stored_masks(summary.path)
    assert sorted(masks) == [(0, 3), (0, 4)]  # weight_seed / score_seed of the runs
    for s, state in enumerate(states):
        np.testing.assert_array_equal(
            store.load_weights(0, s + 3)["convs.0"], state["convs.0.weight"].numpy()
        )
        np.testing.assert_array_equal(
            masks[(0, s + 3)]["convs.1"], drop_smallest_by_hand(state["convs.2.scores"], 0.5)
        )


def test_iwr_without_settings_needs_the_recycling_schedule(tmp_path):
    from landscape.errors import ConfigError

    path = save_checkpoint(tmp_path / "x.pth", frankle_state())
    with pytest.raises(ConfigError, match=r"x.pth: .*recycled.*--set method.recycle.every="):
        _import(tmp_path, "iwr", [path], "method.density=0.5")


# --- IteRand ----------------------------------------------------------------------------------
def _save_iterand(path, state, epoch=99):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "epoch": epoch,
            "model_state_dict": state,
            "optim_state_dict": {"state": {}, "param_groups": []},
            "sched_state_dict": {"last_epoch": epoch},
            "best_val": 0.8,
            "best_epoch": 90,
            "total_iters": 35200,
            "total_seconds": 1234.5,
        },
        path,
    )
    return path


@pytest.mark.parametrize("keep", [0.5, 0.4])
def test_iterand_percentile_rule_on_raw_scores(tmp_path, keep):
    state = frankle_state(score_key="weight_score", bias=True)
    path = _save_iterand(tmp_path / "out" / "dump.x.conv6.pth", state)
    _, summary = _import(tmp_path, "iterand", [tmp_path / "out"], f"method.density={keep}", *REDRAWS)
    store = RunStore.open(summary.path)
    assert store.config.method.name == "iterand" and store.records()["epochs"].tolist() == [100]
    masks = stored_masks(summary.path)[(0, 0)]
    for ref, scores in _ckpt_layers(state, "weight_score").items():
        name = TOOLKIT_NAMES[ref]
        np.testing.assert_array_equal(
            masks[name], iterand_by_hand(scores, round(1 - keep, 12)).reshape(masks[name].shape)
        )
    assert path.exists()


REDRAWS = ("method.rerand.every=300", "method.rerand.prob=0.1")  # the paper's CIFAR-10 K_per, lambda


def test_iterand_redraws_are_given_never_defaulted(tmp_path):
    """The dump saves no config: runs of other re-draw settings (the paper's lambda grid) get
    runs of their own, and the settings are never schema defaults."""
    state = frankle_state(score_key="weight_score", bias=True)
    for lam in ("0.01", "1.0"):
        _save_iterand(tmp_path / f"lambda{lam}" / "dump.x.conv6.pth", state)
    with pytest.raises(
        ConfigError, match=r"dump.x.conv6.pth: .*\(the YAML's rerand_lambda, or 0 for rerand_mode null\)"
    ):
        _import(tmp_path / "a", "iterand", [tmp_path / "lambda0.01"], "method.density=0.5")
    with pytest.raises(ConfigError, match=r"\(the YAML's rerand_freq\); give --set method.rerand.every="):
        _import(
            tmp_path / "a",
            "iterand",
            [tmp_path / "lambda0.01"],
            "method.density=0.5",
            "method.rerand.prob=0.1",
        )
    ids = set()
    for lam in ("0.01", "1.0"):
        _, summary = _import(tmp_path / lam, "iterand", [tmp_path / f"lambda{lam}"], "method.density=0.5",
                             "method.rerand.every=300", f"method.rerand.prob={lam}")  # fmt: skip
        cfg = RunStore.open(summary.path).config
        assert (cfg.method.rerand.every, cfg.method.rerand.prob) == (300, float(lam))
        ids.add(summary.run_id)
    assert len(ids) == 2
    # rerand_mode null: no re-draws and no period, still IteRand's rule on the signed scores
    _, baseline = _import(tmp_path / "null", "iterand", [tmp_path / "lambda0.01"], "method.density=0.5",
                          "method.rerand.prob=0")  # fmt: skip
    cfg = RunStore.open(baseline.path).config
    assert (cfg.method.name, cfg.method.rerand.prob) == ("iterand", 0.0) and baseline.run_id not in ids
    # manual mode mixes W <- lambda W + mu W_new: both are asked for, and the weights change
    with pytest.raises(ConfigError, match=r"\(the YAML's rerand_mu\); give --set method.rerand.mix_new="):
        _import(tmp_path / "m", "iterand", [tmp_path / "lambda0.01"], "method.density=0.5",
                "method.rerand.mode=manual", "method.rerand.mix_old=0.8", "method.rerand.every=300")  # fmt: skip
    _, manual = _import(tmp_path / "m", "iterand", [tmp_path / "lambda0.01"], "method.density=0.5",
                        "method.rerand.mode=manual", "method.rerand.mix_old=0.8", "method.rerand.mix_new=0.6",
                        "method.rerand.every=300", "method.rerand.prob=0")  # fmt: skip
    from landscape.importers.iterand import FORMAT

    cfg = RunStore.open(manual.path).config
    assert (cfg.method.rerand.mix_old, cfg.method.rerand.mix_new) == (0.8, 0.6) and FORMAT.changes_weights(
        cfg
    )
    assert not FORMAT.changes_weights(RunStore.open(baseline.path).config)


def test_iterand_percentile_rounds_halves_to_even():
    # N = 10 at sparsity 0.5: 1 + round(4.5) = 5, so S >= the 5th smallest keeps 6 of 10
    from landscape.importers._rules import iterand_percentile

    scores = torch.randn(10)
    mask = iterand_percentile(scores.numpy(), 0.5)
    assert mask.sum() == 6
    np.testing.assert_array_equal(mask, iterand_by_hand(scores, 0.5))


# --- the initialiser ------------------------------------------------------------------------
@pytest.mark.parametrize("init", ["xavier_normal", "standard", "binary"])
def test_an_initialiser_this_toolkit_does_not_draw_is_recorded_as_unknown(tmp_path, init):
    run = tmp_path / "ckpts" / "seed0"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state())
    settings = save_settings(run, prune_rate=0.5, width_mult=0.0625, conv_type="SubnetConv", init=init)
    result, summary = _import(tmp_path, "biprop", [tmp_path / "ckpts"])
    store = RunStore.open(summary.path)
    assert store.config.model.weight_init == "unknown"
    assert f"{settings}: init {init!r} is not one this toolkit draws" in result.summary()
    # an unknown draw cannot be repeated, but the imported weights still rebuild the network
    assert store.build_model(0, [0]).layout() == store.layout
    with pytest.raises(ConfigError, match="the source says an initialiser this toolkit does not draw"):
        _import(tmp_path / "b", "biprop", [tmp_path / "ckpts"], "model.weight_init=signed_constant")


def test_two_initialisers_this_toolkit_does_not_draw_never_share_a_run(tmp_path):
    """Both are recorded as unknown; the source's own statement (origin.variant) keeps them
    apart, so their masks are never pooled as one configuration."""
    import landscape as ls

    inits = [("xavier_normal", {}), ("standard", {}), ("kaiming_normal", {"mode": "fan_out"})]
    for i, (init, extra) in enumerate(inits):
        run = tmp_path / "ckpts" / f"run{i}"
        save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state(weight_seed=i))
        save_settings(run, prune_rate=0.5, width_mult=0.0625, conv_type="SubnetConv", init=init, **extra)
    result = import_masks([tmp_path / "ckpts"], tmp_path / "runs", "hidden_networks", TINY_DATA)
    configs = [RunStore.open(r.path).config for r in result.runs]
    assert {c.model.weight_init for c in configs} == {"unknown"}
    assert sorted(c.origin.variant for c in configs) == [
        "init=kaiming_normal mode=fan_out",
        "init=standard",
        "init=xavier_normal",
    ]
    from landscape.grouping import group_labels

    labels = group_labels(ls.read_runs(tmp_path / "runs").obs)
    assert labels.nunique() == 3 and all("as the source states init=" in label for label in labels)
    # a toolkit initialiser records no variant
    save_settings(
        tmp_path / "ckpts" / "run0",
        prune_rate=0.5,
        width_mult=0.0625,
        conv_type="SubnetConv",
        init="kaiming_normal",
    )
    known = import_masks([tmp_path / "ckpts" / "run0"], tmp_path / "runs", "hidden_networks", TINY_DATA)
    assert RunStore.open(known.runs[0].path).config.origin.variant == ""
    labels = group_labels(ls.read_runs(tmp_path / "runs").obs)
    assert labels.nunique() == 4 and labels.str.contains("no variant stated").any()


@pytest.mark.parametrize(
    ("fmt", "args", "train", "variant"),
    [
        # the codes' constant_lr and cosine_lr are this toolkit's schedules, with the same warm-up
        ("hidden_networks", {"lr_policy": "constant_lr", "warmup_length": 5, "epochs": 100},
         {"schedule": "constant", "warmup_epochs": 5, "optimizer": "sgd", "weight_decay": 1e-4}, ""),
        ("biprop", {"lr_policy": "cosine_lr", "optimizer": "sgd", "epochs": 100},
         {"schedule": "cosine", "warmup_epochs": 0, "optimizer": "sgd"}, ""),
        # their Adam gets the learning rate only: no weight decay
        ("hidden_networks", {"lr_policy": "cosine_lr", "optimizer": "adam", "epochs": 100},
         {"schedule": "cosine", "optimizer": "adam", "weight_decay": 0.0}, ""),
        ("hidden_networks", {"lr_policy": "multistep_lr", "epochs": 100},
         {"schedule": "unknown"}, "lr_policy=multistep_lr"),
        # torch's AdamW default weight decay, and no Nesterov (an SGD option) whatever was saved
        ("iwr", {"optimizer": "adamw", "lr_policy": "cosine_lr", "epochs": 100, "nesterov": True,
                 **RUN_SETTINGS["iwr"]},
         {"optimizer": "unknown", "weight_decay": 0.01, "nesterov": False}, "optimizer=adamw"),
        # a warm-up longer than the run: no schedule here has it
        ("hidden_networks", {"lr_policy": "cosine_lr", "warmup_length": 150, "epochs": 100},
         {"schedule": "unknown", "warmup_epochs": 0}, "warmup_length=150"),
        # IWR trains total_epochs, its cosine cycling past `epochs`
        ("iwr", {"lr_policy": "cosine_lr", "epochs": 100, "total_epochs": 150, **RUN_SETTINGS["iwr"]},
         {"epochs": 150, "schedule": "unknown"}, "epochs=100 total_epochs=150"),
    ],
)  # fmt: skip
def test_the_recorded_optimiser_and_schedule_are_the_ones_the_code_ran(tmp_path, fmt, args, train, variant):
    """Left at the schema's defaults, an imported constant-LR or Adam run would claim a cosine
    SGD search, and runs of two schedules would share a run."""
    run = tmp_path / "ckpts" / "seed0"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state(), epoch=args["epochs"])
    save_settings(
        run, prune_rate=0.5, width_mult=0.0625, weight_decay=1e-4, **{"conv_type": "SubnetConv", **args}
    )
    _, summary = _import(tmp_path, fmt, [tmp_path / "ckpts"])
    cfg = RunStore.open(summary.path).config
    assert {k: getattr(cfg.train, k) for k in train} == train
    assert cfg.origin.variant == variant
    if "total_epochs" in args:  # saved after epoch 100 of 150: not the last epoch's masks
        assert RunStore.open(summary.path).records()["test_acc"].isna().all()
    if variant:  # a --set the source contradicts names the field, not an initialiser
        field = "optimizer" if "optimizer=" in variant else "schedule"
        given = {"optimizer": "train.optimizer=sgd", "schedule": "train.schedule=cosine"}[field]
        with pytest.raises(ConfigError, match=f"the source says {field} this toolkit does not run"):
            _import(tmp_path / "again", fmt, [tmp_path / "ckpts"], given)


def test_a_variant_is_for_imported_masks_only():
    from landscape.config import from_dict, validate

    with pytest.raises(ConfigError, match="^origin.variant: only imported masks carry one"):
        validate(from_dict({"origin": {"variant": "init=standard"}}))
    assert validate(from_dict({"origin": {"format": "arrays", "variant": "x"}})).origin.variant == "x"


@pytest.mark.parametrize(
    ("fmt", "args", "weight_init", "scale_fan", "note"),
    [
        # the reference's fan * (1 - k) equals this toolkit's density scale only at k = 0.5
        ("hidden_networks", {"prune_rate": 0.3, "init": "signed_constant", "scale_fan": True},
         "unknown", False, "divides the std by sqrt(1 - 0.3)"),
        ("biprop", {"prune_rate": 0.3, "init": "kaiming_normal", "scale_fan": True},
         "unknown", False, "divides the std by sqrt(1 - 0.3)"),
        ("hidden_networks", {"prune_rate": 0.5, "init": "signed_constant", "scale_fan": True},
         "signed_constant", True, None),
        # the reference's kaiming_uniform and IWR's signed constant ignore the flag
        ("hidden_networks", {"prune_rate": 0.3, "init": "kaiming_uniform", "scale_fan": True},
         "kaiming_uniform", False, "ignores it for init 'kaiming_uniform'"),
        ("iwr", {"prune_rate": 0.3, "weight_init": "signed_constant", "scale_fan": True,
                 "conv_type": "SubnetConvEdgePopup", "rerand_epoch_freq": 0},
         "signed_constant", False, "ignores it for init 'signed_constant'"),
        # a fan or a gain this toolkit never draws from
        ("hidden_networks", {"prune_rate": 0.5, "init": "signed_constant", "mode": "fan_out"},
         "unknown", False, "fan of mode 'fan_out'"),
        ("hidden_networks", {"prune_rate": 0.5, "init": "kaiming_normal", "nonlinearity": "leaky_relu"},
         "unknown", False, "gain of 'leaky_relu'"),
    ],
)  # fmt: skip
def test_the_recorded_weight_scale_is_the_one_the_reference_drew(
    tmp_path, fmt, args, weight_init, scale_fan, note
):
    run = tmp_path / "ckpts" / "seed0"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state())
    save_settings(run, width_mult=0.0625, **{"conv_type": "SubnetConv", **args})
    result, summary = _import(tmp_path, fmt, [tmp_path / "ckpts"])
    cfg = RunStore.open(summary.path).config
    assert (cfg.model.weight_init, cfg.model.scale_fan) == (weight_init, scale_fan)
    if note is None:
        assert not any("scale_fan" in n or "recorded as unknown" in n for n in result.notes), result.notes
    else:
        assert any(note in n for n in result.notes), result.notes


def test_no_named_initialiser_is_unknown_unless_given(tmp_path):
    path = save_checkpoint(tmp_path / "a.pth", frankle_state())
    result, summary = _import(tmp_path, "hidden_networks", [path], "method.density=0.5")
    assert RunStore.open(summary.path).config.model.weight_init == "unknown"
    assert "recorded as unknown (not assumed signed_constant)" in result.summary()
    result, given = _import(
        tmp_path / "b", "hidden_networks", [path], "method.density=0.5", "model.weight_init=kaiming_normal"
    )
    assert RunStore.open(given.path).config.model.weight_init == "kaiming_normal"
    assert "recorded as unknown" not in result.summary() and given.run_id != summary.run_id


def test_an_external_architecture_keeps_its_initialiser(tmp_path):
    state = frankle_state(bias=True)
    state["linear.4.bias"] = torch.full_like(state["linear.4.bias"], 0.1)
    run = tmp_path / "ckpts" / "seed0"
    save_checkpoint(run / "checkpoints" / "model_best.pth", state)
    save_settings(run, prune_rate=0.5, conv_type="SubnetConv", init="kaiming_normal")
    _, summary = _import(tmp_path, "hidden_networks", [tmp_path / "ckpts"])
    cfg = RunStore.open(summary.path).config
    assert (cfg.model.name, cfg.model.weight_init) == ("external", "kaiming_normal")


def test_only_imported_runs_may_have_an_unknown_initialiser():
    from landscape.config import from_dict, validate

    with pytest.raises(ConfigError, match="model.weight_init: unknown value 'unknown'"):
        validate(from_dict({"model": {"weight_init": "unknown"}}))
    cfg = validate(from_dict({"model": {"weight_init": "unknown"}, "origin": {"format": "arrays"}}))
    assert cfg.model.weight_init == "unknown"
