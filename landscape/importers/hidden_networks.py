"""Edge-Popup checkpoints of allenai/hidden-networks (and the shared reading of its forks).

``save_checkpoint`` writes ``{"epoch", "arch", "state_dict", "best_acc1", "best_acc5",
"best_train_acc1", "best_train_acc5", "optimizer", "curr_acc1", "curr_acc5"}``; the state dict
holds ``<layer>.weight`` and ``<layer>.scores`` of every ``SubnetConv`` (``module.``-prefixed
under DataParallel), fully connected layers stored as 1x1 convs. The run folder keeps
``str(args)`` in ``settings.txt`` (``--prune-rate`` is the fraction KEPT there).

The mask is ``GetSubnet``'s: per layer, the ``int((1 - k) * N)`` smallest ``|scores|`` are
dropped (see :mod:`landscape.importers._rules`). Accuracies are the checkpoint's own, and the
validation loader of these codes is the CIFAR test set. ``model_best.pth`` is a copy of the
epoch that beat every earlier one there, so its masks were selected on the test set and its
``curr_acc1`` is the best test accuracy over epochs: it becomes ``best_test_acc`` only, with
``selected_on: test``, and ``test_acc`` stays unknown. Only the last epoch (``epoch`` equal to
the saved ``epochs``) gives ``test_acc``, the final-epoch accuracy searched runs record. See
:func:`accuracy_record`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from landscape.importers import _rules
from landscape.importers._args import (
    SCALE_FAN_INITS,
    as_float,
    as_int,
    common_fields,
    foreign_init_note,
    read_settings,
    run_length,
)
from landscape.importers._build import Context, Extracted, Format
from landscape.importers._files import bad, file_sha256, find_state, load_torch, number
from landscape.importers._layers import Layers, parse_layers

RULE = (
    "hidden-networks GetSubnet: per layer, drop the int((1 - k) * N) smallest |scores| (k = method.density)"
)
BEST_FILE = "model_best.pth"  # copied there whenever an epoch beats every earlier one
PATTERNS = (f"**/{BEST_FILE}",)


def read_checkpoint(path: Path, expected: str) -> tuple[dict, dict]:
    """The top-level dict and the state dict of a ``save_checkpoint`` file."""
    obj = load_torch(path)
    state = find_state(obj, path, ("state_dict",), bare=False, expected=expected)
    return dict(obj), state


def accuracy_record(top: dict, path: Path, planned: int | None) -> tuple[dict[str, Any], list[str]]:
    """The per-mask record of a ``save_checkpoint`` dict (accuracies in percent there) and
    notes on which epoch its masks come from.

    ``planned`` is the run's length (``epochs`` in the saved arguments). The checkpoint's
    ``epoch`` counts finished epochs, so it equals ``planned`` for the last one. A
    ``model_best.pth`` of an earlier epoch, or any checkpoint whose ``curr_acc1`` is the best so
    far, holds masks picked for their test accuracy: that value is kept as ``best_test_acc``
    and never as ``test_acc``, which for searched runs is the unselected final-epoch accuracy.
    """
    record: dict[str, Any] = {}
    notes: list[str] = []
    current, best, epoch = (
        number(top.get("curr_acc1")),
        number(top.get("best_acc1")),
        number(top.get("epoch")),
    )
    if epoch is not None:
        record["epochs"] = int(epoch)
        if epoch == 0:  # the initial state: nothing evaluated yet, best_acc1 is its starting 0
            current = best = None
    if best is not None:
        record["best_test_acc"] = best / 100
    if isinstance(top.get("arch"), str):
        record["source_arch"] = top["arch"]
    final = epoch is not None and planned is not None and int(epoch) >= planned
    selected = not final and (path.name == BEST_FILE or (current is not None and current == best))
    at = f"epoch {int(epoch)}" if epoch is not None else "an unknown epoch"
    of = f" of {planned}" if planned is not None else " (the run's length is not saved: --set train.epochs=N)"
    if selected:
        record["selected_on"] = "test"
        if best is None and current is not None:
            record["best_test_acc"] = current / 100
        notes.append(
            f"{path}: masks selected on the test set ({at}{of} was the best on the validation loader, "
            "which is the test set); its accuracy is kept as best_test_acc, test_acc is left unknown"
        )
        return record, notes
    if current is not None:
        record["test_acc"] = current / 100
    if not final:
        which = "not the last" if planned is not None else "not known to be the last"
        tail = "; test_acc is that epoch's accuracy" if current is not None else ""
        notes.append(f"{path}: masks from {at}{of}, {which}{tail}")
    return record, notes


def density_of(path: Path, ctx: Context, ex: Extracted, saved: Any, where: str) -> float:
    """The fraction kept: saved by the run (``where``) or given with ``--set method.density``."""
    value = as_float(saved)
    if value is not None:
        ctx.fixed(ex.facts, ex.facts_from, "method.density", value, where)
        return value
    given = ctx.need(
        "method.density", path, "no saved prune rate (fraction kept) in or beside this checkpoint"
    )
    return float(given)


def extracted_from(path: Path, layers: Layers, rule: str) -> Extracted:
    """An :class:`Extracted` with the layers' shapes and weights (masks filled in by the caller)."""
    return Extracted(
        path=path,
        sha256=file_sha256(path),
        entry="",
        layers=layers.shapes(),
        masks={},
        rule=rule,
        weights=layers.weights(),
        batchnorm=layers.batchnorm or None,
        obstacles=list(layers.obstacles),
    )


def binary_activation(top: dict, args: dict, args_path: Path | None) -> list[str]:
    """Why a network with sign activations cannot be rebuilt here (empty for ReLU ones).

    Biprop's ``*_BinAct`` models keep the state dict of their ReLU twins, so only the
    ``arch`` the checkpoint or ``settings.txt`` names tells them apart.
    """
    named = [(top.get("arch"), "the checkpoint's arch")]
    if args_path is not None:
        named.append((args.get("arch"), f"arch in {args_path.name}"))
    for arch, where in named:
        if isinstance(arch, str) and "binact" in arch.lower():
            return [f"{where} {arch!r} has sign activations (this toolkit's networks use ReLU)"]
    return []


def dense_flags(ctx: Context, ex: Extracted, layers: Layers, where: str) -> None:
    """Layers the checkpoint keeps without scores are the dense first/last layer."""
    if layers.first_dense:
        ctx.fixed(ex.facts, ex.facts_from, "model.first_layer_dense", True, where)
    if layers.last_dense:
        ctx.fixed(ex.facts, ex.facts_from, "model.last_layer_dense", True, where)


def check_first_layer_type(args: dict, args_path: Path | None, conv_type: str | None) -> None:
    """``--first-layer-type`` builds the first layer from another conv type than the rest.
    DenseConv (no scores: the dense first layer) and the network's own type are imported; any
    other gives that layer another mask rule (SampleSubnetConv's sampled masks, Biprop's layer in
    an Edge-Popup IWR run), which neither this import nor a config here expresses."""
    first = args.get("first_layer_type")
    if first in (None, "DenseConv") or first == conv_type:
        return
    raise bad(
        args_path,
        "first_layer_type",
        f"{first!r} under conv_type {conv_type!r} gives the first layer another mask rule than the "
        "others; such runs are not imported",
    )


def layerwise_masks(layers: Layers, keep: float, rule: Callable = _rules.topk_drop_smallest) -> dict:
    return {
        layer.name: (np.ones(layer.shape, bool) if layer.scores is None else rule(np.abs(layer.scores), keep))
        for layer in layers.layers
    }


def planned_epochs(ctx: Context, args: dict) -> int | None:
    """The run's length: the saved ``epochs`` argument (IWR's ``total_epochs`` where set), else
    ``--set train.epochs``."""
    saved = run_length(args)
    return saved if saved is not None else as_int(ctx.user.get("train.epochs"))


def apply_settings(
    ctx: Context,
    ex: Extracted,
    args: dict,
    args_path: Path | None,
    scale_fan_inits: frozenset[str] = SCALE_FAN_INITS,
) -> None:
    """Config fields the saved arguments state (training, init, dataset, width);
    ``scale_fan_inits``: the initialisers whose scale the code's ``scale_fan`` changes."""
    if args_path is None:
        return
    where = f"{args_path.name} beside the checkpoint"
    for dotted, value in common_fields(args, scale_fan_inits).items():
        ctx.fixed(ex.facts, ex.facts_from, dotted, value, where)
    note = foreign_init_note(args, args_path, scale_fan_inits)
    if note:
        ex.notes.append(note)
    width = as_float(args.get("width_mult"))
    if width is not None and width != 1.0:
        ctx.fixed(ex.facts, ex.facts_from, "model.width_mult", width, where)


def _read(path: Path, ctx: Context) -> list[Extracted]:
    top, state = read_checkpoint(path, "a dict with 'state_dict', as hidden-networks' save_checkpoint writes")
    args, args_path = read_settings(path)
    conv_type = args.get("conv_type")
    if conv_type not in (None, "SubnetConv"):
        raise bad(
            args_path, "conv_type", f"{conv_type!r} is not imported (only SubnetConv's top-k masks are)"
        )
    layers = parse_layers(state, path, "scores", "hidden-networks")
    check_first_layer_type(args, args_path, conv_type or "SubnetConv")
    ex = extracted_from(path, layers, RULE)
    ex.obstacles += binary_activation(top, args, args_path)
    ctx.fixed(ex.facts, ex.facts_from, "method.name", "edge_popup", "format hidden_networks")
    where = f"prune_rate in {args_path.name}" if args_path else ""
    keep = density_of(path, ctx, ex, args.get("prune_rate"), where)
    apply_settings(ctx, ex, args, args_path)
    dense_flags(ctx, ex, layers, "layers without scores in the checkpoint")
    ex.masks = layerwise_masks(layers, keep)
    ex.record, notes = accuracy_record(top, path, planned_epochs(ctx, args))
    ex.notes += notes
    return [ex]


FORMAT = Format(
    name="hidden_networks",
    summary="Edge-Popup score checkpoints of allenai/hidden-networks (model_best.pth)",
    patterns=PATTERNS,
    read=_read,
)
