"""Sweeps: a grid of configurations times a set of seeds, searched into one runs root.

A sweep file (YAML or TOML) names a base config, fixed overrides, a grid over dotted config
fields and the seeds::

    base: ../digits_mlp_edge_popup.yaml   # relative to the sweep file; or an inline `config:`
    set: {train.epochs: 10}                # fixed overrides
    grid:                                  # cartesian product over dotted fields
      method.name: [edge_popup, iterand]
      method.density: [0.1, 0.3, 0.5]
    weight_seeds: 0-1                      # "0-3,7", a list, or one integer
    search_seeds: 0-7

Instead of ``search_seeds``, ``score_seeds`` with ``data_seeds`` vary one source of randomness
and hold the other at one seed (``score_seeds: 0-7`` and ``data_seeds: 0``: eight score
initialisations, one data order; see :mod:`landscape.config.seeds`).

``grid`` may also be a list of such mappings: the sweep is then the union of their products
(for fields that only make sense for one method, say). Nested mappings are read as dotted
keys, so TOML tables (``[grid.method]``) work too. Combinations that resolve to one config
are one run; two that share a run id but differ in a field outside it (snapshots, data
paths) are refused, so no point of the grid is dropped unseen.

Every run of a sweep is an ordinary run of the store: re-running a sweep skips finished
masks, and several workers can share one sweep (see :mod:`landscape.search.executors`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.config import (
    SearchConfig,
    apply_overrides,
)
from landscape.config.validate import check_data_fields_given, check_searchable
from landscape.errors import ConfigError
from landscape.search.seeds import parse_seed_spec, seed_label
from landscape.search.sweep_progress import SweepProgress, finished_pairs, masks_done, pending_pairs

__all__ = [
    "RunProgress",
    "Sweep",
    "SweepProgress",
    "SweepTask",
    "finished_pairs",
    "masks_done",
    "parse_seed_spec",
    "pending_pairs",
    "run_sweep",
    "seed_label",
]


@dataclass(frozen=True)
class SweepTask:
    """One run of a sweep: a full config and the seeds to search in it.

    Attributes
    ----------
    cfg
        The resolved, validated configuration.
    weight_seeds, search_seeds
        Every ``(weight_seed, search_seed)`` pair is one mask.
    params
        The grid values that produced this run (empty for a sweep without a grid).
    """

    cfg: SearchConfig
    weight_seeds: tuple[int, ...]
    search_seeds: tuple[int, ...]
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def run_id(self) -> str:
        return self.cfg.run_id

    @property
    def n_masks(self) -> int:
        return len(self.weight_seeds) * len(self.search_seeds)

    def pairs(self) -> set[tuple[int, int]]:
        """The ``(weight_seed, search_seed)`` pairs of this run."""
        return {(w, s) for w in self.weight_seeds for s in self.search_seeds}

    def label(self) -> str:
        """The grid combination as ``key=value, ...`` (or the config's description)."""
        if not self.params:
            return self.cfg.describe()
        return ", ".join(f"{k}={_show(v)}" for k, v in self.params)


@dataclass(frozen=True)
class RunProgress:
    """Masks done out of the masks a sweep asks of one run."""

    task: SweepTask
    done: int
    path: Path

    @property
    def total(self) -> int:
        return self.task.n_masks

    @property
    def complete(self) -> bool:
        return self.done >= self.total


@dataclass(frozen=True)
class Sweep:
    """A parsed, validated sweep. Build with :func:`load_sweep` or :func:`sweep_from_dict`.

    Attributes
    ----------
    name
        A label (the file stem unless the file sets ``name``).
    source
        Where the sweep came from (used in error messages).
    base
        The config every combination starts from (``set`` overrides already applied).
    grid
        A list of grids; each maps dotted fields to the values to try.
    overrides
        ``--set`` overrides given on top of the file (already applied to ``base``).
    """

    name: str
    source: str
    base: SearchConfig
    grid: tuple[tuple[tuple[str, tuple[Any, ...]], ...], ...]
    weight_seeds: tuple[int, ...]
    search_seeds: tuple[int, ...]
    overrides: tuple[tuple[str, Any], ...] = ()
    data_given: tuple[str, ...] = ()  # data fields the sweep sets: each must be read by its dataset
    _tasks: list[SweepTask] = field(default_factory=list, repr=False, compare=False)

    def expand(self) -> list[SweepTask]:
        """One :class:`SweepTask` per distinct configuration, in grid order.

        Raises
        ------
        ConfigError
            One line naming the sweep and the combination whose config is invalid.
        """
        if not self._tasks:
            self._tasks.extend(_expand(self))
        return list(self._tasks)

    @property
    def n_masks(self) -> int:
        return sum(t.n_masks for t in self.expand())

    def status(self, runs_root: str | Path) -> list[RunProgress]:
        """Masks done (listed in each run's manifest) out of those this sweep asks for."""
        return [RunProgress(t, masks_done(runs_root, t), Path(runs_root) / t.run_id) for t in self.expand()]


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _expand(sweep: Sweep) -> list[SweepTask]:
    tasks: list[SweepTask] = []
    seen: dict[str, tuple[SearchConfig, str]] = {}
    for grid in sweep.grid:
        keys = [k for k, _ in grid]
        for combo in itertools.product(*(values for _, values in grid)):
            params = tuple(zip(keys, combo))
            label = ", ".join(f"{k}={_show(v)}" for k, v in params)
            # the command line's --set is the last level, above a preset the grid gives
            changes = {**dict(params), **dict(sweep.overrides)}
            try:
                cfg = apply_overrides(sweep.base, changes) if params else sweep.base
                check_data_fields_given(cfg, sweep.data_given)
                check_searchable(cfg)
            except ConfigError as exc:
                raise ConfigError(f"{sweep.source}: combination {label}: {exc}") from None
            if cfg.run_id in seen:  # two combinations that resolve to the same run
                _same_run(sweep.source, cfg, label, *seen[cfg.run_id])
                continue
            seen[cfg.run_id] = (cfg, label)
            tasks.append(SweepTask(cfg, sweep.weight_seeds, sweep.search_seeds, params))
    return tasks


def _same_run(source: str, cfg: SearchConfig, label: str, first: SearchConfig, first_label: str) -> None:
    """Two combinations of one run id are one run when their configs agree (a preset and its
    fields written out); when they differ only in fields outside the run id (snapshots, data
    paths) one of them would be dropped unseen: refused, naming the field."""
    a, b = first.to_dict(), cfg.to_dict()
    for d in (a, b):
        d["method"].pop("preset", None)  # a name, not what is searched
    if a != b:
        from landscape.store.records import first_difference

        raise ConfigError(
            f"{source}: combinations {first_label} and {label} are one run (same run id "
            f"{cfg.run_id}) but differ in {first_difference(a, b)}, a field outside the run id; "
            "take it out of the grid and set it once"
        )


def run_sweep(
    sweep: Sweep,
    runs_root: str | Path,
    executor: str = "local",
    device: str | None = "cpu",
    workers: int | None = None,
    masks_in_flight: int | None = None,
    progress: bool = True,
    **options: Any,
):
    """Search every mask of ``sweep`` that is not yet in ``runs_root``.

    Parameters
    ----------
    sweep
        From :func:`load_sweep`.
    runs_root
        The run store; runs already there are joined, finished masks skipped.
    executor
        ``"local"`` (this machine: in-process, or ``workers`` processes / one per GPU),
        ``"slurm"`` (a submitit job array), ``"submitit-local"`` (the same jobs as local
        subprocesses, for trying a cluster set-up) or ``"debug"`` (submitit, in-process).
    device
        ``cpu``, ``cuda`` or ``auto`` (cuda when available).
    workers
        Local worker processes (None: one per visible GPU on cuda, else in-process).
    masks_in_flight
        Masks per batched model (None: chosen from free memory).
    progress
        Show one progress bar for the whole sweep (masks done / total, ETA).
    **options
        Cluster options for the submitit executors: ``partition``, ``time_min``,
        ``gpus_per_node``, ``cpus_per_task``, ``mem_gb``, ``array_parallelism``,
        ``account``, ``qos``, ``constraint``, ``wait``.

    Returns
    -------
    landscape.search.executors.SweepReport
        Per-run summaries and the masks still missing.
    """
    from landscape.search import executors

    return executors.execute(
        sweep.expand(),
        runs_root,
        executor=executor,
        device=device,
        workers=workers,
        masks_in_flight=masks_in_flight,
        progress=progress,
        name=sweep.name,
        **options,
    )


def __getattr__(name: str):
    # reading sweep files lives in landscape.search.sweep_file; these names keep working here
    if name in ("load_sweep", "sweep_from_dict", "SWEEP_KEYS"):
        from landscape.search import sweep_file

        return getattr(sweep_file, name)
    raise AttributeError(f"module 'landscape.search.sweep' has no attribute {name!r}")
