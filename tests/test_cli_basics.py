"""CLI argument handling that needs no search."""

import pytest

from landscape.cli import main, parse_seeds
from landscape.errors import ConfigError


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("0-2,7,2") == [0, 1, 2, 7]
    assert parse_seeds("5") == [5]
    assert parse_seeds(" 1 , 3-4") == [1, 3, 4]  # the rules of sweep files


def test_a_seed_range_past_the_64_bit_columns_is_refused_before_it_is_expanded():
    with pytest.raises(ConfigError, match=r"^--search-seeds: seeds must be below 2\*\*63"):
        parse_seeds("0-99999999999999999999", "search-seeds")


@pytest.mark.parametrize("text", ["", "a", "3-1", "-2", "1-x"])
def test_bad_seeds(text):
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds(text)


def test_path_prints_the_run_directory(capsys):
    assert main(["path", "configs/digits_mlp_edge_popup.yaml", "--runs", "somewhere"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("somewhere/") and len(out.split("/")[-1]) == 12


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--set", "method.density=1.5"], "method.density"),
        (["--set", "model.name=resnet19"], "model.name"),
        (["--set", "model.hidden=[-1]"], "model.hidden"),
        (["--set", "method.name=edgepop"], "method.name"),
    ],
)
def test_bad_config_is_one_line_without_traceback(capsys, args, field):
    code = main(["path", "configs/digits_mlp_edge_popup.yaml", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert field in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_missing_config_file(capsys):
    assert main(["path", "nope.yaml"]) == 2
    assert "nope.yaml: config file not found" in capsys.readouterr().err
