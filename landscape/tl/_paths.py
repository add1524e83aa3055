"""Paths between two masks: their geometry, the networks that realise them, and the
barrier arithmetic on a sampled curve.

The geometry and the barrier definitions are plain numpy (testable without a network);
the functions that turn path points into the slots of an ensemble model import torch
inside, so importing this module stays light.

Two paths from mask A (alpha = 0) to mask B (alpha = 1):

``linear``
    Linear interpolation of the effective weights, ``W(alpha) = lerp(W_A, W_B, alpha)``.
    ``torch.lerp`` is exact where it matters: ``alpha = 0`` gives ``W_A`` and ``alpha = 1``
    gives ``W_B`` bit for bit, and wherever ``W_A == W_B`` every point equals them.
``swap``
    The constant-density Hamming geodesic: per layer, ``A\\B`` and ``B\\A`` are put in a
    random order; at ``alpha`` the first ``round(alpha |A\\B|)`` bits of ``A\\B`` are switched
    off and the first ``round(alpha |B\\A|)`` bits of ``B\\A`` switched on (round half up).
    Every point is a binary mask on a shortest Hamming path, ``d_H(A, m) + d_H(m, B) =
    d_H(A, B)``; when a layer keeps the same count in A and B (fixed-k methods such as
    Edge-Popup) every point keeps exactly that count and ``d_H(A, m) = 2 round(alpha |A\\B|)``.
    When the counts differ, each point's count is the rounded linear interpolation of the
    two counts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from landscape.errors import AnalysisError

BYTES_PER_WEIGHT = 16  # interpolated weight, float mask, effective weight, bool mask
ACTIVATION_FACTOR = 3  # activations plus layout copies (expand, permute) during eval


def alpha_grid(n_points: int) -> np.ndarray:
    """``n_points`` evenly spaced values in [0, 1], both ends included exactly."""
    return np.linspace(0.0, 1.0, int(n_points))


def lerp(a, b, alpha):
    """``a + alpha (b - a)`` computed like ``torch.lerp``: exact at 0 and 1 and where ``a == b``.

    Works on numpy arrays and scalars (broadcasting as usual).
    """
    a, b, alpha = np.asarray(a, dtype=float), np.asarray(b, dtype=float), np.asarray(alpha, dtype=float)
    diff = b - a
    return np.where(alpha < 0.5, a + alpha * diff, b - diff * (1.0 - alpha))


def swap_counts(n: int, alphas: np.ndarray) -> np.ndarray:
    """How many of ``n`` differing bits have been swapped at each alpha: ``floor(alpha n + 1/2)``."""
    return np.floor(np.asarray(alphas, dtype=float) * int(n) + 0.5).astype(np.int64)


def swap_orders(
    mask_a: Mapping[str, np.ndarray], mask_b: Mapping[str, np.ndarray], rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per layer, the flat indices of ``A\\B`` (to switch off) and ``B\\A`` (to switch on),
    each in a random order drawn from ``rng`` (layers in the mappings' order)."""
    orders = {}
    for name, a in mask_a.items():
        a = np.asarray(a, dtype=bool).ravel()
        b = np.asarray(mask_b[name], dtype=bool).ravel()
        if a.shape != b.shape:
            raise ValueError(f"layer {name!r}: masks of {a.size} and {b.size} weights")
        off = rng.permutation(np.flatnonzero(a & ~b))
        on = rng.permutation(np.flatnonzero(b & ~a))
        orders[name] = (off, on)
    return orders


def swap_masks(mask_a: np.ndarray, orders: tuple[np.ndarray, np.ndarray], alphas: np.ndarray) -> np.ndarray:
    """Masks of one layer along the swap path: bool ``(len(alphas), *mask_a.shape)``.

    Parameters
    ----------
    mask_a
        The start mask of the layer.
    orders
        ``(off, on)`` from :func:`swap_orders` for this layer.
    alphas
        Positions on the path.
    """
    a = np.asarray(mask_a, dtype=bool)
    off, on = orders
    n_off, n_on = swap_counts(len(off), alphas), swap_counts(len(on), alphas)
    out = np.repeat(a.reshape(1, -1), len(n_off), axis=0)
    for k, (c_off, c_on) in enumerate(zip(n_off, n_on)):
        out[k, off[:c_off]] = False
        out[k, on[:c_on]] = True
    return out.reshape(len(n_off), *a.shape)


def curve_barriers(alphas: np.ndarray, loss: np.ndarray, acc: np.ndarray) -> dict[str, float]:
    """The barriers of one sampled curve (first and last points are the end networks).

    Returns
    -------
    dict
        ``barrier_loss``: ``max_alpha [loss(alpha) - lerp(loss_0, loss_1, alpha)]``, the
        chord-based loss barrier (Entezari et al. 2022); ``barrier_loss_mean_based``:
        ``max_alpha loss(alpha) - (loss_0 + loss_1) / 2`` (the Frankle et al. 2020 form);
        ``barrier_acc``: ``max_alpha [lerp(acc_0, acc_1, alpha) - acc(alpha)]``, the chord-based
        accuracy barrier (an error barrier in accuracy units); ``alpha_max``: where the
        chord-based loss barrier is reached; plus the end losses and accuracies.
    """
    loss, acc = np.asarray(loss, dtype=float), np.asarray(acc, dtype=float)
    excess = loss - lerp(loss[0], loss[-1], alphas)
    deficit = lerp(acc[0], acc[-1], alphas) - acc
    k = int(np.argmax(excess))
    return {
        "barrier_loss": float(excess[k]),
        "barrier_loss_mean_based": float(loss.max() - 0.5 * (loss[0] + loss[-1])),
        "barrier_acc": float(deficit.max()),
        "alpha_max": float(alphas[k]),
        "loss_start": float(loss[0]),
        "loss_end": float(loss[-1]),
        "acc_start": float(acc[0]),
        "acc_end": float(acc[-1]),
    }


def mask_distances(mask_a: Mapping[str, np.ndarray], mask_b: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """Normalised Hamming distance ``d_H / n_weights`` and Jaccard distance ``1 - |A∩B| / |A∪B|``."""
    diff = inter = union = total = 0
    for name, a in mask_a.items():
        a = np.asarray(a, dtype=bool)
        b = np.asarray(mask_b[name], dtype=bool)
        diff += int(np.count_nonzero(a ^ b))
        inter += int(np.count_nonzero(a & b))
        union += int(np.count_nonzero(a | b))
        total += a.size
    jaccard = 1.0 - inter / union if union else 0.0
    return diff / total, jaccard


# --------------------------------------------------------------------------------------------
# path points as the slots of one ensemble model


class PinnedWeights:
    """A mask rule whose effective weight is the layer's ``weight`` buffer, unchanged.

    The linear path stores each slot's interpolated effective weight in ``layer.weight``
    (``(M, *shape)``); this rule hands it back as is, so the layers need no special case.
    """

    def prepare(self, model) -> None:
        """Nothing to prepare: the weights are final."""

    def mask(self, layer):
        return layer.weight.new_ones(()).expand(layer.n_masks, *layer.weight_shape)

    def effective_weight(self, layer, mask):
        return layer.weight


def widen(base, n_slots: int):
    """A copy of ``base`` (an ``EnsembleNet``) with ``n_slots`` empty slots.

    Masks, weights, scores and source patterns are not copied (the caller pins what each
    slot needs); BatchNorm layers get fresh per-slot statistics with a cumulative average
    (``momentum=None``), ready for :func:`reestimate_batchnorm`. The rule is not copied.
    """
    from torch import nn

    heavy: dict[int, Any] = {}
    for _, layer in base.masked_layers():
        for name in ("weight", "scores", "fixed_mask", "frozen"):
            value = getattr(layer, name)
            if value is not None:
                heavy[id(value)] = None  # deepcopy takes the memo entry instead of copying
    rule = base.rule
    base.set_rule(None)
    try:
        wide = copy.deepcopy(base, memo=heavy)
    finally:
        base.set_rule(rule)
    for module in wide.modules():
        if hasattr(module, "n_masks"):
            module.n_masks = int(n_slots)
    device = "cpu"
    for (_, layer), (_, src) in zip(wide.masked_layers(), base.masked_layers()):
        device = src.weight.device
        for name in ("scores", "fixed_mask", "frozen"):
            _set_tensor(layer, name, None)
        _set_tensor(layer, "weight", src.weight[:1].detach())
    for bn in wide.batchnorms():
        if bn.bn.affine:
            raise AnalysisError("barriers support non-affine BatchNorm only (as every model here uses)")
        bn.bn = nn.BatchNorm1d(bn.num_features * n_slots, affine=False, momentum=None, device=device)
    return wide


def _set_tensor(module, name: str, value) -> None:
    """Store ``value`` as a plain buffer, whether ``name`` was a parameter or a buffer."""
    if name in module._parameters:
        del module._parameters[name]
    if name in module._buffers:
        module._buffers[name] = value
    else:
        module.register_buffer(name, value)


def pin_weights(model, weights: Mapping[str, Any]) -> None:
    """Give every slot of ``model`` a precomputed effective weight ``{layer: (M, *shape)}``."""
    rule = PinnedWeights()
    for name, layer in model.masked_layers():
        _set_tensor(layer, "weight", weights[name])
        layer.fixed_mask = None
        layer.dense = False  # dense layers must also take the pinned weight
        layer.rule = rule
    model.rule = rule


def pin_masks(model, rule, masks: Mapping[str, Any], weights: Mapping[str, Any]) -> None:
    """Pin binary masks ``{layer: bool (M, *shape)}`` over ``weights`` ``{layer: (1 or M, *shape)}``;
    ``rule`` (the run's method) turns them into effective weights."""
    for name, layer in model.masked_layers():
        _set_tensor(layer, "weight", weights[name])
    model.set_rule(rule)
    model.set_fixed_masks(masks)


def linear_slot_weights(ends: Mapping[int, Mapping[str, Any]], slots: Sequence[tuple]) -> dict[str, Any]:
    """Interpolated effective weights ``{layer: (M, *shape)}`` for slots ``(row_a, row_b, alpha)``.

    ``ends[row][layer]`` is a row's effective weight ``(*shape)``; ``torch.lerp`` keeps the
    ends exact and leaves weights the two masks agree on untouched.
    """
    import torch

    first = next(iter(ends.values()))
    device = next(iter(first.values())).device
    alpha = torch.tensor([float(s[2]) for s in slots], dtype=torch.float32, device=device)
    out = {}
    for name, w in first.items():
        start = torch.stack([ends[a][name] for a, _, _ in slots])
        end = torch.stack([ends[b][name] for _, b, _ in slots])
        out[name] = torch.lerp(start, end, alpha.view(-1, *[1] * w.dim()))
    return out


def slot_weights(weights: Mapping[int, Mapping[str, Any]], rows: Sequence[int]) -> dict[str, Any]:
    """Unmasked weights ``{layer: (1 or M, *shape)}`` of the slots' rows (shared when all agree)."""
    import torch

    first = weights[rows[0]]
    out = {}
    for name, w in first.items():
        per_slot = [weights[r][name] for r in rows]
        if all(v is w or torch.equal(v, w) for v in per_slot):
            out[name] = w.unsqueeze(0)
        else:
            out[name] = torch.stack(per_slot)
    return out


def bn_batches(n_train: int, batch_size: int, n_batches: int | None, seed: int) -> list[np.ndarray]:
    """Training batches for BatchNorm re-estimation: one fixed shuffled order (stream
    ``(seed, "bn")``), full batches only, at most ``n_batches`` of them (None: one pass)."""
    from landscape.nn.init import derive_seed

    order = np.random.default_rng(derive_seed(seed, "bn")).permutation(n_train)
    size = min(batch_size, n_train)
    n = n_train // size
    if n_batches is not None:
        n = min(n, int(n_batches))
    return [order[b * size : (b + 1) * size] for b in range(n)]


def reestimate_batchnorm(model, x, batches: Sequence[np.ndarray]) -> None:
    """Reset every BatchNorm and average its statistics over ``x[batch]`` for each batch
    (:meth:`landscape.nn.base.EnsembleNet.reestimate_batchnorm`); left in eval mode."""
    model.reestimate_batchnorm(x, batches)


def bytes_per_point(model, input_shape: tuple[int, ...], batch_size: int) -> int:
    """Estimated memory of one more path point: its weights plus the activations of a batch."""
    from landscape.nn.memory import activations_per_example

    per_example = activations_per_example(model, input_shape)
    n_weights = sum(layer.numel for _, layer in model.masked_layers())
    return int(BYTES_PER_WEIGHT * n_weights + 4 * ACTIVATION_FACTOR * per_example * batch_size)
