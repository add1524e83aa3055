"""Rescaling of the masked weights (the partially frozen code's ``scale_method``).

``static``
    ``M ⊙ W / sqrt(d)`` with ``d`` = ``method.density`` (``static_scaled``: ``1/sqrt(1 - s)``
    with the global sparsity ``s``).
``dynamic``
    ``M ⊙ W / sqrt(d_l)`` with ``d_l`` the fraction of the layer the mask keeps now, per mask
    (``dynamic_scaled``; the reference ImageNet ResNet-50 config). A layer that keeps nothing
    is left unscaled (its masked weight is zero anyway).

The factor is computed from the detached mask: no gradient flows through it, and the score
gradient is the straight-through ``g ⊙ W ⊙ factor``, as in the reference.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

RESCALES = ("none", "static", "dynamic")


def rescale_factor(hard: Tensor, how: str, density: float) -> Tensor | float:
    """The factor for a 0/1 mask ``hard`` ``(M, *shape)``: a float or ``(M, 1, ...)``."""
    if how == "none":
        return 1.0
    if how == "static":
        return 1.0 / math.sqrt(density)
    if how == "dynamic":
        dims = tuple(range(1, hard.dim()))
        kept = hard.detach().float().sum(dim=dims, keepdim=True)
        fraction = kept / math.prod(hard.shape[1:])
        return torch.where(kept > 0, fraction.clamp_min(1e-30).rsqrt(), torch.ones_like(fraction))
    raise ValueError(f"method.rescale: unknown value {how!r} (choose from {', '.join(RESCALES)})")
