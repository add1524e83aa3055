"""Reading a sweep file (YAML or TOML, see :mod:`landscape.search.sweep`) into a validated
:class:`~landscape.search.sweep.Sweep`: its base config, fixed overrides, grid and seeds, each
key checked and named in a one-line error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from landscape.search.seeds import hold_one_source, parse_seed_spec
from landscape.search.sweep import Sweep

__all__ = ["SWEEP_KEYS", "load_sweep", "sweep_from_dict"]

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
    base, base_data = _base_config(data, source, Path(base_dir))
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
    _refuse_set_under_grid_presets(grids, fixed, source)
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
    keys = [*fixed, *extra, *(key for grid in grids for key, _ in grid)]
    data_given = tuple(dict.fromkeys([*base_data, *(k.split(".")[1] for k in keys if k.startswith("data."))]))
    return Sweep(label, source, base, grids, weight_seeds, search_seeds, tuple(extra.items()), data_given)


def _refuse_set_under_grid_presets(grids, fixed: Mapping[str, Any], source: str) -> None:
    """A preset in the grid is a later level than ``set``, so it would replace what ``set``
    fixes for the fields it sets: refused, so that no run silently searches with other values
    than the file says."""
    from landscape.config.presets import preset_values

    for grid in grids:
        # a field the grid gives beside the preset replaces both, so only the rest can clash
        beside = {key for key, _ in grid}
        for key, values in grid:
            if key != "method.preset":
                continue
            for name in values:
                clash = sorted((set(preset_values(name)) & set(fixed)) - beside) if name else []
                if clash:
                    raise ConfigError(
                        f"{source}: set: {clash[0]}: the grid's method.preset {name} sets it too and "
                        "would replace it; give it in the grid beside the preset, or with --set"
                    )


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


def _base_config(data: Mapping[str, Any], source: str, base_dir: Path) -> tuple[SearchConfig, list[str]]:
    """The base config, and the data fields its file or inline config gives."""
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
        cfg = validate(from_dict(raw))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    section = raw.get("data") if isinstance(raw, Mapping) else None
    return cfg, list(section) if isinstance(section, Mapping) else []


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
