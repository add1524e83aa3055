"""A real Slurm cluster for the ``slurm`` tests (``make test-slurm`` starts one on this machine
with ``scripts/slurm-local.sh``; any cluster that answers ``sinfo`` will do). A test skips,
saying why, only when no cluster answers.

The jobs run on the cluster's nodes and import ``landscape`` from the environment they are
submitted from (Slurm exports it), so the runs roots live under pytest's temp folder, which
must be on a file system the nodes share (true on one machine).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from landscape.search.runner import open_run
from landscape.search.sweep import load_sweep, run_sweep
from landscape.store.claims import Heartbeat, claim, make_owner, release
from landscape.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "configs" / "digits_mlp_edge_popup.yaml"
# one run of 4 masks, searched as 2 array tasks of 2 masks (seconds of training each)
EPOCHS = 12
SWEEP = (
    f"base: {BASE}\n"
    f"set: {{train.epochs: {EPOCHS}, model.hidden: [64, 64], train.batch_size: 64}}\n"
    "weight_seeds: 0\nsearch_seeds: 0-3\n"
)
MASKS_IN_FLIGHT = 2
HOW_IT_RAN = ("wall_time_s", "batched_with")  # record fields about the run, not its result


@pytest.fixture(scope="session")
def partition() -> str:
    """The partition to submit to (``LANDSCAPE_SLURM_PARTITION``, else the default one)."""
    try:
        out = subprocess.run(
            ["sinfo", "--noheader", "--format=%P"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Slurm cluster reachable (sinfo: {exc}); start one with scripts/slurm-local.sh start")
    if out.returncode != 0 or not out.stdout.strip():
        why = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no partitions"
        pytest.skip(f"no Slurm cluster reachable (sinfo: {why}); start one with scripts/slurm-local.sh start")
    names = out.stdout.split()
    default = [n.rstrip("*") for n in names if n.endswith("*")]
    return os.environ.get("LANDSCAPE_SLURM_PARTITION") or (default or names)[0].rstrip("*")


@pytest.fixture
def sweep_file(tmp_path) -> Path:
    path = tmp_path / "slurmtest.yaml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> RunStore:
    """The sweep searched in this process, uninterrupted: what every cluster run must equal."""
    folder = tmp_path_factory.mktemp("reference")
    path = folder / "slurmtest.yaml"
    path.write_text(SWEEP)
    sweep = load_sweep(path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")  # as in the jobs (and fastest for this tiny model)
        report = run_sweep(
            sweep, folder / "runs", device="cpu", masks_in_flight=MASKS_IN_FLIGHT, progress=False
        )
    assert report.missing == 0 and not report.failures
    return RunStore.open(folder / "runs" / sweep.expand()[0].run_id)


@pytest.fixture(autouse=True)
def _jobs_on_one_thread(monkeypatch):
    """Jobs inherit this environment: one torch thread, and this checkout's ``landscape``."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    )


def cluster_options(partition: str, **extra) -> dict:
    return {"partition": partition, "array_parallelism": 2, "cpus_per_task": 1, "time_min": 15, **extra}


def submit(sweep_path: Path, runs: Path, partition: str, wait: bool = True, **extra):
    """The sweep as a Slurm job array, through the library."""
    return run_sweep(load_sweep(sweep_path), runs, executor="slurm", device="cpu", masks_in_flight=MASKS_IN_FLIGHT,
                     progress=False, wait=wait, **cluster_options(partition, **extra))  # fmt: skip


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``landscape ARGS`` in a fresh process, as a user types it."""
    return subprocess.run([sys.executable, "-m", "landscape.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Slurm, read back with its own tools


def job_state(job_id: str) -> str:
    """The job's state as ``squeue`` shows it (``GONE`` once Slurm has forgotten it)."""
    out = subprocess.run(["squeue", "--noheader", "--states=all", f"--jobs={job_id}", "--format=%T"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    return out.stdout.strip().split()[0] if out.returncode == 0 and out.stdout.strip() else "GONE"


ACTIVE = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "REQUEUED",
    "SUSPENDED",
    "SIGNALING",
    "STAGE_OUT",
}


def wait_until(predicate, what: str, timeout: float = 300, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def wait_ended(job_ids, timeout: float = 600) -> dict[str, str]:
    """Wait until no job is queued or running; their final states."""
    wait_until(
        lambda: all(job_state(j) not in ACTIVE for j in job_ids), f"jobs {job_ids} to end", timeout, 0.5
    )
    return {j: job_state(j) for j in job_ids}


def scontrol_job(job_id: str) -> dict[str, str]:
    """``scontrol show job``'s ``Key=Value`` fields of one job."""
    out = subprocess.run(
        ["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=60, check=True
    )
    return dict(re.findall(r"(\S+?)=(\S*)", out.stdout))


def scancel(*args: str) -> None:
    subprocess.run(["scancel", *args], check=True, timeout=60)


# ----------------------------------------------------------------------------------------------
# what the jobs did: their logs and the store

EVENT = re.compile(
    r"landscape: (?P<run>\w+) w(?P<w>\d+) s(?P<seeds>[\d,-]+): (?:"
    r"training epochs (?P<first>\d+)-(?P<last>\d+) of \d+(?:, resumed from the checkpoint of epoch (?P<resumed>\d+))?"
    r"|stored (?P<stored>\d+) of \d+ masks"
    r"|took over the claim of (?P<owner>\S+))$"
)


def seeds_of(label: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in label.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return tuple(out)


def job_events(runs: Path) -> list[dict]:
    """Every search event the jobs under ``runs`` logged, in log order per job."""
    events = []

    def order(log: Path) -> tuple[int, ...]:  # job 10 after job 9
        return tuple(int(x) for x in re.findall(r"\d+", log.parent.name))

    for log in sorted((runs / ".submitit").glob("*/*_log.out"), key=order):
        for line in log.read_text(errors="replace").splitlines():
            m = EVENT.search(line)
            if m:
                events.append({**m.groupdict(), "seeds": seeds_of(m["seeds"]), "log": log.name})
    return events


def stored_per_mask(events: list[dict]) -> Counter:
    """How often each ``(weight_seed, search_seed)`` was trained to the end and stored."""
    counts: Counter = Counter()
    for e in events:
        if e["stored"] is not None:
            assert int(e["stored"]) == len(e["seeds"]), e
            counts.update((int(e["w"]), s) for s in e["seeds"])
    return counts


def create_run(sweep_path: Path, runs: Path) -> Path:
    """The sweep's (only) run directory, created empty as a first job would."""
    return open_run(load_sweep(sweep_path).expand()[0].cfg, runs).path


@contextlib.contextmanager
def manifest_held(run: Path):
    """Hold the run's manifest lock (as a slow writer would): jobs train and checkpoint but
    cannot list masks, so a task killed while it is held never stored any, however fast it
    trained. The lock is kept fresh, so no job breaks it."""
    path, owner = run / ".manifest.lock", make_owner("test")
    assert claim(path, owner, stale_after_s=60)
    try:
        with Heartbeat([path], owner, interval=5):
            yield
    finally:
        release(path, owner)


def checkpoint_epoch(run: Path, weight_seed: int, seeds: tuple[int, ...]) -> int:
    """Epochs done in the batch's checkpoint (0 without one)."""
    if not run.joinpath("config.json").is_file():
        return 0
    state = RunStore.open(run).load_checkpoint((weight_seed, seeds))
    return int(state["history"].epochs_done) if state else 0


def by_pair(store: RunStore):
    pairs = [tuple(p) for e in store.manifest()["shards"] for p in e["pairs"]]
    rows = np.asarray(store.read_rows())
    records = store._records()
    order = sorted(range(len(pairs)), key=pairs.__getitem__)
    clean = [{k: v for k, v in records[i].items() if k not in HOW_IT_RAN} for i in order]
    return [pairs[i] for i in order], rows[order], clean


def assert_same_masks(store: RunStore, reference: RunStore) -> None:
    """Every mask exactly once, bit-identical to the reference, with identical records."""
    pairs, rows, records = by_pair(store)
    ref_pairs, ref_rows, ref_records = by_pair(reference)
    assert len(pairs) == len(set(pairs)), f"a mask is stored twice: {pairs}"
    assert pairs == ref_pairs
    np.testing.assert_array_equal(rows, ref_rows)
    assert records == ref_records
    store.verify()
