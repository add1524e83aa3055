"""Bad input through the CLI: exit status 2, exactly one line on stderr naming the culprit
(field, file or run), never a traceback.

The commands run in-process through :func:`landscape.cli.main` (an uncaught exception would
fail the test outright); ``test_real_process_prints_one_line`` checks the same contract on a
real ``python -m landscape.cli`` process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from landscape.cli import main
from tests.data.conftest import make_mnist
from tests.reliability.conftest import CONFIG, ROOT, SEARCH, TINY, cli_error


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


# --------------------------------------------------------------------------------------------
# configs: every field validated, contradictions named


@pytest.mark.parametrize(
    ("body", "culprit"),
    [
        ("method:\n  densty: 0.3\n", "method.densty: unknown field; did you mean 'density'?"),
        ("nosuch:\n  x: 1\n", "nosuch: unknown field"),
        ("train:\n  epochs: many\n", "train.epochs: expected an integer, got 'many'"),
        ("train:\n  nesterov: maybe\n", "train.nesterov: expected true or false"),
        ("model:\n  hidden: [32, -1]\n", "model.hidden: widths must be positive"),
        ("model:\n  hidden: {a: 1}\n", "model.hidden: expected a list"),
        ("method: 0.5\n", "method: expected a table of fields"),
        ("- 1\n- 2\n", "expected a mapping of sections"),
        ("model: [unclosed\n", "cannot parse"),
    ],
)
def test_bad_config_file_names_the_field(tmp_path, capsys, body, culprit):
    path = write(tmp_path / "bad.yaml", body)
    err = cli_error(capsys, "search", path, "--runs", tmp_path / "runs")
    assert culprit in err
    assert not (tmp_path / "runs").exists()  # nothing created for a bad config


@pytest.mark.parametrize(
    ("overrides", "culprit"),
    [
        (["train.momentum=1.5"], "train.momentum: must be in [0, 1)"),
        (["train.lr=.nan"], "train.lr: must be > 0"),
        (["train.weight_decay=.inf"], "train.weight_decay: must be >= 0"),
        (["method.dissipate.tau=.inf"], "method.dissipate.tau: must be >= 0"),
        (["data.input_shape=[]", "data.name=synthetic"], "data.input_shape: must be a non-empty list"),
        (["train.warmup_epochs=9", "train.epochs=3"], "train.warmup_epochs"),
        (["method.score_init=gaussian"], "method.score_init: unknown value 'gaussian'"),
        (["model.name=resnet19"], "model.name"),
        # frozen fractions beyond the density: the search could never reach it
        (["method.source.kind=frozen", "method.source.locked=0.7"], "method.density: 0.5 is unreachable"),
        (["method.source.kind=frozen", "method.source.pruned=0.6"], "method.density: 0.5 is unreachable"),
        (
            ["method.source.kind=frozen", "method.source.pruned=0.5", "method.source.locked=0.5"],
            "method.source.pruned + locked: must be < 1",
        ),  # fmt: skip
        (["method.source.kind=er", "method.source.density=0.2"], "exceeds method.source.density 0.2"),
        (["nosuch.field=1"], "nosuch: unknown config section"),
        (["train.epochs"], "--set 'train.epochs': expected dotted.key=value"),
    ],
)
def test_bad_override_names_the_field(tmp_path, capsys, overrides, culprit):
    argv = [a for o in overrides for a in ("--set", o)]
    assert culprit in cli_error(capsys, "search", CONFIG, *argv, "--runs", tmp_path / "runs")


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["--search-seeds", "3-1"], "--search-seeds: expected seeds like 0-7 or [0, 3, 5], got '3-1'"),
        (["--weight-seeds", "a"], "--weight-seeds: expected seeds like 0-7 or [0, 3, 5], got 'a'"),
        (["--masks-in-flight", "0"], "--masks-in-flight: must be >= 1"),
        (["--device", "cuda:7"], "--device cuda:7"),
    ],
)
def test_bad_search_arguments_name_the_flag(tmp_path, capsys, argv, culprit):
    if argv[0] == "--device":
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("CUDA present: --device cuda:7 may exist")
    assert culprit in cli_error(capsys, *SEARCH, "--runs", tmp_path / "runs", *argv)


def test_analyze_on_a_missing_gpu_names_the_flag(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    (tmp_path / "runs").mkdir()
    assert "--device cuda: CUDA is not available" in cli_error(
        capsys, "analyze", tmp_path / "runs", "--device", "cuda"
    )


def test_unreadable_config_files(tmp_path, capsys):
    binary = write(tmp_path / "binary.yaml", b"\xff\xfe\x00\x81 not text")
    assert f"{binary}: not a UTF-8 text file" in cli_error(capsys, "search", binary)
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as fh:  # sparse: costs no disk
        fh.truncate(200 * 2**20)
    assert f"{huge}: 209,715,200 bytes is too large for a config file" in cli_error(capsys, "path", huge)
    assert f"{tmp_path}: is a folder" in cli_error(capsys, "search", tmp_path)
    assert "nope.yaml: config file not found" in cli_error(capsys, "search", tmp_path / "nope.yaml")
    toml = write(tmp_path / "bad.toml", "[train\nepochs = 3\n")
    assert f"{toml}: cannot parse" in cli_error(capsys, "path", toml)


# --------------------------------------------------------------------------------------------
# datasets


def test_missing_dataset_names_the_path_and_what_to_put_there(tmp_path, capsys):
    err = cli_error(capsys, *SEARCH, "--set", "data.name=mnist", "--set", f"data.root={tmp_path / 'nodata'}",
                    "--runs", tmp_path / "runs")  # fmt: skip
    assert f"data.root: MNIST file not found: {tmp_path / 'nodata' / 'mnist'}" in err
    assert "put the four MNIST idx files in" in err


@pytest.mark.parametrize("fault", ["wrong_format", "truncated", "labels"])
def test_wrong_format_dataset_file_is_named(tmp_path, capsys, fault):
    folder = tmp_path / "data" / "mnist"
    make_mnist(folder)
    images, labels = folder / "train-images-idx3-ubyte", folder / "train-labels-idx1-ubyte"
    if fault == "wrong_format":
        images.write_bytes(b"<html>404 Not Found</html>")
        expected = f"{images}: not an MNIST idx file"
    elif fault == "truncated":
        images.write_bytes(images.read_bytes()[:-100])
        expected = f"{images}: truncated or oversized MNIST idx file"
    else:
        labels.write_bytes(labels.read_bytes()[:-3])
        expected = f"{labels}: truncated"
    err = cli_error(capsys, *SEARCH, "--set", "data.name=mnist", "--set", f"data.root={tmp_path / 'data'}",
                    "--runs", tmp_path / "runs")  # fmt: skip
    assert expected in err


def test_data_root_that_is_a_file(tmp_path, capsys):
    root = write(tmp_path / "data.tar", b"not a folder")
    err = cli_error(capsys, *SEARCH, "--set", "data.name=cifar10", "--set", f"data.root={root}",
                    "--runs", tmp_path / "runs")  # fmt: skip
    assert f"data.root: {root} is a file, expected the folder" in err


# --------------------------------------------------------------------------------------------
# runs roots that are not what they should be


@pytest.fixture
def runs(tmp_path, finished_run) -> tuple[Path, Path]:
    """(runs root, run directory): a private copy of ``finished_run``."""
    root = tmp_path / "runs"
    shutil.copytree(finished_run, root / finished_run.name)
    return root, root / finished_run.name


def _first_shard(run: Path, suffix: str) -> Path:
    return next((run / "shards").glob(f"shard-*{suffix}"))


def test_empty_missing_and_file_runs_roots(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    a_file = write(tmp_path / "runs.txt", "not a folder")
    for command in ("analyze", "ls"):
        assert f"{tmp_path / 'empty'}: no runs found" in cli_error(capsys, command, tmp_path / "empty")
        assert f"{tmp_path / 'gone'}: runs root does not exist" in cli_error(
            capsys, command, tmp_path / "gone"
        )
        assert f"{a_file}: runs root is a file, expected a folder" in cli_error(capsys, command, a_file)
    assert f"{a_file}: runs root is a file" in cli_error(capsys, *SEARCH, "--runs", a_file)


def _truncate(run: Path) -> str:
    shard = _first_shard(run, ".bin")
    shard.write_bytes(shard.read_bytes()[:-5])
    return f"{shard}: truncated or corrupt"


def _flip_bit(run: Path) -> str:
    shard = _first_shard(run, ".bin")
    data = bytearray(shard.read_bytes())
    data[1] ^= 0b100  # same size: only the checksum can tell
    shard.write_bytes(bytes(data))
    return f"{shard}: corrupt (sha256 does not match the manifest)"


def _edit_records(run: Path) -> str:
    path = _first_shard(run, ".json")
    path.write_text(path.read_text().replace('"test_acc": 0.', '"test_acc": 1.', 1))
    return f"{path}: corrupt (sha256 does not match the manifest)"


def _delete_shard(run: Path) -> str:
    shard = _first_shard(run, ".bin")
    shard.unlink()
    return f"{shard}: listed in the manifest but missing"


def _non_utf8_manifest(run: Path) -> str:
    (run / "manifest.json").write_bytes(b'{"shards": "\xff\xfe"}')
    return f"{run / 'manifest.json'}: not UTF-8 text"


def _huge_manifest(run: Path) -> str:
    with open(run / "manifest.json", "r+b") as fh:
        fh.truncate(65 * 2**20)  # sparse
    return f"{run / 'manifest.json'}: 68,157,440 bytes, over the 64 MiB limit"


def _malformed_manifest(run: Path) -> str:
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["shards"][0]["n_rows"] = "three"
    (run / "manifest.json").write_text(json.dumps(manifest))
    return f"{run / 'manifest.json'}: malformed manifest entry 0"


def _garbage_config(run: Path) -> str:
    (run / "config.json").write_bytes(b"\x00\x01 binary")
    return f"{run / 'config.json'}: not valid JSON"


def _edited_config(run: Path) -> str:
    path = run / "config.json"  # still valid JSON, but other values than the masks were searched with
    path.write_text(path.read_text().replace('"density": 0.5', '"density": 0.3', 1))
    return f"{path}: its fields hash to run id"


def _bad_layout(run: Path) -> str:
    (run / "layout.json").write_text('[{"name": "fcs.0", "shape": [32, "x"]}]')
    return f"{run / 'layout.json'}: malformed layout"


def _manifest_is_a_folder(run: Path) -> str:
    (run / "manifest.json").unlink()
    (run / "manifest.json").mkdir()
    return f"{run / 'manifest.json'}: not a file"


CORRUPTIONS = [_truncate, _flip_bit, _edit_records, _delete_shard, _non_utf8_manifest, _huge_manifest,
               _malformed_manifest, _garbage_config, _edited_config, _bad_layout,
               _manifest_is_a_folder]  # fmt: skip


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_corrupt_run_alone_is_refused_naming_the_file(runs, capsys, corrupt):
    root, run = runs
    expected = corrupt(run)
    err = cli_error(capsys, "analyze", root)
    assert f"{root}: no readable runs with stored masks (run {run.name} skipped: " in err
    assert expected in err


@pytest.mark.parametrize(
    "corrupt", [_truncate, _flip_bit, _delete_shard], ids=lambda f: f.__name__.strip("_")
)
def test_corrupt_run_next_to_good_ones_is_skipped_and_named(runs, tmp_path, finished_run, capsys, corrupt):
    from landscape.reading import read_runs

    root, run = runs
    good = root / "0good"  # a second, intact copy (any folder name is a run)
    shutil.copytree(finished_run, good)
    expected = corrupt(run)
    assert main(["analyze", str(root), "--embed", "pca", "--out", str(tmp_path / "tables")]) == 0
    out = capsys.readouterr().out
    assert "3 masks in 1 runs" in out
    skipped = out.split("skipped (not analysed):", 1)[1]
    assert expected in skipped
    # the corrupt run's masks never enter an analysis, in a notebook either
    with pytest.warns(UserWarning, match="run skipped"):
        ms = read_runs(root)
    assert len(ms) == 3 and ms.uns["skipped_runs"][0]["path"] == str(run)
    # ls (sizes only, no checksums: it must stay instant) says which run is broken, and why
    assert main(["ls", str(root)]) == 0
    broken = [x for x in capsys.readouterr().out.splitlines() if "corrupt" in x]
    if corrupt is not _flip_bit:
        (line,) = broken
        assert expected.split(": ")[0] in line


def test_a_copied_run_is_read_once_and_the_copy_named(runs, capsys):
    from landscape.reading import read_runs

    root, run = runs
    copy = root / "0backup"  # sorts first: the folder named by the run id is still the one read
    shutil.copytree(run, copy)
    with pytest.warns(UserWarning, match="run skipped"):
        ms = read_runs(root)
    assert len(ms) == 3 and ms.runs == {run.name: str(run)}
    reason = f"a copy of run {run.name}, read from {run}"
    assert ms.uns["skipped_runs"] == [{"path": str(copy), "reason": reason, "copy_of": run.name}]
    assert main(["analyze", str(root), "--embed", "pca"]) == 0
    out = capsys.readouterr().out
    assert "3 masks in 1 runs" in out and f"{copy}: a copy of run {run.name}" in out
    # a copy is no unreadable run: clean still tells current results from stale ones
    assert main(["clean", str(root)]) == 0
    assert "removed 0" in capsys.readouterr().out


def test_more_seeds_into_a_run_with_a_tampered_config_are_refused(runs, capsys):
    root, run = runs
    config = json.loads((run / "config.json").read_text())
    config["method"]["density"] = 0.25
    (run / "config.json").write_text(json.dumps(config))
    err = cli_error(capsys, *SEARCH, "--runs", root, "--search-seeds", "3")
    assert f"run {run.name} at {run}: config.json does not match the requested config" in err
    assert "method.density: 0.25 vs 0.5" in err


def test_layout_mismatch_in_one_analysis_is_named(tmp_path, finished_run):
    """Masks of different networks are never compared: read_runs names the runs of each
    layout; ``landscape analyze`` analyses each layout group on its own."""
    from landscape.config import load_config
    from landscape.errors import AnalysisError
    from landscape.reading import read_layout_groups, read_runs
    from landscape.search.runner import run_search

    root = tmp_path / "runs"
    shutil.copytree(finished_run, root / finished_run.name)
    wide = run_search(load_config(CONFIG, [*TINY, "model.hidden=[48, 32]", "train.epochs=1"]), root, [0], [0],
                      device="cpu", progress=False)  # fmt: skip
    with pytest.raises(AnalysisError) as err:
        read_runs(root)
    message = str(err.value)
    assert "\n" not in message
    assert "runs have 2 different layouts" in message
    assert finished_run.name in message and wide.run_id in message
    assert "layer 'fcs.0' (32, 64) vs 'fcs.0' (48, 64)" in message
    assert sorted(len(ms) for ms in read_layout_groups(root)) == [1, 3]


def test_where_that_selects_nothing_is_named(runs, capsys):
    root, _ = runs
    err = cli_error(capsys, "analyze", root, "--where", "density > 2")
    assert "where='density > 2' selects no masks" in err


# --------------------------------------------------------------------------------------------
# a search that diverges


def test_nan_loss_stops_the_search_cleanly_and_says_so(tmp_path, capsys):
    """Dense weight training at lr 1e30 overflows in the first steps: a reliable NaN."""
    from landscape.store import RunStore

    root = tmp_path / "runs"
    args = [
        *SEARCH,
        "--set",
        "method.name=dense",
        "--set",
        "train.lr=1e30",
        "--runs",
        root,
        "--search-seeds",
        "0-1",
    ]
    err = cli_error(capsys, *args)
    assert "non-finite training loss at epoch 0 for weight_seed 0, search_seed(s) [0, 1]" in err
    assert "lower train.lr or check the data" in err
    (run,) = root.iterdir()
    assert err.startswith(f"landscape search: error: run {run.name} w0 s0-1: ")
    store = RunStore.open(run)
    assert store.n_masks == 0 and store.status() == "empty"  # nothing half-trained was stored
    assert store.pending() == [(0, 0), (0, 1)]  # still planned: a fixed config can fill it
    assert not list((run / "claims").iterdir())  # the masks are free for the next attempt
    assert cli_error(capsys, *args) == err  # and it says the same again, no stale state


# --------------------------------------------------------------------------------------------
# a real process


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (
            [
                "search",
                str(CONFIG),
                "--set",
                "method.source.kind=frozen",
                "--set",
                "method.source.locked=0.9",
            ],
            "method.density",
        ),  # fmt: skip
        (["analyze", "{tmp}"], "no runs found"),
    ],
)
def test_real_process_prints_one_line(tmp_path, argv, culprit):
    argv = [a.format(tmp=tmp_path) for a in argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "landscape.cli", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert culprit in proc.stderr
    assert proc.stdout == ""


def test_an_iterand_search_too_short_to_re_draw_is_refused_before_a_run_exists(tmp_path, capsys):
    runs = tmp_path / "runs"
    err = cli_error(capsys, *SEARCH, "--runs", runs, "--set", "method.name=iterand")
    # the re-draw period (300 steps by default) is longer than the whole search
    assert "method.rerand.every: 300 steps, but the search runs " in err
    assert "no weight would ever be re-drawn" in err
    assert not runs.exists() or not any(runs.iterdir())
