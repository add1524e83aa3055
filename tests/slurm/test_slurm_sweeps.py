"""Sweeps on a real Slurm cluster: job arrays, a killed and a requeued task, ``--no-wait`` and
``--status``, and the cluster flags as ``sbatch`` received them.

Each test searches the same run of 4 masks (2 array tasks of 2) and compares the stored masks
bit for bit with the same sweep searched in this process. What the jobs did is read from
their logs (one line per claim taken over, batch trained or resumed, and masks stored), so a
claim never taken over, a batch started again from scratch or a mask searched twice fails.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from landscape.search.sweep import load_sweep
from landscape.store.claims import read_claim
from landscape.store.run_store import RunStore

from .conftest import (
    ACTIVE,
    EPOCHS,
    assert_same_masks,
    checkpoint_epoch,
    cli,
    create_run,
    job_events,
    job_state,
    manifest_held,
    scancel,
    scontrol_job,
    stored_per_mask,
    submit,
    wait_ended,
    wait_until,
)

pytestmark = pytest.mark.slurm

ALL_MASKS = {(0, s): 1 for s in range(4)}
KILLED = (0, 1)  # the search seeds of the first array task


def run_dir(sweep_file, runs):
    return runs / load_sweep(sweep_file).expand()[0].run_id


def test_a_sweep_runs_as_a_job_array_and_polls_quietly(sweep_file, tmp_path, partition, reference):
    runs = tmp_path / "runs"
    out = cli("sweep", sweep_file, "--runs", runs, "--executor", "slurm", "--partition", partition,
              "--array-parallelism", "2", "--cpus-per-task", "1", "--time", "15", "--device", "cpu",
              "--masks-in-flight", "2", "--quiet")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "4 masks searched, 4/4 done" in out.stdout
    # one array of two tasks, each with its own log folder
    record = json.loads((runs / ".submitit" / "sweeps" / "slurmtest.json").read_text())
    job_ids = record["job_ids"]
    assert len(job_ids) == 2 and len({j.split("_")[0] for j in job_ids}) == 1
    assert sorted(j.split("_")[1] for j in job_ids) == ["0", "1"]
    for job_id in job_ids:
        assert (runs / ".submitit" / job_id / f"{job_id}_0_log.out").is_file()
    # waiting asked squeue only: not one warning from polling, although sacct fails here
    sacct = subprocess.run(["sacct", "--noheader", "-j", job_ids[0]], capture_output=True, text=True)
    assert "sacct" not in out.stderr and "Bypassing" not in out.stderr, out.stderr
    assert "warn" not in out.stderr.lower(), (sacct.returncode, out.stderr)
    events = job_events(runs)
    assert stored_per_mask(events) == ALL_MASKS
    assert not [e for e in events if e["resumed"] or e["owner"]]  # nothing killed, nothing taken over
    assert_same_masks(RunStore.open(run_dir(sweep_file, runs)), reference)


def test_a_task_killed_mid_search_is_finished_by_a_rerun_exactly_once(
    sweep_file, tmp_path, partition, reference
):
    runs = tmp_path / "runs"
    run = create_run(sweep_file, runs)
    with manifest_held(run):
        first = submit(sweep_file, runs, partition, wait=False)
        killed, survivor = first.job_ids
        wait_until(lambda: checkpoint_epoch(run, 0, KILLED) >= 1, f"a checkpoint of job {killed}")
        owners = {s: read_claim(run / "claims" / f"w0-s{s}")["owner"] for s in KILLED}
        scancel("--signal=KILL", killed)
        wait_until(lambda: job_state(killed) not in ACTIVE, f"job {killed} to end", every=0.5)
    states = wait_ended([killed, survivor])
    assert states[killed] != "COMPLETED" and states[survivor] in ("COMPLETED", "GONE"), states
    # what the killed task left: its claims and its checkpoint, no masks
    epoch = checkpoint_epoch(run, 0, KILLED)
    assert 1 <= epoch < EPOCHS
    assert all(read_claim(run / "claims" / f"w0-s{s}")["owner"] == owners[s] for s in KILLED)
    assert RunStore.open(run).finished() == {(0, 2), (0, 3)}

    again = submit(sweep_file, runs, partition)
    assert not again.failures, [f.error for f in again.failures]
    assert (again.done, again.missing, len(again.job_ids)) == (2, 0, 1)
    events = job_events(runs)
    # the re-run took over exactly the dead task's claims, and resumed its batch where it stopped
    assert sorted((e["seeds"], e["owner"]) for e in events if e["owner"]) == [
        ((s,), owners[s]) for s in KILLED
    ]
    trainings = [e for e in events if e["first"] is not None and e["seeds"] == KILLED]
    assert [(int(e["first"]), e["resumed"]) for e in trainings] == [(1, None), (epoch + 1, str(epoch))]
    assert stored_per_mask(events) == ALL_MASKS  # each mask trained to the end and stored once
    assert_same_masks(RunStore.open(run), reference)
    assert not list((run / "checkpoints").glob("*.json"))  # finished batches leave no checkpoint


def test_no_wait_then_status_while_the_jobs_run(sweep_file, tmp_path, partition, reference):
    runs = tmp_path / "runs"
    common = ["--runs", runs, "--executor", "slurm", "--partition", partition, "--device", "cpu"]
    out = cli("sweep", sweep_file, *common, "--array-parallelism", "2", "--masks-in-flight", "2", "--no-wait")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "submitted 2 job(s)" in out.stdout and "--status" in out.stdout
    job_ids = json.loads((runs / ".submitit" / "sweeps" / "slurmtest.json").read_text())["job_ids"]
    status = cli("sweep", sweep_file, "--runs", runs, "--status")
    assert status.returncode == 0, status.stderr
    assert "masks done" in status.stdout and "4/4 masks done" not in status.stdout
    line = next(ln for ln in status.stdout.splitlines() if ln.startswith("slurm jobs of the last submission"))
    assert f"(array {job_ids[0].split('_')[0]})" in line
    assert "running" in line or "pending" in line, line
    wait_ended(job_ids)
    final = cli("sweep", sweep_file, "--runs", runs, "--status")
    assert "4/4 masks done, 1/1 runs complete" in final.stdout
    assert "2 completed" in final.stdout or "2 ended" in final.stdout, final.stdout
    assert_same_masks(RunStore.open(run_dir(sweep_file, runs)), reference)


def test_a_requeued_task_resumes_from_its_checkpoint(sweep_file, tmp_path, partition, reference):
    runs = tmp_path / "runs"
    run = create_run(sweep_file, runs)
    with manifest_held(run):
        report = submit(sweep_file, runs, partition, wait=False)
        requeued, other = report.job_ids
        wait_until(lambda: checkpoint_epoch(run, 0, KILLED) >= 1, f"a checkpoint of job {requeued}")
        owners = {s: read_claim(run / "claims" / f"w0-s{s}")["owner"] for s in KILLED}
        subprocess.run(["scontrol", "requeue", requeued], check=True, timeout=60)
        # Slurm ends the first run (SIGTERM, then SIGKILL), then holds the job back a while
        wait_until(lambda: job_state(requeued) == "PENDING", f"job {requeued} to be pending again", every=0.5)
    epoch = checkpoint_epoch(run, 0, KILLED)
    assert 1 <= epoch < EPOCHS and not RunStore.open(run).finished() & {(0, s) for s in KILLED}
    subprocess.run(["scontrol", "update", f"JobId={requeued}", "StartTime=now"], check=True, timeout=60)
    wait_ended([requeued, other])
    assert scontrol_job(requeued)["Restarts"] == "1"
    events = job_events(runs)
    assert sorted((e["seeds"], e["owner"]) for e in events if e["owner"]) == [
        ((s,), owners[s]) for s in KILLED
    ]
    trainings = [e for e in events if e["first"] is not None and e["seeds"] == KILLED]
    assert [(int(e["first"]), e["resumed"]) for e in trainings] == [(1, None), (epoch + 1, str(epoch))]
    assert {e["log"] for e in trainings} == {f"{requeued}_0_log.out"}  # one job, run twice
    assert stored_per_mask(events) == ALL_MASKS
    assert_same_masks(RunStore.open(run), reference)


def test_job_names_logs_and_resource_flags_reach_sbatch(sweep_file, tmp_path, partition):
    runs = tmp_path / "runs"
    out = cli("sweep", sweep_file, "--runs", runs, "--executor", "slurm", "--partition", partition,
              "--time", "7", "--gpus-per-node", "1", "--cpus-per-task", "2", "--mem-gb", "2",
              "--array-parallelism", "1", "--account", "lab-x", "--masks-in-flight", "2",
              "--device", "cpu", "--no-wait")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    job_ids = json.loads((runs / ".submitit" / "sweeps" / "slurmtest.json").read_text())["job_ids"]
    assert len(job_ids) == 2
    try:
        for job_id in job_ids:
            job = scontrol_job(job_id)
            folder = runs / ".submitit" / job_id
            assert job["JobName"] == "landscape-slurmtest"
            assert job["Partition"] == partition
            assert job["TimeLimit"] == "00:07:00"
            assert job["CPUs/Task"] == "2"
            assert job["MinMemoryNode"] == "2G"
            assert "gpu:1" in job.get("TresPerNode", ""), job.get("TresPerNode")
            assert job["Account"] == "lab-x"
            assert job["ArrayTaskThrottle"] == "1"
            assert job["StdOut"] == str(folder / f"{job_id}_0_log.out")
            assert job["StdErr"] == str(folder / f"{job_id}_0_log.err")
    finally:
        scancel(job_ids[0].split("_")[0])
    wait_ended(job_ids)
