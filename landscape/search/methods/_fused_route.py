"""The fast route of the masked weight ``W ⊙ M`` of a top-k score search.

Two pieces, each proven equal to the plain rule (mask -> ``mask * weight`` -> straight
through -> ``abs``) by tests:

- :class:`MaskedWeight`: the effective weight and its score gradient in one autograd node,
  ``weight * hard`` forward and ``g * weight (* sign(S))`` backward, with two fewer passes
  over the weights and no float copy of the mask;
- :func:`fused_cpu_weight`: on the CPU (float32, layer-wise top-k, no source) the selection
  runs on a private copy of the keys (numpy's introselect) and one numba kernel writes the
  effective weight and counts what it kept; when ties at a threshold broke any row's count
  the caller takes the exact path, which resolves them by index.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from landscape.search.methods import select
from landscape.search.methods.base import kth_largest_rows

if TYPE_CHECKING:
    from landscape.nn.layers import MaskedLayer


class MaskedWeight(torch.autograd.Function):
    """``weight * hard`` with Edge-Popup's straight-through score gradient, in one node.

    The gradient is ``g * weight`` (times ``sign(S)`` when the ranking is by ``|S|``): exactly
    what the chain mask -> ``mask * weight`` -> STE -> ``abs`` computes. ``effective`` is the
    forward value when it was computed already (the fused CPU route).
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
        kernels = fused_cpu() if grad.device.type == "cpu" and select.host_kernels() else None
        if kernels is not None and kernels.applies(grad, weight, scores):
            g = kernels.score_grad_rows(grad, weight, scores, ctx.through_abs)
            return g, None, None, None, None
        g = grad * weight
        if ctx.through_abs:
            g = g * scores.sign()
        return g, None, None, None, None


@lru_cache(maxsize=1)
def fused_cpu() -> ModuleType | None:
    """The numba kernels of the CPU route, or None when numba cannot be imported."""
    try:
        from landscape.search.methods import _cpu_kernels
    except ImportError:  # numba missing or broken: the torch expressions give the same values
        return None
    return _cpu_kernels


def fused_cpu_weight(layer: MaskedLayer, k: int, by_abs: bool) -> Tensor | None:
    """``W * mask`` of a layer-wise top-k of ``k`` entries in two CPU passes, or None.

    None when the route does not apply (not on the CPU, a torch top-k route chosen in
    :mod:`.select`, numba missing, a layout the kernel does not take, ``k`` keeping none or
    all) or when ties broke a row's count.
    """
    if layer.scores.device.type != "cpu" or layer.frozen is not None or not select.host_kernels():
        return None
    kernels = fused_cpu()
    if kernels is None or not kernels.applies(layer.scores, layer.weight):
        return None
    if not 0 < k < layer.numel:
        return None
    scores = layer.scores.detach().reshape(layer.n_masks, -1).numpy()
    keys = np.abs(scores) if by_abs else scores.copy()
    thresholds = kth_largest_rows(keys, k, in_place=True)
    effective, counts = kernels.masked_weight_rows(layer.scores, layer.weight, thresholds, by_abs)
    if (counts != k).any():
        return None
    return effective
