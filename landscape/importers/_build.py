"""From what a format read to ordinary runs: configs, layouts, packed masks, seeds.

A format module reads one file into :class:`Extracted` records (masks and weights under the
source's own layer names, the config fields the source states, metrics). This module maps
the names onto a toolkit model (or keeps them, for an ``external`` architecture), builds
and validates the config of each mask, packs the masks and hands them, grouped by run, to
:func:`landscape.store.imports.write_imported`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landscape.config import SearchConfig, from_dict, parse_override, validate
from landscape.config.validate import UNKNOWN_INIT
from landscape.errors import ConfigError, DataError
from landscape.importers._files import expand_sources
from landscape.importers._naming import Architecture, resolve
from landscape.store.imports import IncomingMask, WriteSummary, write_imported
from landscape.store.packing import pack_layers

Shape = tuple[int, ...]
# per-mask values ``--set`` may give besides config fields
RECORD_FIELDS = {
    "weight_seed": int,
    "search_seed": int,
    "test_acc": float,
    "val_acc": float,
    "best_val_acc": float,
    "test_acc_at_best_val": float,
    "epochs": int,
}
ACCURACY_FIELDS = ("test_acc", "val_acc", "best_val_acc", "test_acc_at_best_val")


@dataclass
class Extracted:
    """One mask as a format read it, under the source's layer names and shapes."""

    path: Path
    sha256: str
    entry: str
    layers: list[tuple[str, Shape]]
    masks: dict[str, np.ndarray]
    rule: str
    facts: dict[str, Any] = field(default_factory=dict)  # dotted config fields the source states
    facts_from: dict[str, str] = field(default_factory=dict)  # field -> where it was read
    record: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, np.ndarray] | None = None
    batchnorm: dict[str, dict[str, np.ndarray]] | None = None  # source module -> statistics
    pattern: dict[str, np.ndarray] | None = None
    weight_seed: int | None = None
    search_seed: int | None = None
    obstacles: list[str] = field(default_factory=list)  # why no toolkit network can be rebuilt
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What the user asked for, as every format sees it."""

    format: str
    user: dict[str, Any]  # dotted config fields from --set
    records: dict[str, Any]  # per-mask fields from --set (seeds, accuracies)
    rename: dict[str, str] = field(default_factory=dict)
    stacked: bool = False
    pattern: Path | None = None

    def fixed(self, facts: dict, facts_from: dict, dotted: str, value: Any, where: str) -> None:
        """Record a field the source states; a different ``--set`` value is an error."""
        given = self.user.get(dotted)
        if given is not None and not _same(given, value):
            # "unknown": what the source did is no value of this field (origin.variant says what)
            if value != UNKNOWN_INIT:
                said = repr(value)
            elif dotted == "model.weight_init":
                said = "an initialiser this toolkit does not draw"
            else:
                said = f"{dotted.split('.')[-1]} this toolkit does not run (see origin.variant)"
            raise ConfigError(
                f"--set {dotted}={given}: the source says {said} ({where}); leave it out or fix the source"
            )
        facts[dotted] = value
        facts_from[dotted] = where

    def need(self, dotted: str, path: Path, why: str) -> Any:
        """A field only the user can give (one line naming the file when missing or blank)."""
        given = self.user.get(dotted)
        if given is None or (isinstance(given, str) and not given.strip()):
            raise ConfigError(f"{path}: {why}; give --set {dotted}=...")
        return self.user[dotted]


@dataclass(frozen=True)
class Format:
    """An importer: its name, the files it takes from a folder and its reader."""

    name: str
    summary: str
    patterns: tuple[str, ...]
    read: Callable[[Path, Context], list[Extracted]]
    changes_weights: Callable[[SearchConfig], bool] = lambda cfg: False
    unit: Callable[[Path], Path] = lambda path: path  # the source a found file belongs to
    finish: Callable[[list[Extracted], Context], None] = lambda items, ctx: None  # all files read


@dataclass
class ImportResult:
    """What one import did: a summary per run, and what was assumed or noticed."""

    runs: list[WriteSummary]
    notes: list[str]

    def summary(self) -> str:
        lines = [r.line() for r in self.runs]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def split_overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> tuple[dict, dict]:
    """``--set`` values as (config fields, per-mask record fields)."""
    if overrides is None:
        pairs: dict[str, Any] = {}
    elif isinstance(overrides, Mapping):
        pairs = dict(overrides)
    else:
        pairs = dict(parse_override(o) for o in overrides)
    config, records = {}, {}
    for key, value in pairs.items():
        if key in RECORD_FIELDS:
            try:
                records[key] = RECORD_FIELDS[key](value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"--set {key}: expected a {RECORD_FIELDS[key].__name__}, got {value!r}"
                ) from None
            if key.endswith("_seed") and records[key] < 0:
                raise ConfigError(f"--set {key}: must be >= 0, got {value!r}")
        else:
            config[key] = value
    _check_config_keys(config)
    return config, records


def run_import(
    fmt: Format,
    sources: Sequence[str | Path],
    runs_root: str | Path,
    ctx: Context,
    patterns: Sequence[str] | None = None,
) -> ImportResult:
    """Read every file of ``sources`` with ``fmt`` and write the masks as runs."""
    files = list(dict.fromkeys(fmt.unit(p) for p in expand_sources(sources, tuple(patterns or fmt.patterns))))
    extracted = [e for path in files for e in fmt.read(path, ctx)]
    fmt.finish(extracted, ctx)
    if ctx.records.get("search_seed") is not None and len(extracted) > 1:
        raise ConfigError(
            f"--set search_seed: one value for {len(extracted)} masks; leave it out to number them"
        )
    for key in ACCURACY_FIELDS:
        # one number copied to every mask would read as masks of equal accuracy, with an
        # interval of zero width around a value measured (at most) once
        if ctx.records.get(key) is not None and len(extracted) > 1:
            raise ConfigError(
                f"--set {key}: one value for {len(extracted)} masks, but an accuracy belongs to one mask; "
                "import each file with its own value, or leave it out (unknown)"
            )
    groups: dict[str, tuple[SearchConfig, Architecture, list[IncomingMask], set[str]]] = {}
    notes: list[str] = []
    for item in extracted:
        cfg, arch = _config(item, ctx)
        mask = _incoming(item, arch, ctx)
        group = groups.setdefault(cfg.run_id, (cfg, arch, [], {item.rule}))
        if group[1].layout != arch.layout:  # same config: same model, so this cannot differ
            raise ConfigError(f"{item.path}: layout differs from other masks of run {cfg.run_id}")
        group[2].append(mask)
        notes += [n for n in item.notes if n not in notes]
    _need_weight_seed(extracted, ctx)
    summaries = []
    for cfg, arch, masks, rules in groups.values():
        if arch.external:
            notes.append(f"run {cfg.run_id}: masks only, no network to evaluate ({arch.reason})")
        provenance = {
            "import": {
                "format": fmt.name,
                "rule": sorted(rules)[0] if len(rules) == 1 else sorted(rules),
                "network": arch.reason
                if arch.external
                else f"{cfg.model.name} (names mapped from the source)",
            }
        }
        summaries.append(
            write_imported(
                runs_root,
                cfg,
                arch.layout,
                masks,
                provenance=provenance,
                data_info=arch.data_info,
                shared_weights=not fmt.changes_weights(cfg),
            )
        )
    return ImportResult(summaries, notes)


def _need_weight_seed(extracted: Sequence[Extracted], ctx: Context) -> None:
    """Masks that come without weights (plain arrays) carry nothing that tells which random
    network each was found in; taken as one network, masks of several would be paired bit
    for bit over weights they never shared. So the user says which one."""
    if ctx.records.get("weight_seed") is not None:
        return
    weightless = [e for e in extracted if e.weights is None and e.weight_seed is None]
    if weightless:
        raise ConfigError(
            f"{weightless[0].path}: masks without weights do not say which random network they were "
            "found in; give --set weight_seed=W (one W per network, one import per network)"
        )


# ----------------------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def _check_config_keys(config: dict) -> None:
    nested = nest(config)
    try:
        from_dict(nested)
    except ConfigError as exc:
        if "unknown field" in str(exc) or "unknown config section" in str(exc):
            raise
        # a bad value is reported once the full config is built (it may depend on the source)


def nest(dotted: Mapping[str, Any]) -> dict:
    out: dict = {}
    for key, value in dotted.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"{key}: {part} is a field, not a section")
            node = nxt
        node[parts[-1]] = value
    return out


def _config(item: Extracted, ctx: Context) -> tuple[SearchConfig, Architecture]:
    fields: dict[str, Any] = {"origin.format": ctx.format, "data.name": "external"}
    fields.update(item.facts)
    fields.update({k: v for k, v in ctx.user.items() if k not in item.facts})
    _default_init(fields, item)
    model = {k[len("model.") :]: v for k, v in fields.items() if k.startswith("model.")}
    data_shape = _data_shape(fields)
    try:
        arch = resolve(
            item.layers,
            list(item.batchnorm or {}),
            model=model,
            obstacles=item.obstacles,
            data_shape=data_shape,
        )
    except ConfigError as exc:
        raise ConfigError(f"{item.path}: {exc}") from None
    fields = {k: v for k, v in fields.items() if not k.startswith("model.")}
    fields.update({f"model.{k}": v for k, v in arch.model.items()})
    try:
        cfg = validate(from_dict(nest(fields)))
    except ConfigError as exc:
        raise ConfigError(f"{item.path}: {exc}") from None
    _check_data(cfg, arch, item.path)
    return cfg, arch


def _default_init(fields: dict, item: Extracted) -> None:
    """An initialiser neither the source nor the user names is unknown, not the schema's
    signed_constant: the masks must not be taken for those of a toolkit network."""
    if fields.get("model.weight_init") is not None:
        return
    fields["model.weight_init"] = UNKNOWN_INIT
    note = (
        "model.weight_init: no initialiser in the source or --set, so it is recorded as unknown "
        "(not assumed signed_constant); give --set model.weight_init=... if you know it"
    )
    if note not in item.notes:
        item.notes.append(note)


def _data_shape(fields: dict) -> Shape | None:
    if fields.get("data.name") == "synthetic" and fields.get("data.input_shape") is not None:
        return tuple(int(x) for x in fields["data.input_shape"])
    return None


def _check_data(cfg: SearchConfig, arch: Architecture, path: Path) -> None:
    """A synthetic dataset must have the shape the imported network takes."""
    if cfg.data.name != "synthetic" or arch.data_info is None:
        return
    want = (tuple(arch.data_info["input_shape"]), arch.data_info["n_classes"])
    have = (tuple(cfg.data.input_shape), cfg.data.n_classes)
    if cfg.model.name == "mlp":
        want, have = (int(np.prod(want[0])), want[1]), (int(np.prod(have[0])), have[1])
    if want != have:
        raise ConfigError(
            f"{path}: the network takes inputs {want[0]} with {want[1]} classes but data.input_shape / "
            f"data.n_classes say {have[0]} / {have[1]}"
        )


def _incoming(item: Extracted, arch: Architecture, ctx: Context) -> IncomingMask:
    layout = arch.layout
    by_layer = {arch.names[n]: m for n, m in item.masks.items()}
    masks = {spec.name: by_layer[spec.name].reshape(1, *spec.shape) for spec in layout}
    row = pack_layers(masks, layout)[0]
    weights = network = None
    if item.weights is not None:
        named = _layout_weights(item.weights, arch)
        network = _network_digest(named, arch)
        # an external network cannot be rebuilt, but its digest still tells networks apart
        weights = None if arch.external else named
    batchnorm = None
    if item.batchnorm and not arch.external:
        batchnorm = {
            f"{arch.bn_names[module]}.{stat}": values
            for module, stats in item.batchnorm.items()
            for stat, values in stats.items()
        }
    pattern = None
    if item.pattern is not None:
        named = {arch.names[n]: p for n, p in item.pattern.items()}
        pattern = {spec.name: named[spec.name].reshape(spec.shape).astype(np.int8) for spec in layout}
    # accuracies the source does not give are unknown, not absent: every run has the column
    record = {"test_acc": None, **item.record}
    record.update({k: v for k, v in ctx.records.items() if not k.endswith("_seed")})
    weight_seed = ctx.records.get("weight_seed", item.weight_seed)
    search_seed = ctx.records.get("search_seed", item.search_seed)
    source = {"path": str(item.path), "sha256": item.sha256, "entry": item.entry, "rule": item.rule}
    if item.facts_from:
        source["read"] = dict(item.facts_from)
    return IncomingMask(
        row=row,
        source=source,
        record=record,
        weight_seed=weight_seed,
        search_seed=search_seed,
        network=network,
        weights=weights,
        batchnorm=batchnorm,
        pattern=pattern,
    )


def _layout_weights(source: dict[str, np.ndarray], arch: Architecture) -> dict[str, np.ndarray]:
    """The source's weights under the layout's names and shapes, as float32."""
    named = {arch.names[n]: w for n, w in source.items()}
    return {
        spec.name: np.asarray(named[spec.name], dtype=np.float32).reshape(spec.shape) for spec in arch.layout
    }


def _network_digest(weights: dict[str, np.ndarray], arch: Architecture) -> str:
    """Checksum of the weights in layout order: equal networks, equal digests."""
    digest = hashlib.sha256()
    for spec in arch.layout:
        digest.update(np.ascontiguousarray(weights[spec.name], dtype="<f4").tobytes())
    return digest.hexdigest()


def check_density(
    counts: Sequence[tuple[int, int, int]],
    given: Any,
    labels: Sequence[str],
    given_from: str = "--set method.density",
) -> tuple[float, bool]:
    """The density of stored masks: ``given`` checked against every mask's kept count, or
    (when None) the mean kept fraction rounded to four decimals, checked the same way.

    ``counts`` holds ``(kept, n_weights, n_layers)`` per mask. A mask passes when its kept
    count lies within ``max(n_layers + 1, 4 sd)`` of ``density * n_weights``: one weight per
    layer covers the rounding rules of top-k codes, four binomial standard deviations
    ``sqrt(n d (1 - d))`` masks drawn weight by weight. Returns ``(density, inferred)``.
    """
    if not counts:
        return (float(given) if given is not None else 1.0), False
    if given is None:
        fraction = sum(k / n for k, n, _ in counts) / len(counts)
        if fraction == 0:
            raise DataError(f"{labels[0]}: the masks keep no weight")
        density, origin = round(fraction, 4), "the masks' mean"
    else:
        density, origin = float(given), given_from
    for (kept, n, n_layers), label in zip(counts, labels):
        slack = max(n_layers + 1, 4 * math.sqrt(n * density * (1 - density)))
        if abs(kept - density * n) > slack:
            raise DataError(
                f"{label}: keeps {kept:,} of {n:,} weights ({kept / n:.4f}), which density {density:g} "
                f"({origin}) does not reproduce (expected {density * n:,.0f} ± {slack:,.0f}); give the "
                "density the masks were made with"
            )
    return density, given is None
