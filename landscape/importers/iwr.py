"""Iterative Weight Recycling checkpoints (mattgorb/parameter_tiling_and_recycling, 2022 state).

The checkpoint is hidden-networks' dict (``"state_dict"`` with ``weight`` and ``scores`` per
``SubnetConvEdgePopup`` / ``SubnetConvBiprop`` layer); its weights are the recycled ones, so
they are imported with every mask. ``settings.txt`` beside the run holds ``conv_type``
(Edge-Popup or Biprop), ``prune_rate`` (fraction KEPT), ``rerand_type``,
``rerand_epoch_freq`` and ``rerand_rate`` (recycling), ``weight_seed`` and ``score_seed``.
Without it, give ``--set method.density=`` and ``--set method.recycle.every=`` (0 for a run
that did not recycle) and, for Biprop, ``--set method.name=biprop``.

Masks: ``GetSubnetEdgePopup`` / ``GetQuantnet_binary``, per layer the ``int((1 - k) * N)``
smallest ``|scores|`` dropped.
"""

from __future__ import annotations

from pathlib import Path

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

RULE = "IWR GetSubnetEdgePopup / GetQuantnet_binary: per layer, drop the int((1 - k) * N) smallest |scores|"
METHODS = {"SubnetConvEdgePopup": "edge_popup", "SubnetConvBiprop": "biprop"}
# its _init_weight scales the fan under scale_fan for unsigned constants only (the signed
# constant and kaiming_normal branches have that line commented out)
SCALE_FAN_INITS = frozenset({"unsigned_constant"})


def _read(path: Path, ctx: Context) -> list[Extracted]:
    top, state = read_checkpoint(path, "a dict with 'state_dict', as the IWR code's save_checkpoint writes")
    args, args_path = read_settings(path)
    layers = parse_layers(state, path, "scores", "IWR")
    ex = extracted_from(path, layers, RULE)
    ex.obstacles += binary_activation(top, args, args_path)
    where = f"{args_path.name} beside the checkpoint" if args_path else ""
    conv_type = args.get("conv_type") or args.get("layer_type")  # the code's later name for it
    if conv_type is not None:
        if conv_type not in METHODS:
            raise bad(
                args_path, "conv_type", f"{conv_type!r} is not imported (choose runs of {', '.join(METHODS)})"
            )
        ctx.fixed(ex.facts, ex.facts_from, "method.name", METHODS[conv_type], where)
    elif ctx.user.get("method.name") is None:
        ex.facts["method.name"] = "edge_popup"
        ex.notes.append(
            "IWR: no settings.txt, so the method is taken as Edge-Popup (--set method.name=biprop otherwise)"
        )
    check_first_layer_type(args, args_path, conv_type)
    keep = density_of(path, ctx, ex, args.get("prune_rate"), f"prune_rate in {where}")
    _recycling(path, ctx, ex, args, args_path)
    apply_settings(ctx, ex, args, args_path, SCALE_FAN_INITS)
    dense_flags(ctx, ex, layers, "layers without scores in the checkpoint")
    ex.masks = layerwise_masks(layers, keep)
    ex.record, notes = accuracy_record(top, path, planned_epochs(ctx, args))
    ex.notes += notes
    ex.weight_seed, ex.search_seed = as_int(args.get("weight_seed")), as_int(args.get("score_seed"))
    return [ex]


def _recycling(path: Path, ctx: Context, ex: Extracted, args: dict, args_path: Path | None) -> None:
    if args_path is None:
        ctx.need(
            "method.recycle.every", path, "no settings.txt tells how often weights were recycled (0: never)"
        )
        return
    where = f"{args_path.name} beside the checkpoint"
    kind = args.get("rerand_type")
    if kind in (None, "None"):
        ctx.fixed(ex.facts, ex.facts_from, "method.recycle.every", 0, f"rerand_type None in {where}")
        return
    if kind != "recycle":
        raise bad(args_path, "rerand_type", f"{kind!r} is not imported (recycle and None are)")
    every = as_int(args.get("rerand_epoch_freq"))
    rate = as_float(args.get("rerand_rate"))
    if every is None or rate is None:
        raise bad(args_path, "rerand_epoch_freq", "recycling without an epoch frequency and rate")
    ctx.fixed(ex.facts, ex.facts_from, "method.recycle.every", every, where)
    ctx.fixed(ex.facts, ex.facts_from, "method.recycle.rate", rate, where)
    if isinstance(args.get("ablation"), bool):
        ctx.fixed(ex.facts, ex.facts_from, "method.recycle.ablation", args["ablation"], where)


FORMAT = Format(
    name="iwr",
    summary="Iterative Weight Recycling checkpoints (model_best.pth, recycled weights included)",
    patterns=PATTERNS,
    read=_read,
    changes_weights=lambda cfg: cfg.method.recycle.every > 0,
)
