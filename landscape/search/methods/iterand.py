"""IteRand (Chijiwa et al. 2021): raw-score top-k plus periodic re-draws of pruned weights.

Mask (:func:`iterand_mask`): the ``N - floor((1 - d) N)`` largest *raw* (signed) scores of
each layer (IteRand does not take the abs); the straight-through gradient goes to ``S``
directly. The reference code's score init is ``method.score_init: kaiming_uniform_relu``,
U(±sqrt(6/fan_in)), set by the ``iterand-ref`` preset. The default ``kaiming_uniform`` is
hidden-networks' U(±1/sqrt(fan_in)), the same draw divided by sqrt(6). The
straight-through gradient does not depend on the scores' size, so a search from the default
init at learning rate ``lr`` and weight decay ``wd`` gives the masks of the reference init at
``lr * sqrt(6)`` and ``wd / sqrt(6)``.

Re-randomisation, before the forward pass of global step ``t`` when ``(t + 1) % P == 0``
with ``P = rerand.every`` steps (``rerand.unit: step``, the reference default) or
``P = rerand.every * steps_per_epoch`` (``unit: epoch``: the event runs before the last step
of every ``every``-th epoch, as the reference's epoch unit does at one event per epoch).
The candidates are every currently pruned, searchable weight; with ``rerand.rate = rho < 1``
only the ``floor(rho · n_pruned)`` lowest-score pruned weights. Each candidate is

- ``mode: bernoulli`` (the paper's method): replaced, independently with probability
  ``rerand.prob``, by a fresh draw from the initial distribution (``model.weight_init`` and
  ``model.scale_fan`` at ``method.density``, as the random network was drawn);
- ``mode: manual``: mixed, ``W <- mix_old · W + mix_new · W_new`` (``mix_old² + mix_new² = 1``
  keeps the variance).

Kept weights and scores are never touched. Mask ``i`` draws from the stream
``(search_seeds[i], "method", "rerand", t)`` of its network
(:func:`landscape.nn.init.mask_generator`): per layer in layout order, the fresh weights,
then (Bernoulli mode) the coins.

Sources, global top-k and rescaling compose as for Edge-Popup (frozen entries are never
re-drawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from landscape.errors import ConfigError
from landscape.nn.init import mask_generator
from landscape.search.methods.base import floor_count, kept_count, topk_mask
from landscape.search.methods.rerandomize import redraw_
from landscape.search.methods.score_search import ScoreSearch, keep_largest

if TYPE_CHECKING:
    from landscape.config import SearchConfig
    from landscape.nn.base import EnsembleNet
    from landscape.nn.layers import MaskedLayer


def iterand_mask(scores: Tensor, density: float) -> Tensor:
    """IteRand's mask of one layer: the ``N - floor((1 - d) N)`` largest raw scores per mask."""
    keys = scores.detach()
    return keep_largest(keys, kept_count(keys[0].numel(), density))


def redraws_change_weights(rr) -> bool:
    """Whether ``method.rerand`` re-draws ever change a weight (searched or imported runs)."""
    return rr.prob > 0 or rr.mode == "manual"


def rerand_period(every: int, unit: str, steps_per_epoch: int | None) -> int:
    """Steps between re-randomisations for ``rerand.every`` counted in ``unit``."""
    if unit == "step":
        return int(every)
    if steps_per_epoch is None:
        raise RuntimeError("method.rerand.unit 'epoch' needs set_steps_per_epoch() before training")
    return int(every) * int(steps_per_epoch)


def check_redraws_happen(cfg: SearchConfig, steps_per_epoch: int) -> None:
    """Refuse an IteRand search too short for one re-draw: it would be Edge-Popup on raw
    scores under IteRand's name (``unit: epoch`` periods are checked with the config)."""
    rr, epochs = cfg.method.rerand, cfg.train.epochs
    period, total = rerand_period(rr.every, rr.unit, steps_per_epoch), epochs * int(steps_per_epoch)
    if cfg.method.name == "iterand" and redraws_change_weights(rr) and 0 < total < period:
        runs = (
            f"{total} steps ({epochs} epochs of {steps_per_epoch} batches)"
            if rr.unit == "step"
            else f"{epochs} epochs"
        )
        raise ConfigError(
            f"method.rerand.every: {rr.every} {rr.unit}s, but the search runs {runs}: no weight would "
            f"ever be re-drawn, and the masks would be Edge-Popup's on raw scores; make it at most "
            f"{total if rr.unit == 'step' else epochs} or train longer"
        )


class IteRand(ScoreSearch):
    """Edge-Popup on raw scores with re-randomisation of pruned weights."""

    key_is_abs = False

    def __init__(self, cfg: SearchConfig) -> None:
        super().__init__(cfg)
        rr = cfg.method.rerand
        self.changes_weights = redraws_change_weights(rr) or self.recycling

    def score_key(self, scores: Tensor) -> Tensor:
        """``S``: IteRand ranks the raw scores."""
        return scores

    def set_steps_per_epoch(self, n: int) -> None:
        super().set_steps_per_epoch(n)
        check_redraws_happen(self.cfg, n)

    def before_step(self, model: EnsembleNet, step: int) -> None:
        rr = self.cfg.method.rerand
        if rr.mode == "bernoulli" and rr.prob <= 0:
            return
        if (step + 1) % rerand_period(rr.every, rr.unit, self.steps_per_epoch) == 0:
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
        rr = self.cfg.method.rerand
        gens = [
            mask_generator(seed, self.weight_seed, "method", "rerand", int(step))
            for seed in self.search_seeds
        ]
        hards = self.global_masks() if self.global_topk else {}
        manual = rr.mode == "manual"
        for _, layer in self.searchable():
            cand = self.candidates(layer, hards.get(id(layer)))
            redraw_(
                layer,
                cand,
                gens,
                self.cfg.model,
                self.density,
                prob=None if manual else rr.prob,
                mix=(rr.mix_old, rr.mix_new) if manual else None,
            )
