"""Kernels of the weight-training pruning baselines: K-starts fitness and dissipating steps.

Pure tensor functions, used by :mod:`.weight_training` and tested on constructed values.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from landscape.search.methods.base import floor_count, topk_mask

FITNESS_KINDS = ("magnitude", "gradient", "both")


def candidate_fitness(magnitude: Tensor, gradient: Tensor, kind: str) -> Tensor:
    """Fitness ``(M, k)`` of the k candidates of each mask.

    Parameters
    ----------
    magnitude
        ``(M, k)``: ``sum_{i in M_j} |w_i|`` per candidate.
    gradient
        ``(M, k)``: ``sum_{i in M_j} |sum_t g_i,t|`` per candidate.
    kind
        ``"magnitude"``, ``"gradient"`` or ``"both"``: the product of the two, each divided
        by its mean over the candidates of the same mask (so 1 is an average candidate and
        neither term dominates by its units).
    """
    if kind == "magnitude":
        return magnitude
    if kind == "gradient":
        return gradient
    if kind == "both":
        return _normalised(magnitude) * _normalised(gradient)
    raise ValueError(
        f"method.kstarts.fitness: unknown value {kind!r} (choose from {', '.join(FITNESS_KINDS)})"
    )


def _normalised(x: Tensor) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return torch.where(mean > 0, x / mean.clamp_min(torch.finfo(x.dtype).tiny), torch.ones_like(x))


def relative_change(weight: Tensor, initial: Tensor) -> Tensor:
    """``|w - w0| / |w0|``; 0 where both are 0 and ``inf`` where only ``w0`` is 0."""
    change = (weight - initial).abs()
    scale = initial.abs()
    ratio = change / scale.clamp_min(torch.finfo(scale.dtype).tiny)
    return torch.where(scale > 0, ratio, torch.where(change > 0, torch.inf, 0.0))


def scheduled_kept(n: int, target: int, check: int, n_checks: int) -> int:
    """Kept count the linear schedule asks for after ``check`` of ``n_checks`` (1-based).

    Goes from ``n`` (before the first check) to exactly ``target`` at the last check.
    """
    check = min(max(check, 0), n_checks)
    return n - (n - target) * check // n_checks


def dissipate_row(
    kept: Tensor, rel: Tensor, tau: float, target: int, scheduled: int, max_step: int
) -> Tensor:
    """One dissipating check on one flat mask row; returns the new bool row.

    The weights within ``tau`` of their initial value (``rel <= tau``, still kept) are
    pruned, at most ``max_step`` of them; when they are fewer than the schedule needs
    (``n_kept - scheduled``), the kept weights with the smallest relative change are pruned
    as well. Never goes below ``target``. Within each group the smallest relative changes
    go first (the criterion weights have ``rel <= tau`` and all others more, so one ranking
    by ``rel`` serves both).
    """
    n_kept = int(kept.sum())
    need = max(0, n_kept - max(scheduled, target))
    cap = max(need, min(n_kept - target, max_step))
    n_crit = int((kept & (rel <= tau)).sum())
    n_remove = min(max(n_crit, need), cap)
    if n_remove <= 0:
        return kept.clone()
    keys = torch.where(kept, -rel, torch.full_like(rel, -math.inf))
    remove = topk_mask(keys.reshape(1, -1), n_remove)[0] & kept
    return kept & ~remove


def dissipate_step(
    kept: Tensor, weight: Tensor, initial: Tensor, tau: float, target: int, scheduled: int, step: float
) -> Tensor:
    """:func:`dissipate_row` for every mask ``(M, *shape)`` of one layer."""
    m = kept.shape[0]
    flat_kept = kept.reshape(m, -1)
    rel = relative_change(weight.detach().reshape(m, -1), initial.reshape(m, -1).to(weight.device))
    max_step = floor_count(flat_kept.shape[1], step)
    rows = [dissipate_row(flat_kept[i], rel[i], tau, target, scheduled, max_step) for i in range(m)]
    return torch.stack(rows).reshape(kept.shape)
