"""Which masks lie over the same random weights: a network is a weight seed and what it draws.

``weight_seed`` seeds the stream the frozen weights come from; ``model.weight_init`` says what
is drawn from it (random signs for ``signed_constant``, normal values for ``kaiming_normal``,
...). Two configurations of one weight seed with different initialisers, such as Edge-Popup's
signed constants and Biprop's Kaiming normal weights, therefore search different weights:
their masks can be compared position by position, but not as subnetworks of one network.
``model.scale_fan`` and the density only scale each layer's weights by a positive factor,
which changes no mask's predictions in these bias-free ReLU networks (BatchNorm, where used,
divides the scale out), so they do not make another network.

Within one configuration every mask has the same initialiser and a network is its weight
seed; only statistics that compare masks across configurations (clusters, embeddings,
cross-method twins) need the initialiser too.

Masks imported from files (``origin.format`` names an importer) lie over the weights their
checkpoints held, numbered by content within their own run only: weight seed 0 of one
imported run and weight seed 0 of another run (imported or searched) are never taken for one
network. Their draw reads ``"<initialiser> (imported, run <run id>)"``. A MaskSet written from
Python (``maskset``) keeps the weight seeds its author gave, as searched runs do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: the config field that says what a weight seed draws
DRAW_FIELD = "model.weight_init"


def _seed(value: Any) -> Any:
    """A weight seed as a plain value: an int where it is a whole number, None where unknown."""
    if value is None or pd.isna(value):
        return None
    try:
        return int(value) if float(value).is_integer() else value
    except (TypeError, ValueError):
        return value


#: how an initialiser that obs does not record reads (a network of its own: never assumed equal)
UNKNOWN = "unknown"


def initialisers(obs: pd.DataFrame) -> pd.Series | None:
    """Each mask's initialiser as a string (``"unknown"`` where obs has no value), or None
    when obs has no such column."""
    if DRAW_FIELD not in obs.columns:
        return None
    column = obs[DRAW_FIELD]
    return column.astype(object).where(column.notna(), UNKNOWN).astype(str)


def draws(obs: pd.DataFrame) -> pd.Series | None:
    """What each mask's weights are drawn by, for telling networks apart: its initialiser,
    with the run for masks imported from files (see the module docstring); None when obs has
    no initialiser column."""
    inits = initialisers(obs)
    if inits is None:
        return None
    if "origin.format" in obs.columns and "run_id" in obs.columns:
        origin = obs["origin.format"].astype(object).where(obs["origin.format"].notna(), "").astype(str)
        # a MaskSet written from Python carries the weight seeds its author gave
        imported = (origin != "") & (origin != "maskset")
        if imported.any():
            # their weights are the checkpoints', numbered within their own run
            run = obs["run_id"].astype(str)
            inits = inits.where(~imported, inits + " (imported, run " + run + ")")
    return inits


def draws_differ(obs: pd.DataFrame) -> bool:
    """Whether the masks of ``obs`` were searched over weights drawn by more than one rule (an
    unrecorded initialiser counts as one of its own)."""
    drawn = draws(obs)
    return drawn is not None and drawn.nunique() > 1


def network_keys(obs: pd.DataFrame, with_init: bool | None = None) -> list[Any]:
    """Each mask's network: its weight seed (None where unknown) where every mask's weights
    were drawn by one rule, else ``(weight seed, initialiser)``; ``with_init`` forces either."""
    n = len(obs)
    seeds = [_seed(w) for w in obs["weight_seed"]] if "weight_seed" in obs.columns else [None] * n
    if with_init is None:
        with_init = draws_differ(obs)
    drawn = draws(obs)
    if not with_init:
        return seeds
    return list(zip(seeds, drawn if drawn is not None else [UNKNOWN] * n))


def network_text(key: Any) -> str:
    """``"weight seed 0"``, or ``"weight seed 0 · init kaiming_normal"`` for a key of
    :func:`network_keys` that names its initialiser."""
    seed, init = key if isinstance(key, tuple) else (key, None)
    text = "weight seed unknown" if seed is None else f"weight seed {seed}"
    return text if init is None else f"{text} · init {init}"


def same_weights(obs: pd.DataFrame, a: Any, b: Any) -> bool:
    """Whether every mask at positions ``a`` and ``b`` (a position or a sequence of them) of
    ``obs`` has weights drawn by one rule: one known initialiser (of one run, for imported
    masks), or obs records none at all."""
    drawn = draws(obs)
    if drawn is None:
        return True
    positions = np.concatenate([np.atleast_1d(a), np.atleast_1d(b)]).astype(np.intp)
    found = set(drawn.iloc[positions])
    return len(found) == 1 and UNKNOWN not in set(initialisers(obs).iloc[positions])


def within_column(obs: pd.DataFrame) -> str:
    """What one-embedding-per-network work is split by: ``"weight_seed"``, or ``"network"``
    (:func:`network_values`) where the masks' initialisers differ."""
    return "network" if draws_differ(obs) else "weight_seed"


def network_values(obs: pd.DataFrame, with_init: bool | None = None) -> list[Any]:
    """Each mask's network as a plain value: its weight seed, or where initialisers differ
    (or ``with_init``) its :func:`network_text` (``"weight seed 0 · init kaiming_normal"``)."""
    if with_init is None:
        with_init = draws_differ(obs)
    keys = network_keys(obs, with_init)
    return [network_text(k) for k in keys] if with_init else keys


def network_label(group_label: str, net: Any) -> str:
    """A group's label for one of its networks: ``"<group> · weight seed 1"``, or with a key
    that already says it (a pooled group over two initialisers) ``"<group> · weight seed 0 ·
    init kaiming_normal"``."""
    return f"{group_label} · {net}" if isinstance(net, str) else f"{group_label} · {network_text(net)}"


_NETWORK_PART = " · weight seed "


def split_network_label(label: str) -> tuple[str, str]:
    """``(group label, " · weight seed ...")`` of a :func:`network_label`; ``(label, "")`` for a
    label naming no network."""
    base, sep, rest = label.rpartition(_NETWORK_PART)
    return (base, sep + rest) if sep else (label, "")
