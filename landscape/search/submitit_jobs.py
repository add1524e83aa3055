"""Sweeps as submitit job arrays: on Slurm (``sbatch --array``), or the same jobs as local
processes (``submitit-local``) or in this process (``debug``).

One array task per :class:`~landscape.search.units.WorkUnit`, running :func:`run_job`. Job
logs go to ``<runs root>/.submitit/<array job id>/`` (``<id>_<task>_0_log.out`` and
``.err``); each job writes one line per event of its search there (a claim taken over, a
batch trained or resumed from its checkpoint, masks stored).

A sweep that waits for its Slurm jobs follows them with ``squeue`` only. submitit's own
polling asks ``sacct``, which fails on clusters without an accounting database and would
warn at every poll. What a job did comes from its result file; a job that ended without
one (killed, cancelled, out of time) is reported with its log. The ids of the last Slurm
submission of a sweep are kept in ``<runs root>/.submitit/sweeps/<name>.json``, so
``landscape sweep --status`` can show the jobs' states beside the masks done.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from landscape.errors import ConfigError, StoreError
from landscape.search.units import UnitResult, WorkUnit, default_threads, make_units, run_unit
from landscape.store._io import read_json, write_json

POLL_S = 2.0
RESULT_GRACE_S = 10.0  # a shared file system may show a job's result file late

_CLUSTERS = {"slurm": "slurm", "submitit-local": "local", "debug": "debug"}
_SLURM_OPTIONS = {"partition": "slurm_partition", "array_parallelism": "slurm_array_parallelism",
                  "account": "slurm_account", "qos": "slurm_qos", "constraint": "slurm_constraint"}  # fmt: skip
_GENERIC_OPTIONS = {"time_min": "timeout_min", "gpus_per_node": "gpus_per_node",
                    "cpus_per_task": "cpus_per_task", "mem_gb": "mem_gb"}  # fmt: skip

# Slurm job states after which a job never runs again (a requeued job is PENDING again)
FINAL_STATES = frozenset(
    {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
     "REVOKED", "SPECIAL_EXIT", "TIMEOUT"}
)  # fmt: skip

_log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------
# the job


def run_job(unit: WorkUnit) -> UnitResult:
    """What one array task runs: :func:`~landscape.search.units.run_unit`, with the search's
    events logged to the job's stdout (its ``_log.out`` file)."""
    _log_events_to_stdout()
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    label = f"job{array}_{task}" if array and task else f"job{os.environ.get('SLURM_JOB_ID', '')}"
    return run_unit(unit, label)


def _log_events_to_stdout() -> None:
    logger = logging.getLogger("landscape")
    if not any(getattr(h, "_landscape_job", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s landscape: %(message)s"))
        handler._landscape_job = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


# ----------------------------------------------------------------------------------------------
# submitting and waiting


def run_submitit(kind, tasks, runs_root, device, masks_in_flight, report, tracker, name, options) -> None:
    """Submit the pending units as one job array (``executor.map_array``) and wait for it.

    With ``wait=False`` the jobs are left running (the store collects their masks) and their
    ids are returned in the report.
    """
    import submitit

    options = dict(options)
    wait = options.pop("wait", True)
    parallel = int(options.get("array_parallelism") or 1)
    threads = None
    if kind == "submitit-local":  # jobs share this machine: split its cores between them
        parallel = max(parallel, default_threads())
        threads = max(1, default_threads() // parallel)
    units = make_units(tasks, runs_root, parallel, device, masks_in_flight, threads)
    if not units:
        return
    executor = submitit.AutoExecutor(folder=Path(runs_root) / ".submitit" / "%j", cluster=_CLUSTERS[kind])
    executor.update_parameters(**sbatch_parameters(name, options))
    # debug jobs run in this process: no log file of their own to send events to
    jobs = executor.map_array(run_unit if kind == "debug" else run_job, units)
    report.job_ids = [str(j.job_id) for j in jobs]
    if kind == "slurm":
        record = submission_file(runs_root, name)
        record.parent.mkdir(parents=True, exist_ok=True)
        write_json(record, {"sweep": name, "job_ids": report.job_ids, "submitted_at": time.time()})
    if not wait:
        return
    ended: dict[str, str] = {}
    if kind == "slurm":
        ended = wait_for_slurm_jobs(jobs)
    elif kind != "debug":  # debug jobs run in this process when their result is asked for
        while not all(j.done() for j in jobs):
            time.sleep(POLL_S)
    for job, unit in zip(jobs, units):
        tracker.note(unit.label)
        report.results.append(job_result(job, unit, ended.get(str(job.job_id))))


def run_array(kind, fn, units, log_root: Path, name: str, options: dict) -> list[UnitResult]:
    """Run ``fn(unit)`` for every unit as one submitit job array and wait for the results
    (logs under ``log_root/<job id>/``): the same jobs as a sweep's, with another function
    (the tiles of a distance job)."""
    import submitit

    options = dict(options)
    options.pop("wait", None)
    check_submitit_options(kind, options)
    if not units:
        return []
    executor = submitit.AutoExecutor(folder=Path(log_root) / "%j", cluster=_CLUSTERS[kind])
    executor.update_parameters(**sbatch_parameters(name, options))
    jobs = executor.map_array(fn, units)
    ended: dict[str, str] = {}
    if kind == "slurm":
        ended = wait_for_slurm_jobs(jobs)
    elif kind != "debug":  # debug jobs run in this process when their result is asked for
        while not all(j.done() for j in jobs):
            time.sleep(POLL_S)
    return [job_result(job, unit, ended.get(str(job.job_id))) for job, unit in zip(jobs, units)]


def sbatch_parameters(name: str, options: dict) -> dict[str, Any]:
    """submitit parameters of a sweep's jobs: job name ``landscape-<name>``, a day unless
    ``time_min`` says otherwise, and the cluster options given."""
    params: dict[str, Any] = {"name": f"landscape-{name}", "timeout_min": 24 * 60}
    params.update(
        {_GENERIC_OPTIONS[k]: v for k, v in options.items() if k in _GENERIC_OPTIONS and v is not None}
    )
    params.update({_SLURM_OPTIONS[k]: v for k, v in options.items() if k in _SLURM_OPTIONS and v is not None})
    return params


def wait_for_slurm_jobs(jobs: Sequence, poll_s: float = POLL_S) -> dict[str, str]:
    """Wait until every job has a result file or has ended (asking ``squeue`` only).

    Returns, for each job that ended without a result file so far, its last state
    (``"gone from the queue"`` once Slurm has forgotten it).
    """
    queue = SlurmQueue()
    waiting, ended = list(jobs), {}
    while True:
        waiting = [j for j in waiting if not j.paths.result_pickle.exists()]
        states = queue.states(str(j.job_id) for j in waiting) if waiting else {}
        if states is not None:
            still = []
            for job in waiting:
                state = states.get(str(job.job_id), "gone from the queue")
                if state in FINAL_STATES or state == "gone from the queue":
                    ended[str(job.job_id)] = state
                else:
                    still.append(job)
            waiting = still
        if not waiting:
            return ended
        time.sleep(poll_s)


class SlurmQueue:
    """Job states from ``squeue``; a failing ``squeue`` (controller unreachable) is said once."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}
        self._warned = False

    def states(self, job_ids: Iterable[str]) -> dict[str, str] | None:
        """``{"<array id>_<task>": state}`` for the jobs Slurm still knows (any state);
        None when ``squeue`` could not be asked."""
        arrays = sorted({str(j).split("_")[0] for j in job_ids})
        if not arrays:
            return {}
        cmd = [
            "squeue",
            "--noheader",
            "--array",
            "--states=all",
            "--format=%i|%T",
            f"--jobs={','.join(arrays)}",
        ]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return self._failed(str(exc))
        if out.returncode != 0:
            if "Invalid job id" in out.stderr:  # every one of them has left Slurm's memory
                return {}
            return self._failed(
                out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
            )
        states = {}
        for line in out.stdout.splitlines():
            job_id, _, state = line.strip().partition("|")
            if job_id:
                states[job_id] = state.split()[0] if state else "UNKNOWN"
        self.last.update(states)
        return states

    def _failed(self, why: str) -> None:
        if not self._warned:
            _log.warning(
                "squeue failed (%s); still waiting for the jobs, asking again every %g s", why, POLL_S
            )
            self._warned = True
        return None


def job_result(job, unit: WorkUnit, ended: str | None = None) -> UnitResult:
    """The job's :class:`UnitResult`, or one naming how it ended and where its log is.

    ``ended`` is the final state of a Slurm job that had no result file when it left the
    queue: it gets a few seconds for the file to appear, and is never waited for again.
    """
    deadline = time.monotonic() + RESULT_GRACE_S
    while ended is not None and not job.paths.result_pickle.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    if ended is not None and not job.paths.result_pickle.exists():
        return UnitResult(
            unit,
            error=f"{unit.label}: job {job.job_id} ended without a result ({ended}); log: {job.paths.stderr}",
        )
    try:
        return job.result()
    except Exception as exc:  # submitit wraps the job's own error; keep its last line
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else type(exc).__name__
        return UnitResult(
            unit, error=f"{unit.label}: job {job.job_id} failed ({last}); log: {job.paths.stderr}"
        )


# ----------------------------------------------------------------------------------------------
# options and status


def check_submitit_options(kind: str, options: dict) -> None:
    """Refuse unknown cluster options, and Slurm where there is none, before any work."""
    unknown = set(options) - set(_SLURM_OPTIONS) - set(_GENERIC_OPTIONS) - {"wait"}
    if unknown:
        known = ", ".join(sorted({*_SLURM_OPTIONS, *_GENERIC_OPTIONS, "wait"}))
        raise ConfigError(f"sweep option {sorted(unknown)[0]!r}: unknown (known: {known})")
    if kind == "slurm" and not slurm_available():
        raise ConfigError(
            "--executor slurm: sbatch not found on this machine; use --executor local "
            "(or submitit-local to try the job set-up here)"
        )


def slurm_available() -> bool:
    return shutil.which("sbatch") is not None


def submission_file(runs_root: str | Path, name: str) -> Path:
    """Where the job ids of a sweep's last Slurm submission are kept."""
    return Path(runs_root) / ".submitit" / "sweeps" / f"{name}.json"


def submitted_job_states(runs_root: str | Path, name: str) -> tuple[list[str], Counter] | None:
    """The job ids of the sweep's last Slurm submission and how many are in each state
    (``ended`` for those Slurm has forgotten); None without a submission or ``squeue``."""
    path = submission_file(runs_root, name)
    if not path.is_file() or shutil.which("squeue") is None:
        return None
    try:
        job_ids = [str(j) for j in read_json(path)["job_ids"]]
    except (StoreError, KeyError, TypeError):
        return None
    states = SlurmQueue().states(job_ids)
    if states is None:
        return None
    return job_ids, Counter(states.get(j, "ended").lower() for j in job_ids)
