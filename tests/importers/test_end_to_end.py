"""Imported runs downstream: rebuilt networks compute what the reference models compute,
barriers come out of ``landscape analyze``, and arrays-only runs analyse and draw."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import landscape as ls
from landscape.cli import main
from landscape.errors import AnalysisError, ConfigError, StoreError
from landscape.importers import import_masks
from landscape.store import RunStore
from tests.importers.conftest import (
    SEQ_INDEX,
    TINY_DATA,
    frankle_state,
    resnet18_state,
    save_checkpoint,
    save_settings,
)


def reference_conv6_forward(state: dict, masks: dict, x: torch.Tensor) -> torch.Tensor:
    """Frankle's Conv-6 as the reference defines it: 3x3 convs with ReLU, a 2x2 max-pool after
    each pair, the flattened features through 1x1 convs; weights times masks."""
    out = x
    for j, i in enumerate(SEQ_INDEX[6]):
        out = F.relu(F.conv2d(out, state[f"convs.{i}.weight"] * masks[f"convs.{i}"], padding=1))
        if j % 2 == 1:
            out = F.max_pool2d(out, 2)
    out = out.reshape(out.shape[0], -1, 1, 1)
    for j, i in enumerate((0, 2, 4)):
        out = F.conv2d(out, state[f"linear.{i}.weight"] * masks[f"linear.{i}"])
        if j < 2:
            out = F.relu(out)
    return out.flatten(1)


def test_rebuilt_conv6_computes_the_reference_forward(tmp_path):
    from tests.importers.test_score_formats import drop_smallest_by_hand

    state = frankle_state(score_seed=3)
    path = save_checkpoint(tmp_path / "c.pth", state)
    result = import_masks([path], tmp_path / "runs", "hidden_networks", [*TINY_DATA, "method.density=0.4"])
    store = RunStore.open(result.runs[0].path)
    model = store.build_model(0, [0])
    masks = {
        k[: -len(".scores")]: torch.from_numpy(drop_smallest_by_hand(v, 0.4)).float()
        for k, v in state.items()
        if k.endswith(".scores")
    }
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model(x.unsqueeze(0))[0]
    np.testing.assert_allclose(
        ours.numpy(), reference_conv6_forward(state, masks, x).numpy(), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("style", ["hn", "iterand"])
def test_resnet18_names_map_onto_the_toolkit_model_with_batchnorm(tmp_path, style):
    state = resnet18_state(width=0.125, style=style)
    if style == "hn":
        path = save_checkpoint(tmp_path / "r.pth", state, arch="cResNet18")
        fmt = "hidden_networks"
    else:
        path = tmp_path / "dump.r.pth"
        torch.save({"epoch": 9, "model_state_dict": state}, path)
        fmt = "iterand"
    redraws = ["method.rerand.every=300", "method.rerand.prob=0.1"] if fmt == "iterand" else []
    result = import_masks([path], tmp_path / "runs", fmt, [*TINY_DATA, "method.density=0.5", *redraws])
    store = RunStore.open(result.runs[0].path)
    assert (store.config.model.name, store.config.model.width_mult) == ("resnet18", 0.125)
    weights, bn = store.load_weights(0, 0), store.load_batchnorm(0, 0)
    conv2 = "layer2.0.conv2.weight" if style == "hn" else "layer2.0.convnb2.conv.weight"
    short = "layer3.0.shortcut.1.running_var" if style == "hn" else "layer3.0.shortcut.norm.running_var"
    np.testing.assert_array_equal(weights["layer2.0.conv2"], state[conv2].numpy())
    np.testing.assert_array_equal(bn["layer3.0.shortcut.1.running_var"], state[short].numpy())
    model = store.build_model(0, [0])  # the layout and BatchNorm modules match the toolkit's
    assert model.layout() == store.layout


@pytest.mark.parametrize("fmt", ["biprop", "hidden_networks"])
@pytest.mark.parametrize("in_settings", [False, True])
def test_a_binary_activation_resnet18_is_not_rebuilt_with_relu(tmp_path, fmt, in_settings):
    # cResNet18_BinAct keeps cResNet18's state dict: only the arch tells its sign activations
    run = tmp_path / "run"
    arch = {"arch": "cResNet18"} if in_settings else {"arch": "cResNet18_BinAct"}
    save_checkpoint(run / "checkpoints" / "model_best.pth", resnet18_state(), **arch)
    save_settings(run, arch="cResNet18_BinAct" if in_settings else "cResNet18", prune_rate=0.5)
    result = import_masks([run], tmp_path / "runs", fmt, TINY_DATA)
    store = RunStore.open(result.runs[0].path)
    assert store.config.model.name == "external"
    reason = json.loads((store.path / "meta.json").read_text())["provenance"]["import"]["network"]
    assert "'cResNet18_BinAct' has sign activations" in reason
    assert any("masks only" in n and "sign activations" in n for n in result.notes)
    with pytest.raises(ConfigError, match="cannot be rebuilt as one .*sign activations"):
        import_masks([run], tmp_path / "forced", fmt, [*TINY_DATA, "model.name=resnet18"])


def import_hidden_networks(tmp_path):
    """``landscape import`` of the checkpoints under ``tmp_path/ckpts`` into ``tmp_path/runs``."""
    runs = tmp_path / "runs"
    sets = [f"--set={item}" for item in TINY_DATA]
    assert (
        main(["import", str(tmp_path / "ckpts"), "--runs", str(runs), "--format", "hidden-networks", *sets])
        == 0
    )
    return runs


def test_imported_conv6_gives_barriers_through_analyze(tmp_path, capsys):
    for s in range(2):  # one random network (same weights), two searches
        run = tmp_path / "ckpts" / f"seed_{s}"
        save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state(score_seed=s))
        save_settings(
            run, arch="Conv6Wide", prune_rate=0.5, width_mult=0.0625, conv_type="SubnetConv", seed=s
        )
    runs = import_hidden_networks(tmp_path)
    assert "2 masks added" in capsys.readouterr().out
    assert main(["analyze", str(runs), "--barriers", "1", "--embed", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "loss barriers" in out
    table = pd.read_csv(runs / "_analysis" / "barriers.csv")
    assert sorted(table["path"]) == ["linear", "swap"]
    assert np.isfinite(table["barrier_loss"]).all() and (table["hamming"] > 0).all()
    curves = pd.read_csv(runs / "_analysis" / "barrier_curves.csv")
    assert len(curves) == 2 * 11 and curves["loss"].notna().all()


def test_arrays_only_import_analyses_and_draws(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for i in range(4):
        masks = {}
        for name, shape in {"fc1.weight": (32, 64), "fc2.weight": (10, 32)}.items():
            flat = np.zeros(int(np.prod(shape)), bool)
            flat[rng.permutation(flat.size)[: flat.size // 4]] = True
            masks[name] = flat.reshape(shape)
        np.savez(tmp_path / f"m{i}.npz", **masks)
    runs = tmp_path / "runs"
    args = ["--set", "weight_seed=5", "--set", "method.name=edge_popup", "--set", "method.density=0.25"]
    assert main(["import", str(tmp_path), "--runs", str(runs), "--format", "arrays", *args]) == 0
    assert "4 masks added" in capsys.readouterr().out
    assert main(["analyze", str(runs), "--embed", "mds", "--no-cache"]) == 0
    diversity = pd.read_csv(runs / "_analysis" / "diversity.csv")
    whole = diversity[(diversity["layer"] == "whole") & (diversity["metric"] == "jaccard")]
    assert whole["n_masks"].tolist() == [4] and whole["weight_seed"].tolist() == [5]
    assert (
        main(
            [
                "figures",
                "similarity_heatmap",
                "distance_distribution",
                "--runs",
                str(runs),
                "--out",
                str(tmp_path / "figs"),
            ]
        )
        == 0
    )
    assert (tmp_path / "figs" / "similarity_heatmap.png").exists()
    ms = ls.read_runs(runs)
    assert ms.obs["density"].unique().tolist() == [0.25] and ms.obs["method"].unique().tolist() == [
        "edge_popup"
    ]
    with pytest.raises(
        AnalysisError, match=r"cannot be evaluated: it lacks a network this toolkit builds"
    ) as exc:
        ls.tl.barriers(ms, pairs=1, progress=False)
    assert "the dataset (data.name external)" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(StoreError, match="cannot be evaluated"):
        RunStore.open(next(iter(ms.runs.values()))).build_model(5)


def test_imported_runs_carry_the_obs_of_searched_ones(tmp_path):
    save_checkpoint(tmp_path / "c.pth", frankle_state())
    import_masks(
        [tmp_path / "c.pth"], tmp_path / "runs", "hidden_networks", [*TINY_DATA, "method.density=0.5"]
    )
    ms = ls.read_runs(tmp_path / "runs")
    for column in (
        "run_id",
        "method",
        "density",
        "weight_seed",
        "search_seed",
        "test_acc",
        "n_kept",
        "model.name",
    ):
        assert column in ms.obs.columns, column
    assert ms.obs.index[0] == f"{ms.obs['run_id'].iloc[0]}/w0/s0"
    meta = json.loads((tmp_path / "runs" / ms.obs["run_id"].iloc[0] / "meta.json").read_text())
    assert meta["provenance"]["import"]["format"] == "hidden_networks"
    assert meta["data_shape"] == {"input_shape": [3, 32, 32], "n_classes": 10}


def test_test_selected_imports_analyse_without_a_test_acc_and_say_why(tmp_path, capsys):
    for s in range(2):
        run = tmp_path / "ckpts" / f"seed_{s}"
        save_checkpoint(
            run / "checkpoints" / "model_best.pth",
            frankle_state(score_seed=s),
            curr_acc1=81.0 + s,
            best_acc1=81.0 + s,
            epoch=30 + s,
        )
        save_settings(
            run, arch="Conv6Wide", prune_rate=0.5, width_mult=0.0625, conv_type="SubnetConv", epochs=100
        )
    runs = import_hidden_networks(tmp_path)
    assert "masks selected on the test set (epoch 30 of 100" in capsys.readouterr().out
    obs = ls.read_runs(runs).obs
    assert obs["test_acc"].isna().all() and obs["best_test_acc"].tolist() == [0.81, 0.82]
    assert main(["analyze", str(runs), "--no-cache"]) == 0
    assert "— (masks selected on the test set: see best_test_acc)" in capsys.readouterr().out
    with pytest.raises(AnalysisError, match="selected on the test set have best_test_acc only"):
        ls.pl.accuracy_vs(obs.assign(density=[0.5, 0.6]))
    assert ls.pl.accuracy_vs(obs.assign(density=[0.5, 0.6]), y="best_test_acc") is not None


def biased_state(weight_seed: int, score_seed: int) -> dict:
    """A Conv-6 with a non-zero bias, which imports as an external architecture."""
    state = frankle_state(weight_seed=weight_seed, score_seed=score_seed, bias=True)
    state["linear.4.bias"] = torch.full_like(state["linear.4.bias"], 0.1)
    return state


def test_external_imports_are_numbered_by_their_weights(tmp_path):
    # three networks, the first searched twice: diversity pairs only masks of one network
    for name, (w, s) in {"a": (0, 0), "b": (1, 1), "c": (2, 2), "d": (0, 3)}.items():
        save_checkpoint(tmp_path / "ckpts" / name / "model_best.pth", biased_state(w, s))
    result = import_masks(
        [tmp_path / "ckpts"], tmp_path / "runs", "hidden_networks", [*TINY_DATA, "method.density=0.5"]
    )
    store = RunStore.open(result.runs[0].path)
    assert store.config.model.name == "external"
    pairs = sorted(zip(store.records()["source_file"], result.runs[0].pairs))
    assert [p for _, p in pairs] == [(0, 0), (1, 0), (2, 0), (0, 1)]
    assert not store.has_weights(0, 0)  # nothing to rebuild, so the weights are not kept
    ms = ls.read_runs(tmp_path / "runs")
    ls.tl.distances(ms)
    table = ls.tl.diversity(ms)
    whole = table[table["layer"] == "whole"]
    assert whole["weight_seed"].tolist() == [0] and whole["n_masks"].tolist() == [2]
