"""Iterative Weight Recycling (IWR): copy high-score weight values into low-score slots.

Rule (Gorbett & Whitley 2023, per layer and per mask, under ``no_grad``)::

    order = argsort(key)             # ascending; key = |S| for Edge-Popup / Biprop
    n     = int(rate * N)
    W.flat[order[i]] <- W.flat[order[N - n + i]]     for i = 0 .. n-1

The pairing is monotone: the lowest-score slot receives the n-th highest-score value and the
n-th lowest slot receives the highest. The ablation control copies from ``order[n:2n]``
(the next-lowest scores) instead. Scores are untouched, so the mask is unchanged right after
a recycling step.

Schedules: at the end of epoch ``e`` (:func:`recycle_due`, the reference's
``rerand_epoch_freq``), or after optimiser step ``i`` of an epoch (:func:`recycle_step_due`,
its ``rerand_iter_freq``). The combined mode ``iterand_recycle`` (IteRand with probability
``rate/2`` on the pruned weights, then recycling of ``rate/2 · N``) is composed by the score
search from :func:`.rerandomize.redraw_` and :func:`recycle_weights_`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from landscape.search.methods.base import floor_count


def recycle_due(epoch: int, every: int, warmup: int, is_last: bool) -> bool:
    """Whether recycling runs at the end of 0-based ``epoch``.

    ``epoch % every == 0`` and ``epoch > 0``, never after the last epoch, and only once
    ``epoch > warmup``.
    """
    return every > 0 and epoch > 0 and epoch % every == 0 and not is_last and epoch > warmup


def recycle_step_due(epoch: int, batch: int, every: int, warmup: int) -> bool:
    """Whether recycling runs after step ``batch`` (0-based, within the epoch) of ``epoch``.

    ``batch % every == 0``, from the second epoch on (``epoch > 0``) and only once
    ``epoch > warmup``; the first step of an epoch counts (``batch = 0``).
    """
    return every > 0 and epoch > 0 and epoch > warmup and batch % every == 0


@torch.no_grad()
def recycle_weights_(
    weight: Tensor, keys: Tensor, rate: float, ablation: bool = False, free: Tensor | None = None
) -> None:
    """Recycle in place, independently for every mask row.

    Parameters
    ----------
    weight
        ``(M, *shape)`` per-mask weights, modified in place.
    keys
        ``(M, *shape)`` ranking keys (``|S|`` for Edge-Popup and Biprop).
    rate
        Fraction ``r`` of the (free) entries overwritten, at most 0.5.
    ablation
        Copy from the next-lowest ranks ``[n, 2n)`` instead of the top ranks.
    free
        Optional bool ``(N,)``: only these flat positions take part (the searchable entries
        of a partially frozen layer); ``n = int(rate * n_free)``.
    """
    m = weight.shape[0]
    flat_w = weight.reshape(m, -1)
    flat_k = keys.detach().reshape(m, -1)
    index = None
    if free is not None:
        index = free.reshape(-1).nonzero().flatten()
        flat_k = flat_k[:, index]
    size = flat_k.shape[1]
    n = floor_count(size, rate)
    if n == 0:
        return
    order = torch.sort(flat_k, dim=1, stable=True).indices
    low = order[:, :n]
    src = order[:, n : 2 * n] if ablation else order[:, size - n :]
    if index is not None:
        low, src = index[low], index[src]
    flat_w.scatter_(1, low, flat_w.gather(1, src))
    if flat_w.data_ptr() != weight.data_ptr():  # pragma: no cover - reshape copied
        weight.copy_(flat_w.reshape(weight.shape))
