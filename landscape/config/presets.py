"""Named presets: each method's settings in its reference code's CIFAR-10 configs.

``method.preset: iterand-ref`` in a config file (or ``--set method.preset=iterand-ref``)
expands, when the config is read, into the fields below. Precedence, lowest first:

1. the field defaults;
2. what earlier levels set (the base file of a sweep, its ``set``);
3. the preset, at the level where it is given;
4. the explicit fields of that same level, and every later level.

So a file's own fields override its preset, and a preset given by ``--set`` or a sweep grid
replaces what the base file said, except for ``--set`` values given beside it. The resolved
fields are the config; the preset name is recorded in ``method.preset`` but is not part of
the run id, so a preset and the same fields written out share one run.

A preset fixes the method, the weight and score initialisers and the optimisation (optimiser,
learning rate, schedule, epochs, batch size) of its reference, and switches off what that
reference does not use (recycling, re-randomisation, sources). It never sets the
architecture, the dataset or ``method.density`` (every reference sweeps it), nor a frozen
source's ``pruned``/``locked`` fractions. docs/methods.md lists the resolved values next to
the reference config each one comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from landscape.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """A named bundle of dotted config fields and where its values come from."""

    name: str
    reference: str
    values: Mapping[str, Any]


# what every score method preset switches off unless its reference uses it
_PLAIN_SEARCH: dict[str, Any] = {
    "method.global_topk": False,
    "method.anneal_epochs": 0,
    "method.rescale": "none",
    "method.recycle.every": 0,
    "method.source.kind": "dense",
    "method.source.scope": "global",
    "method.source.sampling": "bernoulli",
    "method.source.er_distribution": "uniform",
    "model.first_layer_dense": False,
    "model.last_layer_dense": False,
}

# SGD with momentum, per-epoch cosine without warm-up: every CIFAR-10 reference here
_SGD_COSINE: dict[str, Any] = {
    "train.optimizer": "sgd",
    "train.momentum": 0.9,
    "train.nesterov": False,
    "train.schedule": "cosine",
    "train.warmup_epochs": 0,
    "train.label_smoothing": 0.0,
}


def _preset(name: str, reference: str, *parts: Mapping[str, Any], **values: Any) -> Preset:
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    merged.update(values)
    return Preset(name, reference, merged)


_EDGE_POPUP_TRAIN = {
    "train.lr": 0.1,
    "train.weight_decay": 1e-4,
    "train.epochs": 100,
    "train.batch_size": 128,
}
_IWR_TRAIN = {"train.lr": 0.1, "train.weight_decay": 1e-4, "train.epochs": 250, "train.batch_size": 128}

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset(
            "edge-popup-ref",
            "allenai/hidden-networks configs/smallscale/conv*/conv*_usc_unsigned.yml",
            _PLAIN_SEARCH,
            _SGD_COSINE,
            _EDGE_POPUP_TRAIN,
            **{
                "method.name": "edge_popup",
                "method.score_init": "kaiming_uniform",
                "model.weight_init": "signed_constant",
                "model.scale_fan": False,
            },
        ),
        _preset(
            "biprop-ref",
            "chrundle/biprop configs/smallscale/conv*/conv*_kn_unsigned.yml",
            _PLAIN_SEARCH,
            _SGD_COSINE,
            _EDGE_POPUP_TRAIN,
            **{
                "method.name": "biprop",
                "method.score_init": "kaiming_uniform",
                "model.weight_init": "kaiming_normal",
                "model.scale_fan": True,
            },
        ),
        _preset(
            "iwr-ref",
            "mattgorb/parameter_tiling_and_recycling@420a2c8 configs/cifar10/conv4/conv-sc-epu-recycle.yaml",
            _PLAIN_SEARCH,
            _SGD_COSINE,
            _IWR_TRAIN,
            **{
                "method.name": "edge_popup",
                "method.score_init": "kaiming_uniform",
                "model.weight_init": "signed_constant",
                "model.scale_fan": False,
                "method.recycle.every": 3,
                "method.recycle.rate": 0.1,
                "method.recycle.unit": "epoch",
                "method.recycle.mode": "recycle",
                "method.recycle.warmup": 0,
                "method.recycle.ablation": False,
            },
        ),
        _preset(
            "iwr-biprop-ref",
            "mattgorb/parameter_tiling_and_recycling@420a2c8 configs/cifar10/conv4/conv-kn-biprop-recycle.yaml",
            _PLAIN_SEARCH,
            _SGD_COSINE,
            _IWR_TRAIN,
            **{
                "method.name": "biprop",
                "method.score_init": "kaiming_uniform",
                "model.weight_init": "kaiming_normal",
                "model.scale_fan": False,
                "method.recycle.every": 10,
                "method.recycle.rate": 0.2,
                "method.recycle.unit": "epoch",
                "method.recycle.mode": "recycle",
                "method.recycle.warmup": 0,
                "method.recycle.ablation": False,
            },
        ),
        _preset(
            "iterand-ref",
            "dchiji-ntt/iterand config.yaml figure2_conv6_sc_iterand",
            _PLAIN_SEARCH,
            _SGD_COSINE,
            **{
                "method.name": "iterand",
                "method.score_init": "kaiming_uniform_relu",
                "model.weight_init": "signed_constant",
                "model.scale_fan": False,
                "method.rerand.every": 300,
                "method.rerand.unit": "step",
                "method.rerand.prob": 0.1,
                "method.rerand.rate": 1.0,
                "method.rerand.mode": "bernoulli",
                "train.lr": 0.3,
                "train.weight_decay": 1e-4,
                "train.epochs": 100,
                "train.batch_size": 128,
            },
        ),
        _preset(
            "frozen-ref",
            "Hikari43/slt_within_frozen_network image_classification/configs/"
            "cifar10-resnet18-global_ep-0.9-erk-p_0.8-r_0.0.yaml",
            _PLAIN_SEARCH,
            _SGD_COSINE,
            _EDGE_POPUP_TRAIN,
            **{
                "method.name": "edge_popup",
                "method.score_init": "kaiming_normal",
                "model.weight_init": "kaiming_uniform",
                "model.scale_fan": False,
                "method.source.kind": "frozen",
                "method.source.distribution": "erk",
                "method.source.locked_rule": "sparsity",
                "method.source.scope": "global",
            },
        ),
        _preset(
            "frozen-imagenet-ref",
            "Hikari43/slt_within_frozen_network image_classification/configs/"
            "imagenet-resnet50-global_ep-0.7-epl-p_0.5-r_0.0.yaml",
            _PLAIN_SEARCH,
            _SGD_COSINE,
            **{
                "method.name": "edge_popup",
                "method.score_init": "kaiming_normal",
                "model.weight_init": "signed_constant",
                "model.scale_fan": False,
                "method.rescale": "dynamic",
                "method.source.kind": "frozen",
                "method.source.distribution": "epl",
                "method.source.locked_rule": "sparsity",
                "method.source.scope": "global",
                "train.lr": 0.1,
                "train.weight_decay": 1e-4,
                "train.epochs": 100,
                "train.batch_size": 256,
            },
        ),
    )
}


def preset_values(name: str) -> dict[str, Any]:
    """The dotted fields preset ``name`` sets (a fresh dict).

    Raises
    ------
    ConfigError
        ``method.preset: unknown value ...`` with a did-you-mean hint.
    """
    if name not in PRESETS:
        import difflib

        close = difflib.get_close_matches(name, list(PRESETS), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"method.preset: unknown value {name!r}{hint} (choose from {', '.join(PRESETS)})")
    return dict(PRESETS[name].values)


def nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        *path, leaf = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings merged, ``top`` winning on every leaf it sets."""
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
