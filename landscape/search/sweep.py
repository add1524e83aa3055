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

``grid`` may also be a list of such mappings: the sweep is then the union of their products
(for fields that only make sense for one method, say). Nested mappings are read as dotted
keys, so TOML tables (``[grid.method]``) work too.

Every run of a sweep is an ordinary run of the store: re-running a sweep skips finished
masks, and several workers can share one sweep (see :mod:`landscape.search.executors`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.config import SearchConfig, apply_overrides, from_dict, read_config_file, validate
from landscape.errors import ConfigError, StoreError

SWEEP_KEYS = ("name", "base", "config", "set", "grid", "weight_seeds", "search_seeds")


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
    """

    name: str
    source: str
    base: SearchConfig
    grid: tuple[tuple[tuple[str, tuple[Any, ...]], ...], ...]
    weight_seeds: tuple[int, ...]
    search_seeds: tuple[int, ...]
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


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file (YAML or TOML).

    Parameters
    ----------
    path
        The sweep file. ``base`` inside it is resolved relative to the file's folder.

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
    sweep = sweep_from_dict(data, source=str(path), base_dir=path.parent, name=path.stem)
    sweep.expand()
    return sweep


def sweep_from_dict(
    data: Mapping[str, Any], source: str = "sweep", base_dir: str | Path = ".", name: str | None = None
) -> Sweep:
    """Build a :class:`Sweep` from a mapping with the keys of a sweep file."""
    unknown = [k for k in data if k not in SWEEP_KEYS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), SWEEP_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(SWEEP_KEYS)})"
        raise ConfigError(f"{source}: unknown sweep key {unknown[0]!r}{hint}")
    base = _base_config(data, source, Path(base_dir))
    fixed = _flatten(data.get("set") or {}, source, "set")
    try:
        base = apply_overrides(base, fixed) if fixed else base
    except ConfigError as exc:
        raise ConfigError(f"{source}: set: {exc}") from None
    grids = _grids(data.get("grid"), source, base)
    if "weight_seeds" not in data or "search_seeds" not in data:
        missing = "weight_seeds" if "weight_seeds" not in data else "search_seeds"
        raise ConfigError(f"{source}: {missing}: missing (e.g. {missing}: 0-3)")
    weight_seeds = tuple(parse_seed_spec(data["weight_seeds"], f"{source}: weight_seeds"))
    search_seeds = tuple(parse_seed_spec(data["search_seeds"], f"{source}: search_seeds"))
    label = str(data.get("name") or name or Path(source).stem)
    return Sweep(label, source, base, grids, weight_seeds, search_seeds)


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


def parse_seed_spec(value: Any, where: str = "seeds") -> list[int]:
    """Seeds from ``3``, ``"0-7"``, ``"0-3,9"`` or ``[0, 1, "4-6"]``; sorted, unique.

    Raises
    ------
    ConfigError
        Naming ``where`` when a part is not a non-negative integer or range.
    """
    parts: Sequence[Any] = value if isinstance(value, list) else [value]
    seeds: set[int] = set()
    for part in parts:
        if isinstance(part, bool):
            raise ConfigError(f"{where}: expected seeds like 0-7 or [0, 3, 5], got {value!r}")
        if isinstance(part, int):
            seeds.add(part)
            continue
        for piece in str(part).split(","):
            seeds.update(_seed_range(piece.strip(), value, where))
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"{where}: expected non-negative seeds like 0-7, got {value!r}")
    return sorted(seeds)


def seed_label(seeds: Sequence[int]) -> str:
    """``[0, 1, 2, 3]`` -> ``"0-3"``; anything else comma-separated."""
    seeds = list(seeds)
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _seed_range(piece: str, value: Any, where: str) -> range:
    try:
        if "-" in piece[1:]:
            lo, hi = (int(x) for x in piece.split("-", 1))
            if hi < lo:
                raise ValueError
            return range(lo, hi + 1)
        return range(int(piece), int(piece) + 1)
    except ValueError:
        raise ConfigError(f"{where}: expected seeds like 0-7 or [0, 3, 5], got {value!r}") from None


# ----------------------------------------------------------------------------------------------
# status


def finished_pairs(runs_root: str | Path, task: SweepTask) -> set[tuple[int, int]]:
    """``task``'s pairs the run's manifest lists (none when the run does not exist yet)."""
    from landscape.store.run_store import RunStore

    path = Path(runs_root) / task.run_id
    if not (path / "config.json").is_file():
        return set()
    try:
        finished = RunStore.open(path).finished()
    except StoreError:
        return set()  # being created, or unreadable: `landscape ls` reports the latter
    return finished & task.pairs()


def pending_pairs(runs_root: str | Path, task: SweepTask) -> set[tuple[int, int]]:
    """``task``'s pairs without a stored mask."""
    return task.pairs() - finished_pairs(runs_root, task)


def masks_done(runs_root: str | Path, task: SweepTask) -> int:
    """How many of ``task``'s masks the run's manifest lists."""
    return len(finished_pairs(runs_root, task))


class SweepProgress:
    """One progress bar for a whole sweep: masks done / total, rate and ETA.

    A background thread polls the runs' manifests (so it counts the work of every worker,
    local or on a cluster) every ``interval`` seconds. Use as a context manager.
    """

    def __init__(
        self,
        tasks: Sequence[SweepTask],
        runs_root: str | Path,
        enabled: bool = True,
        desc: str = "sweep",
        interval: float = 2.0,
    ) -> None:
        self.tasks, self.runs_root = list(tasks), runs_root
        self.total = sum(t.n_masks for t in self.tasks)
        self.done = self.initial = self.count()
        self.enabled, self.desc, self.interval = enabled, desc, interval
        self._bar = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current = ""

    def count(self) -> int:
        return sum(masks_done(self.runs_root, t) for t in self.tasks)

    def note(self, text: str) -> None:
        """Show what is being worked on now (a run label)."""
        self._current = text

    def refresh(self) -> int:
        """Poll the store once and update the bar; returns the masks done."""
        self.done = self.count()
        if self._bar is not None:
            self._bar.n = self.done
            if self._current:
                self._bar.set_postfix_str(self._current, refresh=False)
            self._bar.refresh()
        return self.done

    def __enter__(self) -> SweepProgress:
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.initial, desc=self.desc, unit="mask",
                             dynamic_ncols=True, smoothing=0.1)  # fmt: skip
            self._thread = threading.Thread(target=self._poll, name="sweep-progress", daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.refresh()
        if self._bar is not None:
            self._bar.close()


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
