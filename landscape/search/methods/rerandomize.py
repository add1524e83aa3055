"""Re-drawing pruned weights from the initial distribution (IteRand, and IWR's combined mode).

:func:`redraw_` changes one layer's per-mask weights in place. For mask ``i`` it draws, from
``gens[i]``, first a fresh weight tensor of the layer's shape (``model.weight_init`` and
``model.scale_fan`` at ``method.density``: the distribution the random network came from),
then, in Bernoulli mode, one uniform number per weight for the coins. Only ``candidates``
(bool ``(M, *shape)``: pruned, searchable weights) change:

- Bernoulli mode (``prob``): a candidate takes its fresh value with probability ``prob``;
- manual mode (``mix``): every candidate becomes ``mix_old * W + mix_new * W_new``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from landscape.nn.init import init_weight

if TYPE_CHECKING:
    from landscape.config import ModelConfig
    from landscape.nn.layers import MaskedLayer


@torch.no_grad()
def redraw_(
    layer: MaskedLayer,
    candidates: Tensor,
    gens: Sequence[torch.Generator],
    model_cfg: ModelConfig,
    density: float,
    prob: float | None = None,
    mix: tuple[float, float] | None = None,
) -> None:
    """Re-draw the ``candidates`` of ``layer.weight`` (per-mask weights) in place.

    Give exactly one of ``prob`` (Bernoulli mode) and ``mix`` (``(mix_old, mix_new)``).
    """
    if (prob is None) == (mix is None):
        raise ValueError("give exactly one of prob and mix")
    for i, gen in enumerate(gens):
        fresh = init_weight(
            layer.weight_shape, layer.fan_in, model_cfg.weight_init, gen, density, model_cfg.scale_fan
        ).to(layer.weight)
        current = layer.weight[i]
        if mix is None:
            coin = torch.rand(layer.weight_shape, generator=gen) < prob
            swap = candidates[i] & coin.to(candidates.device)
            layer.weight[i] = torch.where(swap, fresh, current)
        else:
            mixed = mix[0] * current + mix[1] * fresh
            layer.weight[i] = torch.where(candidates[i], mixed, current)
