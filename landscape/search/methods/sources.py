"""What a search may select from: the dense network, an ER source or a partially frozen one.

Patterns are int8 ``(1, *shape)`` tensors stored in ``layer.frozen`` and shared by every
mask of a ``weight_seed`` (they come from the stream ``(weight_seed, "source")``, drawn
layer by layer in layout order over the searchable, i.e. non-dense, layers):

- ``-1`` never kept (outside an ER source, or frozen-pruned),
- ``+1`` always kept (frozen-locked),
- ``0`` searchable.

ER source (Gadhikar et al. 2023)
    Layer ``l`` has source density ``d_l`` from ``source.er_distribution`` at the network
    density ``source.density`` (``uniform``: every layer the same; ``erk``, ``balanced``,
    ``pyramidal``: see :mod:`.distributions`). With ``sampling: bernoulli`` every weight is
    inside independently with probability ``d_l``. With ``sampling: exact`` a layer holds
    exactly what a search at ``method.density = source.density`` keeps: ``floor(d_l N_l)``
    weights (at least one), or, for a global search, those counts topped up by largest
    remainders until the network holds ``floor(sum_l d_l N_l)``; positions are the first
    entries of a ``randperm``. A layer-wise search keeps ``floor(k_l N_l)`` weights of each layer (at
    least one), all inside the source, with ``k_l = d_l * density / source.density``: every
    layer keeps the same fraction of its source (``k_l = density`` for a uniform source).
    So ``density = source.density`` keeps the whole source of an exact source, while a
    Bernoulli source holds fewer than ``floor(d N)`` weights in about half of all draws.

Partially frozen source (Otsuka et al. 2024)
    Exactly ``floor(pruned * N_total)`` weights are pruned and ``floor(locked * N_total)``
    locked over the searchable layers. ``locked_rule: sparsity`` (the reference configs'
    ``r_method: sparsity_distribution``): the expected pruned count of a layer is its
    sparsity under ``distribution`` at density ``1 - pruned``, the expected frozen count its
    sparsity at ``1 - pruned - locked``, locked = the difference. ``locked_rule: density``
    (the reference code's ``density_distribution``, what runs when a config omits
    ``r_method``): locked = the layer's density under ``distribution`` at density
    ``locked``. ``equal`` gives every layer the same fractions. Expected counts are rounded
    by largest remainders so the network totals are exact. Positions are uniform within each
    layer (``randperm``: the first ``n_pruned`` pruned, the next ``n_locked`` locked).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from landscape.errors import ConfigError
from landscape.nn.init import generator
from landscape.search.methods.base import floor_count, kept_count
from landscape.search.methods.distributions import erk_densities, layer_densities

__all__ = [
    "apportion",
    "check_reachable",
    "er_counts",
    "er_layer_densities",
    "er_patterns",
    "erk_densities",
    "frozen_counts",
    "frozen_patterns",
    "install_source",
    "layer_kept",
    "layer_targets",
    "ranks_globally",
    "source_patterns",
]


def apportion(expected: Sequence[float], total: int, caps: Sequence[int]) -> list[int]:
    """Integer counts near ``expected`` that sum to exactly ``total``, each within ``[0, cap]``.

    Largest-remainder rounding; entries at their cap pass their share on to the others.
    """
    if total > sum(caps):
        raise ValueError(f"cannot place {total} items in capacity {sum(caps)}")
    counts = [min(cap, max(0, math.floor(e))) for e, cap in zip(expected, caps)]
    while sum(counts) != total:
        short = total - sum(counts)
        if short > 0:
            room = [i for i in range(len(counts)) if counts[i] < caps[i]]
            room.sort(key=lambda i: (counts[i] - expected[i], i))
            for i in room[:short]:
                counts[i] += 1
        else:
            have = [i for i in range(len(counts)) if counts[i] > 0]
            have.sort(key=lambda i: (expected[i] - counts[i], i))
            for i in have[:-short]:
                counts[i] -= 1
    return counts


# partially frozen -------------------------------------------------------------------------------


def frozen_counts(
    shapes: Sequence[tuple[int, ...]],
    pruned: float,
    locked: float,
    distribution: str,
    locked_rule: str = "sparsity",
) -> list[tuple[int, int]]:
    """``(n_pruned, n_locked)`` per layer with exact network totals (see the module doc)."""
    sizes = [math.prod(s) for s in shapes]
    n_total = sum(sizes)
    if distribution == "equal":
        exp_p = [pruned * n for n in sizes]
        exp_r = [locked * n for n in sizes]
    else:
        try:
            d_pruned = layer_densities(distribution, shapes, 1.0 - pruned)
        except ValueError:
            raise ConfigError(f"method.source.distribution: unknown value {distribution!r}") from None
        exp_p = [(1.0 - d) * n for d, n in zip(d_pruned, sizes)]
        if locked_rule == "density":
            exp_r = [d * n for d, n in zip(layer_densities(distribution, shapes, locked), sizes)]
        else:
            d_frozen = layer_densities(distribution, shapes, 1.0 - pruned - locked)
            exp_f = [(1.0 - d) * n for d, n in zip(d_frozen, sizes)]
            exp_r = [max(0.0, f - p) for f, p in zip(exp_f, exp_p)]
    n_p = apportion(exp_p, floor_count(n_total, pruned), sizes)
    n_r = apportion(exp_r, floor_count(n_total, locked), [n - p for n, p in zip(sizes, n_p)])
    return list(zip(n_p, n_r))


def frozen_patterns(
    shapes: Sequence[tuple[int, ...]], counts: Sequence[tuple[int, int]], weight_seed: int
) -> list[Tensor]:
    """Partially frozen patterns: uniform positions per layer from ``(weight_seed, "source")``."""
    gen = generator(weight_seed, "source")
    out = []
    for shape, (n_p, n_r) in zip(shapes, counts):
        perm = torch.randperm(math.prod(shape), generator=gen)
        pattern = torch.zeros(math.prod(shape), dtype=torch.int8)
        pattern[perm[:n_p]] = -1
        pattern[perm[n_p : n_p + n_r]] = 1
        out.append(pattern.reshape(1, *shape))
    return out


# Erdős–Rényi ------------------------------------------------------------------------------------


def er_layer_densities(shapes: Sequence[tuple[int, ...]], src) -> list[float]:
    """Source density of every layer for the ER source config ``src``."""
    return layer_densities(src.er_distribution, shapes, src.density)


def er_counts(
    shapes: Sequence[tuple[int, ...]], densities: Sequence[float], network_total: bool = False
) -> list[int]:
    """Exact source sizes: what a search at ``method.density = source.density`` keeps.

    ``floor(d_l N_l)`` per layer (at least 1). With ``network_total`` (a global search) the
    counts are topped up, largest remainders ``d_l N_l - count_l`` first (lowest layer among
    equal ones), until the network holds ``floor(sum_l d_l N_l)``.
    """
    sizes = [math.prod(s) for s in shapes]
    counts = [min(n, max(1, floor_count(n, d))) for n, d in zip(sizes, densities)]
    if not network_total:
        return counts
    expected = sum(d * n for d, n in zip(densities, sizes))
    total = min(sum(sizes), max(sum(counts), floor_count(sum(sizes), expected / sum(sizes))))
    room = sorted(
        (i for i in range(len(sizes)) if counts[i] < sizes[i]),
        key=lambda i: (counts[i] - densities[i] * sizes[i], i),
    )
    for i in room[: total - sum(counts)]:
        counts[i] += 1
    return counts


def er_patterns(
    shapes: Sequence[tuple[int, ...]],
    density: float | Sequence[float],
    weight_seed: int,
    sampling: str = "bernoulli",
    network_total: bool = False,
) -> list[Tensor]:
    """ER sources as int8 ``(1, *shape)`` patterns (0 inside, -1 outside).

    ``density`` is one source density for every layer or one per layer; ``sampling`` is
    ``"bernoulli"`` (independent draws) or ``"exact"`` (the first :func:`er_counts`
    positions of a ``randperm`` per layer; ``network_total`` as there).
    """
    densities = [float(density)] * len(shapes) if isinstance(density, (int, float)) else list(density)
    gen = generator(weight_seed, "source")
    out = []
    if sampling == "exact":
        for shape, count in zip(shapes, er_counts(shapes, densities, network_total)):
            pattern = torch.full((math.prod(shape),), -1, dtype=torch.int8)
            pattern[torch.randperm(math.prod(shape), generator=gen)[:count]] = 0
            out.append(pattern.reshape(1, *shape))
        return out
    for shape, d in zip(shapes, densities):
        inside = torch.rand(shape, generator=gen) < d
        out.append(torch.where(inside, 0, -1).to(torch.int8).unsqueeze(0))
    return out


# installing and checking ------------------------------------------------------------------------


def ranks_globally(method_cfg) -> bool:
    """Whether a search ranks its layers together: ``method.global_topk``, or a frozen source
    with ``scope: global`` (an exact ER source then holds the network's count)."""
    src = method_cfg.source
    return bool(method_cfg.global_topk) or (src.kind == "frozen" and src.scope == "global")


def source_patterns(
    layers: Sequence[tuple[str, object]], method_cfg, weight_seed: int, global_topk: bool = False
) -> list[Tensor | None]:
    """The patterns of ``method_cfg.source`` for the searchable ``(name, layer)`` pairs in
    layout order (each layer needs ``weight_shape`` and ``numel``); None per layer for a
    dense source. Raises :class:`ConfigError` for a source that cannot be placed."""
    src = method_cfg.source
    shapes = [layer.weight_shape for _, layer in layers]
    if src.kind == "dense" or not layers:
        return [None] * len(layers)
    if src.kind == "er":
        densities = er_layer_densities(shapes, src)
        return er_patterns(shapes, densities, weight_seed, src.sampling, network_total=global_topk)
    if src.kind == "frozen":
        try:
            counts = frozen_counts(shapes, src.pruned, src.locked, src.distribution, src.locked_rule)
        except ValueError:
            raise ConfigError(
                f"method.source.locked: {src.locked} cannot be placed beside source.pruned={src.pruned} "
                f"under the {src.distribution!r} distribution with locked_rule {src.locked_rule!r}; "
                "lower one of them or use locked_rule 'sparsity'"
            ) from None
        for (name, layer), (n_p, _) in zip(layers, counts):
            if n_p >= layer.numel:
                raise ConfigError(
                    f"method.source.pruned: {src.pruned} prunes every weight of layer {name!r} "
                    f"under the {src.distribution!r} distribution; lower it or use 'erk'"
                )
        return frozen_patterns(shapes, counts, weight_seed)
    raise ConfigError(f"method.source.kind: unknown value {src.kind!r}")


def install_source(
    layers: Sequence[tuple[str, object]], method_cfg, weight_seed: int, global_topk: bool = False
) -> None:
    """Draw the source of ``method_cfg.source`` and store it in each layer's ``frozen``.

    ``layers`` are the searchable ``(name, MaskedLayer)`` pairs in layout order; ``global_topk``
    (:func:`ranks_globally`) says whether the search ranks them together. A dense source
    clears any pattern.
    """
    patterns = source_patterns(layers, method_cfg, weight_seed, global_topk)
    for (_, layer), pattern in zip(layers, patterns):
        layer.frozen = None if pattern is None else pattern.to(layer.scores.device)


def check_reachable(
    layers: Sequence[tuple[str, object]],
    method_cfg,
    global_k: int | None,
    layer_k: Sequence[int] | None = None,
) -> None:
    """Raise :class:`ConfigError` when the density cannot be met inside the installed source.

    ``global_k`` is the network-wide kept count of a global search (None for layer-wise,
    which is checked layer by layer against ``layer_k``, by default :func:`layer_targets`).
    """
    kind = method_cfg.source.kind
    if kind == "dense":
        return
    if global_k is None and layer_k is None:
        layer_k = layer_targets([layer.weight_shape for _, layer in layers], method_cfg)
    inside = locked = 0
    for j, (name, layer) in enumerate(layers):
        f = layer.frozen[0]
        n_in, n_lock = int((f >= 0).sum()), int((f > 0).sum())
        inside, locked = inside + n_in, locked + n_lock
        if global_k is None:
            k = layer_k[j]
            if k > n_in:
                raise ConfigError(
                    f"method.density: layer {name!r} keeps {k} of {layer.numel} weights but its "
                    f"{kind} source holds only {n_in}; raise method.source.density or lower method.density"
                    + ("" if kind != "er" else " (or use method.source.sampling: exact)")
                )
            if k < n_lock:
                raise ConfigError(
                    f"method.density: layer {name!r} keeps {k} of {layer.numel} weights but its "
                    f"frozen source locks {n_lock}; raise method.density or use method.source.scope: global"
                )
    if global_k is not None and not locked <= global_k <= inside:
        raise ConfigError(
            f"method.density: {method_cfg.density} keeps {global_k} weights, but the {kind} source "
            f"locks {locked} and allows at most {inside}; adjust method.source or method.density"
        )


def layer_kept(n: int, method_cfg) -> int:
    """Kept count of ``n`` weights at ``method.density`` under the source kind's count rule.

    ER sources keep ``floor(density * n)`` (at least one), as their reference does; every
    other search ``n - floor((1 - density) n)``. For a whole network this is the count of a
    global search; per layer, use :func:`layer_targets` (ER distributions differ by layer).
    """
    if method_cfg.source.kind == "er":
        return max(1, floor_count(n, method_cfg.density))
    return kept_count(n, method_cfg.density)


def layer_targets(shapes: Sequence[tuple[int, ...]], method_cfg) -> list[int]:
    """Kept count of every layer in a layer-wise search (see the module doc for ER sources)."""
    src = method_cfg.source
    sizes = [math.prod(s) for s in shapes]
    if src.kind != "er" or src.er_distribution == "uniform":
        return [layer_kept(n, method_cfg) for n in sizes]
    ratio = method_cfg.density / src.density
    return [max(1, floor_count(n, d * ratio)) for n, d in zip(sizes, er_layer_densities(shapes, src))]
