"""Biprop (Diffenderfer & Kailkhura 2021): Edge-Popup with binarised kept weights.

Kept weights become ``alpha * sign(W)`` with a per-(mask, layer) gain ``alpha`` = the mean
``|W|`` over the kept entries (the actual kept count, so the global variant is covered
too). No gradient flows through ``alpha``; the score gradient is Edge-Popup's with the real
weights, ``g ⊙ W ⊙ sign(S)``. The implementation builds

    W_eff = alpha · sign(W) · M  +  (M_ste − M) · W

whose value is exactly the binarised weight (the second term is exactly zero) and whose
gradient with respect to the straight-through mask ``M_ste`` is ``g ⊙ W``.

With ``|W|`` one constant per layer (signed- or unsigned-constant weights) ``alpha · sign(W)``
is ``W`` itself and every mask equals Edge-Popup's; the config refuses that pair.

Layer-wise and global top-k, sources and IWR compose exactly as for Edge-Popup. The reference
global variant anneals its density from 0.5 to the target over 10 epochs with a cubic
schedule when the target is <= 0.5: set ``method.anneal_epochs: 10`` with
``method.global_topk: true`` to match it (off by default; the density is then fixed from the
first step, as in every layer-wise reference run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from landscape.search.methods.edge_popup import EdgePopup

if TYPE_CHECKING:
    from landscape.nn.layers import MaskedLayer


def biprop_gain(weight: Tensor, hard: Tensor) -> Tensor:
    """``alpha`` ``(M, 1, ...)``: mean ``|W|`` over the kept entries of each mask (0 if none)."""
    dims = tuple(range(1, hard.dim()))
    kept = hard.sum(dim=dims, keepdim=True)
    total = (weight.abs() * hard).sum(dim=dims, keepdim=True)
    return total / kept.clamp_min(1)


def biprop_weight(mask: Tensor, weight: Tensor) -> Tensor:
    """Biprop's effective weight from a straight-through 0/1 ``mask`` ``(M, *shape)``.

    Value ``alpha · sign(W) · M`` with ``alpha`` the mean ``|W|`` of the kept entries; the
    gradient with respect to ``mask`` is ``g ⊙ W`` (no gradient through ``alpha``).
    """
    hard = mask.detach()
    weight = weight.detach()
    with torch.no_grad():
        binary = biprop_gain(weight, hard) * torch.sign(weight) * hard
    return binary + (mask - hard) * weight


class Biprop(EdgePopup):
    """Edge-Popup search with binarised effective weights ``alpha * sign(W) * M``."""

    fused_weight = False  # the effective weight is alpha * sign(w) * mask, not mask * w

    def effective_weight(self, layer: MaskedLayer, mask: Tensor) -> Tensor:
        return biprop_weight(mask, layer.weight)
