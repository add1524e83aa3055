"""Fields that cannot matter are refused: zero epochs for methods that train, data fields the
dataset does not read. A run's config.json records only the data fields its dataset reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from landscape import registries
from landscape.cli import main
from landscape.config import DATASET_FIELDS, DataConfig, SearchConfig, load_config
from landscape.config.reads import UNTRAINED_METHODS
from landscape.config.schema import ModelConfig
from landscape.errors import ConfigError
from landscape.store import RunStore, list_runs
from landscape.store.layout import Layout

CONFIG = "configs/digits_mlp_edge_popup.yaml"


def test_untrained_methods_are_exactly_those_that_need_no_training():
    for name in registries.methods.names():  # ("external" stands for imported masks: it cannot search)
        trains = getattr(registries.methods.load(name), "needs_training", True)
        assert (name in UNTRAINED_METHODS) == (not trains), name


@pytest.mark.parametrize("method", ["edge_popup", "biprop", "iterand", "dense"])
def test_zero_epochs_are_refused_for_methods_that_train(tmp_path, capsys, method):
    argv = [
        "search",
        CONFIG,
        "--runs",
        str(tmp_path),
        "--set",
        f"method.name={method}",
        "--set",
        "train.epochs=0",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"landscape search: error: train.epochs: must be >= 1 for method.name '{method}'")
    assert not list(tmp_path.iterdir())  # no run was created


def test_the_random_null_model_needs_no_epochs():
    assert load_config(CONFIG, ["method.name=random", "train.epochs=0"]).train.epochs == 0


def test_every_dataset_says_which_data_fields_it_reads():
    fields = {f.name for f in DataConfig.__dataclass_fields__.values()}
    assert set(DATASET_FIELDS) == set(registries.datasets.names())
    for name, used in DATASET_FIELDS.items():
        assert set(used) <= fields - {"name"}, name


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (["data.n_train=100"], "data.n_train"),
        (["data.input_shape=[64]"], "data.input_shape"),
        (["data.augment=false"], "data.augment"),
        (["data.augment=true"], "data.augment"),  # at its default too: digits never augments
        (["data.n_test=512"], "data.n_test"),
        (["data.name=mnist", "data.test_fraction=0.1"], "data.test_fraction"),
        (["data.mnist1d.corr_noise_scale=0"], "data.mnist1d.corr_noise_scale"),  # the leaf, not its section
    ],
)
def test_a_data_field_the_dataset_does_not_read_is_refused(overrides, field):
    with pytest.raises(ConfigError) as err:
        load_config(CONFIG, overrides)
    name = "mnist" if "data.name=mnist" in overrides else "digits"
    assert str(err.value).startswith(f"{field}: dataset '{name}' does not use this field (it reads data.")


def test_a_config_file_giving_an_unread_data_field_at_its_default_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {name: mnist1d, augment: true}\n")
    with pytest.raises(ConfigError, match="^data.augment: dataset 'mnist1d' does not use this field"):
        load_config(path)
    path.write_text("data: {name: cifar10, augment: true}\n")  # CIFAR-10 reads it
    assert load_config(path).data.augment is True


@pytest.mark.parametrize(
    "part",
    [
        {"set": {"data.augment": True}},
        {"grid": {"data.augment": [True]}},
        {"config": {"data": {"augment": True}}},
    ],
    ids=["set", "grid", "inline base"],
)
def test_a_sweep_giving_an_unread_data_field_is_refused(part):
    from landscape.search.sweep import sweep_from_dict

    data = {
        "weight_seeds": 0,
        "search_seeds": "0-1",
        **({} if "config" in part else {"base": CONFIG}),
        **part,
    }
    with pytest.raises(ConfigError, match="data.augment: dataset 'digits' does not use this field"):
        sweep_from_dict(data).expand()
    ok = {"weight_seeds": 0, "search_seeds": "0-1", "base": CONFIG, "grid": {"data.split_seed": [0, 1]}}
    assert len(sweep_from_dict(ok).expand()) == 2  # a field digits reads


@pytest.mark.parametrize("model", ["conv4", "resnet18", "cnn1d"])
def test_hidden_widths_on_a_model_that_does_not_read_them_are_refused(model):
    """model.hidden on a network of fixed widths would split one configuration into two run
    ids whose networks are the same."""
    from landscape.search.sweep import sweep_from_dict

    with pytest.raises(ConfigError, match=f"^model.hidden: model '{model}' does not use this field"):
        load_config(CONFIG, [f"model.name={model}", "model.hidden=[128]"])
    assert load_config(CONFIG, [f"model.name={model}", "model.width_mult=0.5"]).model.width_mult == 0.5
    assert load_config(CONFIG, ["model.name=mlp", "model.hidden=[128]"]).model.hidden == (128,)
    # an MLP config of other widths switched to this model leaves them behind: one run id
    narrow = load_config(CONFIG, ["model.hidden=[32, 32]"])
    switched = narrow.replace(**{"model.name": model})
    assert switched.model.hidden == ModelConfig.hidden
    assert switched.run_id == load_config(CONFIG, [f"model.name={model}"]).run_id
    # widths given with the switch are refused, in a whole-section override too
    with pytest.raises(ConfigError, match="^model.hidden: model"):
        narrow.replace(**{"model": {"name": model, "hidden": [64, 32]}})
    grid = {"weight_seeds": 0, "search_seeds": "0", "base": CONFIG,
            "grid": {"model.name": ["mlp", model], "model.hidden": [[64], [128]]}}  # fmt: skip
    with pytest.raises(ConfigError, match=f"model.hidden: model '{model}' does not use this field"):
        sweep_from_dict(grid).expand()


def test_fields_the_dataset_reads_and_where_data_lives_are_accepted():
    assert load_config(CONFIG, ["data.name=synthetic", "data.n_train=100"]).data.n_train == 100
    assert load_config(CONFIG, ["data.test_fraction=0.3"]).data.test_fraction == 0.3
    # the data root is no part of the identity: a sweep may set it for every dataset
    assert load_config(CONFIG, ["data.root=/data"]).run_id == load_config(CONFIG).run_id


def _create(root, cfg: SearchConfig) -> RunStore:
    return RunStore.create(
        root, cfg, Layout([("fcs.0", (4, 64))]), data_info={"input_shape": [64], "n_classes": 10}
    )


def test_config_json_holds_only_the_data_fields_the_dataset_reads(tmp_path):
    digits = _create(tmp_path, load_config(CONFIG))
    data = json.loads((digits.path / "config.json").read_text())["data"]
    assert set(data) == {"name", "split_seed", "val_fraction", "test_fraction"}
    synthetic = _create(tmp_path, load_config(CONFIG, ["data.name=synthetic", "data.n_train=64"]))
    data = json.loads((synthetic.path / "config.json").read_text())["data"]
    assert set(data) == {"name", *DATASET_FIELDS["synthetic"]} and data["n_train"] == 64
    assert RunStore.open(synthetic.path).config == synthetic.config


def test_a_run_whose_config_json_has_every_field_still_opens_extends_and_analyses(
    tiny_runs, tmp_path, capsys
):
    root = tmp_path / "runs"
    shutil.copytree(tiny_runs, root, ignore=shutil.ignore_patterns("_analysis"))
    for run in root.iterdir():  # as earlier versions wrote it: every data field
        store = RunStore.open(run)
        (run / "config.json").write_text(json.dumps({**store.config.to_dict(), "run_id": store.run_id}))
        assert "n_train" in json.loads((run / "config.json").read_text())["data"]
        again = RunStore.open(run)
        assert again.config == store.config and again.run_id == store.run_id == run.name
        assert RunStore.create(root, store.config, store.layout).path == run  # joined, not refused
    assert all(info.status == "complete" for info in list_runs(root))
    assert main(["verify", str(root)]) == 0
    assert main(["analyze", str(root), "--embed", "pca"]) == 0
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["train.optimizer=adam", "train.nesterov=true"],
            "train.nesterov: Nesterov momentum is an SGD option",
        ),
        (
            ["train.momentum=0", "train.nesterov=true"],
            "train.nesterov: Nesterov momentum needs train.momentum > 0",
        ),
    ],
)
def test_nesterov_without_sgd_momentum_is_refused_before_a_run_exists(tmp_path, capsys, overrides, message):
    argv = ["search", CONFIG, "--runs", str(tmp_path)]
    for override in overrides:
        argv += ["--set", override]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"landscape search: error: {message}")
    assert not list(tmp_path.iterdir())
    assert load_config(None, ["train.nesterov=true"]).train.nesterov  # SGD with momentum: accepted


def test_weight_training_methods_are_exactly_those_that_train_weights():
    from landscape.config.validate_method import WEIGHT_TRAINING_METHODS

    for name in registries.methods.names():
        trains = getattr(registries.methods.load(name), "trains_weights", False)
        assert (name in WEIGHT_TRAINING_METHODS) == trains, name


@pytest.mark.parametrize("method", ["dense", "kstarts"])
def test_a_source_for_a_weight_training_method_is_refused_before_a_run_exists(tmp_path, capsys, method):
    argv = ["search", CONFIG, "--runs", str(tmp_path), "--set", f"method.name={method}"]
    argv += ["--set", "method.source.kind=er", "--set", "method.source.density=0.8"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        f"landscape search: error: method.source.kind: 'er' is not supported by the weight-training method '{method}'"
    )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "origin.format=hidden_networks",
            "origin.format: 'hidden_networks' marks masks imported from elsewhere",
        ),
        ("method.name=external", "method.name 'external' stands for imported masks"),
    ],
)
def test_a_search_cannot_claim_imported_masks(tmp_path, capsys, override, message):
    """What only imported runs carry is refused by search and sweep before a run folder exists."""
    assert main(["search", CONFIG, "--runs", str(tmp_path / "runs"), "--set", override]) == 2
    assert capsys.readouterr().err.startswith(f"landscape search: error: {message}")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"base: {Path(CONFIG).resolve()}\ngrid: {{{override.replace('=', ': [')}]}}\nweight_seeds: 0\nsearch_seeds: 0\n"
    )
    assert main(["sweep", str(sweep), "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [
        ("random", "method.recycle.every", 3),  # its label read random+recycle, nothing recycled
        ("edge_popup", "method.rerand.every", 20),
        ("iterand", "method.kstarts.k", 8),
        ("dense", "method.dissipate.tau", 0.5),
    ],
)
def test_a_method_section_its_method_does_not_read_is_refused(method, field, value):
    section = field.split(".")[1]
    with pytest.raises(
        ConfigError, match=rf"^{field}: method '{method}' does not use method\.{section} \(read by"
    ):
        load_config(None, [f"method.name={method}", f"{field}={value}"])


def test_method_sections_are_accepted_by_the_methods_that_read_them_and_on_imported_runs():
    from landscape.config.reads import METHOD_SECTION_READERS

    values = {"recycle": "every=3", "rerand": "every=20", "kstarts": "k=8", "dissipate": "tau=0.5"}
    for section, readers in METHOD_SECTION_READERS.items():
        field, value = values[section].split("=")
        for method in readers:
            given = [
                f"method.name={method}",
                f"method.{section}.{field}={value}",
                "model.weight_init=kaiming_normal",
            ]
            cfg = load_config(None, given)
            assert str(getattr(getattr(cfg.method, section), field)) == value
    imported = load_config(None, ["origin.format=arrays", "method.name=random", "method.recycle.every=3"])
    assert imported.method.recycle.every == 3  # what its files declare is kept


def test_a_config_switched_to_another_method_or_source_leaves_unread_fields_behind():
    """``--set method.name=edge_popup`` on an IteRand config, or ``source.kind=dense`` on an ER
    one, was refused for the fields the new method or kind does not read; they are left at
    their defaults, and only such a field given beside the switch is refused."""
    from landscape.config.schema import RerandConfig, SourceConfig

    iterand = load_config("configs/mnist1d_mlp_iterand.yaml")
    assert iterand.method.rerand != RerandConfig()  # the config sets its re-draws
    ep = load_config("configs/mnist1d_mlp_iterand.yaml", ["method.name=edge_popup"])
    assert ep.method.rerand == RerandConfig() and ep.method.score_init == iterand.method.score_init
    with pytest.raises(ConfigError, match=r"^method\.rerand\.every: method 'edge_popup' does not use"):
        load_config("configs/mnist1d_mlp_iterand.yaml", ["method.name=edge_popup", "method.rerand.every=5"])
    with pytest.raises(ConfigError, match=r"^method\.recycle\.every: method 'random' does not use"):
        load_config(None, ["method.preset=iwr-ref", "method.name=random"])  # a preset's fields are given
    for bad in ("method.source.kind=[]", "method.name=[er]"):  # not a name: one line, not a crash
        with pytest.raises(ConfigError, match=r"expected a string"):
            load_config(None, [bad])
    er = load_config("configs/mnist1d_mlp_er.yaml")
    assert er.method.source.density < 1
    dense = load_config("configs/mnist1d_mlp_er.yaml", ["method.source.kind=dense"])
    assert dense.method.source == SourceConfig()
    frozen = load_config(
        "configs/mnist1d_mlp_er.yaml",
        ["method.source.kind=frozen", "method.source.pruned=0.2", "method.density=0.3"],
    )
    assert frozen.method.source == SourceConfig(kind="frozen", pruned=0.2)
    with pytest.raises(ConfigError, match=r"^method\.source\.density: applies to an ER source"):
        load_config("configs/mnist1d_mlp_er.yaml", ["method.source.kind=dense", "method.source.density=0.4"])


# a value other than the default for every source field, valid for the kinds that read it
SOURCE_VALUES = {
    "density": "0.5",
    "pruned": "0.2",
    "locked": "0.1",
    "distribution": "equal",
    "locked_rule": "density",
    "scope": "layer",
    "sampling": "exact",
    "er_distribution": "erk",
}


def _source_case(kind: str, name: str) -> list[str]:
    given = [
        f"method.source.kind={kind}",
        f"method.source.{name}={SOURCE_VALUES[name]}",
        "method.density=0.3",
    ]
    if name == "scope":  # a layer scope keeps method.density in every layer, not one threshold
        given.append("method.global_topk=false")
    return given


@pytest.mark.parametrize("kind", ["dense", "er", "frozen"])
def test_a_source_field_its_kind_does_not_read_is_refused(kind):
    """``source.density: 0.5`` on a dense search was accepted: a run id and a label ("source
    density 0.5") of an ER search that never happened, with the masks of a dense one."""
    from landscape.config.reads import SOURCE_FIELDS_READ

    unread = [n for n in SOURCE_VALUES if n not in SOURCE_FIELDS_READ[kind]]
    assert unread  # every kind leaves some fields unread
    for name in unread:
        with pytest.raises(
            ConfigError,
            match=rf"^method\.source\.{name}: applies to an? (ER|frozen) source .*not to kind '{kind}'",
        ):
            load_config(None, _source_case(kind, name))
    for name in SOURCE_FIELDS_READ[kind]:  # the fields it reads are taken
        cfg = load_config(None, _source_case(kind, name))
        assert str(getattr(cfg.method.source, name)) == SOURCE_VALUES[name]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            ["method.recycle.every=5", "train.epochs=5"],
            "method.recycle.every",
        ),  # after epoch 5 is after the last
        (["method.recycle.every=2", "method.recycle.warmup=3", "train.epochs=5"], "method.recycle.every"),
        (["method.recycle.every=1", "method.recycle.unit=step", "train.epochs=1"], "method.recycle.every"),
        (
            ["method.name=iterand", "method.rerand.unit=epoch", "method.rerand.every=4", "train.epochs=3"],
            "method.rerand.every",
        ),  # fmt: skip
    ],
)
def test_recycling_or_redraws_that_never_happen_are_refused(overrides, field):
    with pytest.raises(ConfigError, match=rf"^{field}: .* never happens in train.epochs"):
        load_config(None, overrides)


def test_recycling_and_redraws_that_happen_once_are_accepted():
    assert load_config(None, ["method.recycle.every=4", "train.epochs=6"]).method.recycle.every == 4
    assert load_config(None, ["method.recycle.every=9", "method.recycle.unit=step", "train.epochs=2"])
    on = ["method.name=iterand", "method.rerand.unit=epoch", "method.rerand.every=3", "train.epochs=3"]
    assert load_config(None, on).method.rerand.every == 3


@pytest.mark.parametrize("method", ["kstarts", "kstarts_dissipating"])
def test_a_kstarts_selection_after_the_last_epoch_is_refused(method):
    late = [f"method.name={method}", "method.kstarts.select_after=6", "train.epochs=5"]
    with pytest.raises(
        ConfigError, match=r"^method.kstarts.select_after: .* after the last of train.epochs 5"
    ):
        load_config(None, late)
    # a selection at the end of the last epoch is one the search makes
    last = [f"method.name={method}", "method.kstarts.select_after=5", "train.epochs=5"]
    assert load_config(None, last).method.kstarts.select_after == 5
