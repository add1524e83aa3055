"""Run the work of a sweep: in-process, in local worker processes (one per GPU), or as a
submitit job array (Slurm, or its local and debug executors; see
:mod:`landscape.search.submitit_jobs`).

Every executor runs :func:`~landscape.search.units.run_unit` on the sweep's
:class:`~landscape.search.units.WorkUnit` s; the store's claims keep workers from training a
mask twice, and a re-run skips what is finished.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from landscape.errors import ConfigError
from landscape.search.submitit_jobs import check_submitit_options, run_submitit
from landscape.search.sweep import SweepProgress, SweepTask
from landscape.search.units import (  # noqa: F401  (re-exported: the executors' vocabulary)
    SweepReport,
    UnitResult,
    WorkUnit,
    default_threads,
    make_units,
    run_unit,
)

EXECUTORS = ("local", "slurm", "submitit-local", "debug")

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
    gpus, worker_device = gpu_plan(device)
    n = workers or max(1, len(gpus))
    if n == 1:  # in this process, which sees every GPU
        for unit in make_units(tasks, runs_root, 1, device, masks_in_flight):
            tracker.note(unit.label)
            report.results.append(run_unit(unit))
        return
    threads = max(1, default_threads() // n)
    units = make_units(tasks, runs_root, n, worker_device, masks_in_flight, threads)
    report.results.extend(run_pool(units, n, gpus, tracker))


def visible_gpus() -> list[str]:
    """Ids of the GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries."""
    import torch

    if not torch.cuda.is_available():
        return []
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [g.strip() for g in env.split(",") if g.strip()] if env else []
    return ids or [str(i) for i in range(torch.cuda.device_count())]


def gpu_plan(device: str | None) -> tuple[list[str], str | None]:
    """The GPUs local workers are spread over for ``device``, and the device each worker
    then uses.

    ``"cuda"`` and ``"auto"``: every visible GPU, one per worker in turn. ``"cuda:k"``: that
    GPU alone; a worker sees only its GPU, as its device 0, so it runs on ``"cuda"`` (its
    ``"cuda:k"`` would name a GPU it cannot see). Anything else: no GPU.
    """
    text = str(device or "")
    if text in ("cuda", "auto"):
        return visible_gpus(), device
    if text.startswith("cuda:"):
        index = text.removeprefix("cuda:")
        gpus = visible_gpus()
        if not index.isdigit() or int(index) >= len(gpus):
            raise ConfigError(
                f"device {text!r}: {len(gpus)} CUDA device(s) visible ({', '.join(gpus) or 'none'})"
            )
        return [gpus[int(index)]], "cuda"
    return [], device


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
