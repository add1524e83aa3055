"""Config loading, overrides, validation and run ids."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landscape.config import (
    MethodConfig,
    SearchConfig,
    apply_overrides,
    from_dict,
    load_config,
    parse_override,
    read_config_file,
)
from landscape.errors import ConfigError


def test_run_ids_are_pinned():
    # Changing these means every stored run gets a new directory: only on purpose.
    assert SearchConfig().run_id == "44136fa355b3"
    assert load_config(None, ["method.density=0.3"]).run_id == "c04b200e7684"
    assert (
        load_config("configs/digits_mlp_edge_popup.yaml").run_id
        == load_config("configs/digits_mlp_edge_popup.yaml").run_id
    )


def test_defaults_are_dropped_from_the_hash():
    explicit = from_dict({"method": {"density": 0.5, "name": "edge_popup"}, "train": {"epochs": 30}})
    assert explicit.run_id == SearchConfig().run_id
    assert explicit.canonical() == {}


def test_data_root_is_not_identity():
    a = load_config(None, ["data.root=/tmp/a"])
    b = load_config(None, ["data.root=/elsewhere"])
    assert a.run_id == b.run_id
    assert a.data.root == "/tmp/a"


def test_yaml_and_toml_give_the_same_config(tmp_path):
    (tmp_path / "c.yaml").write_text("method:\n  density: 0.3\ntrain:\n  epochs: 5\n")
    (tmp_path / "c.toml").write_text("[method]\ndensity = 0.3\n[train]\nepochs = 5\n")
    assert load_config(tmp_path / "c.yaml") == load_config(tmp_path / "c.toml")


def test_overrides_parse_values():
    assert parse_override("train.epochs=2") == ("train.epochs", 2)
    assert parse_override("model.hidden=[32, 16]") == ("model.hidden", [32, 16])
    cfg = load_config(None, ["model.hidden=[32, 16]", "method.global_topk=true"])
    assert cfg.model.hidden == (32, 16)
    assert cfg.method.global_topk is True


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("method.density=0", "method.density"),
        ("method.density=1.5", "method.density"),
        ("method.density=abc", "method.density"),
        ("model.name=resnet19", "model.name"),
        ("data.name=cifar100", "data.name"),
        ("method.name=edgepopup", "method.name"),
        ("model.hidden=[64, -3]", "model.hidden"),
        ("model.width_mult=-1", "model.width_mult"),
        ("train.epochs=2.5", "train.epochs"),
        ("train.lr=0", "train.lr"),
        ("method.densty=0.5", "method.densty"),
        ("nosuch.field=1", "nosuch"),
    ],
)
def test_bad_values_name_the_field(override, field):
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    message = str(err.value)
    assert message.startswith(field)
    assert "\n" not in message


@pytest.mark.parametrize(
    "overrides",
    [
        ["method.anneal_epochs=3"],  # a layer-wise top-k has nothing to anneal
        ["method.anneal_epochs=-1"],
        ["method.anneal_epochs=30", "method.global_topk=true", "train.epochs=30"],
        ["method.anneal_epochs=3", "method.global_topk=true", "method.name=dense"],
    ],
)
def test_density_annealing_is_checked(overrides):
    with pytest.raises(ConfigError, match=r"^method\.anneal_epochs: [^\n]+$"):
        load_config(None, overrides)
    cfg = load_config(None, ["method.anneal_epochs=10", "method.global_topk=true"])
    assert cfg.method.anneal_epochs == 10


def test_did_you_mean():
    with pytest.raises(ConfigError, match="did you mean 'edge_popup'"):
        load_config(None, ["method.name=edge_pop"])
    with pytest.raises(ConfigError, match="did you mean 'density'"):
        load_config(None, ["method.densty=0.5"])


def test_contradictory_method_parameters():
    with pytest.raises(ConfigError, match="method.density"):
        load_config(None, ["method.source.kind=er", "method.source.density=0.3", "method.density=0.5"])
    with pytest.raises(ConfigError, match="unreachable"):
        load_config(None, ["method.source.kind=frozen", "method.source.pruned=0.8", "method.density=0.5"])


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(bad)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(binary)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listing)


def test_a_key_given_twice_in_a_yaml_config_is_refused_naming_it_and_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  density: 0.3\n  name: edge_popup\n  density: 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: key 'density' given twice (line 4); give it once"
    path.write_text("train: {epochs: 2}\nmethod: {density: 0.3}\ntrain: {lr: 0.05}\n")  # a section too
    with pytest.raises(ConfigError, match=r"key 'train' given twice \(line 3\)"):
        load_config(path)
    toml = tmp_path / "c.toml"  # TOML refuses it itself
    toml.write_text("[method]\ndensity = 0.3\ndensity = 0.5\n")
    with pytest.raises(ConfigError, match=r"c\.toml: cannot parse \(Cannot overwrite a value"):
        load_config(toml)


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("x: &short {epochs: 2, lr: 0.05}\n")
    assert "x" in read_config_file(path)
    path.write_text("train:\n  <<: {epochs: 2, lr: 0.05}\n  epochs: 3\n")
    assert (load_config(path).train.epochs, load_config(path).train.lr) == (3, 0.05)


@pytest.mark.parametrize("seed", [2**53 + 1, 2**63 - 1])
def test_integers_stay_exact_beyond_float_precision(tmp_path, seed):
    path = tmp_path / "c.yaml"
    path.write_text(f"train:\n  data_seed: {seed}\n")
    assert load_config(path).train.data_seed == seed
    assert load_config(None, [f"train.data_seed={seed}"]).train.data_seed == seed
    assert from_dict({"method": {"score_seed": str(seed)}}).method.score_seed == seed
    neighbour = load_config(None, [f"train.data_seed={seed - 1}"])
    assert neighbour.run_id != load_config(path).run_id  # two seeds, two runs


def test_seeds_beyond_the_64_bit_columns_are_refused_naming_the_field():
    from landscape.search.seeds import parse_seed_spec

    for field in ("train.data_seed", "method.score_seed", "data.split_seed"):
        with pytest.raises(ConfigError, match=rf"^{field}: must be a seed in \[0, 2\*\*63\)"):
            load_config(None, [f"{field}={2**63}"])
    for spec in (2**63, f"0-{2**70}", [0, str(2**63)]):  # a range is refused before it is expanded
        with pytest.raises(ConfigError, match=r"^--search-seeds: seeds must be below 2\*\*63"):
            parse_seed_spec(spec, "--search-seeds")


def test_whole_numbers_written_as_floats_are_still_integers():
    assert from_dict({"train": {"epochs": 3.0}}).train.epochs == 3
    assert from_dict({"train": {"epochs": "1e2"}}).train.epochs == 100
    with pytest.raises(ConfigError, match="^train.epochs: expected an integer"):
        from_dict({"train": {"epochs": "2.5"}})


def test_section_must_be_a_table():
    with pytest.raises(ConfigError, match="^method: expected a table"):
        from_dict({"method": 3})


@settings(max_examples=50, deadline=None)
@given(
    density=st.floats(min_value=0.01, max_value=1.0),
    epochs=st.integers(min_value=1, max_value=500),
    hidden=st.lists(st.integers(min_value=1, max_value=4096), min_size=1, max_size=4),
)
def test_round_trip_through_dict(density, epochs, hidden):
    cfg = apply_overrides(
        SearchConfig(), {"method.density": density, "train.epochs": epochs, "model.hidden": hidden}
    )
    again = from_dict(cfg.to_dict())
    assert again == cfg
    assert again.run_id == cfg.run_id
    assert from_dict(cfg.stored_dict()) == cfg  # what config.json holds restores the config


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MethodConfig().density = 0.3  # type: ignore[misc]


def test_every_shipped_config_loads():
    from pathlib import Path

    files = sorted(Path("configs").glob("*.yaml")) + sorted(Path("configs").glob("*.toml"))
    assert len(files) >= 4
    for path in files:
        assert load_config(path).run_id


# partially frozen upper edge; Biprop on constant-magnitude weights ---------------------------


@pytest.mark.parametrize(("pruned", "density"), [(0.8, 0.2), (0.55, 0.45), (0.9, 0.1), (0.3, 0.7)])
def test_frozen_density_at_one_minus_pruned_is_accepted(pruned, density):
    # 1 - 0.8 is 0.19999999999999996 in floating point: the edge must still be accepted
    cfg = load_config(
        None, ["method.source.kind=frozen", f"method.source.pruned={pruned}", f"method.density={density}"]
    )
    assert cfg.method.density == density
    with pytest.raises(ConfigError, match=r"^method\.density: .* unreachable"):
        load_config(
            None,
            [
                "method.source.kind=frozen",
                f"method.source.pruned={pruned}",
                f"method.density={density + 1e-6}",
            ],
        )


@pytest.mark.parametrize("init", ["signed_constant", "unsigned_constant"])
def test_biprop_on_constant_magnitude_weights_is_refused_naming_both_fields_and_the_fix(init):
    with pytest.raises(ConfigError) as err:
        load_config("configs/digits_mlp_edge_popup.yaml", ["method.name=biprop", f"model.weight_init={init}"])
    message = str(err.value)
    assert "\n" not in message and message.startswith("method.name: biprop")
    assert f"model.weight_init: {init}" in message
    assert "model.weight_init=kaiming_normal" in message and "method.preset=biprop-ref" in message
    fixed = load_config(
        "configs/digits_mlp_edge_popup.yaml", ["method.name=biprop", "model.weight_init=kaiming_normal"]
    )
    assert fixed.method.name == "biprop"


def test_biprop_refusal_exits_2_with_one_line(tmp_path, capsys):
    from landscape.cli import main

    code = main(
        [
            "search",
            "configs/digits_mlp_edge_popup.yaml",
            "--runs",
            str(tmp_path),
            "--set",
            "method.name=biprop",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "method.name: biprop" in err and "model.weight_init" in err
    assert not any(tmp_path.iterdir())  # nothing was searched or created


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (["method.source.sampling=exact"], "method.source.sampling"),
        (["method.source.er_distribution=erk"], "method.source.er_distribution"),
        (["method.source.scope=layer"], "method.source.scope"),
        (
            ["method.source.kind=frozen", "method.source.scope=layer", "method.global_topk=true"],
            "method.source.scope",
        ),
        (
            ["method.name=biprop", "model.weight_init=kaiming_normal", "method.rescale=dynamic"],
            "method.rescale",
        ),
        (["method.rescale=sometimes"], "method.rescale"),
        (["method.recycle.unit=batch"], "method.recycle.unit"),
        (["method.recycle.rate=0.8"], "method.recycle.rate"),
        (["method.recycle.mode=iterand_recycle", "method.recycle.rate=1.2"], "method.recycle.rate"),
        (["method.rerand.unit=epochs"], "method.rerand.unit"),
        (["method.rerand.mode=manual", "method.rerand.mix_new=.inf"], "method.rerand.mix_new"),
        (["method.source.distribution=pyramidal"], "method.source.distribution"),
        (["method.source.locked_rule=both"], "method.source.locked_rule"),
        (["method.score_init=kaiming_uniform_gelu"], "method.score_init"),
        (["method.preset=no-such-preset"], "method.preset"),
    ],
)
def test_new_options_are_checked(overrides, field):
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_new_fields_at_their_defaults_keep_run_ids():
    defaults = [
        "method.rescale=none",
        "method.preset=",
        "method.recycle.unit=epoch",
        "method.recycle.mode=recycle",
        "method.rerand.unit=step",
        "method.rerand.mode=bernoulli",
        "method.rerand.mix_old=1.0",
        "method.rerand.mix_new=0.0",
        "method.source.locked_rule=sparsity",
        "method.source.scope=global",
        "method.source.sampling=bernoulli",
        "method.source.er_distribution=uniform",
    ]
    assert load_config(None, defaults).run_id == SearchConfig().run_id == "44136fa355b3"
    base = load_config("configs/digits_mlp_edge_popup.yaml")
    assert load_config("configs/digits_mlp_edge_popup.yaml", defaults).run_id == base.run_id
