"""Validation of a :class:`~landscape.config.SearchConfig`: every field, with its dotted name
in the one-line message.

One function per section (model, data, method and its sub-sections, training), then the
checks that tie sections together (a method with an initialiser it cannot tell apart from
another method, say).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from landscape.config.schema import DataConfig, MethodConfig, SearchConfig, data_fields_used
from landscape.errors import ConfigError

WEIGHT_INITS = ("signed_constant", "kaiming_normal", "kaiming_uniform", "unsigned_constant")
# an imported run whose source does not name (or names another) initialiser; it reads like
# landscape.networks.UNKNOWN: a draw of its own, never taken for a toolkit network
UNKNOWN_INIT = "unknown"
SCORE_INITS = ("kaiming_uniform", "kaiming_uniform_relu", "kaiming_normal", "constant")
BATCHNORMS = ("auto", "none", "nonaffine")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
SOURCES = ("dense", "er", "frozen")
DISTRIBUTIONS = ("erk", "equal", "epl", "igq")
ER_DISTRIBUTIONS = ("uniform", "erk", "balanced", "pyramidal")
LOCKED_RULES = ("sparsity", "density")
SCOPES = ("global", "layer")
SAMPLINGS = ("bernoulli", "exact")
RESCALES = ("none", "static", "dynamic")
RECYCLE_UNITS = ("epoch", "step")
RECYCLE_MODES = ("recycle", "iterand_recycle")
RERAND_UNITS = ("step", "epoch")
RERAND_MODES = ("bernoulli", "manual")
FITNESS = ("magnitude", "gradient", "both")
PRECISIONS = ("fp32", "tf32", "bf16")
# methods that train nothing (``needs_training = False``): the random-mask null model
UNTRAINED_METHODS = frozenset({"random"})
# methods that train the weights under a mask: they select from every weight
WEIGHT_TRAINING_METHODS = frozenset({"dense", "kstarts", "dissipating", "kstarts_dissipating"})

# methods that search scores with a top-k (and so take sources, IWR, rescaling)
SCORE_METHODS = ("edge_popup", "biprop", "iterand")
# initialisers whose |W| is one constant per layer: Biprop's alpha * sign(W) is then W itself
CONSTANT_MAGNITUDE_INITS = ("signed_constant", "unsigned_constant")

# Slack when comparing fractions that are sums or differences of other fractions:
# 1 - 0.8 is 0.19999999999999996, and "density = 1 - pruned" must be accepted.
FRACTION_EPS = 1e-9


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


def _validate_mnist1d(g) -> None:
    """The MNIST-1D generator's arguments (``data.mnist1d``)."""
    _need(
        g.num_samples >= 10, f"data.mnist1d.num_samples: must be >= 10 (one per class), got {g.num_samples}"
    )
    _need(0 < g.train_split < 1, f"data.mnist1d.train_split: must be in (0, 1), got {g.train_split}")
    _need(g.template_len >= 2, f"data.mnist1d.template_len: must be >= 2, got {g.template_len}")
    _need(
        len(g.padding) == 2 and 0 <= g.padding[0] <= g.padding[1],
        f"data.mnist1d.padding: must be [low, high] with 0 <= low <= high, got {list(g.padding)}",
    )
    _need(
        1 <= g.max_translation <= g.template_len + g.padding[1],
        f"data.mnist1d.max_translation: must be in [1, template_len + padding high], got {g.max_translation}",
    )
    for name in ("scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale"):
        value = getattr(g, name)
        _need(_finite(value) and value >= 0, f"data.mnist1d.{name}: must be >= 0, got {value}")
    _need(g.final_seq_length >= 2, f"data.mnist1d.final_seq_length: must be >= 2, got {g.final_seq_length}")
    _need(0 <= g.seed < 2**32, f"data.mnist1d.seed: must be in [0, 2**32), got {g.seed}")


def validate(cfg: SearchConfig) -> SearchConfig:
    """Check ranges and names; registries are consulted for model, dataset and method names.

    Returns
    -------
    SearchConfig
        ``cfg`` itself when every check passes.

    Raises
    ------
    ConfigError
        One line naming the first field at fault.
    """
    from landscape import registries

    registries.models.get(cfg.model.name)
    registries.datasets.get(cfg.data.name)
    registries.methods.get(cfg.method.name)
    _model(cfg)
    _data(cfg)
    _method(cfg)
    _train(cfg)
    _method_and_model(cfg)
    if cfg.origin.format and cfg.origin.format != "maskset":  # maskset: written by MaskSet.write
        registries.importers.get(cfg.origin.format)
    return cfg


# sections ---------------------------------------------------------------------------------------


def _model(cfg: SearchConfig) -> None:
    m = cfg.model
    _need(all(h > 0 for h in m.hidden), f"model.hidden: widths must be positive, got {list(m.hidden)}")
    _need(_finite(m.width_mult) and m.width_mult > 0, f"model.width_mult: must be > 0, got {m.width_mult}")
    inits = (*WEIGHT_INITS, UNKNOWN_INIT) if cfg.origin.format else WEIGHT_INITS
    _choice("model.weight_init", m.weight_init, inits)
    _choice("model.batchnorm", m.batchnorm, BATCHNORMS)


def _data(cfg: SearchConfig) -> None:
    d = cfg.data
    _check_data_fields_used(d)
    _need(0 <= d.val_fraction < 1, f"data.val_fraction: must be in [0, 1), got {d.val_fraction}")
    _need(0 < d.test_fraction < 1, f"data.test_fraction: must be in (0, 1), got {d.test_fraction}")
    _need(d.val_fraction + d.test_fraction < 1, "data.val_fraction + data.test_fraction: must be < 1")
    _need(
        len(d.input_shape) > 0 and all(s > 0 for s in d.input_shape),
        f"data.input_shape: must be a non-empty list of positive sizes, got {list(d.input_shape)}",
    )
    _need(d.n_classes >= 2, f"data.n_classes: must be >= 2, got {d.n_classes}")
    _need(d.n_train > 0 and d.n_test > 0, "data.n_train, data.n_test: must be positive")
    _validate_mnist1d(d.mnist1d)


def _check_data_fields_used(d: DataConfig) -> None:
    """Refuse an identity field the dataset does not read that differs from its default."""
    used = data_fields_used(d.name)
    for f in dataclasses.fields(DataConfig):
        if f.name in used or not f.metadata.get("identity", True):
            continue
        value = getattr(d, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if value != default:
            raise _not_read(_first_difference(f"data.{f.name}", value, default), d.name, used)


EXTERNAL_CANNOT_SEARCH = (
    "method.name 'external' stands for imported masks of an unnamed method; it cannot "
    "search, and rebuilding its networks needs the method (import with --set method.name=...)"
)


def check_searchable(cfg) -> None:
    """A config that only imported masks may carry (``origin.format``, ``method.name:
    external``) is refused for a search before any run folder exists: its run would claim
    masks imported from elsewhere."""
    if cfg.origin.format:
        raise ConfigError(
            f"origin.format: {cfg.origin.format!r} marks masks imported from elsewhere; a search "
            "stores masks of its own (remove origin.format)"
        )
    if cfg.method.name == "external":
        raise ConfigError(EXTERNAL_CANNOT_SEARCH)


def check_data_fields_given(cfg, given) -> None:
    """A data field given in a config (``given``: names under ``data``) that its dataset does
    not read (``augment: true`` for digits) is refused even at its default value: the config
    would claim what no search does."""
    used = data_fields_used(cfg.data.name)
    identity = {f.name for f in dataclasses.fields(DataConfig) if f.metadata.get("identity", True)}
    for name in dict.fromkeys(given):
        if name in identity and name not in used:
            raise _not_read(f"data.{name}", cfg.data.name, used)


def _not_read(dotted: str, dataset: str, used: tuple[str, ...]) -> ConfigError:
    reads = ", ".join(f"data.{u}" for u in used[1:]) or "no data field"
    return ConfigError(f"{dotted}: dataset {dataset!r} does not use this field (it reads {reads}); remove it")


def _first_difference(name: str, value, default) -> str:
    """The dotted name of the first leaf where a (possibly nested) field left its default."""
    if dataclasses.is_dataclass(value) and dataclasses.is_dataclass(default):
        for sub in dataclasses.fields(value):
            if getattr(value, sub.name) != getattr(default, sub.name):
                return _first_difference(
                    f"{name}.{sub.name}", getattr(value, sub.name), getattr(default, sub.name)
                )
    return name


def _method(cfg: SearchConfig) -> None:
    meth = cfg.method
    _need(
        _finite(meth.density) and 0 < meth.density <= 1,
        f"method.density: must be in (0, 1] (fraction of weights kept), got {meth.density}",
    )
    _choice("method.score_init", meth.score_init, SCORE_INITS)
    _choice("method.rescale", meth.rescale, RESCALES)
    if meth.preset:
        from landscape.config.presets import PRESETS

        _choice("method.preset", meth.preset, list(PRESETS))
    _recycle(meth)
    _rerand(meth)
    _source(meth)
    _annealing(cfg)
    k = meth.kstarts
    _need(k.k >= 1, f"method.kstarts.k: must be >= 1, got {k.k}")
    _need(k.select_after >= 1, f"method.kstarts.select_after: must be >= 1, got {k.select_after}")
    _choice("method.kstarts.fitness", k.fitness, FITNESS)
    g = meth.dissipate
    _need(_finite(g.tau) and g.tau >= 0, f"method.dissipate.tau: must be >= 0, got {g.tau}")
    _need(0 < g.step <= 1, f"method.dissipate.step: must be in (0, 1], got {g.step}")
    if not cfg.origin.format:  # an imported run keeps what its files declare
        _method_sections_read(meth)
        _events_happen(cfg)


# the method sections and the methods that read them; another method given one is refused,
# as its run id and label would claim a search that never happened
METHOD_SECTION_READERS = {
    "recycle": SCORE_METHODS,
    "rerand": ("iterand",),
    "kstarts": ("kstarts", "kstarts_dissipating"),
    "dissipate": ("dissipating", "kstarts_dissipating"),
}


def _method_sections_read(meth: MethodConfig) -> None:
    for section, readers in METHOD_SECTION_READERS.items():
        if meth.name in readers:
            continue
        value = getattr(meth, section)
        for f in dataclasses.fields(value):
            given, default = getattr(value, f.name), f.default
            _need(
                given == default,
                f"method.{section}.{f.name}: method {meth.name!r} does not use method.{section} "
                f"(read by {', '.join(readers)}); remove it",
            )


def _events_happen(cfg: SearchConfig) -> None:
    """Recycling or IteRand re-draws that no epoch of the search reaches are refused: the
    run id and the label would claim them, the masks would be those of the plain method."""
    meth, epochs = cfg.method, cfg.train.epochs
    r = meth.recycle
    if meth.name in SCORE_METHODS and r.every > 0:
        if r.unit == "epoch":  # after epoch e (from 0), never after the last one
            due = [e for e in range(1, epochs - 1) if e % r.every == 0 and e > r.warmup]
        else:  # within every epoch after the first and after the warm-up
            due = list(range(max(1, r.warmup + 1), epochs))
        _need(
            bool(due),
            f"method.recycle.every: recycling every {r.every} {r.unit}s after {r.warmup} warm-up "
            f"epochs never happens in train.epochs {epochs}; raise train.epochs or lower it",
        )
    q = meth.rerand
    if meth.name == "iterand" and q.unit == "epoch":  # steps are counted once the data are known
        _need(
            epochs >= q.every,
            f"method.rerand.every: re-drawing every {q.every} epochs never happens in "
            f"train.epochs {epochs}; raise train.epochs or lower it",
        )


def _recycle(meth: MethodConfig) -> None:
    r = meth.recycle
    _choice("method.recycle.unit", r.unit, RECYCLE_UNITS)
    _choice("method.recycle.mode", r.mode, RECYCLE_MODES)
    _need(r.every >= 0, f"method.recycle.every: must be >= 0 {r.unit}s, got {r.every}")
    if r.mode == "recycle":
        _need(0 < r.rate <= 0.5, f"method.recycle.rate: must be in (0, 0.5], got {r.rate}")
    else:  # half re-drawn, half recycled: rate / 2 <= 0.5
        _need(
            0 < r.rate <= 1,
            f"method.recycle.rate: must be in (0, 1] with mode iterand_recycle, got {r.rate}",
        )
    _need(r.warmup >= 0, f"method.recycle.warmup: must be >= 0, got {r.warmup}")


def _rerand(meth: MethodConfig) -> None:
    q = meth.rerand
    _choice("method.rerand.unit", q.unit, RERAND_UNITS)
    _choice("method.rerand.mode", q.mode, RERAND_MODES)
    _need(q.every > 0, f"method.rerand.every: must be > 0 {q.unit}s, got {q.every}")
    _need(0 <= q.prob <= 1, f"method.rerand.prob: must be in [0, 1], got {q.prob}")
    _need(0 < q.rate <= 1, f"method.rerand.rate: must be in (0, 1], got {q.rate}")
    _need(_finite(q.mix_old), f"method.rerand.mix_old: must be a finite number, got {q.mix_old}")
    _need(_finite(q.mix_new), f"method.rerand.mix_new: must be a finite number, got {q.mix_new}")


def check_weight_training_source(meth: MethodConfig, trains_weights: bool | None = None) -> None:
    """A method that trains the weights selects from every weight: a sparse source is refused.
    ``trains_weights``: whether ``meth``'s method does (default: by its name)."""
    if trains_weights is None:
        trains_weights = meth.name in WEIGHT_TRAINING_METHODS
    _need(
        meth.source.kind == "dense" or not trains_weights,
        f"method.source.kind: {meth.source.kind!r} is not supported by the weight-training method "
        f"{meth.name!r}; use source.kind 'dense'",
    )


def _source(meth: MethodConfig) -> None:
    s = meth.source
    _choice("method.source.kind", s.kind, SOURCES)
    _choice("method.source.distribution", s.distribution, DISTRIBUTIONS)
    _choice("method.source.locked_rule", s.locked_rule, LOCKED_RULES)
    _choice("method.source.scope", s.scope, SCOPES)
    _choice("method.source.sampling", s.sampling, SAMPLINGS)
    _choice("method.source.er_distribution", s.er_distribution, ER_DISTRIBUTIONS)
    _need(0 < s.density <= 1, f"method.source.density: must be in (0, 1], got {s.density}")
    _need(0 <= s.pruned < 1, f"method.source.pruned: must be in [0, 1), got {s.pruned}")
    _need(0 <= s.locked < 1, f"method.source.locked: must be in [0, 1), got {s.locked}")
    if s.kind != "er":
        for name, value, default in (
            ("sampling", s.sampling, "bernoulli"),
            ("er_distribution", s.er_distribution, "uniform"),
        ):
            _need(value == default, f"method.source.{name}: applies to an ER source (method.source.kind: er)")
    check_weight_training_source(meth)
    if s.kind != "frozen":
        _need(
            s.scope == "global",
            "method.source.scope: applies to a frozen source (method.source.kind: frozen)",
        )
    if s.kind == "er":
        _need(
            meth.density <= s.density + FRACTION_EPS,
            f"method.density: {meth.density} exceeds method.source.density {s.density}; "
            "a mask cannot be denser than its ER source",
        )
    if s.kind == "frozen":
        _need(s.pruned + s.locked < 1, "method.source.pruned + locked: must be < 1")
        _need(
            s.locked - FRACTION_EPS <= meth.density <= 1 - s.pruned + FRACTION_EPS,
            f"method.density: {meth.density} is unreachable with source.pruned={s.pruned} and "
            f"source.locked={s.locked}; it must lie in [{s.locked:g}, {1 - s.pruned:g}]",
        )
        _need(
            not (meth.global_topk and s.scope == "layer"),
            "method.source.scope: 'layer' contradicts method.global_topk: true; drop one of them",
        )


def _annealing(cfg: SearchConfig) -> None:
    meth, t = cfg.method, cfg.train
    _need(meth.anneal_epochs >= 0, f"method.anneal_epochs: must be >= 0, got {meth.anneal_epochs}")
    if meth.anneal_epochs:
        _need(
            meth.global_topk and meth.source.kind == "dense" and meth.name in SCORE_METHODS,
            "method.anneal_epochs: anneals a global top-k; needs method.global_topk: true, a dense "
            f"source and a score method ({', '.join(SCORE_METHODS)})",
        )
        _need(
            meth.anneal_epochs < t.epochs,
            f"method.anneal_epochs: {meth.anneal_epochs} must be below train.epochs ({t.epochs}) so the "
            "last epochs search at the target density",
        )


def _train(cfg: SearchConfig) -> None:
    t, name = cfg.train, cfg.method.name
    _need(t.epochs >= 0, f"train.epochs: must be >= 0, got {t.epochs}")
    _need(
        t.epochs >= 1 or name in UNTRAINED_METHODS or bool(cfg.origin.format),  # imported: searched elsewhere
        f"train.epochs: must be >= 1 for method.name {name!r} (it trains); 0 epochs would store "
        "its untrained initial masks",
    )
    _need(t.batch_size >= 1, f"train.batch_size: must be >= 1, got {t.batch_size}")
    _choice("train.optimizer", t.optimizer, OPTIMIZERS)
    _choice("train.schedule", t.schedule, SCHEDULES)
    _need(_finite(t.lr) and t.lr > 0, f"train.lr: must be > 0, got {t.lr}")
    _need(0 <= t.momentum < 1, f"train.momentum: must be in [0, 1), got {t.momentum}")
    # refused here rather than by torch when the search starts (after its run folder exists)
    _need(
        not t.nesterov or t.optimizer == "sgd",
        f"train.nesterov: Nesterov momentum is an SGD option; train.optimizer is {t.optimizer!r}",
    )
    _need(
        not t.nesterov or t.momentum > 0,
        "train.nesterov: Nesterov momentum needs train.momentum > 0, got 0",
    )
    _need(
        _finite(t.weight_decay) and t.weight_decay >= 0,
        f"train.weight_decay: must be >= 0, got {t.weight_decay}",
    )
    _need(0 <= t.warmup_epochs <= max(t.epochs, 0), "train.warmup_epochs: must be in [0, train.epochs]")
    _need(0 <= t.label_smoothing < 1, f"train.label_smoothing: must be in [0, 1), got {t.label_smoothing}")
    _choice("train.precision", t.precision, PRECISIONS)
    _seeds(cfg)
    _snapshots(cfg)


# seeds are stored in 64-bit integer columns (the mask index, the analysis tables)
SEED_LIMIT = 2**63


def _seeds(cfg: SearchConfig) -> None:
    score, data = cfg.method.score_seed, cfg.train.data_seed
    for name, value in (("method.score_seed", score), ("train.data_seed", data)):
        _need(
            value is None or 0 <= value < SEED_LIMIT,
            f"{name}: must be a seed in [0, 2**63) (or null), got {value}",
        )
    _need(
        0 <= cfg.data.split_seed < SEED_LIMIT,
        f"data.split_seed: must be a seed in [0, 2**63), got {cfg.data.split_seed}",
    )
    _need(
        score is None or data is None,
        "method.score_seed, train.data_seed: both are held fixed, so every mask of the run would be "
        "the same search; hold at most one (the search seed drives the other)",
    )


def _snapshots(cfg: SearchConfig) -> None:
    t = cfg.train
    _need(
        t.snapshot_every >= 0, f"train.snapshot_every: must be >= 0 epochs (0: off), got {t.snapshot_every}"
    )
    bad = [e for e in t.snapshot_epochs if not 0 <= e <= t.epochs]
    _need(
        not bad,
        f"train.snapshot_epochs: {bad[0] if bad else ''} is outside [0, train.epochs = {t.epochs}] "
        "(epoch 0 is the mask before the first step)",
    )


# across sections ----------------------------------------------------------------------------------


def _method_and_model(cfg: SearchConfig) -> None:
    meth, model = cfg.method, cfg.model
    if meth.name == "biprop" and model.weight_init in CONSTANT_MAGNITUDE_INITS and not cfg.origin.format:
        # |W| is one constant per layer, so alpha = that constant and alpha * sign(W) = W:
        # every mask a search finds would be bit-identical to Edge-Popup's (imported masks
        # were searched elsewhere, over the weights they bring)
        raise ConfigError(
            f"method.name: biprop with model.weight_init: {model.weight_init} is Edge-Popup (|W| is "
            "constant, so alpha * sign(W) = W); set model.weight_init=kaiming_normal and "
            "model.scale_fan=true (Biprop's reference init) or method.preset=biprop-ref"
        )
    if meth.rescale != "none":
        _need(
            meth.name in ("edge_popup", "iterand"),
            f"method.rescale: scales the masked weights of edge_popup or iterand, not {meth.name!r}"
            + (" (Biprop's alpha already sets the scale)" if meth.name == "biprop" else ""),
        )
