"""Following Slurm jobs without a cluster: ``squeue`` output parsed, a failing ``squeue`` said
once, a job that ended without a result reported with its log (the same code runs against a
real cluster in ``tests/slurm/``; here ``squeue`` is a script, as no controller can be made
to fail on demand)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from landscape.search import submitit_jobs
from landscape.search.submitit_jobs import SlurmQueue, job_result, sbatch_parameters, wait_for_slurm_jobs
from landscape.search.sweep import load_sweep
from landscape.search.units import WorkUnit

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "digits_mlp_edge_popup.yaml"


def fake_squeue(tmp_path: Path, monkeypatch, script: str) -> Path:
    """Put an executable ``squeue`` running ``script`` (sh) first on PATH; it logs its calls."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    tool = folder / "squeue"
    tool.write_text(f'#!/bin/sh\necho "$@" >> {folder}/calls\n{script}\n')
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder / "calls"


def test_squeue_states_of_every_array_task(tmp_path, monkeypatch):
    calls = fake_squeue(tmp_path, monkeypatch, "printf '12_0|RUNNING\\n12_1|COMPLETED\\n12_2|PENDING\\n'")
    states = SlurmQueue().states(["12_0", "12_1", "12_2"])
    assert states == {"12_0": "RUNNING", "12_1": "COMPLETED", "12_2": "PENDING"}
    # one call for the whole array, every state, one line per task
    assert calls.read_text().split() == [
        "--noheader",
        "--array",
        "--states=all",
        "--format=%i|%T",
        "--jobs=12",
    ]


def test_jobs_slurm_has_forgotten_are_gone_not_an_error(tmp_path, monkeypatch, caplog):
    fake_squeue(tmp_path, monkeypatch, "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1")
    with caplog.at_level(logging.WARNING):
        assert SlurmQueue().states(["12_0"]) == {}
    assert not caplog.records


def test_a_failing_squeue_is_said_once(tmp_path, monkeypatch, caplog):
    fake_squeue(
        tmp_path, monkeypatch, "echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1"
    )
    queue = SlurmQueue()
    with caplog.at_level(logging.WARNING, logger="landscape"):
        assert [queue.states(["12_0"]) for _ in range(5)] == [None] * 5
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "Unable to contact slurm controller" in lines[0], lines


class _Job:
    """The two attributes of a submitit job the waiting loop reads."""

    def __init__(self, folder: Path, job_id: str) -> None:
        import submitit

        self.job_id = job_id
        self.paths = submitit.core.utils.JobPaths(folder, job_id=job_id)


def test_waiting_ends_when_jobs_leave_the_queue_or_have_a_result(tmp_path, monkeypatch):
    # 12_0 still runs for two polls, then is gone; 12_1 was cancelled; 12_2 has its result file
    fake_squeue(
        tmp_path,
        monkeypatch,
        f"""
n=$(cat {tmp_path}/n 2>/dev/null || echo 0); echo $((n+1)) > {tmp_path}/n
if [ "$n" -lt 2 ]; then echo '12_0|RUNNING'; fi
echo '12_1|CANCELLED'
echo '12_2|RUNNING'""",
    )
    jobs = [_Job(tmp_path / "logs", f"12_{i}") for i in range(3)]
    jobs[2].paths.result_pickle.parent.mkdir(parents=True)
    jobs[2].paths.result_pickle.write_bytes(b"")
    ended = wait_for_slurm_jobs(jobs, poll_s=0.01)
    assert ended == {"12_0": "gone from the queue", "12_1": "CANCELLED"}
    assert (tmp_path / "n").read_text().strip() == "3"


def test_a_job_without_a_result_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(submitit_jobs, "RESULT_GRACE_S", 0.0)
    path = tmp_path / "s.yaml"
    path.write_text(f"base: {BASE}\nweight_seeds: 0\nsearch_seeds: 0-1\n")
    unit = WorkUnit(load_sweep(path).expand()[0].cfg, 0, (0, 1), str(tmp_path / "runs"))
    job = _Job(tmp_path / "logs", "12_0")
    result = job_result(job, unit, ended="CANCELLED")
    assert result.done == 0
    assert (
        result.error == f"{unit.label}: job 12_0 ended without a result (CANCELLED); log: {job.paths.stderr}"
    )


@pytest.mark.parametrize(
    "options", [{}, {"time_min": 7, "mem_gb": 1.5, "partition": "gpu", "account": "lab"}]
)
def test_sbatch_parameters_name_the_sweep(options):
    params = sbatch_parameters("density", options)
    assert params["name"] == "landscape-density"
    assert params["timeout_min"] == options.get("time_min", 24 * 60)
    if options:
        assert (params["mem_gb"], params["slurm_partition"], params["slurm_account"]) == (1.5, "gpu", "lab")
