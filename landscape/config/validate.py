"""Validation of a :class:`~landscape.config.SearchConfig`: every field, with its dotted name
in the one-line message.

One function per section (model, data, training and seeds, here; the method section and the
rules that tie a method to its model in :mod:`landscape.config.validate_method`).
"""

from __future__ import annotations

import dataclasses

from landscape.config._checks import choice, finite, need
from landscape.config.reads import UNTRAINED_METHODS
from landscape.config.schema import DataConfig, ModelConfig, SearchConfig, data_fields_used
from landscape.config.validate_method import check_method, check_method_and_model
from landscape.errors import ConfigError

WEIGHT_INITS = ("signed_constant", "kaiming_normal", "kaiming_uniform", "unsigned_constant")
# an imported run whose source does not name (or names another) initialiser; it reads like
# landscape.networks.UNKNOWN: a draw of its own, never taken for a toolkit network
UNKNOWN_INIT = "unknown"
BATCHNORMS = ("auto", "none", "nonaffine")
# the toolkit's models whose widths are fixed: they do not read model.hidden
FIXED_WIDTH_MODELS = ("conv2", "conv4", "conv6", "conv8", "resnet18", "resnet20", "cnn1d", "external")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("fp32", "tf32", "bf16")


def _validate_mnist1d(g) -> None:
    """The MNIST-1D generator's arguments (``data.mnist1d``)."""
    need(g.num_samples >= 10, f"data.mnist1d.num_samples: must be >= 10 (one per class), got {g.num_samples}")
    need(0 < g.train_split < 1, f"data.mnist1d.train_split: must be in (0, 1), got {g.train_split}")
    need(g.template_len >= 2, f"data.mnist1d.template_len: must be >= 2, got {g.template_len}")
    need(
        len(g.padding) == 2 and 0 <= g.padding[0] <= g.padding[1],
        f"data.mnist1d.padding: must be [low, high] with 0 <= low <= high, got {list(g.padding)}",
    )
    need(
        1 <= g.max_translation <= g.template_len + g.padding[1],
        f"data.mnist1d.max_translation: must be in [1, template_len + padding high], got {g.max_translation}",
    )
    for name in ("scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale"):
        value = getattr(g, name)
        need(finite(value) and value >= 0, f"data.mnist1d.{name}: must be >= 0, got {value}")
    need(g.final_seq_length >= 2, f"data.mnist1d.final_seq_length: must be >= 2, got {g.final_seq_length}")
    need(0 <= g.seed < 2**32, f"data.mnist1d.seed: must be in [0, 2**32), got {g.seed}")


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
    check_method(cfg)
    _train(cfg)
    check_method_and_model(cfg)
    need(
        not cfg.origin.variant or bool(cfg.origin.format),
        "origin.variant: only imported masks carry one (it says what their source states that no field here does)",
    )
    if cfg.origin.format and cfg.origin.format != "maskset":  # maskset: written by MaskSet.write
        registries.importers.get(cfg.origin.format)
    return cfg


# sections ---------------------------------------------------------------------------------------


def _model(cfg: SearchConfig) -> None:
    m = cfg.model
    need(all(h > 0 for h in m.hidden), f"model.hidden: widths must be positive, got {list(m.hidden)}")
    # another value would change the run id but not the network (a model registered from
    # outside may read it, so only the toolkit's own are checked)
    need(
        m.name not in FIXED_WIDTH_MODELS or m.hidden == ModelConfig.hidden,
        f"model.hidden: model {m.name!r} does not use this field (only mlp does; model.width_mult "
        f"scales the others' widths); leave it out or give it its default {list(ModelConfig.hidden)}",
    )
    need(finite(m.width_mult) and m.width_mult > 0, f"model.width_mult: must be > 0, got {m.width_mult}")
    inits = (*WEIGHT_INITS, UNKNOWN_INIT) if cfg.origin.format else WEIGHT_INITS
    choice("model.weight_init", m.weight_init, inits)
    choice("model.batchnorm", m.batchnorm, BATCHNORMS)


def _data(cfg: SearchConfig) -> None:
    d = cfg.data
    _check_data_fields_used(d)
    need(0 <= d.val_fraction < 1, f"data.val_fraction: must be in [0, 1), got {d.val_fraction}")
    need(0 < d.test_fraction < 1, f"data.test_fraction: must be in (0, 1), got {d.test_fraction}")
    need(d.val_fraction + d.test_fraction < 1, "data.val_fraction + data.test_fraction: must be < 1")
    need(
        len(d.input_shape) > 0 and all(s > 0 for s in d.input_shape),
        f"data.input_shape: must be a non-empty list of positive sizes, got {list(d.input_shape)}",
    )
    need(d.n_classes >= 2, f"data.n_classes: must be >= 2, got {d.n_classes}")
    need(d.n_train > 0 and d.n_test > 0, "data.n_train, data.n_test: must be positive")
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


def _train(cfg: SearchConfig) -> None:
    t, name = cfg.train, cfg.method.name
    need(t.epochs >= 0, f"train.epochs: must be >= 0, got {t.epochs}")
    need(
        t.epochs >= 1 or name in UNTRAINED_METHODS or bool(cfg.origin.format),  # imported: searched elsewhere
        f"train.epochs: must be >= 1 for method.name {name!r} (it trains); 0 epochs would store "
        "its untrained initial masks",
    )
    need(t.batch_size >= 1, f"train.batch_size: must be >= 1, got {t.batch_size}")
    # an imported run whose code used another optimiser or schedule says so (origin.variant)
    foreign = (UNKNOWN_INIT,) if cfg.origin.format else ()
    choice("train.optimizer", t.optimizer, (*OPTIMIZERS, *foreign))
    choice("train.schedule", t.schedule, (*SCHEDULES, *foreign))
    need(finite(t.lr) and t.lr > 0, f"train.lr: must be > 0, got {t.lr}")
    need(0 <= t.momentum < 1, f"train.momentum: must be in [0, 1), got {t.momentum}")
    # refused here rather than by torch when the search starts (after its run folder exists)
    need(
        not t.nesterov or t.optimizer == "sgd",
        f"train.nesterov: Nesterov momentum is an SGD option; train.optimizer is {t.optimizer!r}",
    )
    need(
        not t.nesterov or t.momentum > 0,
        "train.nesterov: Nesterov momentum needs train.momentum > 0, got 0",
    )
    need(
        finite(t.weight_decay) and t.weight_decay >= 0,
        f"train.weight_decay: must be >= 0, got {t.weight_decay}",
    )
    need(0 <= t.warmup_epochs <= max(t.epochs, 0), "train.warmup_epochs: must be in [0, train.epochs]")
    need(0 <= t.label_smoothing < 1, f"train.label_smoothing: must be in [0, 1), got {t.label_smoothing}")
    choice("train.precision", t.precision, PRECISIONS)
    _seeds(cfg)
    _snapshots(cfg)


# seeds are stored in 64-bit integer columns (the mask index, the analysis tables)
SEED_LIMIT = 2**63


def _seeds(cfg: SearchConfig) -> None:
    score, data = cfg.method.score_seed, cfg.train.data_seed
    for name, value in (("method.score_seed", score), ("train.data_seed", data)):
        need(
            value is None or 0 <= value < SEED_LIMIT,
            f"{name}: must be a seed in [0, 2**63) (or null), got {value}",
        )
    need(
        0 <= cfg.data.split_seed < SEED_LIMIT,
        f"data.split_seed: must be a seed in [0, 2**63), got {cfg.data.split_seed}",
    )
    need(
        score is None or data is None,
        "method.score_seed, train.data_seed: both are held fixed, so every mask of the run would be "
        "the same search; hold at most one (the search seed drives the other)",
    )


def _snapshots(cfg: SearchConfig) -> None:
    t = cfg.train
    need(t.snapshot_every >= 0, f"train.snapshot_every: must be >= 0 epochs (0: off), got {t.snapshot_every}")
    bad = [e for e in t.snapshot_epochs if not 0 <= e <= t.epochs]
    need(
        not bad,
        f"train.snapshot_epochs: {bad[0] if bad else ''} is outside [0, train.epochs = {t.epochs}] "
        "(epoch 0 is the mask before the first step)",
    )


# across sections ----------------------------------------------------------------------------------
