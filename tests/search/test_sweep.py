"""Sweeps: expansion, validation, concurrent workers, a killed worker, idempotent re-runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from landscape.cli.sweep import dry_run_text, status_text
from landscape.errors import ConfigError
from landscape.search.sweep import SweepProgress, load_sweep, parse_seed_spec, run_sweep
from landscape.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "digits_mlp_edge_popup.yaml"
TINY = "set: {train.epochs: 1, model.hidden: [16, 16], train.batch_size: 128}\n"


pytestmark = pytest.mark.usefixtures("one_thread_workers")


def write(tmp_path: Path, body: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"base: {BASE}\n{body}")
    return path


def stored_pairs(runs: Path, run_id: str) -> list[tuple[int, int]]:
    """Every (weight_seed, search_seed) the manifest lists, with repeats if any."""
    manifest = RunStore.open(runs / run_id).manifest()
    return [tuple(p) for entry in manifest["shards"] for p in entry["pairs"]]


def assert_exactly_once(sweep, runs: Path) -> None:
    for task in sweep.expand():
        pairs = stored_pairs(runs, task.run_id)
        assert sorted(pairs) == sorted(task.pairs()), f"run {task.run_id}: {sorted(pairs)}"
        store = RunStore.open(runs / task.run_id)
        records = store.records()
        assert len(records) == task.n_masks
        assert not records.duplicated(["weight_seed", "search_seed"]).any()
        assert store.read_rows().shape[0] == task.n_masks
        # no orphan shard left behind by a worker that lost a race
        bins = sorted(p.stem for p in (store.path / "shards").glob("shard-*.bin"))
        assert bins == sorted(e["name"] for e in store.manifest()["shards"])


def cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "landscape.cli", "sweep", *args, "--device", "cpu", "--quiet"]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


# ----------------------------------------------------------------------------------------------
# expansion and validation


def test_grid_times_seeds_expands_to_one_task_per_combination(tmp_path):
    path = write(tmp_path, TINY + "grid:\n  method.name: [edge_popup, iterand]\n"
                 "  method.density: [0.1, 0.3, 0.5]\nweight_seeds: 0-1\nsearch_seeds: [0, 2-4]\n")  # fmt: skip
    sweep = load_sweep(path)
    tasks = sweep.expand()
    assert len(tasks) == 6 and len({t.run_id for t in tasks}) == 6
    assert [(t.cfg.method.name, t.cfg.method.density) for t in tasks] == [
        (m, d) for m in ("edge_popup", "iterand") for d in (0.1, 0.3, 0.5)
    ]
    assert all(t.weight_seeds == (0, 1) and t.search_seeds == (0, 2, 3, 4) for t in tasks)
    assert sweep.n_masks == 6 * 8
    assert all(t.cfg.train.epochs == 1 and t.cfg.model.hidden == (16, 16) for t in tasks)
    assert tasks[4].label() == "method.name=iterand, method.density=0.3"
    text = dry_run_text(sweep)
    assert text.count("\n") == 6 and tasks[0].run_id in text and "8 masks" in text


def test_list_of_grids_is_a_union_and_toml_tables_work(tmp_path):
    yaml_path = write(tmp_path, TINY + "grid:\n  - {method.name: [edge_popup], method.density: [0.2, 0.4]}\n"
                      "  - {method.name: [biprop], model.weight_init: [kaiming_normal]}\n"
                      "weight_seeds: 0\nsearch_seeds: 0-1\n")  # fmt: skip
    tasks = load_sweep(yaml_path).expand()
    assert [(t.cfg.method.name, t.cfg.method.density) for t in tasks] == [
        ("edge_popup", 0.2), ("edge_popup", 0.4), ("biprop", 0.5)]  # fmt: skip
    toml = tmp_path / "sweep.toml"
    toml.write_text(f'base = "{BASE}"\nweight_seeds = "0"\nsearch_seeds = [0, 1]\n'
                    "[set]\n\"train.epochs\" = 1\n[grid.method]\ndensity = [0.2, 0.4]\n")  # fmt: skip
    assert [t.cfg.method.density for t in load_sweep(toml).expand()] == [0.2, 0.4]


def test_duplicate_combinations_collapse_to_one_run(tmp_path):
    path = write(tmp_path, "grid: {method.density: [0.5, 0.5, 0.3]}\nweight_seeds: 0\nsearch_seeds: 0\n")
    assert [t.cfg.method.density for t in load_sweep(path).expand()] == [0.5, 0.3]


def test_combinations_of_one_run_id_that_search_differently_elsewhere_are_refused(tmp_path):
    # snapshots and data paths are outside the run id: one of the two points would be dropped
    path = write(tmp_path, "grid: {train.snapshot_every: [0, 1]}\nweight_seeds: 0\nsearch_seeds: 0\n")
    with pytest.raises(ConfigError) as info:
        load_sweep(path).expand()
    message = str(info.value)
    assert message.startswith(f"{path}: combinations train.snapshot_every=0 and train.snapshot_every=1")
    assert "train.snapshot_every: 0 vs 1" in message and "\n" not in message
    # a preset and its fields written out are one run, as before
    import json

    from landscape.config.presets import preset_values

    fields = ", ".join(f"{k}: [{json.dumps(v)}]" for k, v in preset_values("edge-popup-ref").items())
    path = write(tmp_path, f"grid: [{{method.preset: [edge-popup-ref]}}, {{{fields}}}]\n"
                 "weight_seeds: 0\nsearch_seeds: 0\n", "same.yaml")  # fmt: skip
    assert len(load_sweep(path).expand()) == 1


def test_the_command_line_set_stays_above_a_preset_of_the_grid(tmp_path, capsys):
    from landscape.cli import main
    from landscape.config.presets import preset_values

    assert preset_values("biprop-ref")["train.epochs"] != 2  # else the test would show nothing
    path = write(tmp_path, "grid: {method.preset: [edge-popup-ref, biprop-ref]}\nweight_seeds: 0\n"
                 "search_seeds: 0\n")  # fmt: skip
    sweep = load_sweep(path, ["train.epochs=2", "train.lr=0.05"])
    tasks = sweep.expand()
    assert [t.cfg.method.name for t in tasks] == ["edge_popup", "biprop"]
    assert all(t.cfg.train.epochs == 2 and t.cfg.train.lr == 0.05 for t in tasks)
    assert main(["sweep", str(path), "--set", "train.epochs=2", "--dry-run"]) == 0
    assert "every run with --set train.epochs=2" in capsys.readouterr().out
    # the file's own set is an earlier level than the grid's preset: refused, not replaced
    path = write(tmp_path, "set: {train.epochs: 2}\ngrid: {method.preset: [edge-popup-ref]}\n"
                 "weight_seeds: 0\nsearch_seeds: 0\n", "set.yaml")  # fmt: skip
    with pytest.raises(
        ConfigError, match=r"set: train.epochs: the grid's method.preset edge-popup-ref sets it"
    ):
        load_sweep(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("grid: {method.densty: [0.1]}\nweight_seeds: 0\nsearch_seeds: 0\n", "did you mean 'method.density'"),
        ("grid: {method.recycle: [1]}\nweight_seeds: 0\nsearch_seeds: 0\n", "is a config section"),
        ("grid: {method.density: 0.3}\nweight_seeds: 0\nsearch_seeds: 0\n", "non-empty list"),
        ("grid: {method.density: [0.1]}\nweight_seeds: 0\n", "search_seeds: missing"),
        ("weight_seeds: 0-x\nsearch_seeds: 0\n", "weight_seeds: expected seeds"),
        ("grids: {method.density: [0.1]}\nweight_seeds: 0\nsearch_seeds: 0\n", "did you mean 'grid'"),
        ("set: {train.epoch: 3}\nweight_seeds: 0\nsearch_seeds: 0\n", "set: train.epoch"),
    ],
)
def test_invalid_sweeps_fail_with_one_line_naming_the_file(tmp_path, body, expected):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    message = str(info.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_bad_value_in_one_combination_names_it(tmp_path):
    path = write(tmp_path, "grid:\n  method.name: [edge_popup, biprop]\n  method.density: [0.5, 1.5]\n"
                 "weight_seeds: 0\nsearch_seeds: 0\n")  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    message = str(info.value)
    assert message.startswith(
        f"{path}: combination method.name=edge_popup, method.density=1.5: method.density"
    )
    assert "\n" not in message


def test_missing_base_names_the_sweep(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("base: nowhere.yaml\nweight_seeds: 0\nsearch_seeds: 0\n")
    with pytest.raises(ConfigError, match="nowhere.yaml: config file not found"):
        load_sweep(path)


def test_seed_specs():
    assert parse_seed_spec("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seed_spec([5, "0-1", 5]) == [0, 1, 5]
    assert parse_seed_spec(4) == [4]
    for bad in ("3-1", "a", [], True, "-2"):
        with pytest.raises(ConfigError):
            parse_seed_spec(bad, "x")


# ----------------------------------------------------------------------------------------------
# running


def test_status_progress_and_rerun_of_a_finished_sweep(tmp_path):
    path = write(tmp_path, TINY + "grid: {method.density: [0.3, 0.5]}\nweight_seeds: 0\nsearch_seeds: 0-1\n")
    sweep, runs = load_sweep(path), tmp_path / "runs"
    part = write(
        tmp_path, TINY + "grid: {method.density: [0.3]}\nweight_seeds: 0\nsearch_seeds: 1\n", "part.yaml"
    )
    assert run_sweep(load_sweep(part), runs, device="cpu", progress=False).done == 1
    assert [(r.done, r.total) for r in sweep.status(runs)] == [(1, 2), (0, 2)]
    assert "1/4 masks done" in status_text(sweep, runs)

    report = run_sweep(sweep, runs, device="cpu", progress=False)
    assert report.done == 3 and report.missing == 0 and not report.failures
    assert [(r.done, r.total) for r in sweep.status(runs)] == [(2, 2), (2, 2)]
    assert_exactly_once(sweep, runs)
    with SweepProgress(sweep.expand(), runs, enabled=True, interval=0.01) as bar:
        assert bar.total == 4
    assert bar.done == 4

    manifests = {t.run_id: (runs / t.run_id / "manifest.json").read_bytes() for t in sweep.expand()}
    again = run_sweep(sweep, runs, device="cpu", progress=False)
    assert again.results == [] and again.done == 0 and again.missing == 0
    assert manifests == {t.run_id: (runs / t.run_id / "manifest.json").read_bytes() for t in sweep.expand()}


def test_two_workers_at_once_store_every_mask_exactly_once(tmp_path):
    path = write(
        tmp_path, TINY + "grid: {method.density: [0.3, 0.5]}\nweight_seeds: 0-1\nsearch_seeds: 0-2\n"
    )
    runs = tmp_path / "runs"
    procs = [cli(str(path), "--runs", str(runs), "--masks-in-flight", "1") for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    sweep = load_sweep(path)
    assert_exactly_once(sweep, runs)
    # each mask was trained by exactly one of the two workers
    searched = [int(out.split(": ")[1].split(" masks searched")[0]) for out in outputs]
    assert sum(searched) == sweep.n_masks == 12, outputs


def test_worker_killed_mid_search_loses_nothing(tmp_path):
    path = write(tmp_path, "set: {train.epochs: 3, model.hidden: [16, 16], train.batch_size: 32}\n"
                 "weight_seeds: 0\nsearch_seeds: 0-3\n")  # fmt: skip
    runs = tmp_path / "runs"
    sweep = load_sweep(path)
    run_dir = runs / sweep.expand()[0].run_id
    proc = cli(str(path), "--runs", str(runs), "--masks-in-flight", "1")
    deadline = time.monotonic() + 240
    while not (list(run_dir.glob("checkpoints/*.pt")) or (run_dir / "manifest.json").exists()):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the worker never wrote a checkpoint or a shard"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    before = sum(r.done for r in sweep.status(runs))
    assert before < 4
    # the dead worker still "holds" the mask it was training: the restart must break that claim
    assert list((run_dir / "claims").iterdir())

    again = cli(str(path), "--runs", str(runs), "--masks-in-flight", "1")
    out = again.communicate(timeout=300)[0]
    assert again.returncode == 0, out
    assert f"{4 - before} masks searched" in out
    assert_exactly_once(sweep, runs)
    assert not [p for p in (run_dir / "claims").iterdir()], "claims left behind"


def test_cli_dry_run_status_and_errors(tmp_path, capsys):
    from landscape.cli import main

    path = write(tmp_path, "grid: {method.density: [0.3, 0.5]}\nweight_seeds: 0-1\nsearch_seeds: 0-3\n")
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep sweep: 2 runs, 16 masks (weight seeds 0-1, search seeds 0-3)")
    assert main(["sweep", str(path), "--status", "--runs", str(tmp_path / "runs")]) == 0
    assert "0/16 masks done, 0/2 runs complete" in capsys.readouterr().out
    assert main(["sweep", str(path), "--partition", "gpu"]) == 2
    assert "need --executor slurm" in capsys.readouterr().err
    bad = write(tmp_path, "grid: {method.density: [2]}\nweight_seeds: 0\nsearch_seeds: 0\n", "bad.yaml")
    assert main(["sweep", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "combination method.density=2" in err


def test_cli_set_overrides_every_run_and_shows_in_the_dry_run(tmp_path, capsys):
    from landscape.cli import main
    from landscape.config import load_config

    path = write(tmp_path, TINY + "grid: {method.density: [0.3, 0.5]}\nweight_seeds: 0\nsearch_seeds: 0-1\n")
    sets = ["train.epochs=2", "method.score_init=kaiming_normal"]
    sweep = load_sweep(path, sets)
    expected = {
        load_config(
            BASE,
            [
                "train.epochs=2",
                "model.hidden=[16, 16]",
                "train.batch_size=128",
                "method.score_init=kaiming_normal",
                f"method.density={d}",
            ],
        ).run_id  # fmt: skip
        for d in (0.3, 0.5)
    }
    assert {t.run_id for t in sweep.expand()} == expected
    assert not expected & {t.run_id for t in load_sweep(path).expand()}
    args = ["sweep", str(path), *(a for s in sets for a in ("--set", s))]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "every run with --set train.epochs=2 --set method.score_init=kaiming_normal"
    assert {line.split()[0] for line in out[2:]} == expected
    assert main([*args, "--runs", str(tmp_path / "runs"), "--quiet", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert all(RunStore.open(tmp_path / "runs" / r).config.train.epochs == 2 for r in expected)
    assert main([*args, "--status", "--runs", str(tmp_path / "runs")]) == 0
    assert "4/4 masks done" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.epocs=2", "--set train.epocs: unknown field; did you mean 'epochs'?"),
        ("train.epochs=-1", "--set train.epochs: must be >= 0, got -1"),
        (
            "method.density=0.2",
            "--set method.density: the grid of {path} varies this field; change the grid instead",
        ),
        ("train.epochs", "--set 'train.epochs': expected dotted.key=value"),
    ],
)
def test_cli_bad_set_is_one_line_naming_the_field(tmp_path, capsys, text, expected):
    from landscape.cli import main

    path = write(tmp_path, "grid: {method.density: [0.3, 0.5]}\nweight_seeds: 0\nsearch_seeds: 0\n")
    assert main(["sweep", str(path), "--set", text, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err == f"landscape sweep: error: {expected.format(path=path)}\n"
