"""The forward behind :func:`landscape.tl.representation_similarity`: stored and random masks
pinned into one ensemble model, BatchNorm statistics set per slot, and the centred Gram matrix
of every representation of every slot from one forward of a fixed batch (forward hooks).

torch is imported by the functions that need it, never at module import.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

LOGITS = "logits"  # name of the network's output among the representations


def batch_seed(rng: int) -> int:
    from landscape.nn.init import derive_seed

    return derive_seed(rng, "cka", "batch")


def slot_order(runs: np.ndarray, r: int) -> np.ndarray:
    """Permutation from slot order (run by run, the first run's random masks after its own
    masks) to stored masks in group order followed by the random masks."""
    slots, start = {}, 0
    for k, run in enumerate(dict.fromkeys(runs)):
        members = np.flatnonzero(runs == run)
        for j, p in enumerate(members):
            slots[int(p)] = start + j
        start += len(members)
        if k == 0:
            random_start, start = start, start + r
    return np.array([slots[p] for p in range(len(runs))] + list(range(random_start, random_start + r)))


def slot_masks(
    ms, members: np.ndarray, counts: np.ndarray, n_rand: int, gen, source=None
) -> dict[str, np.ndarray]:
    """``{layer: bool (len(members) + n_rand, *shape)}``: the stored masks, then random masks
    each with the per-layer counts of one of the group's masks (``source``: ``{layer: (left
    out, locked)}`` of the masks' source, which the random masks then respect too)."""
    out = {}
    for li, spec in enumerate(ms.layout):
        stored = ms.dense(members, spec.name).reshape(len(members), *spec.shape)
        rand = np.zeros((n_rand, spec.numel), dtype=bool)
        if source is None:
            free, locked = np.arange(spec.numel), np.zeros(0, dtype=np.int64)
        else:
            left_out, kept = source[spec.name]
            free, locked = np.flatnonzero(~left_out & ~kept), np.flatnonzero(kept)
        for q in range(n_rand):
            k = int(counts[q % len(counts), li])
            rand[q, locked] = True
            rand[q, free[gen.choice(len(free), k - len(locked), replace=False)]] = True
        out[spec.name] = np.concatenate([stored, rand.reshape(n_rand, *spec.shape)])
    return out


def set_batchnorm(model, store, w, seeds, bn, dataset, bn_batches, batch_size, rng) -> None:
    """Re-estimate every slot's statistics, then give stored masks back their own (``bn="stored"``)."""
    from landscape.tl import _paths as paths

    stored = {}
    if bn == "stored":
        stored = {
            slot: store.load_batchnorm(w, s) for slot, s in enumerate(seeds) if store.has_batchnorm(w, s)
        }
    x_train = dataset.train[0].to(_device(model))
    paths.reestimate_batchnorm(model, x_train, paths.bn_batches(len(x_train), batch_size, bn_batches, rng))
    for slot, state in stored.items():
        model.load_batchnorm_state(slot, state)
    model.eval()


def _device(model) -> Any:
    return next(iter(model.buffers())).device


def grams(model, x, at: str) -> dict[str, np.ndarray]:
    """Centred Gram matrices ``(slots, n, n)`` of every representation, in forward order."""
    import torch

    from landscape.nn.layers import MaskedConv1d, MaskedConv2d

    m = model.n_masks
    found: dict[str, Any] = {}
    # tensors already taken, by memory address; weak, so that an address freed and reused by
    # a later activation is not mistaken for the same tensor
    seen: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
    hooks = []

    def features(layer, tensor):
        if isinstance(layer, (MaskedConv1d, MaskedConv2d)):  # (B, M*C, ...) -> (M, B, C*...)
            return tensor.reshape(tensor.shape[0], m, -1).transpose(0, 1)
        return tensor.reshape(m, tensor.shape[1], -1)

    def taken(tensor) -> bool:
        key = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if seen.get(key) is tensor:  # one tensor feeding two layers (a block input and its shortcut)
            return True
        seen[key] = tensor
        return False

    def keep(name, layer, tensor):
        if not taken(tensor):
            found[name] = centred_grams(features(layer, tensor))

    first = []
    for name, layer in model.masked_layers():
        if at == "input":

            def pre(module, args, name=name):
                if not first:  # the network's input: the same for every mask
                    first.append(name)
                    taken(args[0])
                    return
                keep(name, module, args[0])

            hooks.append(layer.register_forward_pre_hook(pre))
        else:
            hooks.append(
                layer.register_forward_hook(lambda module, args, out, name=name: keep(name, module, out))
            )
    try:
        with torch.no_grad():
            model.eval()
            logits = model(x.unsqueeze(0).expand(m, *x.shape))
    finally:
        for h in hooks:
            h.remove()
    if at == "input":
        found[LOGITS] = centred_grams(logits)
    return found


def centred_grams(feats) -> np.ndarray:
    """``(M, B, P)`` features -> centred Grams ``(M, B, B)`` (float64 arithmetic, float32 kept)."""
    f = feats.double()
    f = f - f.mean(dim=1, keepdim=True)
    return (f @ f.transpose(1, 2)).float().cpu().numpy()
