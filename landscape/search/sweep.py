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
keys, so TOML tables (``[grid.method]``) work too.

Every run of a sweep is an ordinary run of the store: re-running a sweep skips finished
masks, and several workers can share one sweep (see :mod:`landscape.search.executors`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.config import (
    SearchConfig,
    apply_overrides,
    from_dict,
    parse_override,
    read_config_file,
    validate,
)
from landscape.errors import ConfigError
from landscape.search.seeds import hold_one_source, parse_seed_spec, seed_label
from landscape.search.sweep_progress import SweepProgress, finished_pairs, masks_done, pending_pairs

__all__ = [
    "RunProgress",
    "Sweep",
    "SweepProgress",
    "SweepTask",
    "finished_pairs",
    "load_sweep",
    "masks_done",
    "parse_seed_spec",
    "pending_pairs",
    "run_sweep",
    "seed_label",
    "sweep_from_dict",
]

SWEEP_KEYS = (
    "name",
    "base",
    "config",
    "set",
    "grid",
    "weight_seeds",
    "search_seeds",
    "score_seeds",
    "data_seeds",
)


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


# ----------------------------------------------------------------------------------------------
# loading


def load_sweep(path: str | Path, overrides: Sequence[str] | Mapping[str, Any] = ()) -> Sweep:
    """Read and validate a sweep file (YAML or TOML).

    Parameters
    ----------
    path
        The sweep file. ``base`` inside it is resolved relative to the file's folder.
    overrides
        Config fields set in every run of the sweep (``["train.epochs=2", ...]`` as ``--set``
        writes them, or a mapping), applied after the file's ``set``. A field the grid
        varies cannot be overridden.

    Returns
    -------
    Sweep
        Validated: every grid key is a config field and every combination is a valid config.

    Raises
    ------
    ConfigError
        One line naming the sweep file and the key or combination at fault.
    """
    path = Path(path)
    data = read_config_file(path)
    sweep = sweep_from_dict(data, source=str(path), base_dir=path.parent, name=path.stem, overrides=overrides)
    sweep.expand()
    return sweep


def sweep_from_dict(
    data: Mapping[str, Any],
    source: str = "sweep",
    base_dir: str | Path = ".",
    name: str | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> Sweep:
    """Build a :class:`Sweep` from a mapping with the keys of a sweep file (and ``--set``
    ``overrides``, see :func:`load_sweep`)."""
    unknown = [k for k in data if k not in SWEEP_KEYS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), SWEEP_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(SWEEP_KEYS)})"
        raise ConfigError(f"{source}: unknown sweep key {unknown[0]!r}{hint}")
    base = _base_config(data, source, Path(base_dir))
    fixed = _flatten(data.get("set") or {}, source, "set")
    held, split_seeds = _held_source(data, source)
    clash = sorted(set(held) & set(fixed))
    if clash:
        raise ConfigError(f"{source}: set: {clash[0]} is already held by score_seeds/data_seeds")
    fixed.update(held)
    try:
        base = apply_overrides(base, fixed) if fixed else base
    except ConfigError as exc:
        raise ConfigError(f"{source}: set: {exc}") from None
    grids = _grids(data.get("grid"), source, base)
    varied_held = sorted({key for grid in grids for key, _ in grid} & set(held))
    if varied_held:
        raise ConfigError(
            f"{source}: grid: {varied_held[0]} is held by score_seeds/data_seeds; vary one or the other"
        )
    extra = _overrides(overrides)
    if set(extra) & set(held):
        raise ConfigError(
            f"--set {sorted(set(extra) & set(held))[0]}: held by the sweep's score_seeds/data_seeds"
        )
    if extra:
        varied = sorted({key for grid in grids for key, _ in grid} & set(extra))
        if varied:
            raise ConfigError(
                f"--set {varied[0]}: the grid of {source} varies this field; change the grid instead"
            )
        try:
            base = apply_overrides(base, extra)
        except ConfigError as exc:
            raise ConfigError(f"--set {exc}") from None
    if "weight_seeds" not in data or ("search_seeds" not in data and split_seeds is None):
        missing = "weight_seeds" if "weight_seeds" not in data else "search_seeds"
        raise ConfigError(f"{source}: {missing}: missing (e.g. {missing}: 0-3)")
    weight_seeds = tuple(parse_seed_spec(data["weight_seeds"], f"{source}: weight_seeds"))
    if split_seeds is None:
        search_seeds = tuple(parse_seed_spec(data["search_seeds"], f"{source}: search_seeds"))
    else:
        search_seeds = tuple(split_seeds)
    label = str(data.get("name") or name or Path(source).stem)
    return Sweep(label, source, base, grids, weight_seeds, search_seeds, tuple(extra.items()))


def _held_source(data: Mapping[str, Any], source: str) -> tuple[dict[str, int], list[int] | None]:
    """The config field a ``score_seeds``/``data_seeds`` pair holds, and the seeds to search."""
    given = [k for k in ("score_seeds", "data_seeds") if k in data]
    if not given:
        return {}, None
    if "search_seeds" in data:
        raise ConfigError(f"{source}: give search_seeds or score_seeds with data_seeds, not both")
    if len(given) == 1:
        other = "data_seeds" if given[0] == "score_seeds" else "score_seeds"
        raise ConfigError(f"{source}: {given[0]}: also give {other} (e.g. score_seeds: 0-7, data_seeds: 0)")
    return hold_one_source(data["score_seeds"], data["data_seeds"], source)


def _overrides(overrides: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(overrides, Mapping):
        return dict(overrides)
    return dict(parse_override(o) for o in overrides)


def _base_config(data: Mapping[str, Any], source: str, base_dir: Path) -> SearchConfig:
    if "base" in data and "config" in data:
        raise ConfigError(f"{source}: give either base (a config file) or config (inline), not both")
    if "base" in data:
        if not isinstance(data["base"], str):
            raise ConfigError(f"{source}: base: expected a config file path, got {data['base']!r}")
        raw = read_config_file(base_dir / data["base"])
        where = f"{source}: base {data['base']}"
    else:
        raw = data.get("config") or {}
        where = f"{source}: config"
    try:
        return validate(from_dict(raw))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _grids(raw: Any, source: str, base: SearchConfig) -> tuple:
    if raw is None:
        return ((),)
    items = raw if isinstance(raw, list) else [raw]
    grids = []
    for i, item in enumerate(items):
        where = "grid" if not isinstance(raw, list) else f"grid[{i}]"
        flat = _flatten(item, source, where)
        axes = []
        for key, values in flat.items():
            _check_field(base, key, source, where)
            if not isinstance(values, list) or not values:
                raise ConfigError(
                    f"{source}: {where}: {key}: expected a non-empty list of values, got {values!r}"
                )
            axes.append((key, tuple(_freeze(v) for v in values)))
        grids.append(tuple(axes))
    return tuple(grids)


def _flatten(data: Any, source: str, where: str, prefix: str = "") -> dict[str, Any]:
    """``{"method": {"density": [..]}}`` and ``{"method.density": [..]}`` -> dotted keys."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {where}: expected a mapping of dotted.field: value")
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, source, where, dotted))
        else:
            out[dotted] = value
    return out


def _check_field(base: SearchConfig, dotted: str, source: str, where: str) -> None:
    """A grid key must name a leaf field of the config (not a section)."""
    node: Any = base.to_dict()
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            import difflib

            known = list(node) if isinstance(node, dict) else []
            close = difflib.get_close_matches(part, known, n=1, cutoff=0.6)
            hint = f"; did you mean {'.'.join([*parts[:i], close[0]])!r}?" if close else ""
            raise ConfigError(f"{source}: {where}: {dotted!r} is not a config field{hint}")
        node = node[part]
    if isinstance(node, dict):
        raise ConfigError(f"{source}: {where}: {dotted!r} is a config section; name one of its fields")


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _expand(sweep: Sweep) -> list[SweepTask]:
    tasks: list[SweepTask] = []
    seen: set[str] = set()
    for grid in sweep.grid:
        keys = [k for k, _ in grid]
        for combo in itertools.product(*(values for _, values in grid)):
            params = tuple(zip(keys, combo))
            try:
                cfg = apply_overrides(sweep.base, dict(params)) if params else sweep.base
            except ConfigError as exc:
                label = ", ".join(f"{k}={_show(v)}" for k, v in params)
                raise ConfigError(f"{sweep.source}: combination {label}: {exc}") from None
            if cfg.run_id in seen:  # two combinations that resolve to the same run
                continue
            seen.add(cfg.run_id)
            tasks.append(SweepTask(cfg, sweep.weight_seeds, sweep.search_seeds, params))
    return tasks


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
