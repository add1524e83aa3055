"""A MaskSet built in Python saved as a run (what :meth:`landscape.MaskSet.write` does).

The run's config is ``origin.format: maskset`` plus the fields given (``model.name``
``external`` and ``data.name`` ``external`` unless named). Seeds come from the ``obs``
columns ``weight_seed`` / ``search_seed`` when present, else they are assigned as for any
import (weight seed 0, then the next free search seed); the accuracies ``obs`` holds
(``test_acc``, ``val_acc``, ...) go to the per-mask table. Writing the same MaskSet again
adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from landscape.config import SearchConfig, from_dict, validate
from landscape.errors import ConfigError
from landscape.importers._build import RECORD_FIELDS, check_density, nest
from landscape.importers._naming import resolve
from landscape.store.imports import IncomingMask, WriteSummary, write_imported
from landscape.store.packing import layer_counts
from landscape.store.records import flatten

ORIGIN = "maskset"


def write_maskset(
    ms, runs_root: str | Path, config: SearchConfig | Mapping[str, Any] | None = None
) -> WriteSummary:
    """Write every mask of ``ms`` as one run under ``runs_root``; see :meth:`MaskSet.write`."""
    cfg = _config(ms, config)
    if cfg.model.name != "external":
        arch = resolve([(s.name, s.shape) for s in ms.layout], model={"name": cfg.model.name})
        if arch.layout != ms.layout:
            raise ConfigError(
                f"model.name {cfg.model.name}: the MaskSet's layout differs from the model's "
                f"({ms.layout.difference(arch.layout)})"
            )
        for key, value in arch.model.items():
            have = getattr(cfg.model, key)
            if (list(have) if isinstance(have, tuple) else have) != value:
                raise ConfigError(
                    f"model.{key}: the MaskSet's layout is {arch.model['name']} with {key} {value}, not {have}"
                )
    rows = ms.rows()
    obs = ms.obs
    masks = []
    for i, label in enumerate(obs.index.astype(str)):
        row = np.asarray(rows[i], dtype=np.uint8)
        masks.append(
            IncomingMask(
                row=row,
                source={
                    "path": "a MaskSet written from Python",
                    "sha256": hashlib.sha256(row.tobytes()).hexdigest(),
                    "entry": label,
                },
                record=_record(obs, i),
                weight_seed=_seed(obs, i, "weight_seed"),
                search_seed=_seed(obs, i, "search_seed"),
            )
        )
    provenance = {
        "import": {"format": ORIGIN, "rule": "stored masks", "network": "none (masks written from Python)"}
    }
    return write_imported(runs_root, cfg, ms.layout, masks, provenance=provenance)


def _config(ms, config) -> SearchConfig:
    if isinstance(config, SearchConfig):
        fields = flatten(config.to_dict())
        fields["origin.format"] = ORIGIN
    else:
        fields = {
            "model.name": "external",
            "data.name": "external",
            "method.name": "external",
            **dict(config or {}),
            "origin.format": ORIGIN,
        }
    counts = layer_counts(ms.rows(), ms.layout).sum(axis=1)
    n, n_layers = ms.layout.n_weights, len(ms.layout)
    given = fields.get("method.density") if not isinstance(config, SearchConfig) else config.method.density
    labels = [f"mask {label!r}" for label in ms.obs.index.astype(str)]
    density, _ = check_density(
        [(int(k), n, n_layers) for k in counts], given, labels, "the given method.density"
    )
    fields["method.density"] = density
    return validate(from_dict(nest(fields)))


def _seed(obs, i: int, column: str) -> int | None:
    if column not in obs.columns:
        return None
    value = obs[column].iloc[i]
    try:
        seed = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"obs[{column!r}] of mask {obs.index[i]!r}: not an integer ({value!r})") from None
    if seed != value or seed < 0:
        raise ConfigError(f"obs[{column!r}] of mask {obs.index[i]!r}: not a non-negative integer ({value!r})")
    return seed


def _record(obs, i: int) -> dict[str, Any]:
    out: dict[str, Any] = {"test_acc": None}
    for column, kind in RECORD_FIELDS.items():
        if column.endswith("_seed") or column not in obs.columns:
            continue
        value = obs[column].iloc[i]
        try:
            out[column] = (
                None if value is None or (isinstance(value, float) and np.isnan(value)) else kind(value)
            )
        except (TypeError, ValueError):
            raise ConfigError(f"obs[{column!r}] of mask {obs.index[i]!r}: not a number ({value!r})") from None
    return out
