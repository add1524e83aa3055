"""Executors: submitit (local and debug), local worker processes, units, claim upkeep."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from landscape.errors import ConfigError
from landscape.search.executors import WorkUnit, make_units, run_unit
from landscape.search.sweep import load_sweep, run_sweep
from landscape.store.claims import Heartbeat, claim, owner_is_dead, read_claim
from landscape.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "digits_mlp_edge_popup.yaml"
TINY = "set: {train.epochs: 1, model.hidden: [16, 16], train.batch_size: 128}\n"


pytestmark = pytest.mark.usefixtures("one_thread_workers")


@pytest.fixture
def tiny_sweep(tmp_path):
    """2 runs x 2 masks, one epoch each."""
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"base: {BASE}\n{TINY}grid: {{method.density: [0.3, 0.5]}}\nweight_seeds: 0\nsearch_seeds: 0-1\n"
    )
    return load_sweep(path)


def assert_complete(sweep, runs: Path) -> None:
    for task in sweep.expand():
        manifest = RunStore.open(runs / task.run_id).manifest()
        pairs = [tuple(p) for e in manifest["shards"] for p in e["pairs"]]
        assert sorted(pairs) == sorted(task.pairs())


def test_submitit_local_executor_runs_a_job_array(tiny_sweep, tmp_path):
    runs = tmp_path / "runs"
    report = run_sweep(tiny_sweep, runs, executor="submitit-local", device="cpu", progress=False, time_min=10)
    assert not report.failures, [f.error for f in report.failures]
    assert report.done == 4 and report.missing == 0
    assert len(report.job_ids) == len(report.results) >= 2
    assert len({r.worker for r in report.results}) == len(report.results)  # one owner per job
    assert_complete(tiny_sweep, runs)
    logs = list((runs / ".submitit").rglob("*_log.out"))
    assert len(logs) >= len(report.job_ids)
    # every job really ran in its own process, not in this one
    assert all(r.worker.split(":")[1] != str(os.getpid()) for r in report.results)


def test_debug_executor_runs_in_process_and_reruns_do_nothing(tiny_sweep, tmp_path):
    runs = tmp_path / "runs"
    report = run_sweep(tiny_sweep, runs, executor="debug", device="cpu", progress=False)
    assert report.done == 4 and not report.failures
    assert all(r.worker.split(":")[1] == str(os.getpid()) for r in report.results)
    assert_complete(tiny_sweep, runs)
    again = run_sweep(tiny_sweep, runs, executor="debug", device="cpu", progress=False)
    assert again.done == 0 and again.job_ids == []


def test_local_worker_processes_share_one_runs_root(tiny_sweep, tmp_path):
    runs = tmp_path / "runs"
    report = run_sweep(tiny_sweep, runs, executor="local", device="cpu", workers=2, progress=False)
    assert not report.failures, [f.error for f in report.failures]
    assert report.done == 4 and report.missing == 0
    assert all(r.worker.split(":")[1] != str(os.getpid()) for r in report.results)
    assert_complete(tiny_sweep, runs)


def test_units_are_blocks_aligned_to_the_seed_list(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"base: {BASE}\nweight_seeds: 0-1\nsearch_seeds: 0-7\n")
    tasks = load_sweep(path).expand()
    runs = tmp_path / "runs"
    one = make_units(tasks, runs, parallel=1)
    assert [(u.weight_seed, u.search_seeds) for u in one] == [(0, tuple(range(8))), (1, tuple(range(8)))]
    four = make_units(tasks, runs, parallel=4)
    assert [u.search_seeds for u in four] == [(0, 1, 2, 3), (4, 5, 6, 7)] * 2
    blocks = make_units(tasks, runs, masks_in_flight=3)
    assert [u.search_seeds for u in blocks[:3]] == [(0, 1, 2), (3, 4, 5), (6, 7)]
    assert all(u.masks_in_flight == 3 for u in blocks)


def test_units_leave_out_finished_masks(tiny_sweep, tmp_path):
    runs = tmp_path / "runs"
    task = tiny_sweep.expand()[0]
    result = run_unit(WorkUnit(task.cfg, 0, (1,), str(runs), "cpu"))
    assert (result.done, result.error) == (1, None)
    units = make_units(tiny_sweep.expand(), runs, masks_in_flight=2)
    assert [(u.cfg.run_id, u.search_seeds) for u in units] == [
        (task.run_id, (0,)),
        (tiny_sweep.expand()[1].run_id, (0, 1)),
    ]


def test_a_failing_unit_is_reported_not_raised(tiny_sweep, tmp_path):
    task = tiny_sweep.expand()[0]
    result = run_unit(WorkUnit(task.cfg, 0, (0,), str(tmp_path / "runs"), "cuda:7"))
    if result.error is None:  # pragma: no cover - a machine with 8 GPUs
        pytest.skip("cuda:7 exists here")
    assert result.error.startswith(f"{task.run_id} w0 s0: ") and result.done == 0


def test_gpu_plan_gives_a_named_gpu_to_its_workers_as_their_only_device(monkeypatch):
    from landscape.search import executors

    monkeypatch.setattr(executors, "visible_gpus", lambda: ["3", "5"])
    assert executors.gpu_plan("cuda") == (["3", "5"], "cuda")
    assert executors.gpu_plan("auto") == (["3", "5"], "auto")
    # a worker sees GPU 5 alone, as its device 0: "cuda:1" there would name no GPU
    assert executors.gpu_plan("cuda:1") == (["5"], "cuda")
    assert executors.gpu_plan("cpu") == ([], "cpu")
    with pytest.raises(ConfigError, match=r"device 'cuda:2': 2 CUDA device\(s\) visible \(3, 5\)"):
        executors.gpu_plan("cuda:2")


def test_bad_executor_settings_are_config_errors(tiny_sweep, tmp_path):
    with pytest.raises(ConfigError, match="--executor 'cloud'"):
        run_sweep(tiny_sweep, tmp_path, executor="cloud")
    with pytest.raises(ConfigError, match="--workers 0"):
        run_sweep(tiny_sweep, tmp_path, workers=0)
    if not Path("/usr/bin/sbatch").exists():
        with pytest.raises(ConfigError, match="sbatch not found"):
            run_sweep(tiny_sweep, tmp_path, executor="slurm", partition="gpu")
    with pytest.raises(ConfigError, match="'partitoin'"):
        run_sweep(tiny_sweep, tmp_path, executor="debug", partitoin="gpu")


# ----------------------------------------------------------------------------------------------
# claim upkeep


def _fake_claim(path: Path, host: str, pid: int, owner: str = "someone") -> None:
    path.write_text(json.dumps({"owner": owner, "host": host, "pid": pid, "claimed_at": time.time()}))


def test_claims_of_dead_local_workers_are_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    here = socket.gethostname()
    _fake_claim(tmp_path / "w0-s0", here, dead_pid)
    _fake_claim(tmp_path / "w0-s1", here, os.getpid())  # alive
    _fake_claim(tmp_path / "w0-s2", "another-host", dead_pid)  # a pid elsewhere means nothing here
    (tmp_path / "w0-s3").write_text("")  # being written by its creator
    assert [owner_is_dead(tmp_path / f"w0-s{i}") for i in range(4)] == [True, False, False, False]
    # a fresh claim of a dead local worker is taken over at once; the others stand
    assert [claim(tmp_path / f"w0-s{i}", "me", 900) for i in range(4)] == [True, False, False, False]
    assert read_claim(tmp_path / "w0-s0")["owner"] == "me"


def test_heartbeat_refreshes_only_its_own_claims(tmp_path):
    mine, theirs = tmp_path / "w0-s0", tmp_path / "w0-s1"
    assert claim(mine, "me", 900) and claim(theirs, "them", 900)
    old = time.time() - 3600
    for p in (mine, theirs):
        os.utime(p, (old, old))
    with Heartbeat([mine], "me", interval=0.01):
        deadline = time.monotonic() + 30
        while os.stat(mine).st_mtime == old and time.monotonic() < deadline:
            time.sleep(0.01)
    assert os.stat(mine).st_mtime > old
    assert os.stat(theirs).st_mtime == old
    assert read_claim(mine)["owner"] == "me"
