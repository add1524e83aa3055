"""Validation of a :class:`~landscape.config.SearchConfig`: every field, with its dotted name
in the one-line message."""

from __future__ import annotations

import math
from collections.abc import Sequence

from landscape.config.schema import SearchConfig
from landscape.errors import ConfigError

WEIGHT_INITS = ("signed_constant", "kaiming_normal", "kaiming_uniform", "unsigned_constant")
SCORE_INITS = ("kaiming_uniform", "kaiming_normal", "constant")
BATCHNORMS = ("auto", "none", "nonaffine")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
SOURCES = ("dense", "er", "frozen")
DISTRIBUTIONS = ("erk", "equal")
FITNESS = ("magnitude", "gradient", "both")
PRECISIONS = ("fp32", "tf32", "bf16")


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
    _choice("train.precision", t.precision, PRECISIONS)
    return cfg
