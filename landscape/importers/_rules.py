"""The mask rules of the reference codes, recomputed from stored scores.

Each function follows one reference layer's arithmetic exactly, including how it turns a
fraction into a count (in the dtype and with the rounding that code uses), so an imported
mask keeps exactly the weights that code kept. Where those codes sort, ties at the threshold
fall by position here (a stable sort); on the GPUs the references ran on, the order of tied
scores is unspecified, so no import can do better, and the kept count is exact either way.

Conventions (``k`` = fraction KEPT, ``s`` = fraction removed):

- hidden-networks / Biprop / IWR layer-wise ``GetSubnet``: the ``int((1 - k) * N)`` smallest
  ``|S|`` are dropped (float64 arithmetic); at k = 0.9 and N = 10 that is
  ``int(0.9999999999999998) = 0``, so all 10 are kept.
- Biprop global (``GlobalSubnetConv``): ``t = sort(|S| of all layers)[int((1 - k) * N) - 1]``,
  keep ``|S| > t`` (strictly; index -1 when the count is 0, i.e. the largest score).
- IteRand ``GetSubnet``: keep ``S >= kthvalue(S, 1 + round(0.01 * (100 s) * (N - 1)))`` on the
  raw (signed) scores; ``round`` is Python's (halves to even).
- Partially frozen (Otsuka et al.): keep ``|S| > t`` then force the frozen entries
  (-1 pruned, +1 locked); global ``t`` from ``k = int(float32(N) * float32(s))`` over all
  layers' ``|S|`` with pruned entries at -inf and locked ones at +inf, ``t = sorted[k - 1]``
  (-1 when k = 0).
- ER source (Gadhikar et al.): among the positions inside the source, the
  ``int(k * N)`` largest ``|S|`` are kept (``N`` counts weights and biases together).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

F32_MAX = np.finfo(np.float32).max


def topk_drop_smallest(abs_scores: np.ndarray, keep: float) -> np.ndarray:
    """hidden-networks ``GetSubnet``: drop the ``int((1 - keep) * N)`` smallest entries."""
    flat = np.asarray(abs_scores).ravel()
    n_drop = int((1 - keep) * flat.size)
    mask = np.ones(flat.size, dtype=bool)
    mask[np.argsort(flat, kind="stable")[:n_drop]] = False
    return mask.reshape(np.shape(abs_scores))


def biprop_global(abs_scores: Sequence[np.ndarray], keep: float) -> list[np.ndarray]:
    """Biprop ``GlobalSubnetConv``: one threshold over every layer, strict ``>``."""
    z = np.sort(np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in abs_scores]))
    n_drop = int((1 - keep) * z.size)
    threshold = z[n_drop - 1]  # n_drop = 0 reads the largest score, as the reference does
    return [np.asarray(a) > threshold for a in abs_scores]


def iterand_percentile(scores: np.ndarray, sparsity: float) -> np.ndarray:
    """IteRand ``GetSubnet``: keep raw scores at or above the ``100 * sparsity`` percentile."""
    flat = np.asarray(scores, dtype=np.float32).ravel()
    q = sparsity * 100
    kth = 1 + round(0.01 * float(q) * (flat.size - 1))
    value = np.partition(flat, kth - 1)[kth - 1]
    return ~(np.asarray(scores) < value)


def frozen_keys(abs_scores: np.ndarray, frozen: np.ndarray) -> np.ndarray:
    """|S| with frozen-pruned entries at -inf and locked ones at +inf (float32)."""
    keys = np.asarray(abs_scores, dtype=np.float32).copy()
    keys[frozen == -1] = -np.inf
    keys[frozen == 1] = np.inf
    return keys


def frozen_threshold(keys: np.ndarray, sparsity: np.float32) -> np.float32:
    """``sorted(keys)[int(float32(N) * float32(s)) - 1]`` (-1 when that count is 0)."""
    flat = np.asarray(keys, dtype=np.float32).ravel()
    k = int(np.float32(flat.size) * np.float32(sparsity))
    if k == 0:
        return np.float32(-1.0)
    return np.sort(flat)[k - 1]


def frozen_global_threshold(
    abs_scores: Sequence[np.ndarray], frozen: Sequence[np.ndarray], sparsity: np.float32
) -> np.float32:
    """The ``global_ep`` threshold over every layer."""
    keys = np.concatenate([frozen_keys(a, f).ravel() for a, f in zip(abs_scores, frozen)])
    return frozen_threshold(keys, sparsity)


def frozen_mask(abs_scores: np.ndarray, threshold: np.float32, frozen: np.ndarray) -> np.ndarray:
    """``|S| > t`` (strict), then frozen-pruned entries off and locked ones on."""
    mask = np.asarray(abs_scores, dtype=np.float32) > np.float32(threshold)
    mask[frozen == -1] = False
    mask[frozen == 1] = True
    return mask


def er_source_topk(abs_scores: np.ndarray, inside: np.ndarray, keep: float) -> np.ndarray:
    """ER source: the ``int(keep * N)`` largest entries among those inside the source.

    ``abs_scores`` and ``inside`` are flat (weights then biases); ties fall to the lower index.
    """
    flat = np.asarray(abs_scores, dtype=np.float32).ravel()
    inside = np.asarray(inside, dtype=bool).ravel()
    target = int(keep * flat.size)
    candidates = np.flatnonzero(inside)
    order = np.argsort(-flat[candidates], kind="stable")
    mask = np.zeros(flat.size, dtype=bool)
    mask[candidates[order[:target]]] = True
    return mask
