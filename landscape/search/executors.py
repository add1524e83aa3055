"""Run the work of a sweep: in-process, in local worker processes (one per GPU), or as a
submitit job array (Slurm, or its local and debug executors).

The unit of work is a :class:`WorkUnit` — one run, one weight seed, a block of search
seeds — handed to :func:`run_unit`, a plain picklable function that calls
:func:`~landscape.search.runner.run_search`. Workers need not coordinate: the store's claims
and manifest make sure that many workers filling one runs root neither clobber nor
duplicate a mask, and a re-run skips what is finished.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import shutil
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.config import SearchConfig
from landscape.errors import ConfigError, LandscapeError
from landscape.search.sweep import SweepProgress, SweepTask, pending_pairs, seed_label
from landscape.store.claims import make_owner

EXECUTORS = ("local", "slurm", "submitit-local", "debug")
POLL_S = 2.0


@dataclass(frozen=True)
class WorkUnit:
    """One run, one weight seed and a block of search seeds: one call of ``run_search``."""

    cfg: SearchConfig
    weight_seed: int
    search_seeds: tuple[int, ...]
    runs_root: str
    device: str | None = "cpu"
    masks_in_flight: int | None = None
    threads: int | None = None  # torch CPU threads (None: the CPUs this process may use)

    @property
    def label(self) -> str:
        return f"{self.cfg.run_id} w{self.weight_seed} s{seed_label(self.search_seeds)}"


@dataclass
class UnitResult:
    """What one unit did; ``error`` holds a one-line reason (or a traceback) on failure."""

    unit: WorkUnit
    done: int = 0
    skipped: int = 0
    busy: int = 0
    error: str | None = None
    worker: str = ""


@dataclass
class SweepReport:
    """Outcome of :func:`execute`: per-unit results and the masks still missing afterwards."""

    results: list[UnitResult] = field(default_factory=list)
    total: int = 0  # masks the sweep asks for
    missing: int = 0  # masks not in the store when the executor returned
    job_ids: list[str] = field(default_factory=list)  # submitted jobs (submitit executors)

    @property
    def done(self) -> int:
        return sum(r.done for r in self.results)

    @property
    def failures(self) -> list[UnitResult]:
        return [r for r in self.results if r.error]

    def line(self) -> str:
        failed = f", {len(self.failures)} unit(s) failed" if self.failures else ""
        return f"{self.done} masks searched, {self.total - self.missing}/{self.total} done{failed}"


# ----------------------------------------------------------------------------------------------
# the job function


def run_unit(unit: WorkUnit, owner_label: str = "sweep") -> UnitResult:
    """Search one unit into its runs root (what every executor runs, in whatever process).

    Claims left by dead workers are taken over and live claims get a heartbeat inside
    :func:`~landscape.search.runner.run_search` (see :mod:`landscape.store.claims`).
    """
    import torch

    from landscape.search.runner import run_search

    torch.set_num_threads(unit.threads or default_threads())
    owner = make_owner(owner_label)
    result = UnitResult(unit, worker=owner)
    try:
        s = run_search(
            unit.cfg, unit.runs_root, [unit.weight_seed], list(unit.search_seeds), unit.device,
            unit.masks_in_flight, progress=False, owner=owner,
        )  # fmt: skip
        result.done, result.skipped, result.busy = s.done, s.skipped, s.busy
    except LandscapeError as exc:
        result.error = f"{unit.label}: {exc}"
    return result


def default_threads() -> int:
    """Torch threads for a job: Slurm's CPU allocation, ``OMP_NUM_THREADS``, else the CPUs
    this process may use (torch's own default counts the node's cores, not the allocation)."""
    for var in ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


# ----------------------------------------------------------------------------------------------
# splitting a sweep into units


def make_units(
    tasks: Sequence[SweepTask],
    runs_root: str | Path,
    parallel: int = 1,
    device: str | None = "cpu",
    masks_in_flight: int | None = None,
    threads: int | None = None,
) -> list[WorkUnit]:
    """Units covering every pending mask of ``tasks``, finished masks left out.

    Seeds are cut into blocks aligned to each run's full seed list (not to what is pending),
    so an interrupted block is the same block after a restart and resumes from its
    checkpoint. Blocks hold ``masks_in_flight`` seeds when given; otherwise whole weight
    seeds, cut further only when there are fewer of them than ``parallel`` workers.
    """
    groups = [(t, w) for t in tasks for w in t.weight_seeds]
    per_group = max(1, math.ceil(parallel / max(1, len(groups))))
    units = []
    for task in tasks:
        pending = pending_pairs(runs_root, task)
        if not pending:
            continue
        seeds = list(task.search_seeds)
        size = masks_in_flight or math.ceil(len(seeds) / per_group)
        for w in task.weight_seeds:
            for start in range(0, len(seeds), size):
                block = tuple(s for s in seeds[start : start + size] if (w, s) in pending)
                if block:
                    units.append(
                        WorkUnit(task.cfg, w, block, str(runs_root), device, masks_in_flight, threads)
                    )
    return units


# ----------------------------------------------------------------------------------------------
# entry point


def execute(
    tasks: Sequence[SweepTask],
    runs_root: str | Path,
    executor: str = "local",
    device: str | None = "cpu",
    workers: int | None = None,
    masks_in_flight: int | None = None,
    progress: bool = True,
    name: str = "sweep",
    **options: Any,
) -> SweepReport:
    """Search every pending mask of ``tasks`` with the chosen executor.

    See :func:`landscape.search.sweep.run_sweep` for the parameters. Units that fail with a
    :class:`~landscape.errors.LandscapeError` are reported in the returned
    :class:`SweepReport` (the others still run); anything else is a bug and propagates.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor {executor!r}: choose from {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    if masks_in_flight is not None and masks_in_flight < 1:
        raise ConfigError(f"--masks-in-flight {masks_in_flight}: must be >= 1")
    if executor != "local":
        check_submitit_options(executor, options)
    elif options:
        raise ConfigError(f"sweep option {sorted(options)[0]!r}: needs a submitit executor (slurm, ...)")
    Path(runs_root).mkdir(parents=True, exist_ok=True)
    report = SweepReport(total=sum(t.n_masks for t in tasks))
    tracker = SweepProgress(tasks, runs_root, enabled=progress, desc=name)
    if tracker.done == tracker.total:  # a finished sweep: nothing to start, not even torch
        return report
    with tracker:
        if executor == "local":
            _run_local(tasks, runs_root, device, workers, masks_in_flight, report, tracker)
        else:
            run_submitit(executor, tasks, runs_root, device, masks_in_flight, report, tracker, name, options)
    report.missing = tracker.total - tracker.done
    return report


def _run_local(tasks, runs_root, device, workers, masks_in_flight, report, tracker) -> None:
    gpus = visible_gpus() if device in ("cuda", "auto") else []
    n = workers or max(1, len(gpus))
    if n == 1:
        for unit in make_units(tasks, runs_root, 1, device, masks_in_flight):
            tracker.note(unit.label)
            report.results.append(run_unit(unit))
        return
    threads = max(1, default_threads() // n)
    units = make_units(tasks, runs_root, n, device, masks_in_flight, threads)
    report.results.extend(run_pool(units, n, gpus, tracker))


def visible_gpus() -> list[str]:
    """Ids of the GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries."""
    import torch

    if not torch.cuda.is_available():
        return []
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [g.strip() for g in env.split(",") if g.strip()] if env else []
    return ids or [str(i) for i in range(torch.cuda.device_count())]


# ----------------------------------------------------------------------------------------------
# local worker processes


def run_pool(
    units: Sequence[WorkUnit], n_workers: int, gpus: Sequence[str], tracker=None, fn=None
) -> list[UnitResult]:
    """Run ``units`` on ``n_workers`` spawned processes pulling from one queue.

    With GPUs, worker ``i`` sees only ``gpus[i % len(gpus)]`` (``CUDA_VISIBLE_DEVICES``
    set before it starts, so it never touches another device). A worker that dies
    (killed, out of memory) loses only its current unit; the others go on. ``fn`` (a
    module-level function ``unit -> UnitResult``) replaces :func:`run_unit` for other
    kinds of units (the tiles of a distance job).
    """
    if not units:
        return []
    ctx = mp.get_context("spawn")
    inbox, outbox = ctx.Queue(), ctx.Queue()
    for i, unit in enumerate(units):
        inbox.put((i, unit))
    n_workers = min(n_workers, len(units))
    for _ in range(n_workers):
        inbox.put(None)
    procs = [
        _start_worker(ctx, inbox, outbox, gpus[i % len(gpus)] if gpus else None, fn) for i in range(n_workers)
    ]
    results: dict[int, UnitResult] = {}
    running: dict[int, int] = {}  # worker pid -> unit index
    try:
        while len(results) < len(units):
            try:
                kind, pid, i, payload = outbox.get(timeout=0.5)
            except queue.Empty:
                if _reap_dead(procs, running, results, units):
                    break
                continue
            if kind == "start":
                running[pid] = i
                if tracker is not None:
                    tracker.note(units[i].label)
            else:
                running.pop(pid, None)
                results[i] = payload
    finally:
        for p in procs:
            p.join(timeout=5 if len(results) == len(units) else 0.1)
            if p.is_alive():
                p.terminate()
                p.join()
    for i, unit in enumerate(units):
        results.setdefault(i, UnitResult(unit, error=f"{unit.label}: never ran (every worker died)"))
    return [results[i] for i in range(len(units))]


def _start_worker(ctx, inbox, outbox, gpu: str | None, fn=None):
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    try:
        proc = ctx.Process(target=_worker_loop, args=(inbox, outbox, os.getpid(), fn), daemon=True)
        proc.start()
    finally:
        if gpu is not None:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved
    return proc


def _reap_dead(procs, running, results, units) -> bool:
    """Record units lost with dead workers; True when no worker is left alive."""
    for p in procs:
        if not p.is_alive() and p.pid in running:
            i = running.pop(p.pid)
            results[i] = UnitResult(
                units[i], error=f"{units[i].label}: worker died (exit code {p.exitcode}); run the sweep again"
            )
    return not any(p.is_alive() for p in procs)


def _worker_loop(inbox, outbox, parent_pid: int, fn=None) -> None:
    pid = os.getpid()
    while True:
        try:
            item = inbox.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent_pid:  # orphaned: the sweep process is gone
                return
            continue
        if item is None:
            return
        i, unit = item
        outbox.put(("start", pid, i, None))
        try:
            result = fn(unit) if fn is not None else run_unit(unit, "sweep-worker")
        except Exception:  # a bug: keep its traceback for the report
            result = UnitResult(unit, error=f"{unit.label}: {traceback.format_exc()}")
        outbox.put(("done", pid, i, result))


# ----------------------------------------------------------------------------------------------
# claims: heartbeat while training, and claims of dead local workers broken at once

# ----------------------------------------------------------------------------------------------
# submitit: Slurm job arrays, or the same jobs locally / in-process

_CLUSTERS = {"slurm": "slurm", "submitit-local": "local", "debug": "debug"}
_SLURM_OPTIONS = {"partition": "slurm_partition", "array_parallelism": "slurm_array_parallelism",
                  "account": "slurm_account", "qos": "slurm_qos", "constraint": "slurm_constraint"}  # fmt: skip
_GENERIC_OPTIONS = {"time_min": "timeout_min", "gpus_per_node": "gpus_per_node",
                    "cpus_per_task": "cpus_per_task", "mem_gb": "mem_gb"}  # fmt: skip


def run_submitit(kind, tasks, runs_root, device, masks_in_flight, report, tracker, name, options) -> None:
    """Submit the pending units as one job array (``executor.map_array``) and wait for it.

    Logs go to ``runs_root/.submitit/<job id>/``. With ``wait=False`` the jobs are left
    running (the store collects their masks) and their ids are returned in the report.
    """
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
    jobs = submit_array(kind, run_unit, units, Path(runs_root) / ".submitit", name, options)
    report.job_ids = [str(j.job_id) for j in jobs]
    if not wait:
        return
    report.results.extend(wait_array(kind, jobs, units))


def submit_array(kind, fn, units, log_root: Path, name: str, options: dict) -> list:
    """Submit ``fn(unit)`` for every unit as one submitit job array; returns the jobs.

    Logs go to ``log_root/<job id>/``; ``options`` are the sweep's cluster options.
    """
    import submitit

    executor = submitit.AutoExecutor(folder=Path(log_root) / "%j", cluster=_CLUSTERS[kind])
    params: dict[str, Any] = {"name": f"landscape-{name}", "timeout_min": 24 * 60}
    params.update(
        {_GENERIC_OPTIONS[k]: v for k, v in options.items() if k in _GENERIC_OPTIONS and v is not None}
    )
    params.update({_SLURM_OPTIONS[k]: v for k, v in options.items() if k in _SLURM_OPTIONS and v is not None})
    executor.update_parameters(**params)
    return executor.map_array(fn, units)


def wait_array(kind, jobs, units) -> list[UnitResult]:
    """Wait for the jobs of :func:`submit_array`; one result per unit."""
    if kind != "debug":  # debug jobs run in this process when their result is asked for
        while not all(j.done() for j in jobs):
            time.sleep(POLL_S)
    return [_job_result(job, unit) for job, unit in zip(jobs, units)]


def run_array(kind, fn, units, log_root: Path, name: str, options: dict) -> list[UnitResult]:
    """:func:`submit_array` then :func:`wait_array` (cluster options checked first)."""
    options = dict(options)
    options.pop("wait", None)
    check_submitit_options(kind, options)
    if not units:
        return []
    return wait_array(kind, submit_array(kind, fn, units, log_root, name, options), units)


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


def _job_result(job, unit: WorkUnit) -> UnitResult:
    try:
        return job.result()
    except Exception as exc:  # submitit wraps the job's own error; keep its last line
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else type(exc).__name__
        return UnitResult(
            unit, error=f"{unit.label}: job {job.job_id} failed ({last}); log: {job.paths.stderr}"
        )


def slurm_available() -> bool:
    return shutil.which("sbatch") is not None
