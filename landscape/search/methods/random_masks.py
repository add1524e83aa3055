"""Random masks of matched density: the null model of the mask landscape.

Mask ``i`` of weight seed ``w`` is drawn from its own stream (:func:`mask_stream`: the search
seed's, and the network's), layer by layer in layout order, with uniform positions and the
exact count a search would keep:

- layer-wise searches (the default): ``N - floor((1 - d) N)`` per layer (inside an ER
  source the counts of :func:`.sources.layer_targets`);
- global searches (``method.global_topk``, or a frozen source with ``scope: global``): the
  network-wide count, with
  locked entries always in, pruned ones never, and the rest uniform over all free entries.

Dense layers are all ones. Nothing is trained (``needs_training = False``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from landscape.search.methods.base import Method
from landscape.search.methods.sources import (
    check_reachable,
    install_source,
    layer_kept,
    layer_targets,
    ranks_globally,
)

if TYPE_CHECKING:
    from landscape.nn.base import EnsembleNet
    from landscape.nn.layers import MaskedLayer


def mask_stream(search_seed: int, weight_seed: int | None) -> torch.Generator:
    """The stream of one random mask: ``(search_seed, "method", "random")`` for weight seed 0
    (the stream earlier versions drew for every network, so those masks are unchanged),
    ``(search_seed, "method", "random", "network", weight_seed)`` for the others.

    One search seed in two networks gives two independent masks: random masks are the
    null of every network, and identical ones would count one draw once per network.
    """
    from landscape.nn.init import mask_generator

    return mask_generator(search_seed, weight_seed, "method", "random")


def uniform_mask(frozens: Sequence[Tensor | None], sizes: Sequence[int], k: int, gen) -> Tensor:
    """Flat bool mask over the concatenated layers: locked in, ``k`` kept in total.

    ``frozens`` are the layers' patterns (``(1, *shape)`` or None); the ``k - n_locked``
    other kept entries are a uniform choice among the free entries (one ``randperm``).
    """
    parts_free, parts_locked = [], []
    for frozen, n in zip(frozens, sizes):
        f = torch.zeros(n, dtype=torch.int8) if frozen is None else frozen.reshape(-1).cpu()
        parts_free.append(f == 0)
        parts_locked.append(f > 0)
    free, locked = torch.cat(parts_free), torch.cat(parts_locked)
    free_idx = free.nonzero().flatten()
    n_pick = k - int(locked.sum())
    if not 0 <= n_pick <= free_idx.numel():
        raise ValueError(
            f"cannot keep {k} entries with {int(locked.sum())} locked and {free_idx.numel()} free"
        )
    mask = locked.clone()
    mask[free_idx[torch.randperm(free_idx.numel(), generator=gen)[:n_pick]]] = True
    return mask


def draw_masks(
    layers: Sequence[MaskedLayer], method_cfg, density: float, gen, global_: bool = False
) -> list[Tensor]:
    """One random mask ``(*shape)`` per layer from ``gen`` (CPU), honouring ``layer.frozen``.

    ``method_cfg`` decides the count rule (see :func:`.sources.layer_kept`); ``density``
    overrides its density (K-starts draws at other densities).
    """
    cfg = _with_density(method_cfg, density)
    if global_:
        sizes = [layer.numel for layer in layers]
        flat = uniform_mask([layer.frozen for layer in layers], sizes, layer_kept(sum(sizes), cfg), gen)
        return [p.reshape(layer.weight_shape) for p, layer in zip(flat.split(sizes), layers)]
    targets = layer_targets([layer.weight_shape for layer in layers], cfg)
    return [
        uniform_mask([layer.frozen], [layer.numel], k, gen).reshape(layer.weight_shape)
        for layer, k in zip(layers, targets)
    ]


def _with_density(method_cfg, density: float):
    if method_cfg.density == density:
        return method_cfg
    return dataclasses.replace(method_cfg, density=density)


def ensemble_masks(model: EnsembleNet, per_mask: Sequence[Sequence[Tensor]]) -> dict[str, Tensor]:
    """``{layer: bool (M, *shape)}`` from per-mask lists over the searchable layers.

    Dense layers get all ones.
    """
    out: dict[str, Tensor] = {}
    searchable = [(n, layer) for n, layer in model.masked_layers() if not layer.dense]
    for j, (name, _) in enumerate(searchable):
        out[name] = torch.stack([masks[j] for masks in per_mask])
    for name, layer in model.masked_layers():
        if layer.dense:
            out[name] = torch.ones((model.n_masks, *layer.weight_shape), dtype=torch.bool)
    return out


class RandomMasks(Method):
    """Uniformly random masks at the configured density (and source); no training."""

    needs_training = False

    def setup(self, model: EnsembleNet, weight_seed: int, search_seeds: list[int]) -> None:
        super().setup(model, weight_seed, search_seeds)
        named = self.searchable()
        meth = self.cfg.method
        global_ = ranks_globally(meth)
        install_source(named, meth, self.weight_seed, global_)
        layers = [layer for _, layer in named]
        total_k = layer_kept(sum(layer.numel for layer in layers), meth)
        check_reachable(named, meth, total_k if global_ else None)
        per_mask = [
            draw_masks(layers, meth, self.density, mask_stream(seed, self.weight_seed), global_)
            for seed in self.search_seeds
        ]
        model.set_fixed_masks(ensemble_masks(model, per_mask))

    def parameters(self, model: EnsembleNet) -> list[Tensor]:
        return []

    def mask(self, layer: MaskedLayer) -> Tensor:
        if layer.fixed_mask is None:
            raise RuntimeError("random masks are drawn in setup(); call method.setup(model, ...) first")
        return layer.fixed_mask.to(layer.weight.dtype)
