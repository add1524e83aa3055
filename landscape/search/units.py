"""The unit of work of a sweep and the function every executor runs on it.

A :class:`WorkUnit` is one run, one weight seed and a block of search seeds: one call of
:func:`~landscape.search.runner.run_search`, done by :func:`run_unit` (a plain picklable
function) in whatever process an executor chooses. Units need not coordinate: the store's
claims and manifest make sure that many workers filling one runs root neither clobber nor
duplicate a mask, and a re-run skips what is finished.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from landscape.config import SearchConfig
from landscape.errors import LandscapeError
from landscape.search.sweep import SweepTask, pending_pairs, seed_label
from landscape.store.claims import make_owner


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
