"""Partially frozen networks (Hikari43/slt_within_frozen_network; Otsuka et al.).

``experiment.py`` saves the bare DDP state dict (``module.``-prefixed; ``epoch_<n>.pt``,
``best_val_ckpt.pt``). Every ``SupermaskConv2d`` / ``SupermaskLinear`` holds ``weight``,
``score`` and the buffers ``mask`` (the mask of the last forward pass), ``ternary_frozen_mask``
(-1 pruned, +1 locked, 0 searchable), ``local_sparsity``, ``global_sparsity`` (the fraction
REMOVED, frozen weights included), ``scale`` and ``kthvalue``.

The mask is ``GetSupermask``: ``|score| > t`` (strict), frozen-pruned entries off, locked ones
on. With ``global_ep`` (the configs' choice) ``t`` is recomputed from the scores and
``global_sparsity`` exactly as ``set_kthvalue`` does (float32 count ``int(N * s)``, pruned
entries at -inf, locked at +inf); with ``local_ep`` ``t`` is each layer's stored ``kthvalue``
(``method.source.scope`` "global" or "layer" says which, with ``method.global_topk`` agreeing).
The result must reproduce the stored ``mask`` buffer, else the import stops. The frozen
pattern is kept with every mask (``<run>/source/``). The frozen fractions come from
``--set method.source.pruned= / locked=`` or, when not given, from the pattern (rounded to
three decimals); ``method.source.distribution`` stays ``erk`` unless given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landscape.errors import ConfigError
from landscape.importers import _rules
from landscape.importers._build import Context, Extracted, Format
from landscape.importers._files import bad, find_state, load_torch
from landscape.importers._layers import Layers, parse_layers
from landscape.importers.hidden_networks import extracted_from

BUFFERS = ("mask", "ternary_frozen_mask", "local_sparsity", "global_sparsity", "scale", "kthvalue")
RULE_GLOBAL = (
    "frozen global_ep: t = sorted(|score|, pruned -inf, locked +inf)[int(float32(N) * float32(s)) - 1], "
    "keep |score| > t, then pruned off and locked on"
)
RULE_LOCAL = "frozen local_ep: keep |score| > the layer's stored kthvalue, then pruned off and locked on"


def _read(path: Path, ctx: Context) -> list[Extracted]:
    obj = load_torch(path)
    expected = "a state dict of SupermaskConv2d / SupermaskLinear layers, as experiment.py saves"
    state = find_state(obj, path, ("state_dict",), bare=True, expected=expected)
    layers = parse_layers(state, path, "score", "partially frozen", extras=BUFFERS, biases=())
    for layer in layers.layers:
        for key in ("ternary_frozen_mask", "global_sparsity", "kthvalue"):
            if key not in layer.extras:
                raise bad(
                    path,
                    f"{layers.prefix}{layer.name}.{key}",
                    "missing (every Supermask layer of that code has it)",
                )
        frozen = layer.extras["ternary_frozen_mask"]
        if frozen.shape != layer.shape or not np.isin(frozen, (-1, 0, 1)).all():
            raise bad(
                path,
                f"{layers.prefix}{layer.name}.ternary_frozen_mask",
                "must hold -1, 0 and 1 in the weight's shape",
            )
    ex = extracted_from(path, layers, RULE_GLOBAL)
    sparsity, density = _sparsity(path, ctx, ex, layers)
    is_global = _algo(ctx, ex, layers)
    ex.masks = _masks(layers, sparsity, is_global)
    ex.rule = RULE_GLOBAL if is_global else RULE_LOCAL
    _check_stored(path, layers, ex.masks, density, is_global)
    ex.pattern = {layer.name: layer.extras["ternary_frozen_mask"].astype(np.int8) for layer in layers.layers}
    _source_fractions(ctx, ex, layers)
    for layer in layers.layers:
        scale = layer.extras.get("scale")
        if scale is not None and np.any(scale != 1):
            ex.obstacles.append(
                f"rescaled masked weights in {layer.name} (scale_method; this toolkit does not rescale)"
            )
            break
    return [ex]


def _sparsity(path: Path, ctx: Context, ex: Extracted, layers: Layers) -> tuple[np.float32, float]:
    stored = {np.float32(layer.extras["global_sparsity"].reshape(-1)[0]) for layer in layers.layers}
    if len(stored) != 1:
        raise bad(path, f"{layers.prefix}{layers.layers[0].name}.global_sparsity", "differs between layers")
    s32 = stored.pop()
    saved_density = round(1 - float(str(s32)), 12)
    given = ctx.user.get("method.density")
    ex.facts["method.name"] = "edge_popup"
    if given is None:
        ex.facts["method.density"] = saved_density
        ex.facts_from["method.density"] = "global_sparsity buffer (fraction removed)"
        return s32, saved_density
    # a density given by hand is checked against the stored masks instead
    return np.float32(round(1 - float(given), 12)), float(given)


def _algo(ctx: Context, ex: Extracted, layers: Layers) -> bool:
    """Whether the search was ``global_ep`` (one threshold) or ``local_ep`` (one per layer).

    A frozen source's config says this with ``method.source.scope``: a search over it is
    global whenever the scope is "global", whatever ``method.global_topk`` says, so both
    fields are set to agree.
    """
    given_topk, given_scope = ctx.user.get("method.global_topk"), ctx.user.get("method.source.scope")
    if given_topk is not None:
        is_global, where = bool(given_topk), "--set method.global_topk"
    elif given_scope is not None:
        is_global, where = given_scope == "global", "--set method.source.scope"
    else:
        thresholds = {float(layer.extras["kthvalue"].reshape(-1)[0]) for layer in layers.layers}
        is_global = len(thresholds) == 1
        where = "one kthvalue for every layer" if is_global else "a kthvalue per layer"
    ctx.fixed(ex.facts, ex.facts_from, "method.global_topk", is_global, where)
    ctx.fixed(ex.facts, ex.facts_from, "method.source.scope", "global" if is_global else "layer", where)
    return is_global


def _masks(layers: Layers, sparsity: np.float32, is_global: bool) -> dict[str, np.ndarray]:
    scores = [np.abs(layer.scores) for layer in layers.layers]
    frozen = [layer.extras["ternary_frozen_mask"] for layer in layers.layers]
    if is_global:
        t = _rules.frozen_global_threshold(scores, frozen, sparsity)
        thresholds = [t] * len(scores)
    else:
        thresholds = [np.float32(layer.extras["kthvalue"].reshape(-1)[0]) for layer in layers.layers]
    return {
        layer.name: _rules.frozen_mask(s, t, f)
        for layer, s, t, f in zip(layers.layers, scores, thresholds, frozen)
    }


def _check_stored(path: Path, layers: Layers, masks: dict, density: float, is_global: bool) -> None:
    """The stored ``mask`` buffers (the last forward pass) must be what the rule gives."""
    how = "global" if is_global else "per layer"
    for layer in layers.layers:
        stored = layer.extras.get("mask")
        if stored is None:
            continue
        ours = masks[layer.name]
        kept, want = int(np.count_nonzero(stored)), int(ours.sum())
        if kept != want:
            raise bad(
                path,
                f"{layers.prefix}{layer.name}.mask",
                f"the stored mask keeps {kept:,} of {ours.size:,} weights but density {density:g} ({how}) keeps "
                f"{want:,}; give the density the run used (--set method.density=...)",
            )
        if not np.array_equal(stored.astype(bool), ours):
            raise bad(
                path,
                f"{layers.prefix}{layer.name}.mask",
                "the stored mask differs from what its scores and threshold give",
            )


def _source_fractions(ctx: Context, ex: Extracted, layers: Layers) -> None:
    frozen = np.concatenate([layer.extras["ternary_frozen_mask"].ravel() for layer in layers.layers])
    n, n_layers = frozen.size, len(layers.layers)
    ex.facts["method.source.kind"] = "frozen"
    for name, value in (("pruned", -1), ("locked", 1)):
        measured = float(np.count_nonzero(frozen == value)) / n
        dotted = f"method.source.{name}"
        given = ctx.user.get(dotted)
        if given is None:
            ex.facts[dotted] = round(measured, 3)
            ex.facts_from[dotted] = f"the pattern ({measured:.6f} of the weights)"
            if abs(round(measured, 3) - measured) > 1e-9:
                ex.notes.append(
                    f"{dotted} taken from the pattern as {round(measured, 3)} (exactly {measured:.6f})"
                )
        elif abs(float(given) - measured) > n_layers / n + 0.005:
            raise ConfigError(
                f"{ex.path}: --set {dotted}={given}, but the stored pattern {name} {measured:.4f} of the weights"
            )


FORMAT = Format(
    name="frozen",
    summary="partially frozen SLT checkpoints of Hikari43/slt_within_frozen_network (best_val_ckpt.pt)",
    patterns=("**/best_val_ckpt.pt",),
    read=_read,
)
