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
"""

from __future__ import annotations

from typing import Any

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


def draws_differ(obs: pd.DataFrame) -> bool:
    """Whether the masks of ``obs`` were searched over weights drawn by more than one rule."""
    return DRAW_FIELD in obs.columns and obs[DRAW_FIELD].astype(str).nunique() > 1


def network_keys(obs: pd.DataFrame) -> list[Any]:
    """Each mask's network: its weight seed (None where unknown) where every mask's weights
    were drawn by one rule, else ``(weight seed, initialiser)``."""
    n = len(obs)
    seeds = [_seed(w) for w in obs["weight_seed"]] if "weight_seed" in obs.columns else [None] * n
    if not draws_differ(obs):
        return seeds
    return list(zip(seeds, obs[DRAW_FIELD].astype(str)))


def network_text(key: Any) -> str:
    """``"weight seed 0"``, or ``"weight seed 0 · init kaiming_normal"`` for a key of
    :func:`network_keys` that names its initialiser."""
    seed, init = key if isinstance(key, tuple) else (key, None)
    text = "weight seed unknown" if seed is None else f"weight seed {seed}"
    return text if init is None else f"{text} · init {init}"


def same_weights(obs: pd.DataFrame, a: Any, b: Any) -> bool:
    """Whether the masks at positions ``a`` and ``b`` of ``obs`` draw the same weights from a
    shared weight seed (their initialisers agree, or obs does not say)."""
    if DRAW_FIELD not in obs.columns:
        return True
    column = obs[DRAW_FIELD].astype(str)
    return column.iloc[a] == column.iloc[b]


def within_column(obs: pd.DataFrame) -> str:
    """What one-embedding-per-network work is split by: ``"weight_seed"``, or ``"network"``
    (:func:`network_values`) where the masks' initialisers differ."""
    return "network" if draws_differ(obs) else "weight_seed"


def network_values(obs: pd.DataFrame) -> list[Any]:
    """Each mask's network as a plain value: its weight seed, or where initialisers differ its
    :func:`network_text` (``"weight seed 0 · init kaiming_normal"``)."""
    keys = network_keys(obs)
    return [network_text(k) for k in keys] if draws_differ(obs) else keys
