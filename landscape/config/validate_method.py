"""Validation of the ``method`` section and its sub-sections (sources, recycling, re-draws,
k-starts, dissipation, annealing), and of the rules that tie a method to the model it masks.
Each refusal is one line naming the field."""

from __future__ import annotations

import dataclasses

from landscape.config._checks import FRACTION_EPS, choice, finite, need
from landscape.config.reads import (
    METHOD_SECTION_READERS,
    SCORE_METHODS,
    SOURCE_FIELDS_READ,
    SOURCE_KIND_NAMES,
    source_kinds_reading,
)
from landscape.config.schema import MethodConfig, SearchConfig, SourceConfig
from landscape.errors import ConfigError

SOURCES = ("dense", "er", "frozen")
DISTRIBUTIONS = ("erk", "equal", "epl", "igq")
ER_DISTRIBUTIONS = ("uniform", "erk", "balanced", "pyramidal")
LOCKED_RULES = ("sparsity", "density")
SCOPES = ("global", "layer")
SAMPLINGS = ("bernoulli", "exact")
SCORE_INITS = ("kaiming_uniform", "kaiming_uniform_relu", "kaiming_normal", "constant")
RESCALES = ("none", "static", "dynamic")
RECYCLE_UNITS = ("epoch", "step")
RECYCLE_MODES = ("recycle", "iterand_recycle")
RERAND_UNITS = ("step", "epoch")
RERAND_MODES = ("bernoulli", "manual")
FITNESS = ("magnitude", "gradient", "both")
# methods that train the weights under a mask: they select from every weight
WEIGHT_TRAINING_METHODS = frozenset({"dense", "kstarts", "dissipating", "kstarts_dissipating"})

# initialisers whose |W| is one constant per layer: Biprop's alpha * sign(W) is then W itself
CONSTANT_MAGNITUDE_INITS = ("signed_constant", "unsigned_constant")


def check_method(cfg: SearchConfig) -> None:
    meth = cfg.method
    need(
        finite(meth.density) and 0 < meth.density <= 1,
        f"method.density: must be in (0, 1] (fraction of weights kept), got {meth.density}",
    )
    choice("method.score_init", meth.score_init, SCORE_INITS)
    choice("method.rescale", meth.rescale, RESCALES)
    if meth.preset:
        from landscape.config.presets import PRESETS

        choice("method.preset", meth.preset, list(PRESETS))
    _recycle(meth)
    _rerand(meth)
    _source(meth)
    _annealing(cfg)
    k = meth.kstarts
    need(k.k >= 1, f"method.kstarts.k: must be >= 1, got {k.k}")
    need(k.select_after >= 1, f"method.kstarts.select_after: must be >= 1, got {k.select_after}")
    choice("method.kstarts.fitness", k.fitness, FITNESS)
    g = meth.dissipate
    need(finite(g.tau) and g.tau >= 0, f"method.dissipate.tau: must be >= 0, got {g.tau}")
    need(0 < g.step <= 1, f"method.dissipate.step: must be in (0, 1], got {g.step}")
    if not cfg.origin.format:  # an imported run keeps what its files declare
        _method_sections_read(meth)
        _events_happen(cfg)


def _method_sections_read(meth: MethodConfig) -> None:
    """Another method given a section is refused: its run id and label would claim a search
    that never happened."""
    for section, readers in METHOD_SECTION_READERS.items():
        if meth.name in readers:
            continue
        value = getattr(meth, section)
        for f in dataclasses.fields(value):
            given, default = getattr(value, f.name), f.default
            need(
                given == default,
                f"method.{section}.{f.name}: method {meth.name!r} does not use method.{section} "
                f"(read by {', '.join(readers)}); remove it",
            )


def _events_happen(cfg: SearchConfig) -> None:
    """Recycling, IteRand re-draws or a K-starts selection that no epoch of the search reaches
    are refused: the run id and the label would claim them, the masks would be those of the
    plain method (or, for a late selection, of a selection after the last epoch)."""
    meth, epochs = cfg.method, cfg.train.epochs
    r = meth.recycle
    if meth.name in SCORE_METHODS and r.every > 0:
        if r.unit == "epoch":  # after epoch e (from 0), never after the last one
            due = [e for e in range(1, epochs - 1) if e % r.every == 0 and e > r.warmup]
        else:  # within every epoch after the first and after the warm-up
            due = list(range(max(1, r.warmup + 1), epochs))
        need(
            bool(due),
            f"method.recycle.every: recycling every {r.every} {r.unit}s after {r.warmup} warm-up "
            f"epochs never happens in train.epochs {epochs}; raise train.epochs or lower it",
        )
    k = meth.kstarts
    if meth.name in METHOD_SECTION_READERS["kstarts"]:  # the last epoch selects at the latest
        need(
            k.select_after <= epochs,
            f"method.kstarts.select_after: the selection after epoch {k.select_after} would come "
            f"after the last of train.epochs {epochs}; lower it to at most {epochs}",
        )
    q = meth.rerand
    if meth.name == "iterand" and q.unit == "epoch":  # steps are counted once the data are known
        need(
            epochs >= q.every,
            f"method.rerand.every: re-drawing every {q.every} epochs never happens in "
            f"train.epochs {epochs}; raise train.epochs or lower it",
        )


def _recycle(meth: MethodConfig) -> None:
    r = meth.recycle
    choice("method.recycle.unit", r.unit, RECYCLE_UNITS)
    choice("method.recycle.mode", r.mode, RECYCLE_MODES)
    need(r.every >= 0, f"method.recycle.every: must be >= 0 {r.unit}s, got {r.every}")
    if r.mode == "recycle":
        need(0 < r.rate <= 0.5, f"method.recycle.rate: must be in (0, 0.5], got {r.rate}")
    else:  # half re-drawn, half recycled: rate / 2 <= 0.5
        need(
            0 < r.rate <= 1,
            f"method.recycle.rate: must be in (0, 1] with mode iterand_recycle, got {r.rate}",
        )
    need(r.warmup >= 0, f"method.recycle.warmup: must be >= 0, got {r.warmup}")


def _rerand(meth: MethodConfig) -> None:
    q = meth.rerand
    choice("method.rerand.unit", q.unit, RERAND_UNITS)
    choice("method.rerand.mode", q.mode, RERAND_MODES)
    need(q.every > 0, f"method.rerand.every: must be > 0 {q.unit}s, got {q.every}")
    need(0 <= q.prob <= 1, f"method.rerand.prob: must be in [0, 1], got {q.prob}")
    need(0 < q.rate <= 1, f"method.rerand.rate: must be in (0, 1], got {q.rate}")
    need(finite(q.mix_old), f"method.rerand.mix_old: must be a finite number, got {q.mix_old}")
    need(finite(q.mix_new), f"method.rerand.mix_new: must be a finite number, got {q.mix_new}")


def check_weight_training_source(meth: MethodConfig, trains_weights: bool | None = None) -> None:
    """A method that trains the weights selects from every weight: a sparse source is refused.
    ``trains_weights``: whether ``meth``'s method does (default: by its name)."""
    if trains_weights is None:
        trains_weights = meth.name in WEIGHT_TRAINING_METHODS
    need(
        meth.source.kind == "dense" or not trains_weights,
        f"method.source.kind: {meth.source.kind!r} is not supported by the weight-training method "
        f"{meth.name!r}; use source.kind 'dense'",
    )


def _source(meth: MethodConfig) -> None:
    s = meth.source
    choice("method.source.kind", s.kind, SOURCES)
    choice("method.source.distribution", s.distribution, DISTRIBUTIONS)
    choice("method.source.locked_rule", s.locked_rule, LOCKED_RULES)
    choice("method.source.scope", s.scope, SCOPES)
    choice("method.source.sampling", s.sampling, SAMPLINGS)
    choice("method.source.er_distribution", s.er_distribution, ER_DISTRIBUTIONS)
    need(0 < s.density <= 1, f"method.source.density: must be in (0, 1], got {s.density}")
    need(0 <= s.pruned < 1, f"method.source.pruned: must be in [0, 1), got {s.pruned}")
    need(0 <= s.locked < 1, f"method.source.locked: must be in [0, 1), got {s.locked}")
    _source_fields_read(s)
    check_weight_training_source(meth)
    if s.kind == "er":
        need(
            meth.density <= s.density + FRACTION_EPS,
            f"method.density: {meth.density} exceeds method.source.density {s.density}; "
            "a mask cannot be denser than its ER source",
        )
    if s.kind == "frozen":
        need(s.pruned + s.locked < 1, "method.source.pruned + locked: must be < 1")
        need(
            s.locked - FRACTION_EPS <= meth.density <= 1 - s.pruned + FRACTION_EPS,
            f"method.density: {meth.density} is unreachable with source.pruned={s.pruned} and "
            f"source.locked={s.locked}; it must lie in [{s.locked:g}, {1 - s.pruned:g}]",
        )
        need(
            not (meth.global_topk and s.scope == "layer"),
            "method.source.scope: 'layer' contradicts method.global_topk: true; drop one of them",
        )


def _source_fields_read(s: SourceConfig) -> None:
    """A field the source's kind does not read is refused away from its default: a dense
    search given ``source.density: 0.5`` would be labelled as if it searched an ER source."""
    read = SOURCE_FIELDS_READ.get(s.kind, ())
    for f in dataclasses.fields(SourceConfig):
        if f.name == "kind" or f.name in read:
            continue
        kinds = source_kinds_reading(f.name)
        need(
            getattr(s, f.name) == f.default,
            f"method.source.{f.name}: applies to {' or '.join(SOURCE_KIND_NAMES[k] for k in kinds)} "
            f"(method.source.kind: {' or '.join(kinds)}), not to kind {s.kind!r}; remove it",
        )


def _annealing(cfg: SearchConfig) -> None:
    meth, t = cfg.method, cfg.train
    need(meth.anneal_epochs >= 0, f"method.anneal_epochs: must be >= 0, got {meth.anneal_epochs}")
    if meth.anneal_epochs:
        need(
            meth.global_topk and meth.source.kind == "dense" and meth.name in SCORE_METHODS,
            "method.anneal_epochs: anneals a global top-k; needs method.global_topk: true, a dense "
            f"source and a score method ({', '.join(SCORE_METHODS)})",
        )
        need(
            meth.anneal_epochs < t.epochs,
            f"method.anneal_epochs: {meth.anneal_epochs} must be below train.epochs ({t.epochs}) so the "
            "last epochs search at the target density",
        )


# across sections ----------------------------------------------------------------------------------


def check_method_and_model(cfg: SearchConfig) -> None:
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
        need(
            meth.name in ("edge_popup", "iterand"),
            f"method.rescale: scales the masked weights of edge_popup or iterand, not {meth.name!r}"
            + (" (Biprop's alpha already sets the scale)" if meth.name == "biprop" else ""),
        )
