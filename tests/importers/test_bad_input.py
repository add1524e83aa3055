"""Every bad input gives one line naming the file and the key (or the field) at fault."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscape.cli import main
from landscape.errors import ConfigError, DataError, LandscapeError, StoreError
from landscape.importers import import_masks
from tests.importers.conftest import TINY_DATA, frankle_state, resnet18_state, save_checkpoint, save_settings


def _fails(tmp_path, sources, fmt, overrides=(), error=LandscapeError, **kw) -> str:
    with pytest.raises(error) as exc:
        import_masks(sources, tmp_path / "runs", fmt, [*TINY_DATA, *overrides], **kw)
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_unknown_key(tmp_path):
    state = frankle_state()
    state["convs.0.momentum_buffer"] = torch.zeros(3)
    path = save_checkpoint(tmp_path / "a.pth", state)
    msg = _fails(tmp_path, [path], "hidden_networks", ["method.density=0.5"], DataError)
    assert msg.startswith(f"{path}: key 'module.convs.0.momentum_buffer': unknown key")


def test_scores_of_another_shape(tmp_path):
    state = frankle_state()
    state["convs.2.scores"] = state["convs.2.scores"][:, :2]
    path = save_checkpoint(tmp_path / "a.pth", state)
    msg = _fails(tmp_path, [path], "hidden_networks", ["method.density=0.5"], DataError)
    assert msg.startswith(
        f"{path}: key 'module.convs.2.scores': shape (4, 2, 3, 3) differs from the weight's"
    )


def test_arrays_that_do_not_fit_the_named_model(tmp_path):
    rng = np.random.default_rng(0)
    masks = {k: rng.random(v.shape) < 0.5 for k, v in frankle_state().items() if k.endswith(".weight")}
    masks["linear.0.weight"] = masks["linear.0.weight"][:, :100]
    np.savez(tmp_path / "m.npz", **masks)
    msg = _fails(
        tmp_path, [tmp_path / "m.npz"], "arrays", ["model.name=conv6", "method.density=0.5"], ConfigError
    )
    assert msg.startswith(f"{tmp_path / 'm.npz'}: model.name conv6: the imported layers do not fit it")


def test_non_binary_values(tmp_path):
    np.savez(tmp_path / "m.npz", **{"fc1.weight": np.full((4, 4), 0.5), "fc2.weight": np.ones((2, 4))})
    msg = _fails(tmp_path, [tmp_path / "m.npz"], "arrays", error=DataError)
    assert (
        msg
        == f"{tmp_path / 'm.npz'}: key 'fc1.weight': holds values other than 0 and 1 (e.g. np.float64(0.5)); a mask must be bool or 0/1"
    )


def test_non_finite_scores(tmp_path):
    state = frankle_state()
    state["linear.2.scores"][0, 0] = float("nan")
    path = save_checkpoint(tmp_path / "a.pth", state)
    msg = _fails(tmp_path, [path], "hidden_networks", ["method.density=0.5"], DataError)
    assert msg == f"{path}: key 'module.linear.2.scores': scores hold NaN or infinite values"


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("key", ["convs.5.weight", "linear.4.weight"])
def test_non_finite_weights(tmp_path, key, value):
    state = frankle_state()
    state[key].view(-1)[3] = value
    path = save_checkpoint(tmp_path / "a.pth", state)
    msg = _fails(tmp_path, [path], "hidden_networks", ["method.density=0.5"], DataError)
    assert msg == f"{path}: key 'module.{key}': weights hold NaN or infinite values"


@pytest.mark.parametrize("stat", ["running_mean", "running_var"])
def test_non_finite_batchnorm_statistics(tmp_path, stat):
    state = resnet18_state()
    state[f"layer2.0.bn1.{stat}"][1] = float("nan")
    path = save_checkpoint(tmp_path / "r.pth", state, arch="cResNet18")
    msg = _fails(tmp_path, [path], "hidden_networks", ["method.density=0.5"], DataError)
    assert (
        msg == f"{path}: key 'module.layer2.0.bn1.{stat}': BatchNorm statistics hold NaN or infinite values"
    )


def test_density_that_does_not_reproduce_the_stored_count(tmp_path):
    mask = np.zeros((40, 25), bool)
    mask.flat[:300] = True
    np.savez(tmp_path / "m.npz", w=mask)
    msg = _fails(tmp_path, [tmp_path / "m.npz"], "arrays", ["method.density=0.5"], DataError)
    assert msg.startswith(f"{tmp_path / 'm.npz'}: keeps 300 of 1,000 weights (0.3000), which density 0.5")


def test_missing_density(tmp_path):
    path = save_checkpoint(tmp_path / "a.pth", frankle_state())
    msg = _fails(tmp_path, [path], "hidden_networks", error=ConfigError)
    assert (
        msg
        == f"{path}: no saved prune rate (fraction kept) in or beside this checkpoint; give --set method.density=..."
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([1, 2, 3], "unsupported checkpoint layout (a list; expected a dict with 'state_dict'"),
        ({"model": {"w": torch.zeros(2)}}, "unsupported checkpoint layout (a dict with keys model; expected"),
    ],
)
def test_unsupported_checkpoint_layouts(tmp_path, obj, expected):
    torch.save(obj, tmp_path / "c.pth")
    msg = _fails(tmp_path, [tmp_path / "c.pth"], "hidden_networks", ["method.density=0.5"], DataError)
    assert msg.startswith(f"{tmp_path / 'c.pth'}: {expected}")


def test_a_checkpoint_without_scores(tmp_path):
    state = {k: v for k, v in frankle_state().items() if k.endswith(".weight")}
    path = save_checkpoint(tmp_path / "dense.pth", state)
    msg = _fails(tmp_path, [path], "hidden_networks", ["method.density=0.5"], DataError)
    assert (
        msg
        == f"{path}: no 'scores' tensors: not a hidden-networks score checkpoint (unsupported checkpoint layout)"
    )


def test_an_unsupported_rule(tmp_path):
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state())
    settings = save_settings(run, conv_type="SampleSubnetConv", prune_rate=0.5)
    msg = _fails(tmp_path, [run], "hidden_networks", error=DataError)
    assert msg.startswith(f"{settings}: key 'conv_type': 'SampleSubnetConv' is not imported")


@pytest.mark.parametrize(
    ("fmt", "conv_type", "first"),
    [
        ("biprop", "SubnetConv", "SampleSubnetConv"),
        ("hidden_networks", "SubnetConv", "SampleSubnetConv"),
        ("iwr", "SubnetConvEdgePopup", "SubnetConvBiprop"),
        ("iwr", "layer_type=SubnetConvEdgePopup", "SubnetConvBiprop"),  # the code's later settings name
    ],
)
def test_a_first_layer_of_another_conv_type_is_refused(tmp_path, fmt, conv_type, first):
    """--first-layer-type gives the first layer another mask rule than the others: importing its
    scores with the others' rule would store a first-layer mask the network never used."""
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state())
    key, _, conv_type = conv_type.rpartition("=")
    key = key or "conv_type"
    settings = save_settings(run, **{key: conv_type}, first_layer_type=first, prune_rate=0.5)
    msg = _fails(tmp_path, [run], fmt, error=DataError)
    assert msg.startswith(f"{settings}: key 'first_layer_type': {first!r} under conv_type {conv_type!r}")
    # the dense first layer (DenseConv, no scores) and the network's own type still import
    for same in ("DenseConv", conv_type, None):
        save_settings(
            run,
            **{key: conv_type},
            first_layer_type=same,
            prune_rate=0.5,
            rerand_type=None,
            prune_rate_epoch=0,
        )
        import_masks([run], tmp_path / f"runs-{same}", fmt, TINY_DATA)


@pytest.mark.parametrize("fmt", ["hidden_networks", "biprop", "iwr"])
@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"Namespace(arch='Conv6Wide', prune_rate=0.5, init='kaiming_normal', epo", "not the Namespace(...)"),
        (b"\x80\x04\x95\x00\x00\xff\xfe junk", "binary data"),
        (b"Namespace(garbage)", "not the Namespace(...)"),
    ],
)
def test_an_unreadable_settings_file(tmp_path, fmt, content, why):
    # what the file states (density, init, epochs, dataset) must not fall back to defaults
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "model_best.pth", frankle_state())
    (run / "settings.txt").write_bytes(content)
    given = ["method.density=0.5", *(["method.recycle.every=0"] if fmt == "iwr" else [])]
    msg = _fails(tmp_path, [run], fmt, given, DataError)
    assert msg.startswith(f"{run / 'settings.txt'}: {why}")


class Pickled:
    """Anything a checkpoint pickles besides tensors, numbers and containers."""


def test_a_file_that_needs_code_to_load(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}, "args": Pickled()}, tmp_path / "odd.pth")
    msg = _fails(tmp_path, [tmp_path / "odd.pth"], "hidden_networks", ["method.density=0.5"], DataError)
    assert msg.startswith(f"{tmp_path / 'odd.pth'}: holds objects that cannot be loaded without running code")
    assert "Pickled" in msg


def test_not_a_torch_file(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"not a checkpoint")
    msg = _fails(tmp_path, [tmp_path / "x.pth"], "hidden_networks", ["method.density=0.5"], DataError)
    assert msg.startswith(f"{tmp_path / 'x.pth'}: not a readable torch file")


def test_a_missing_source_and_an_empty_folder(tmp_path):
    assert (
        _fails(tmp_path, [tmp_path / "nope"], "arrays", error=DataError) == f"{tmp_path / 'nope'}: not found"
    )
    (tmp_path / "empty").mkdir()
    assert "no files matching **/model_best.pth" in _fails(tmp_path, [tmp_path / "empty"], "hidden_networks")


def test_unknown_set_field(tmp_path):
    np.savez(tmp_path / "m.npz", w=np.ones((2, 2), bool))
    msg = _fails(tmp_path, [tmp_path / "m.npz"], "arrays", ["method.densty=0.5"], ConfigError)
    assert msg == "method.densty: unknown field; did you mean 'density'?"


def test_one_search_seed_for_many_masks(tmp_path):
    np.savez(tmp_path / "m.npz", w=np.ones((3, 2, 2), bool))
    msg = _fails(tmp_path, [tmp_path / "m.npz"], "arrays", ["search_seed=4"], ConfigError, stacked=True)
    assert msg.startswith("--set search_seed: one value for 3 masks")


def test_two_sources_claiming_one_pair_of_seeds(tmp_path):
    for name, seed in (("a", 0), ("b", 1)):
        save_checkpoint(tmp_path / f"{name}.pth", frankle_state(score_seed=seed))
    args = ["method.density=0.5", "search_seed=0"]
    import_masks([tmp_path / "a.pth"], tmp_path / "runs", "hidden_networks", [*TINY_DATA, *args])
    msg = _fails(tmp_path, [tmp_path / "b.pth"], "hidden_networks", args, StoreError)
    assert msg.startswith(f"{tmp_path / 'b.pth'}: weight seed 0, search seed 0 of run")
    assert "already holds a mask from" in msg and "a.pth" in msg


def test_one_weight_seed_for_two_networks(tmp_path):
    for name, seed in (("a", 0), ("b", 1)):
        save_checkpoint(tmp_path / f"{name}.pth", frankle_state(weight_seed=seed))
    msg = _fails(
        tmp_path,
        [tmp_path],
        "hidden_networks",
        ["method.density=0.5", "weight_seed=0"],
        StoreError,
        glob="*.pth",
    )
    assert msg.startswith(f"{tmp_path / 'b.pth'}: its weights differ from those of weight seed 0")


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    np.savez(tmp_path / "m.npz", w=np.full((2, 2), 3.0))
    code = main(["import", str(tmp_path / "m.npz"), "--runs", str(tmp_path / "runs"), "--format", "arrays"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(
        f"landscape import: error: {tmp_path / 'm.npz'}: key 'w': holds values other than 0 and 1"
    )
