"""The arguments a reference run saved beside its checkpoints.

allenai/hidden-networks, chrundle/biprop and the IWR code write ``str(args)`` (an argparse
``Namespace(...)``) to ``settings.txt`` in the run folder whose ``checkpoints/`` subfolder
holds the checkpoints. The values are read as Python literals; nothing is executed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from landscape.config.validate import UNKNOWN_INIT
from landscape.errors import DataError

SETTINGS = "settings.txt"
_NEXT_ARG = re.compile(r",\s*(?=[A-Za-z_]\w*=)")
_NAMESPACE = re.compile(r"Namespace\((.*)\)", flags=re.DOTALL)
MAX_SETTINGS_BYTES = 2**20  # str(args) of these codes is a few KiB


def settings_beside(checkpoint: Path) -> Path | None:
    """``settings.txt`` of the run a checkpoint belongs to (its folder or the one above)."""
    for folder in (checkpoint.parent, checkpoint.parent.parent):
        candidate = folder / SETTINGS
        if candidate.is_file():
            return candidate
    return None


def parse_namespace(text: str) -> dict[str, Any]:
    """``"Namespace(a=1, b='x', c=[1, 2])"`` -> ``{"a": 1, "b": "x", "c": [1, 2]}``.

    Values that are not Python literals (``<function ...>``) are kept as their text.
    """
    match = _NAMESPACE.fullmatch(text.strip())
    if not match:
        return {}
    out: dict[str, Any] = {}
    for part in _NEXT_ARG.split(match.group(1)):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip().isidentifier():
            continue
        raw = raw.strip()
        try:
            out[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            out[key.strip()] = raw
    return out


def read_settings(checkpoint: Path) -> tuple[dict[str, Any], Path | None]:
    """The saved arguments of a checkpoint's run (empty when there is no such file).

    Raises
    ------
    DataError
        When the file is there but is not a ``Namespace(...)`` (truncated, binary): what it
        states (density, init, epochs, dataset) must not silently fall back to defaults.
    """
    path = settings_beside(checkpoint)
    if path is None:
        return {}, None
    text = _settings_text(path)
    args = parse_namespace(text)
    if not args and not _empty_namespace(text):
        raise _unreadable(path, "not the Namespace(...) that str(args) writes (truncated or another file)")
    return (args, path) if args else ({}, None)


def _settings_text(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise _unreadable(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise _unreadable(path, f"larger than {MAX_SETTINGS_BYTES:,} bytes, so not a saved Namespace(...)")
    if b"\0" in raw:
        raise _unreadable(path, "binary data, not the Namespace(...) that str(args) writes")
    return raw.decode("utf-8", errors="replace")


def _empty_namespace(text: str) -> bool:
    match = _NAMESPACE.fullmatch(text.strip())
    return match is not None and not match.group(1).strip()


def _unreadable(path: Path, why: str) -> DataError:
    return DataError(f"{path}: {why}; repair it, or move it away to import without its settings")


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_int(value: Any) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() else None


# argparse names of the training hyper-parameters these codes share -> toolkit fields
TRAIN_ARGS = {
    "epochs": ("train.epochs", as_int),
    "lr": ("train.lr", as_float),
    "momentum": ("train.momentum", as_float),
    "weight_decay": ("train.weight_decay", as_float),
    "batch_size": ("train.batch_size", as_int),
    "nesterov": ("train.nesterov", lambda v: v if isinstance(v, bool) else None),
    "label_smoothing": ("train.label_smoothing", as_float),
}
WEIGHT_INITS = {
    "signed_constant": "signed_constant",
    "unsigned_constant": "unsigned_constant",
    "kaiming_normal": "kaiming_normal",
    "kaiming_uniform": "kaiming_uniform",
}
DATASETS = {"CIFAR10": "cifar10", "MNIST": "mnist"}
# lr_policy -> train.schedule: these codes' cosine_lr and constant_lr (get_policy(None) too) are
# this toolkit's schedules, stepped once per epoch after the same linear warm-up
SCHEDULES = {"cosine_lr": "cosine", "constant_lr": "constant", None: "constant"}
# the value of a training field whose code did what this toolkit does not (origin.variant says what)
UNKNOWN = UNKNOWN_INIT
# torch.optim.AdamW's default, which IWR's get_optimizer leaves in place
ADAMW_WEIGHT_DECAY = 0.01


def saved_init(args: dict[str, Any]) -> Any:
    """The initialiser the saved arguments name (None when they name none)."""
    return args.get("init", args.get("weight_init"))


# the initialisers whose scale hidden-networks' ``_init_conv`` (and Biprop's copy of it)
# changes under ``--scale-fan``; its kaiming_uniform ignores the flag
SCALE_FAN_INITS = frozenset({"signed_constant", "unsigned_constant", "kaiming_normal"})


def foreign_init_note(
    args: dict[str, Any], path: Path, scale_fan_inits: frozenset[str] = SCALE_FAN_INITS
) -> str | None:
    """A note when the saved initialiser, or the scale it was drawn at, is not one this
    toolkit draws (None otherwise)."""
    init = saved_init(args)
    if init is not None and not (isinstance(init, str) and init in WEIGHT_INITS):
        return (
            f"{path}: init {init!r} is not one this toolkit draws ({', '.join(WEIGHT_INITS)}); "
            f"model.weight_init is recorded as unknown, origin.variant as {foreign_init(args)!r}"
        )
    scale, why = reference_scale(args, scale_fan_inits)
    if why:
        return (
            f"{path}: {why}; the stored weights are kept, model.weight_init is recorded as unknown, "
            f"origin.variant as {foreign_init(args)!r}"
        )
    if args.get("scale_fan") is True and scale is False:
        return f"{path}: scale_fan is set, but the code ignores it for init {init!r}: recorded as false"
    return None


def foreign_init(args: dict[str, Any]) -> str:
    """The initialiser as the saved arguments state it (``init=kaiming_normal mode=fan_out``):
    recorded as ``origin.variant`` where ``model.weight_init`` is unknown, so that two such
    initialisers never share a run."""
    parts = [f"init={saved_init(args)}"] if saved_init(args) is not None else []
    for name, usual in (("mode", "fan_in"), ("nonlinearity", "relu")):
        if args.get(name, usual) != usual:
            parts.append(f"{name}={args[name]}")
    if args.get("scale_fan") is True:
        parts.append(f"scale_fan prune_rate={args.get('prune_rate')}")
    return " ".join(parts)


def reference_scale(args: dict[str, Any], scale_fan_inits: frozenset[str]) -> tuple[bool | None, str]:
    """The toolkit's ``model.scale_fan`` for the saved arguments, or why none matches.

    These codes scale a layer's std by ``gain / sqrt(fan * (1 - prune_rate))`` under
    ``scale_fan``, with ``prune_rate`` the fraction kept; this toolkit divides by the square
    root of the density instead. The two agree only at a density of 0.5. The gain is the
    ``nonlinearity``'s and the fan ``mode``'s; this toolkit draws with ReLU's gain from the
    fan-in. Returns ``(scale_fan or None when unstated, "")`` or ``(None, why)``.
    """
    mode, nonlinearity = args.get("mode", "fan_in"), args.get("nonlinearity", "relu")
    if mode != "fan_in":
        return None, f"the weights were drawn from the fan of mode {mode!r} (this toolkit draws from fan_in)"
    if nonlinearity != "relu":
        return None, f"the weights were drawn with the gain of {nonlinearity!r} (this toolkit uses ReLU's)"
    flag = args.get("scale_fan")
    if not isinstance(flag, bool) or (flag and saved_init(args) is None):
        return None, ""  # unstated, or a scale of an initialiser nobody named
    if not flag or saved_init(args) not in scale_fan_inits:
        return False, ""
    keep = as_float(args.get("prune_rate"))
    if keep is None or abs(keep - 0.5) > 1e-9:
        return None, (
            f"scale_fan with prune_rate {keep} divides the std by sqrt(1 - {keep}), which is no "
            "scale this toolkit draws (its scale_fan divides by sqrt(density); they agree at 0.5)"
        )
    return True, ""


def common_fields(args: dict[str, Any], scale_fan_inits: frozenset[str] = SCALE_FAN_INITS) -> dict[str, Any]:
    """Toolkit config fields the saved arguments state (training, weight init, dataset);
    ``scale_fan_inits``: the initialisers whose scale the code's ``scale_fan`` changes."""
    out: dict[str, Any] = {}
    for name, (dotted, conv) in TRAIN_ARGS.items():
        value = conv(args.get(name))
        if value is not None:
            out[dotted] = value
    init = saved_init(args)
    if init is not None:
        # one this toolkit does not draw (xavier_normal, standard...) is no signed constant
        out["model.weight_init"] = (
            WEIGHT_INITS.get(init, UNKNOWN_INIT) if isinstance(init, str) else UNKNOWN_INIT
        )
    scale, why = reference_scale(args, scale_fan_inits)
    if why:
        out["model.weight_init"] = UNKNOWN_INIT
    elif scale is not None:
        out["model.scale_fan"] = scale
    variant = [foreign_init(args)] if out.get("model.weight_init") == UNKNOWN_INIT else []
    variant += _training(args, out)
    if any(variant):
        out["origin.variant"] = " ".join(v for v in variant if v)
    dataset = args.get("set")
    if isinstance(dataset, str) and dataset in DATASETS:
        out["data.name"] = DATASETS[dataset]
    return out


def run_length(args: dict[str, Any]) -> int | None:
    """Epochs the run trained: IWR's ``total_epochs`` where it is set, else ``epochs``."""
    total = as_int(args.get("total_epochs"))
    return total if total is not None else as_int(args.get("epochs"))


def _training(args: dict[str, Any], out: dict[str, Any]) -> list[str]:
    """The optimiser and the learning-rate schedule the saved arguments state, into ``out``;
    returns the parts of them no field here expresses (recorded as unknown and, as stated, in
    ``origin.variant``)."""
    variant = []
    if "optimizer" in args:
        optimizer = args["optimizer"]
        out["train.optimizer"] = optimizer if optimizer in ("sgd", "adam") else UNKNOWN
        if optimizer != "sgd":  # Nesterov is an SGD option; get_optimizer gives the others lr only
            out["train.nesterov"] = False
            # so Adam runs without weight decay, AdamW with torch's default
            out["train.weight_decay"] = ADAMW_WEIGHT_DECAY if optimizer == "adamw" else 0.0
        if optimizer not in ("sgd", "adam"):
            variant.append(f"optimizer={optimizer}")
    if "lr_policy" in args:
        policy = args["lr_policy"]
        if isinstance(policy, (str, type(None))) and policy in SCHEDULES:
            out["train.schedule"] = SCHEDULES[policy]
        else:
            out["train.schedule"] = UNKNOWN
            variant.append(f"lr_policy={policy}")
    warmup = as_int(args.get("warmup_length"))
    epochs, total = as_int(args.get("epochs")), run_length(args)
    if warmup is not None and (epochs is None or warmup <= epochs):
        out["train.warmup_epochs"] = warmup
    elif warmup is not None:  # a warm-up the run never finished: no schedule here has that
        out["train.schedule"] = UNKNOWN
        variant.append(f"warmup_length={warmup}")
    if total is not None and total != epochs:  # IWR: past `epochs` its schedule cycles
        out["train.epochs"], out["train.schedule"] = total, UNKNOWN
        variant.append(f"epochs={epochs} total_epochs={total}")
    return variant
