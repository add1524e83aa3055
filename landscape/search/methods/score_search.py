"""The compositions shared by the top-k score searches (Edge-Popup, Biprop, IteRand).

Each method's defining rule is a short function in its own module (``edge_popup_mask``,
``biprop_weight``, ``iterand_mask``). :class:`ScoreSearch` carries what composes with them,
every piece proven equal to the plain rule by tests where it is a faster route to the same
values:

- the ranking key (``|S|`` or ``S``) and the straight-through mask;
- layer-wise or global top-k (:class:`.global_topk.GlobalTopK`, with the reference global
  variant's density annealing);
- sources (``method.source``): an ER source restricts the top-k to its entries; a partially
  frozen source forces locked entries in and pruned ones out, searching by default with one
  global threshold over the free entries (``source.scope: layer`` keeps ``method.density``
  of every layer instead; see :mod:`.sources`);
- the fused route of the masked weight (:mod:`._fused_route`);
- rescaling of the masked weights (``method.rescale``, :mod:`.rescale`);
- Iterative Weight Recycling when ``method.recycle.every > 0`` (:mod:`.recycle`), per epoch
  or per step, alone or combined with IteRand-style re-draws (``iterand_recycle``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from landscape.nn.init import mask_generator
from landscape.search.methods._fused_route import MaskedWeight, fused_cpu_weight
from landscape.search.methods.base import (
    Method,
    apply_frozen,
    forced_keys,
    kept_count,
    straight_through,
    topk_mask,
)
from landscape.search.methods.global_topk import GlobalTopK, annealed_density
from landscape.search.methods.recycle import recycle_due, recycle_step_due, recycle_weights_
from landscape.search.methods.rerandomize import redraw_
from landscape.search.methods.rescale import rescale_factor
from landscape.search.methods.sources import (
    check_reachable,
    install_source,
    layer_kept,
    layer_targets,
    ranks_globally,
)

if TYPE_CHECKING:
    from landscape.config import SearchConfig
    from landscape.nn.base import EnsembleNet
    from landscape.nn.layers import MaskedLayer


def keep_largest(keys: Tensor, k: int) -> Tensor:
    """Bool ``(M, *shape)``: the ``k`` largest ``keys`` of each mask (ties: lowest indices)."""
    m = keys.shape[0]
    return topk_mask(keys.reshape(m, -1), k).reshape(keys.shape)


class ScoreSearch(Method):
    """Top-k search over scores, with sources, global top-k, rescaling and recycling.

    Subclasses set :meth:`score_key` (and ``key_is_abs`` to match it); Biprop overrides
    :meth:`effective_weight`.

    Parameters
    ----------
    cfg
        Uses ``method.density``, ``method.global_topk``, ``method.anneal_epochs``,
        ``method.source``, ``method.rescale`` and ``method.recycle``.
    """

    # the effective weight is mask * weight (Biprop overrides effective_weight and opts out)
    fused_weight = True
    # score_key is |S| (True) or S (False): the fused route and the gradient's sign(S) follow
    key_is_abs = True

    def __init__(self, cfg: SearchConfig) -> None:
        super().__init__(cfg)
        meth = cfg.method
        self.global_topk = ranks_globally(meth)
        self.recycling = meth.recycle.every > 0
        self.changes_weights = self.recycling
        self.rescale = meth.rescale
        self._global: GlobalTopK | None = None
        self._layer_k: dict[int, int] = {}

    # ranking ----------------------------------------------------------------------------------
    def score_key(self, scores: Tensor) -> Tensor:
        """What the top-k ranks; also the tensor the STE passes gradients to."""
        raise NotImplementedError

    def ranking_key(self, layer: MaskedLayer) -> Tensor:
        """Detached ranking keys ``(M, *shape)`` with the frozen pattern forced to ±inf."""
        return forced_keys(self.score_key(layer.scores.detach()), layer.frozen)

    def layer_k(self, layer: MaskedLayer) -> int:
        """Kept count of ``layer`` in a layer-wise search."""
        k = self._layer_k.get(id(layer))
        return layer_kept(layer.numel, self.cfg.method) if k is None else k

    @property
    def global_k(self) -> int:
        """Network-wide kept count of a global search (the annealed one during annealing)."""
        return 0 if self._global is None else self._global.k

    # hooks ------------------------------------------------------------------------------------
    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        super().setup(model, weight_seed, search_seeds)
        named = self.searchable()
        meth = self.cfg.method
        install_source(named, meth, self.weight_seed, self.global_topk)
        layers = [layer for _, layer in named]
        targets = layer_targets([layer.weight_shape for layer in layers], meth)
        self._layer_k = {id(layer): k for layer, k in zip(layers, targets)}
        total_k = layer_kept(sum(layer.numel for layer in layers), meth)
        self._global = GlobalTopK(layers, self.ranking_key, total_k)
        check_reachable(named, meth, total_k if self.global_topk else None, targets)
        if self.changes_weights:
            for layer in layers:
                layer.expand_weight()

    def before_epoch(self, model: EnsembleNet, epoch: int) -> None:
        meth = self.cfg.method
        if meth.anneal_epochs and self.global_topk and self._global is not None:
            total = sum(layer.numel for layer in self._global.layers)
            self._global.k = kept_count(total, annealed_density(meth.density, epoch, meth.anneal_epochs))

    def after_step(self, model: EnsembleNet, step: int) -> None:
        rc = self.cfg.method.recycle
        if rc.unit != "step" or not self.recycling:
            return
        if self.steps_per_epoch is None:
            raise RuntimeError("method.recycle.unit 'step' needs set_steps_per_epoch() before training")
        epoch, batch = divmod(step, self.steps_per_epoch)
        if recycle_step_due(epoch, batch, rc.every, rc.warmup):
            self.recycle(("step", step))

    def after_epoch(self, model: EnsembleNet, epoch: int, is_last: bool) -> None:
        rc = self.cfg.method.recycle
        if rc.unit == "epoch" and recycle_due(epoch, rc.every, rc.warmup, is_last):
            self.recycle(("epoch", epoch))

    @torch.no_grad()
    def recycle(self, event: tuple[str, int]) -> None:
        """One recycling event (``event`` names it, e.g. ``("epoch", 3)``, for the random draws).

        Mode ``recycle``: :func:`.recycle.recycle_weights_` at ``rate`` on every searchable
        layer. Mode ``iterand_recycle``: first every pruned, searchable weight is re-drawn with
        probability ``rate/2`` (mask ``i`` draws from ``(search_seeds[i], "method",
        "iterand_recycle", *event)`` of its network, per layer in layout order), then ``rate/2``
        is recycled.
        """
        rc = self.cfg.method.recycle
        rate = rc.rate
        gens = hards = None
        if rc.mode == "iterand_recycle":
            rate = rc.rate / 2
            gens = [
                mask_generator(seed, self.weight_seed, "method", "iterand_recycle", *event)
                for seed in self.search_seeds
            ]
            hards = self.global_masks() if self.global_topk else {}
        for _, layer in self.searchable():
            free = None if layer.frozen is None else layer.frozen[0] == 0
            if gens is not None:
                hard = hards.get(id(layer))
                pruned = ~(self.layer_mask(layer) if hard is None else hard)
                if free is not None:
                    pruned &= free
                redraw_(layer, pruned, gens, self.cfg.model, self.density, prob=rate)
            keys = self.score_key(layer.scores.detach())
            recycle_weights_(layer.weight, keys, rate, ablation=rc.ablation, free=free)

    # mask rule --------------------------------------------------------------------------------
    def prepare(self, model: EnsembleNet) -> None:
        if self.global_topk and self._global is not None:
            self._global.masks(force=True)

    def _hard(self, layer: MaskedLayer) -> Tensor:
        if self.global_topk:
            return self._global.masks()[id(layer)]
        return self._layer_hard(layer, self.score_key(layer.scores.detach()))

    def mask(self, layer: MaskedLayer) -> Tensor:
        return straight_through(self._hard(layer), self.score_key(layer.scores))

    def effective_weight(self, layer: MaskedLayer, mask: Tensor) -> Tensor:
        """``mask * weight``, times the rescaling factor when ``method.rescale`` is set."""
        weight = mask * layer.weight
        if self.rescale == "none":
            return weight
        return weight * rescale_factor(mask.detach(), self.rescale, self.density)

    def masked_weight(self, layer: MaskedLayer) -> Tensor | None:
        """Effective weight with its score gradient in one autograd node (None: not fused)."""
        if not self.fused_weight or self.rescale != "none" or layer.weight.requires_grad:
            return None
        effective = None
        if not self.global_topk:
            effective = fused_cpu_weight(layer, self.layer_k(layer), self.key_is_abs)
        if effective is not None:
            return MaskedWeight.apply(layer.scores, layer.weight, None, self.key_is_abs, effective)
        return MaskedWeight.apply(layer.scores, layer.weight, self._hard(layer), self.key_is_abs)

    @torch.no_grad()
    def layer_mask(self, layer: MaskedLayer) -> Tensor:
        """Bool ``(M, *shape)``: the layer-wise top-k under the layer's source."""
        return self._layer_hard(layer, self.score_key(layer.scores.detach()))

    def _layer_hard(self, layer: MaskedLayer, keys: Tensor) -> Tensor:
        hard = keep_largest(forced_keys(keys, layer.frozen), self.layer_k(layer))
        return apply_frozen(hard, layer.frozen)

    @torch.no_grad()
    def global_masks(self) -> dict[int, Tensor]:
        """Bool masks of every searchable layer from one network-wide top-k per mask (fresh)."""
        return {} if self._global is None else self._global.fresh()
