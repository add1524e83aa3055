"""Edge-Popup (Ramanujan et al. 2020): keep the top-k weights by |score|, train the scores.

The rule (:func:`edge_popup_mask`, :func:`edge_popup_weight`), per layer and per mask:

- forward: keep the ``N - floor((1 - d) N)`` largest ``|S|`` entries (ties at the threshold:
  the lowest indices), ``W_eff = M ⊙ W``;
- backward: straight-through through the top-k and through the abs, so the score gradient
  is ``g ⊙ W ⊙ sign(S)`` with ``g = dL/dW_eff``.

:class:`EdgePopup` is that rule plus the compositions of :class:`.score_search.ScoreSearch`:
global top-k (``method.global_topk``, with ``method.anneal_epochs``), sources, rescaling,
Iterative Weight Recycling, and the fused CPU route. Dense layers (``first_layer_dense`` /
``last_layer_dense``) are all ones and take no part in the counts. Tests check that the
class gives :func:`edge_popup_mask` and :func:`edge_popup_weight` on every route.
"""

from __future__ import annotations

from torch import Tensor

from landscape.search.methods.base import kept_count, straight_through
from landscape.search.methods.global_topk import annealed_density
from landscape.search.methods.score_search import ScoreSearch, keep_largest

__all__ = ["EdgePopup", "annealed_density", "edge_popup_mask", "edge_popup_weight"]


def edge_popup_mask(scores: Tensor, density: float) -> Tensor:
    """Edge-Popup's mask of one layer: bool ``(M, *shape)`` from scores ``(M, *shape)``.

    Each mask keeps its ``N - floor((1 - density) N)`` largest ``|S|`` entries; among values
    tied at the threshold the lowest indices are kept.
    """
    keys = scores.detach().abs()
    return keep_largest(keys, kept_count(keys[0].numel(), density))


def edge_popup_weight(scores: Tensor, weight: Tensor, density: float) -> Tensor:
    """``W_eff = M ⊙ W`` with the straight-through score gradient ``g ⊙ W ⊙ sign(S)``."""
    return straight_through(edge_popup_mask(scores, density), scores.abs()) * weight


class EdgePopup(ScoreSearch):
    """Top-k by |score| with a straight-through gradient; optional global top-k, sources, IWR.

    Parameters
    ----------
    cfg
        Uses ``method.density``, ``method.global_topk``, ``method.source``,
        ``method.rescale`` and ``method.recycle``.
    """

    key_is_abs = True

    def score_key(self, scores: Tensor) -> Tensor:
        """``|S|``: Edge-Popup ranks (and passes gradients through) the absolute scores."""
        return scores.abs()
