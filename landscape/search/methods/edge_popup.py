"""Edge-Popup (Ramanujan et al. 2020): keep the top-k weights by |score|, train the scores.

Forward: each searchable layer keeps its ``N - floor((1 - d) N)`` largest ``|S|`` entries
(layer-wise, the reference default) or, with ``method.global_topk``, one threshold over all
searchable layers keeps that many network-wide. Dense layers (``first_layer_dense`` /
``last_layer_dense``) are all ones and take no part in the counts.

Backward: straight-through through the top-k and through the abs, so the score gradient is
``g ⊙ W ⊙ sign(S)`` with ``g = dL/dW_eff``.

The same class carries what composes with Edge-Popup (and Biprop, which subclasses it):

- sources (``method.source``): an ER source restricts the top-k to its entries; a partially
  frozen source forces locked entries in and pruned ones out, and always searches with one
  global threshold over the free entries so the network-wide density is exactly
  ``method.density`` (see :mod:`.sources`);
- Iterative Weight Recycling when ``method.recycle.every > 0`` (see :mod:`.recycle`);
- with a global top-k, ``method.anneal_epochs`` anneals the network-wide density from 0.5 to
  the target with the reference global variant's cubic schedule (:func:`annealed_density`).
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from landscape.search.methods import select
from landscape.search.methods.base import (
    Method,
    apply_frozen,
    forced_keys,
    kept_count,
    kth_largest_rows,
    straight_through,
    topk_mask,
)
from landscape.search.methods.recycle import recycle_due, recycle_weights_
from landscape.search.methods.sources import check_reachable, install_source, layer_kept

if TYPE_CHECKING:
    from landscape.config import SearchConfig
    from landscape.nn.base import EnsembleNet
    from landscape.nn.layers import MaskedLayer


class _MaskedWeight(torch.autograd.Function):
    """``weight * hard`` with Edge-Popup's straight-through score gradient, in one node.

    The gradient is ``g * weight`` (times ``sign(S)`` when the ranking is by ``|S|``): exactly
    what the chain mask -> ``mask * weight`` -> STE -> ``abs`` computes, with two fewer passes
    over the weights and no float copy of the mask (per-weight work dominates small nets).
    ``effective`` is the forward value when it was computed already (the fused CPU route).
    """

    @staticmethod
    def forward(ctx, scores: Tensor, weight: Tensor, hard: Tensor | None, through_abs: bool,
                effective: Tensor | None = None) -> Tensor:  # fmt: skip
        ctx.save_for_backward(scores, weight)
        ctx.through_abs = through_abs
        if effective is not None:
            return effective
        # weight * hard beats where(hard, weight, 0) by ~5x once weight broadcasts over masks
        return weight * hard

    @staticmethod
    def backward(ctx, grad: Tensor):
        scores, weight = ctx.saved_tensors
        # numba never loads on GPU runs (nor on the torch top-k routes, see .select)
        kernels = _fused_cpu() if grad.device.type == "cpu" and select.host_kernels() else None
        if kernels is not None and kernels.applies(grad, weight, scores):
            g = kernels.score_grad_rows(grad, weight, scores, ctx.through_abs)
            return g, None, None, None, None
        g = grad * weight
        if ctx.through_abs:
            g = g * scores.sign()
        return g, None, None, None, None


def annealed_density(density: float, epoch: int, anneal_epochs: int) -> float:
    """Density of epoch ``epoch`` under the reference global variant's cubic annealing.

    ``d + (0.5 - d) (1 - epoch / E)^3`` for ``epoch < E``, then ``d``: the search starts at
    half the weights and reaches the target after ``E`` epochs. Only targets ``d <= 0.5``
    are annealed, as in the reference code; denser targets keep ``d`` throughout.
    """
    if anneal_epochs <= 0 or density > 0.5 or epoch >= anneal_epochs:
        return density
    return density + (0.5 - density) * (1.0 - epoch / anneal_epochs) ** 3


@lru_cache(maxsize=1)
def _fused_cpu() -> ModuleType | None:
    """The numba kernels of the CPU route, or None when numba cannot be imported."""
    try:
        from landscape.search.methods import _cpu_kernels
    except ImportError:  # numba missing or broken: the torch expressions give the same values
        return None
    return _cpu_kernels


class EdgePopup(Method):
    """Top-k by |score| with a straight-through gradient; optional global top-k, sources, IWR.

    Parameters
    ----------
    cfg
        Uses ``method.density``, ``method.global_topk``, ``method.source`` and
        ``method.recycle``.
    """

    def __init__(self, cfg: SearchConfig) -> None:
        super().__init__(cfg)
        meth = cfg.method
        self.global_topk = bool(meth.global_topk) or meth.source.kind == "frozen"
        self.recycling = meth.recycle.every > 0
        self.changes_weights = self.recycling
        self._global_k = 0
        self._cache: dict[int, Tensor] = {}
        self._cache_key: tuple | None = None

    # ranking ----------------------------------------------------------------------------------
    def score_key(self, scores: Tensor) -> Tensor:
        """What the top-k ranks (``|S|``); also the tensor the STE passes gradients to."""
        return scores.abs()

    def ranking_key(self, layer: MaskedLayer) -> Tensor:
        """Detached ranking keys ``(M, *shape)`` with the frozen pattern forced to ±inf."""
        return forced_keys(self.score_key(layer.scores.detach()), layer.frozen)

    # hooks ------------------------------------------------------------------------------------
    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        super().setup(model, weight_seed, search_seeds)
        layers = self.searchable()
        install_source(layers, self.cfg.method, self.weight_seed)
        self._global_k = layer_kept(sum(layer.numel for _, layer in layers), self.cfg.method)
        check_reachable(layers, self.cfg.method, self._global_k if self.global_topk else None)
        if self.changes_weights:
            for _, layer in layers:
                layer.expand_weight()
        self._cache, self._cache_key = {}, None

    def before_epoch(self, model: EnsembleNet, epoch: int) -> None:
        meth = self.cfg.method
        if meth.anneal_epochs and self.global_topk:
            total = sum(layer.numel for _, layer in self.searchable())
            self._global_k = kept_count(total, annealed_density(meth.density, epoch, meth.anneal_epochs))

    def after_epoch(self, model: EnsembleNet, epoch: int, is_last: bool) -> None:
        rc = self.cfg.method.recycle
        if not recycle_due(epoch, rc.every, rc.warmup, is_last):
            return
        for _, layer in self.searchable():
            free = None if layer.frozen is None else layer.frozen[0] == 0
            keys = self.score_key(layer.scores.detach())
            recycle_weights_(layer.weight, keys, rc.rate, ablation=rc.ablation, free=free)

    # mask rule --------------------------------------------------------------------------------
    def prepare(self, model: EnsembleNet) -> None:
        if self.global_topk:
            self._refresh_global(force=True)

    # the effective weight is mask * weight (Biprop overrides effective_weight and opts out)
    fused_weight = True
    # score_key is the raw scores (IteRand); lets the fused CPU route rank without the abs
    ranks_raw_scores = False

    def _hard(self, layer: MaskedLayer) -> Tensor:
        if self.global_topk:
            self._refresh_global()
            return self._cache[id(layer)]
        return self._layer_hard(layer, self.score_key(layer.scores.detach()))

    def mask(self, layer: MaskedLayer) -> Tensor:
        return straight_through(self._hard(layer), self.score_key(layer.scores))

    def masked_weight(self, layer: MaskedLayer) -> Tensor | None:
        """Effective weight with its score gradient in one autograd node (None: not fused)."""
        if not self.fused_weight or layer.weight.requires_grad:
            return None
        through_abs = type(self).score_key is EdgePopup.score_key
        effective = self._fused_effective_weight(layer, through_abs)
        if effective is not None:
            return _MaskedWeight.apply(layer.scores, layer.weight, None, through_abs, effective)
        return _MaskedWeight.apply(layer.scores, layer.weight, self._hard(layer), through_abs)

    def _fused_effective_weight(self, layer: MaskedLayer, by_abs: bool) -> Tensor | None:
        """``W * mask`` of a layer-wise top-k in two CPU passes, or None when it does not apply.

        Selection on a private copy of the keys, then one kernel writes the effective weight
        and counts what it kept; when ties at a threshold broke any row's count (rare), the
        layer takes the exact path, which resolves them by index.
        """
        if layer.scores.device.type != "cpu" or self.global_topk or layer.frozen is not None:
            return None
        if not select.host_kernels():
            return None
        kernels = _fused_cpu()
        if kernels is None:
            return None
        if not by_abs and not self.ranks_raw_scores:  # a key the kernel does not know
            return None
        if not kernels.applies(layer.scores, layer.weight):
            return None
        k = layer_kept(layer.numel, self.cfg.method)
        if not 0 < k < layer.numel:
            return None
        scores = layer.scores.detach().reshape(layer.n_masks, -1).numpy()
        keys = np.abs(scores) if by_abs else scores.copy()
        thresholds = kth_largest_rows(keys, k, in_place=True)
        effective, counts = kernels.masked_weight_rows(layer.scores, layer.weight, thresholds, by_abs)
        if (counts != k).any():
            return None
        return effective

    @torch.no_grad()
    def layer_mask(self, layer: MaskedLayer) -> Tensor:
        """Bool ``(M, *shape)``: the layer-wise top-k under the layer's source."""
        return self._layer_hard(layer, self.score_key(layer.scores.detach()))

    def _layer_hard(self, layer: MaskedLayer, keys: Tensor) -> Tensor:
        keys = forced_keys(keys, layer.frozen)
        m = keys.shape[0]
        hard = topk_mask(keys.reshape(m, -1), layer_kept(layer.numel, self.cfg.method))
        return apply_frozen(hard.reshape(keys.shape), layer.frozen)

    @torch.no_grad()
    def global_masks(self) -> dict[int, Tensor]:
        """Bool masks of every searchable layer from one network-wide top-k per mask."""
        layers = [layer for _, layer in self.searchable()]
        if not layers:
            return {}
        m = layers[0].scores.shape[0]
        keys = torch.cat([self.ranking_key(layer).reshape(m, -1) for layer in layers], dim=1)
        hard = topk_mask(keys, self._global_k)
        parts = hard.split([layer.numel for layer in layers], dim=1)
        return {
            id(layer): apply_frozen(part.reshape(layer.scores.shape), layer.frozen)
            for layer, part in zip(layers, parts)
        }

    def _refresh_global(self, force: bool = False) -> None:
        # prepare() runs before every forward pass and always recomputes (edits through
        # ``.data`` bypass version counters); a direct layer.mask() call recomputes when the
        # kept count (annealing) or the scores' version counters or storage changed since
        versions = tuple((layer.scores.data_ptr(), layer.scores._version) for _, layer in self.searchable())
        key = (self._global_k, versions)
        if force or key != self._cache_key:
            self._cache = self.global_masks()
            self._cache_key = key
