"""The layers of a score checkpoint: which modules carry weights and scores, which are
BatchNorm statistics, and what is left over (an unknown key is an error naming it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landscape.importers._files import (
    bad,
    check_finite,
    group_modules,
    strip_wrappers,
    to_numpy,
    wrapper_prefix,
)

BN_PARAMS = {"running_mean", "running_var", "num_batches_tracked", "weight", "bias"}


@dataclass
class Layer:
    """One maskable layer of a source: weights, scores (None for a dense layer), extras."""

    name: str
    weight: np.ndarray
    scores: np.ndarray | None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.weight.shape)


@dataclass
class Layers:
    layers: list[Layer]
    batchnorm: dict[str, dict[str, np.ndarray]]
    obstacles: list[str]
    first_dense: bool = False
    last_dense: bool = False
    prefix: str = ""  # the wrapper prefix of the file's keys (for messages)

    @property
    def scored(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.scores is not None]

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(layer.name, layer.shape) for layer in self.layers]

    def weights(self) -> dict[str, np.ndarray]:
        return {layer.name: layer.weight for layer in self.layers}


def parse_layers(
    state: Mapping[str, Any],
    path: Path,
    score_key: str,
    fmt: str,
    extras: Sequence[str] = (),
    biases: Sequence[str] = ("bias",),
) -> Layers:
    """Split a state dict into maskable layers and BatchNorm statistics.

    Parameters
    ----------
    score_key
        The name of the score tensor beside each ``weight`` (``scores``, ``weight_score``...).
    fmt
        The format's name, for messages.
    extras
        Other per-layer tensors the format reads (frozen patterns, stored masks...).
    biases
        Per-layer bias tensors: zero ones are dropped (the references build layers without
        bias or leave it at zero); a non-zero one means the network cannot be rebuilt here.
    """
    layers: list[Layer] = []
    batchnorm: dict[str, dict[str, np.ndarray]] = {}
    obstacles: list[str] = []
    prefix = wrapper_prefix(state)  # error messages name the keys as the file spells them
    state = strip_wrappers(state)
    allowed = {"weight", score_key, *extras, *biases}
    for module, params in group_modules(state).items():
        if "running_mean" in params or "running_var" in params:
            _batchnorm(module, params, path, batchnorm, obstacles, prefix)
            continue
        unknown = [k for k in params if k not in allowed]
        if unknown or "weight" not in params:
            key = f"{prefix}{module}.{(unknown or list(params))[0]}"
            raise bad(
                path,
                key,
                f"unknown key (not a weight, {score_key}, bias or BatchNorm statistic of a {fmt} checkpoint)",
            )
        weight = to_numpy(params["weight"], path, f"{prefix}{module}.weight")
        if weight.ndim < 2:
            raise bad(
                path,
                f"{prefix}{module}.weight",
                f"a {weight.ndim}-d weight outside a BatchNorm layer: unsupported layer type",
            )
        # a NaN weight would be stored, checksummed and rebuilt as if it were a network
        check_finite(weight, path, f"{prefix}{module}.weight", "weights")
        scores = None
        if score_key in params:
            scores = to_numpy(params[score_key], path, f"{prefix}{module}.{score_key}")
            if scores.shape != weight.shape:
                raise bad(
                    path,
                    f"{prefix}{module}.{score_key}",
                    f"shape {tuple(scores.shape)} differs from the weight's {tuple(weight.shape)}",
                )
            check_finite(scores, path, f"{prefix}{module}.{score_key}", "scores")
        for b in biases:
            if b in params:
                values = to_numpy(params[b], path, f"{prefix}{module}.{b}")
                if np.any(values != 0):
                    obstacles.append(f"non-zero bias {module}.{b} (this toolkit's networks have none)")
        found = {k: to_numpy(params[k], path, f"{prefix}{module}.{k}") for k in extras if k in params}
        layers.append(Layer(module, weight, scores, found))
    out = Layers(layers, batchnorm, obstacles, prefix=prefix)
    scored = [i for i, layer in enumerate(layers) if layer.scores is not None]
    if not scored:
        raise bad(
            path,
            None,
            f"no '{score_key}' tensors: not a {fmt} score checkpoint (unsupported checkpoint layout)",
        )
    for i, layer in enumerate(layers):
        if layer.scores is None and 0 < i < len(layers) - 1:
            raise bad(
                path,
                f"{prefix}{layer.name}.weight",
                f"a layer without {score_key} between searched layers: unsupported",
            )
    out.first_dense = layers[0].scores is None
    out.last_dense = layers[-1].scores is None
    return out


def _batchnorm(module: str, params: dict, path: Path, out: dict, obstacles: list[str], prefix: str) -> None:
    unknown = [k for k in params if k not in BN_PARAMS]
    if unknown:
        raise bad(
            path, f"{prefix}{module}.{unknown[0]}", "unknown key (not a statistic of a BatchNorm layer)"
        )
    stats = {}
    for stat in ("running_mean", "running_var"):
        if stat not in params:
            raise bad(
                path, f"{prefix}{module}.{stat}", "missing (a BatchNorm layer needs both running statistics)"
            )
        stats[stat] = to_numpy(params[stat], path, f"{prefix}{module}.{stat}")
        check_finite(stats[stat], path, f"{prefix}{module}.{stat}", "BatchNorm statistics")
    if "weight" in params or "bias" in params:
        gamma = to_numpy(params.get("weight", np.ones(1)), path, f"{prefix}{module}.weight")
        beta = to_numpy(params.get("bias", np.zeros(1)), path, f"{prefix}{module}.bias")
        if np.any(gamma != 1) or np.any(beta != 0):
            obstacles.append(
                f"learned BatchNorm scale or shift in {module} (this toolkit's BatchNorm is non-affine)"
            )
    out[module] = stats
