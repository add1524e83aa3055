"""A network-wide top-k over the searchable layers, and the density annealing that feeds it.

:class:`GlobalTopK` ranks the keys of every searchable layer together (one threshold per
mask) and caches the per-layer masks between forward passes: the model's ``prepare`` forces
a recomputation before each forward, and a direct ``mask()`` call recomputes whenever the
kept count or a score tensor changed since.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from landscape.search.methods.base import apply_frozen, topk_mask

if TYPE_CHECKING:
    from landscape.nn.layers import MaskedLayer


def annealed_density(density: float, epoch: int, anneal_epochs: int) -> float:
    """Density of epoch ``epoch`` under the reference global variant's cubic annealing.

    ``d + (0.5 - d) (1 - epoch / E)^3`` for ``epoch < E``, then ``d``: the search starts at
    half the weights and reaches the target after ``E`` epochs. Only targets ``d <= 0.5``
    are annealed, as in the reference code; denser targets keep ``d`` throughout.
    """
    if anneal_epochs <= 0 or density > 0.5 or epoch >= anneal_epochs:
        return density
    return density + (0.5 - density) * (1.0 - epoch / anneal_epochs) ** 3


@torch.no_grad()
def global_masks(
    layers: Sequence[MaskedLayer], keys: Callable[[MaskedLayer], Tensor], k: int
) -> dict[int, Tensor]:
    """Bool masks ``{id(layer): (M, *shape)}`` from one top-``k`` per mask over all ``layers``.

    ``keys(layer)`` gives the detached ranking keys with any frozen pattern forced to ±inf.
    """
    if not layers:
        return {}
    m = layers[0].scores.shape[0]
    flat = torch.cat([keys(layer).reshape(m, -1) for layer in layers], dim=1)
    hard = topk_mask(flat, k)
    parts = hard.split([layer.numel for layer in layers], dim=1)
    return {
        id(layer): apply_frozen(part.reshape(layer.scores.shape), layer.frozen)
        for layer, part in zip(layers, parts)
    }


class GlobalTopK:
    """Cached :func:`global_masks` of a fixed list of layers; ``k`` may change (annealing)."""

    def __init__(self, layers: Sequence[MaskedLayer], keys: Callable[[MaskedLayer], Tensor], k: int) -> None:
        self.layers = list(layers)
        self.keys = keys
        self.k = int(k)
        self._cache: dict[int, Tensor] = {}
        self._cache_key: tuple | None = None

    def masks(self, force: bool = False) -> dict[int, Tensor]:
        """The current masks; recomputed when forced or when ``k`` or any score changed."""
        # edits through ``.data`` bypass version counters, hence the forced refresh per forward
        versions = tuple((layer.scores.data_ptr(), layer.scores._version) for layer in self.layers)
        key = (self.k, versions)
        if force or key != self._cache_key:
            self._cache = global_masks(self.layers, self.keys, self.k)
            self._cache_key = key
        return self._cache

    def fresh(self) -> dict[int, Tensor]:
        """Masks computed now, bypassing (and not touching) the cache."""
        return global_masks(self.layers, self.keys, self.k)
