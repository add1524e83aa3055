"""Sizes of the deliberate differences between this toolkit and the reference codes.

Each measurement restates, in a few lines of its own, the arithmetic a reference code
performs (its kept-count expression, its gain denominator, its ER indexing) next to this
toolkit's rule, on the layer lists of the reference networks, and prints how often and by
how much they differ. docs/methods.md quotes the output.

    python studies/reference_differences.py          # about 20 s on 2 CPU cores
"""

from __future__ import annotations

import math

import numpy as np
import torch

from landscape.config import ModelConfig
from landscape.nn import models
from landscape.search.methods.base import floor_count, kept_count
from landscape.search.methods.sources import frozen_counts

GRID = [round(0.01 * i, 2) for i in range(1, 100)]


def layer_sizes(name: str) -> list[int]:
    net = getattr(models, name)(ModelConfig(name=name), (3, 32, 32), 10, 1)
    return [layer.numel for _, layer in net.masked_layers()]


def hidden_networks_counts(sizes: list[int]) -> str:
    """GetSubnet zeroes int((1 - k) N) entries in float64: keeps N - int((1 - k) N)."""
    differ = [(n, k) for n in sizes for k in GRID if n - int((1 - k) * n) != kept_count(n, k)]
    example = 200 - int((1 - 0.9) * 200), kept_count(200, 0.9)
    return (
        f"hidden-networks int((1-k)N): d=0.9, N=200 keeps {example[0]} vs {example[1]}; "
        f"Conv-4 and ResNet-18 layers x 99 densities: {len(differ)} of {len(sizes) * len(GRID)} "
        f"(layer, density) pairs keep one more"
    )


def frozen_code_counts(total: int, label: str) -> str:
    """Global threshold at rank int(N * s) with N * s computed in float32 tensors."""
    fewer = more = 0
    for s in GRID:
        k_ref = int((torch.tensor(float(total)) * torch.tensor([s], dtype=torch.float32)).int()[0])
        k_ours = total - kept_count(total, 1 - s)  # pruned count = floor(s N)
        fewer += k_ref > k_ours
        more += k_ref < k_ours
    return f"frozen code float32 int(N s), {label} (N={total:,}): keeps one fewer at {fewer} and more at {more} of 99 sparsities"


def iterand_counts(sizes: list[int], label: str) -> str:
    """percentile(S, 100 s) = kthvalue(1 + round(s (N - 1))), keep S >= it: N - round(s (N - 1))."""
    diffs = [(n - round(s * (n - 1))) - kept_count(n, 1 - s) for n in sizes for s in GRID]
    differ = sum(d != 0 for d in diffs)
    return (
        f"IteRand percentile, {label} layers x 99 sparsities: {differ} of {len(diffs)} pairs differ, "
        f"by {min(diffs)} to {max(diffs)} weights"
    )


def biprop_gain(sizes: list[int], label: str) -> str:
    """Biprop's alpha divides the kept |W| by int(k N) while N - int((1 - k) N) are kept."""
    ratios = []
    for n in sizes:
        for k in (0.8, 0.6, 0.5, 0.4, 0.2, 0.1):
            kept = n - int((1 - k) * n)
            ratios.append(kept / int(k * n) - 1)
    return (
        f"Biprop alpha / int(kN) vs / kept, {label} at its README densities: "
        f"{sum(r != 0 for r in ratios)} of {len(ratios)} (layer, density) pairs, largest {max(ratios):.2e} relative"
    )


def frozen_out_of_interval() -> str:
    """Conv-6 `0.7-erk-p_0.8`: sparsity 0.7 < pruned 0.8; the threshold falls in the pruned block."""
    net = models.conv6(ModelConfig(name="conv6"), (3, 32, 32), 10, 1)
    shapes = [layer.weight_shape for _, layer in net.masked_layers()]
    counts = frozen_counts(shapes, 0.8, 0.0, "erk")
    total = sum(math.prod(s) for s in shapes)
    unpruned = total - sum(p for p, _ in counts)
    return (
        f"frozen Conv-6 s=0.7, p=0.8: asks for {total - floor_count(total, 0.7):,} kept, at most "
        f"{unpruned:,} unpruned exist; the reference keeps all {unpruned:,} (density {unpruned / total:.3f}, "
        "no free choice left); this toolkit refuses the config"
    )


def er_slt_indexing(shape=(64, 64, 3, 3), density=0.5, k=0.2, seed=0) -> str:
    """GetSubnetER on an unflattened ER mask: where(er_mask == 1)[0] gives output-channel rows."""
    gen = torch.Generator().manual_seed(seed)
    er_mask = (torch.rand(shape, generator=gen) < density).float()
    n = math.prod(shape) + shape[0]  # weights and bias scores, concatenated
    scores = torch.full((n,), 0.5) + 1e-3 * torch.rand(n, generator=gen)
    rows = torch.where(er_mask == 1)[0]  # dim-0 indices, one per inside entry
    out = scores.clone()
    picked = scores[rows]
    order = picked.sort(descending=True).indices
    target = int(k * n)
    picked[order[:target]] = 1
    picked[order[target:]] = 0
    out[rows] = picked
    binary = ((out == 0) | (out == 1)).float().mean().item()
    touched = rows.unique().numel()
    return (
        f"ER_SLT GetSubnetER on a {shape} conv (d_src={density}, k={k}): {touched} distinct positions "
        f"(the first {shape[0]}) get a 0/1 value, {binary:.3%} of the entries; the other entries multiply "
        "their weight by |S| itself"
    )


def threshold_ties(seed: int = 0, draws: int = 20) -> str:
    """How often kaiming-uniform float32 scores tie at a layer's top-k threshold (Conv-6, d=0.5)."""
    gen = torch.Generator().manual_seed(seed)
    net = models.conv6(ModelConfig(name="conv6"), (3, 32, 32), 10, 1)
    tied = cases = largest = 0
    for _, layer in net.masked_layers():
        n = layer.numel
        bound = 1 / math.sqrt(layer.fan_in)
        for _ in range(draws):
            keys = ((torch.rand(n, generator=gen) * 2 - 1) * bound).abs().numpy()
            k = kept_count(n, 0.5)
            t = np.partition(keys, n - k)[n - k]
            equal = int((keys == t).sum())
            tied += equal > 1
            largest = max(largest, equal)
            cases += 1
    return (
        f"ties at the threshold, kaiming-uniform float32 scores, Conv-6 d=0.5: {tied} of {cases} "
        f"(layer, draw) cases, at most {largest} values tied"
    )


def main() -> None:
    conv4, conv6, resnet18 = layer_sizes("conv4"), layer_sizes("conv6"), layer_sizes("resnet18")
    print(hidden_networks_counts(conv4 + resnet18))
    print(frozen_code_counts(sum(resnet18), "ResNet-18"))
    print(frozen_code_counts(sum(conv6), "Conv-6"))
    print(iterand_counts(conv6, "Conv-6"))
    print(iterand_counts(resnet18, "ResNet-18"))
    print(biprop_gain(conv4, "Conv-4"))
    print(biprop_gain(resnet18, "ResNet-18"))
    print(frozen_out_of_interval())
    print(er_slt_indexing())
    print(threshold_ties())


if __name__ == "__main__":
    main()
