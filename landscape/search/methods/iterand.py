"""IteRand (Chijiwa et al. 2021): raw-score top-k plus periodic re-draws of pruned weights.

Mask: the ``N - floor((1 - d) N)`` largest *raw* (signed) scores of each layer (IteRand does
not take the abs); the straight-through gradient goes to ``S`` directly.

Re-randomisation, before the forward pass of global step ``t`` when ``(t + 1) % every == 0``:
every currently pruned, searchable weight is replaced, independently with probability
``rerand.prob``, by a fresh draw from the initial distribution (``model.weight_init`` and
``model.scale_fan`` at ``method.density``, as the random network was drawn). With
``rerand.rate = rho < 1`` only the ``floor(rho · n_pruned)`` lowest-score pruned weights are
candidates. Kept weights and scores are never touched. Mask ``i`` draws from the stream
``(search_seeds[i], "method", "rerand", t)``: per layer in layout order, the fresh weights,
then the Bernoulli coins.

Sources and global top-k compose as for Edge-Popup (frozen entries are never re-drawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from landscape.nn.init import generator, init_weight
from landscape.search.methods.base import floor_count, topk_mask
from landscape.search.methods.edge_popup import EdgePopup

if TYPE_CHECKING:
    from landscape.config import SearchConfig
    from landscape.nn.base import EnsembleNet
    from landscape.nn.layers import MaskedLayer


class IteRand(EdgePopup):
    """Edge-Popup on raw scores with Bernoulli re-randomisation of pruned weights."""

    def __init__(self, cfg: SearchConfig) -> None:
        super().__init__(cfg)
        self.changes_weights = cfg.method.rerand.prob > 0 or self.recycling

    ranks_raw_scores = True

    def score_key(self, scores: Tensor) -> Tensor:
        return scores

    def before_step(self, model: EnsembleNet, step: int) -> None:
        rr = self.cfg.method.rerand
        if rr.prob > 0 and (step + 1) % rr.every == 0:
            self.rerandomize(step)

    @torch.no_grad()
    def candidates(self, layer: MaskedLayer, hard: Tensor | None = None) -> Tensor:
        """Bool ``(M, *shape)``: the weights a re-randomisation may replace now.

        ``hard`` is the layer's current bool mask (computed when not given).
        """
        if hard is None:
            hard = self.global_masks()[id(layer)] if self.global_topk else self.layer_mask(layer)
        pruned = ~hard
        if layer.frozen is not None:
            pruned &= layer.frozen == 0
        rate = self.cfg.method.rerand.rate
        if rate >= 1:
            return pruned
        m = pruned.shape[0]
        flat = pruned.reshape(m, -1)
        keys = -self.ranking_key(layer).reshape(m, -1)
        keys = keys.masked_fill(~flat, -torch.inf)
        out = torch.zeros_like(flat)
        for i in range(m):
            n = floor_count(int(flat[i].sum()), rate)
            out[i] = topk_mask(keys[i : i + 1], n)[0] & flat[i]
        return out.reshape(pruned.shape)

    @torch.no_grad()
    def rerandomize(self, step: int) -> None:
        """Re-draw pruned weights of every mask (the step-``step`` event)."""
        mcfg, rr = self.cfg.model, self.cfg.method.rerand
        gens = [generator(seed, "method", "rerand", int(step)) for seed in self.search_seeds]
        hards = self.global_masks() if self.global_topk else {}
        for _, layer in self.searchable():
            cand = self.candidates(layer, hards.get(id(layer)))
            for i, gen in enumerate(gens):
                fresh = init_weight(
                    layer.weight_shape, layer.fan_in, mcfg.weight_init, gen, self.density, mcfg.scale_fan
                )
                coin = torch.rand(layer.weight_shape, generator=gen) < rr.prob
                swap = cand[i] & coin.to(cand.device)
                layer.weight[i] = torch.where(swap, fresh.to(layer.weight), layer.weight[i])
