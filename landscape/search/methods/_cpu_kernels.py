"""Fused CPU kernels for the masked-weight step of Edge-Popup-style methods (numba).

On the CPU the per-weight passes of a search step cost as much as its matmuls: torch runs
``|S| >= t``, the bool-to-float conversion inside ``weight * mask`` and ``g * W * sign(S)``
as separate, partly strided passes over ``M x N`` values. Here each is one contiguous pass:

- :func:`masked_weight_rows`: effective weight ``W * [key >= t]`` and the kept count per row;
- :func:`score_grad_rows`: the straight-through score gradient ``(g * W) * sign(S)``.

Every value is bit-identical to the torch expressions it replaces (same operations in the
same order, no fast-math), so which route runs never changes a mask. Compiled on first use
and cached on disk next to this file.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit


@njit(cache=True, nogil=True)
def _masked_weight(scores, weight, thresholds, by_abs, out, counts):  # pragma: no cover - numba
    m, n = scores.shape
    shared = weight.shape[0] == 1
    for i in range(m):
        w = weight[0] if shared else weight[i]
        s = scores[i]
        o = out[i]
        t = thresholds[i]
        kept = 0
        for j in range(n):
            key = abs(s[j]) if by_abs else s[j]
            keep = key >= t
            # W * 1.0 or W * 0.0 (a signed zero), exactly as torch's weight * bool_mask
            o[j] = w[j] * np.float32(keep)
            kept += keep
        counts[i] = kept


@njit(cache=True, nogil=True)
def _score_grad(grad, weight, scores, by_abs, out):  # pragma: no cover - numba
    m, n = grad.shape
    shared = weight.shape[0] == 1
    for i in range(m):
        w = weight[0] if shared else weight[i]
        g = grad[i]
        s = scores[i]
        o = out[i]
        if by_abs:
            for j in range(n):
                # torch.sign: 1, -1, else 0 (also for nan); branch-free so the loop vectorises
                sign = np.float32(s[j] > 0) - np.float32(s[j] < 0)
                o[j] = (g[j] * w[j]) * sign
        else:
            for j in range(n):
                o[j] = g[j] * w[j]


def applies(*tensors: torch.Tensor) -> bool:
    """Whether these tensors can take the fused route (CPU float32)."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


def _rows(t: torch.Tensor) -> np.ndarray:
    """A contiguous ``(R, N)`` float32 numpy view (a copy only when ``t`` is strided)."""
    return t.detach().reshape(t.shape[0], -1).contiguous().numpy()


def masked_weight_rows(
    scores: torch.Tensor, weight: torch.Tensor, thresholds: np.ndarray, by_abs: bool
) -> tuple[torch.Tensor, np.ndarray]:
    """Effective weight ``W * [key >= t]`` ``(M, *shape)`` and the kept count per mask.

    ``weight`` has 1 (shared) or M rows; ``key`` is ``|S|`` when ``by_abs`` else ``S``.
    """
    m = scores.shape[0]
    out = torch.empty(scores.shape, dtype=torch.float32)
    counts = np.empty(m, dtype=np.int64)
    _masked_weight(_rows(scores), _rows(weight), thresholds.astype(np.float32), by_abs, _rows(out), counts)
    return out, counts


def score_grad_rows(
    grad: torch.Tensor, weight: torch.Tensor, scores: torch.Tensor, by_abs: bool
) -> torch.Tensor:
    """``(g * W) * sign(S)`` (or ``g * W``) as a new ``(M, *shape)`` tensor."""
    out = torch.empty(scores.shape, dtype=torch.float32)
    _score_grad(_rows(grad), _rows(weight), _rows(scores), by_abs, _rows(out))
    return out
