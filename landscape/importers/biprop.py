"""Biprop checkpoints of chrundle/biprop (multi-prize lottery tickets).

The checkpoint is hidden-networks' dict plus ``"conv_type"`` and ``"prune_rate"`` (the
fraction KEPT, as the maintainers confirm); the state dict holds ``weight`` and ``scores``
per layer. ``SubnetConv`` masks are layer-wise (``GetQuantnet_binary``: the
``int((1 - k) * N)`` smallest ``|scores|`` dropped); ``GlobalSubnetConv`` masks share one
threshold, recomputed here from the stored scores since the code keeps it outside the state
dict: ``t = sort(|S| of all layers)[int((1 - k) * N) - 1]``, keep ``|S| > t``. A global run
whose target keeps at most half the weights anneals its density from 0.5 over
``prune_rate_epoch`` epochs: recorded as ``method.anneal_epochs``.

Kept weights act as ``alpha * sign(w)``. This toolkit's Biprop divides ``alpha`` by the
actual kept count; the reference layer-wise code divides by ``int(k * N)``, which can be one
less, so networks rebuilt here carry gains up to ``1 / (k N)`` larger (relative) at such
densities. The masks themselves are exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landscape.importers import _rules
from landscape.importers._args import as_float, as_int, read_settings
from landscape.importers._build import Context, Extracted, Format
from landscape.importers._files import bad
from landscape.importers._layers import parse_layers
from landscape.importers.hidden_networks import (
    PATTERNS,
    accuracy_record,
    apply_settings,
    binary_activation,
    check_first_layer_type,
    dense_flags,
    density_of,
    extracted_from,
    layerwise_masks,
    planned_epochs,
    read_checkpoint,
)

RULE_LAYERWISE = (
    "biprop SubnetConv: per layer, drop the int((1 - k) * N) smallest |scores| (k = method.density)"
)
RULE_GLOBAL = "biprop GlobalSubnetConv: t = sorted |scores| of all layers at index int((1 - k) * N) - 1, keep |scores| > t"


def _read(path: Path, ctx: Context) -> list[Extracted]:
    top, state = read_checkpoint(path, "a dict with 'state_dict', as Biprop's save_checkpoint writes")
    args, args_path = read_settings(path)
    conv_type = top.get("conv_type", args.get("conv_type"))
    if conv_type not in (None, "SubnetConv", "GlobalSubnetConv"):
        raise bad(
            path, "conv_type", f"{conv_type!r} is not imported (SubnetConv and GlobalSubnetConv masks are)"
        )
    layers = parse_layers(state, path, "scores", "biprop")
    check_first_layer_type(args, args_path, conv_type or "SubnetConv")
    is_global = conv_type == "GlobalSubnetConv"
    ex = extracted_from(path, layers, RULE_GLOBAL if is_global else RULE_LAYERWISE)
    ex.obstacles += binary_activation(top, args, args_path)
    ctx.fixed(ex.facts, ex.facts_from, "method.name", "biprop", "format biprop")
    if conv_type is not None:
        ctx.fixed(ex.facts, ex.facts_from, "method.global_topk", is_global, f"conv_type {conv_type}")
    if "prune_rate" in top:
        saved, where = top["prune_rate"], "checkpoint key prune_rate"
    else:
        saved, where = args.get("prune_rate"), f"prune_rate in {args_path.name}" if args_path else ""
    keep = density_of(path, ctx, ex, saved, where)
    if is_global:
        _annealing(path, ctx, ex, top, args, args_path, keep)
    apply_settings(ctx, ex, args, args_path)
    dense_flags(ctx, ex, layers, "layers without scores in the checkpoint")
    if is_global or ctx.user.get("method.global_topk") is True:
        scored = layers.scored
        kept = _rules.biprop_global([np.abs(layer.scores) for layer in scored], keep)
        by_name = dict(zip((layer.name for layer in scored), kept))
        ex.masks = {
            layer.name: by_name.get(layer.name, np.ones(layer.shape, bool)) for layer in layers.layers
        }
        ex.rule = RULE_GLOBAL
    else:
        ex.masks = layerwise_masks(layers, keep)
    ex.record, notes = accuracy_record(top, path, planned_epochs(ctx, args))
    ex.notes += notes
    return [ex]


def _annealing(path: Path, ctx: Context, ex: Extracted, top: dict, args: dict, args_path: Path | None,
               keep: float) -> None:  # fmt: skip
    """The density ramp of a global run: ``main.py`` starts one whose target keeps at most
    half the weights at 0.5 and reaches the target after ``prune_rate_epoch`` epochs (cubic),
    which ``method.anneal_epochs`` repeats. A checkpoint saved inside the ramp holds masks
    of a density on the way, not the run's: that is noted, and no ramp is claimed."""
    target = as_float(args.get("prune_rate"))  # settings.txt is written before training
    if args_path is None or target is None or target > 0.5:
        return
    ramp = as_int(args.get("prune_rate_epoch"))
    if ramp is None:
        ramp = as_int(ctx.need("method.anneal_epochs", path, f"no prune_rate_epoch in {args_path}"))
    if ramp <= 0:  # main.py ramps only over a positive number of epochs
        return
    planned = planned_epochs(ctx, args)
    if planned is None:
        ex.notes.append(
            f"{path}: the run's length is not saved, so its density ramp of {ramp} epochs is not "
            "recorded (give --set train.epochs=... to record it)"
        )
        return
    finished = as_int(top.get("epoch"))  # epochs done; epoch index `ramp` is the first at the target
    if (finished is not None and finished <= ramp) or abs(keep - target) > 1e-9:
        ex.notes.append(
            f"{path}: saved after {finished} epochs, inside the density ramp of {ramp} epochs to "
            f"{target}: its masks keep {keep:g} of the weights, a density on the way; no ramp is "
            "recorded (import the run's last checkpoint for its masks)"
        )
        return
    ctx.fixed(ex.facts, ex.facts_from, "method.anneal_epochs", ramp, f"prune_rate_epoch in {args_path.name}")


FORMAT = Format(
    name="biprop",
    summary="Biprop score checkpoints of chrundle/biprop (model_best.pth), layer-wise or global",
    patterns=PATTERNS,
    read=_read,
)
