"""Search configuration: frozen dataclasses, file loading, overrides and run ids.

A :class:`SearchConfig` says *what* is searched (model, data, method, optimisation).
Seeds are not part of it: ``weight_seed`` and ``search_seed`` are axes inside a run, so more
seeds can be added to a run later. Engineering knobs (device, masks in flight, data root) are
not part of the identity either.

``run_id`` is a hash of the canonical JSON with default-valued fields dropped, so adding a
field with a neutral default keeps existing run ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.errors import ConfigError

# Config and sweep files are a few hundred bytes; anything this big is the wrong file.
MAX_CONFIG_BYTES = 2**20
# Fields marked with this metadata do not enter the run id (where the data lives, say).
NOT_IDENTITY = {"identity": False}


@dataclass(frozen=True)
class ModelConfig:
    """Network architecture and its frozen random weights.

    ``weight_init`` is one of signed_constant, kaiming_normal, kaiming_uniform,
    unsigned_constant. ``scale_fan`` scales the weight std by ``1/sqrt(density)`` (the
    paper's intent; the reference code's formula is only right at density 0.5).
    ``batchnorm``: "auto" = non-affine BN in ResNets, none elsewhere.
    """

    name: str = "mlp"
    hidden: tuple[int, ...] = (256, 256)
    width_mult: float = 1.0
    weight_init: str = "signed_constant"
    scale_fan: bool = False
    batchnorm: str = "auto"
    first_layer_dense: bool = False
    last_layer_dense: bool = False


@dataclass(frozen=True)
class DataConfig:
    """Dataset and split. ``root`` is where MNIST/CIFAR files live (not part of the run id)."""

    name: str = "digits"
    root: str = field(default="", metadata=NOT_IDENTITY)
    split_seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    augment: bool = True
    input_shape: tuple[int, ...] = (3, 32, 32)
    n_classes: int = 10
    n_train: int = 2048
    n_test: int = 512


@dataclass(frozen=True)
class RecycleConfig:
    """Iterative Weight Recycling: every ``every`` epochs overwrite the ``rate``·N lowest-|score|
    weights of each layer with the highest-|score| ones (0 = off)."""

    every: int = 0
    rate: float = 0.2
    warmup: int = 0
    ablation: bool = False


@dataclass(frozen=True)
class RerandConfig:
    """IteRand: every ``every`` steps re-draw each pruned weight with probability ``prob``;
    ``rate`` < 1 restricts candidates to the lowest ``rate``·sparsity scores."""

    every: int = 300
    prob: float = 0.1
    rate: float = 1.0


@dataclass(frozen=True)
class SourceConfig:
    """What the search may select from.

    kind "dense": every weight; "er": a fixed Erdős–Rényi mask of density ``density``;
    "frozen": fractions ``pruned`` (never kept) and ``locked`` (always kept) of all weights,
    spread over layers by ``distribution`` ("erk" or "equal").
    """

    kind: str = "dense"
    density: float = 1.0
    pruned: float = 0.0
    locked: float = 0.0
    distribution: str = "erk"


@dataclass(frozen=True)
class KStartsConfig:
    """K-starts: ``k`` random masks, the fittest after ``select_after`` epochs is kept."""

    k: int = 4
    select_after: int = 1
    fitness: str = "magnitude"


@dataclass(frozen=True)
class DissipateConfig:
    """Dissipating gradients: prune weights with |w(t) − w(0)| ≤ ``tau``·|w(0)|, checked every
    epoch, removing at most ``step`` of the weights per check until the target density."""

    tau: float = 0.1
    step: float = 0.2


@dataclass(frozen=True)
class MethodConfig:
    """Search method. ``density`` is the fraction of weights KEPT (never "prune rate")."""

    name: str = "edge_popup"
    density: float = 0.5
    global_topk: bool = False
    # global top-k only: anneal the density from 0.5 down to ``density`` over this many epochs
    # with the reference global variant's cubic schedule (0 = off; its code uses 10)
    anneal_epochs: int = 0
    score_init: str = "kaiming_uniform"
    recycle: RecycleConfig = RecycleConfig()
    rerand: RerandConfig = RerandConfig()
    source: SourceConfig = SourceConfig()
    kstarts: KStartsConfig = KStartsConfig()
    dissipate: DissipateConfig = DissipateConfig()


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of the scores (or of the weights, for weight-training baselines).

    Weight decay applies to the scores, as in the reference code.
    """

    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: int = 0
    label_smoothing: float = 0.0


@dataclass(frozen=True)
class SearchConfig:
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    method: MethodConfig = MethodConfig()
    train: TrainConfig = TrainConfig()

    # identity -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def canonical(self) -> dict[str, Any]:
        """Identity-relevant, non-default fields only (what the run id hashes)."""
        return _canonical(self)

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def replace(self, **dotted: Any) -> SearchConfig:
        """A copy with dotted fields changed: ``cfg.replace(**{"method.density": 0.3})``."""
        return apply_overrides(self, dotted)

    def describe(self) -> str:
        """Short human label, e.g. ``edge_popup mlp digits d=0.5``."""
        return f"{self.method.name} {self.model.name} {self.data.name} d={self.method.density:g}"


# --------------------------------------------------------------------------------------------
# dict <-> dataclass


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    return obj


def _canonical(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if not f.metadata.get("identity", True):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            sub = _canonical(value)
            if sub:
                out[f.name] = sub
        elif value != _default_of(f):
            out[f.name] = _to_plain(value)
    return out


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def from_dict(data: Mapping[str, Any], cls: type = SearchConfig, path: str = "") -> Any:
    """Build a config dataclass from a nested mapping, rejecting unknown keys by dotted name."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a table of fields, got {_tname(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else str(key)
        if key not in fields:
            raise ConfigError(_unknown_key(dotted, key, list(fields)))
        kwargs[key] = _coerce(value, hints[key], dotted)
    return cls(**kwargs)


def _unknown_key(dotted: str, key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f"{dotted}: unknown field{hint}"


def _tname(value: Any) -> str:
    return type(value).__name__


def _coerce(value: Any, tp: Any, dotted: str) -> Any:
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value):
            return value
        return from_dict(value, tp, dotted)
    origin = typing.get_origin(tp)
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            value = [value] if isinstance(value, (int, float)) else value
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise ConfigError(f"{dotted}: expected a list, got {value!r}")
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        return tuple(_coerce(v, item, f"{dotted}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{dotted}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{dotted}: expected an integer, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{dotted}: expected an integer, got {value!r}") from None
        if not number.is_integer():
            raise ConfigError(f"{dotted}: expected an integer, got {value!r}")
        return int(number)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{dotted}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{dotted}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{dotted}: expected a string, got {value!r}")
        return str(value)
    return value


# --------------------------------------------------------------------------------------------
# overrides and files


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.epochs=2"`` -> ``("train.epochs", 2)``; values parse as YAML scalars/lists."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected dotted.key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(cfg: SearchConfig, overrides: Mapping[str, Any]) -> SearchConfig:
    data = cfg.to_dict()
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: unknown config section")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(_unknown_key(dotted, parts[-1], list(node)))
        node[parts[-1]] = value
    return validate(from_dict(data))


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or TOML config file into a mapping, with a one-line error on failure."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected a .yaml or .toml config file")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: {size:,} bytes is too large for a config file (limit {MAX_CONFIG_BYTES:,})"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot parse ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def load_config(
    path: str | Path | None = None, overrides: Sequence[str] | Mapping[str, Any] = ()
) -> SearchConfig:
    """Load a config file (YAML/TOML; none = all defaults) and apply ``--set`` overrides."""
    data = read_config_file(path) if path is not None else {}
    cfg = validate(from_dict(data))
    if isinstance(overrides, Mapping):
        pairs = dict(overrides)
    else:
        pairs = dict(parse_override(o) for o in overrides)
    return apply_overrides(cfg, pairs) if pairs else cfg


# --------------------------------------------------------------------------------------------
# validation: every field, with the dotted name in the message

WEIGHT_INITS = ("signed_constant", "kaiming_normal", "kaiming_uniform", "unsigned_constant")
SCORE_INITS = ("kaiming_uniform", "kaiming_normal", "constant")
BATCHNORMS = ("auto", "none", "nonaffine")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
SOURCES = ("dense", "er", "frozen")
DISTRIBUTIONS = ("erk", "equal")
FITNESS = ("magnitude", "gradient", "both")


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _finite(x: float) -> bool:
    return math.isfinite(x)


def _choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        import difflib

        close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{name}: unknown value {value!r}{hint} (choose from {', '.join(allowed)})")


def validate(cfg: SearchConfig) -> SearchConfig:
    """Check ranges and names; registries are consulted for model, dataset and method names."""
    from landscape import registries

    m, d, meth, t = cfg.model, cfg.data, cfg.method, cfg.train
    registries.models.get(m.name)
    registries.datasets.get(d.name)
    registries.methods.get(meth.name)

    _need(all(h > 0 for h in m.hidden), f"model.hidden: widths must be positive, got {list(m.hidden)}")
    _need(_finite(m.width_mult) and m.width_mult > 0, f"model.width_mult: must be > 0, got {m.width_mult}")
    _choice("model.weight_init", m.weight_init, WEIGHT_INITS)
    _choice("model.batchnorm", m.batchnorm, BATCHNORMS)

    _need(0 <= d.val_fraction < 1, f"data.val_fraction: must be in [0, 1), got {d.val_fraction}")
    _need(0 < d.test_fraction < 1, f"data.test_fraction: must be in (0, 1), got {d.test_fraction}")
    _need(d.val_fraction + d.test_fraction < 1, "data.val_fraction + data.test_fraction: must be < 1")
    _need(
        len(d.input_shape) > 0 and all(s > 0 for s in d.input_shape),
        f"data.input_shape: must be a non-empty list of positive sizes, got {list(d.input_shape)}",
    )
    _need(d.n_classes >= 2, f"data.n_classes: must be >= 2, got {d.n_classes}")
    _need(d.n_train > 0 and d.n_test > 0, "data.n_train, data.n_test: must be positive")

    _need(
        _finite(meth.density) and 0 < meth.density <= 1,
        f"method.density: must be in (0, 1] (fraction of weights kept), got {meth.density}",
    )
    _choice("method.score_init", meth.score_init, SCORE_INITS)
    r = meth.recycle
    _need(r.every >= 0, f"method.recycle.every: must be >= 0 epochs, got {r.every}")
    _need(0 < r.rate <= 0.5, f"method.recycle.rate: must be in (0, 0.5], got {r.rate}")
    _need(r.warmup >= 0, f"method.recycle.warmup: must be >= 0, got {r.warmup}")
    q = meth.rerand
    _need(q.every > 0, f"method.rerand.every: must be > 0 steps, got {q.every}")
    _need(0 <= q.prob <= 1, f"method.rerand.prob: must be in [0, 1], got {q.prob}")
    _need(0 < q.rate <= 1, f"method.rerand.rate: must be in (0, 1], got {q.rate}")
    s = meth.source
    _choice("method.source.kind", s.kind, SOURCES)
    _choice("method.source.distribution", s.distribution, DISTRIBUTIONS)
    _need(0 < s.density <= 1, f"method.source.density: must be in (0, 1], got {s.density}")
    _need(0 <= s.pruned < 1, f"method.source.pruned: must be in [0, 1), got {s.pruned}")
    _need(0 <= s.locked < 1, f"method.source.locked: must be in [0, 1), got {s.locked}")
    if s.kind == "er":
        _need(
            meth.density <= s.density,
            f"method.density: {meth.density} exceeds method.source.density {s.density}; "
            "a mask cannot be denser than its ER source",
        )
    if s.kind == "frozen":
        _need(s.pruned + s.locked < 1, "method.source.pruned + locked: must be < 1")
        _need(
            s.locked <= meth.density <= 1 - s.pruned,
            f"method.density: {meth.density} is unreachable with source.pruned={s.pruned} and "
            f"source.locked={s.locked}; it must lie in [{s.locked}, {1 - s.pruned:g}]",
        )
    _need(meth.anneal_epochs >= 0, f"method.anneal_epochs: must be >= 0, got {meth.anneal_epochs}")
    if meth.anneal_epochs:
        _need(
            meth.global_topk and s.kind == "dense" and meth.name in ("edge_popup", "biprop", "iterand"),
            "method.anneal_epochs: anneals a global top-k; needs method.global_topk: true, a dense "
            "source and a score method (edge_popup, biprop, iterand)",
        )
        _need(
            meth.anneal_epochs < t.epochs,
            f"method.anneal_epochs: {meth.anneal_epochs} must be below train.epochs ({t.epochs}) so the "
            "last epochs search at the target density",
        )
    k = meth.kstarts
    _need(k.k >= 1, f"method.kstarts.k: must be >= 1, got {k.k}")
    _need(k.select_after >= 1, f"method.kstarts.select_after: must be >= 1, got {k.select_after}")
    _choice("method.kstarts.fitness", k.fitness, FITNESS)
    g = meth.dissipate
    _need(_finite(g.tau) and g.tau >= 0, f"method.dissipate.tau: must be >= 0, got {g.tau}")
    _need(0 < g.step <= 1, f"method.dissipate.step: must be in (0, 1], got {g.step}")

    _need(t.epochs >= 0, f"train.epochs: must be >= 0, got {t.epochs}")
    _need(t.batch_size >= 1, f"train.batch_size: must be >= 1, got {t.batch_size}")
    _choice("train.optimizer", t.optimizer, OPTIMIZERS)
    _choice("train.schedule", t.schedule, SCHEDULES)
    _need(_finite(t.lr) and t.lr > 0, f"train.lr: must be > 0, got {t.lr}")
    _need(0 <= t.momentum < 1, f"train.momentum: must be in [0, 1), got {t.momentum}")
    _need(
        _finite(t.weight_decay) and t.weight_decay >= 0,
        f"train.weight_decay: must be >= 0, got {t.weight_decay}",
    )
    _need(0 <= t.warmup_epochs <= max(t.epochs, 0), "train.warmup_epochs: must be in [0, train.epochs]")
    _need(0 <= t.label_smoothing < 1, f"train.label_smoothing: must be in [0, 1), got {t.label_smoothing}")
    return cfg
