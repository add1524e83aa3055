"""What a search may select from: the dense network, an ER source or a partially frozen one.

Patterns are int8 ``(1, *shape)`` tensors stored in ``layer.frozen`` and shared by every
mask of a ``weight_seed`` (they come from the stream ``(weight_seed, "source")``, drawn
layer by layer in layout order over the searchable, i.e. non-dense, layers):

- ``-1`` never kept (outside an ER source, or frozen-pruned),
- ``+1`` always kept (frozen-locked),
- ``0`` searchable.

ER source (Gadhikar et al. 2023)
    Every weight is inside the source independently with probability ``source.density``.
    The search keeps ``floor(density * N)`` weights of the full layer (at least one), all
    inside the source.

Partially frozen source (Otsuka et al. 2024)
    Exactly ``floor(pruned * N_total)`` weights are pruned and ``floor(locked * N_total)``
    locked over the searchable layers. The per-layer split follows the configs'
    ``sparsity_distribution`` scheme: with ``erk``, the expected pruned count of a layer is
    its ERK sparsity at density ``1 - pruned`` and the expected frozen count its ERK sparsity
    at density ``1 - pruned - locked`` (locked = the difference); with ``equal``, every
    layer gets the same fractions. Expected counts are rounded by largest remainders so the
    network totals are exact. Positions are uniform within each layer (``randperm``: the
    first ``n_pruned`` pruned, the next ``n_locked`` locked).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from landscape.errors import ConfigError
from landscape.nn.init import generator
from landscape.search.methods.base import floor_count, kept_count


def erk_densities(shapes: Sequence[tuple[int, ...]], density: float) -> list[float]:
    """Erdős–Rényi-kernel densities per layer whose weighted mean is ``density``.

    Layer ``l`` gets ``eps * sum(shape_l) / prod(shape_l)``, capped at 1; layers that would
    exceed 1 are made dense and ``eps`` is solved again over the rest (as in RigL).
    """
    sizes = [math.prod(s) for s in shapes]
    raw = [sum(s) / n for s, n in zip(shapes, sizes)]
    target = density * sum(sizes)
    dense: set[int] = set()
    while True:
        free = [i for i in range(len(sizes)) if i not in dense]
        budget = target - sum(sizes[i] for i in dense)
        divisor = sum(raw[i] * sizes[i] for i in free)
        eps = budget / divisor if divisor > 0 else 0.0
        over = [i for i in free if eps * raw[i] > 1.0]
        if not over:
            break
        dense.update(over)
    return [1.0 if i in dense else max(0.0, eps * raw[i]) for i in range(len(sizes))]


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


def frozen_counts(
    shapes: Sequence[tuple[int, ...]], pruned: float, locked: float, distribution: str
) -> list[tuple[int, int]]:
    """``(n_pruned, n_locked)`` per layer with exact network totals (see the module doc)."""
    sizes = [math.prod(s) for s in shapes]
    n_total = sum(sizes)
    if distribution == "erk":
        d_pruned = erk_densities(shapes, 1.0 - pruned)
        d_frozen = erk_densities(shapes, 1.0 - pruned - locked)
        exp_p = [(1.0 - d) * n for d, n in zip(d_pruned, sizes)]
        exp_f = [(1.0 - d) * n for d, n in zip(d_frozen, sizes)]
        exp_r = [max(0.0, f - p) for f, p in zip(exp_f, exp_p)]
    elif distribution == "equal":
        exp_p = [pruned * n for n in sizes]
        exp_r = [locked * n for n in sizes]
    else:
        raise ConfigError(f"method.source.distribution: unknown value {distribution!r}")
    n_p = apportion(exp_p, floor_count(n_total, pruned), sizes)
    n_r = apportion(exp_r, floor_count(n_total, locked), [n - p for n, p in zip(sizes, n_p)])
    return list(zip(n_p, n_r))


def er_patterns(shapes: Sequence[tuple[int, ...]], density: float, weight_seed: int) -> list[Tensor]:
    """Bernoulli(``density``) ER sources as int8 ``(1, *shape)`` patterns (0 in, -1 out)."""
    gen = generator(weight_seed, "source")
    out = []
    for shape in shapes:
        inside = torch.rand(shape, generator=gen) < density
        out.append(torch.where(inside, 0, -1).to(torch.int8).unsqueeze(0))
    return out


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


def install_source(layers: Sequence[tuple[str, object]], method_cfg, weight_seed: int) -> None:
    """Draw the source of ``method_cfg.source`` and store it in each layer's ``frozen``.

    ``layers`` are the searchable ``(name, MaskedLayer)`` pairs in layout order. A dense
    source clears any pattern. Raises :class:`ConfigError` when the requested density
    cannot be met with the drawn source.
    """
    src = method_cfg.source
    shapes = [layer.weight_shape for _, layer in layers]
    if src.kind == "dense" or not layers:
        patterns = [None] * len(layers)
    elif src.kind == "er":
        patterns = er_patterns(shapes, src.density, weight_seed)
    elif src.kind == "frozen":
        counts = frozen_counts(shapes, src.pruned, src.locked, src.distribution)
        for (name, layer), (n_p, _) in zip(layers, counts):
            if n_p >= layer.numel:
                raise ConfigError(
                    f"method.source.pruned: {src.pruned} prunes every weight of layer {name!r} "
                    f"under the {src.distribution!r} distribution; lower it or use 'erk'"
                )
        patterns = frozen_patterns(shapes, counts, weight_seed)
    else:
        raise ConfigError(f"method.source.kind: unknown value {src.kind!r}")
    for (_, layer), pattern in zip(layers, patterns):
        layer.frozen = None if pattern is None else pattern.to(layer.scores.device)


def check_reachable(layers: Sequence[tuple[str, object]], method_cfg, global_k: int | None) -> None:
    """Raise :class:`ConfigError` when the density cannot be met inside the installed source.

    ``global_k`` is the network-wide kept count of a global search (None for layer-wise,
    which is checked layer by layer with :func:`layer_kept`).
    """
    kind = method_cfg.source.kind
    if kind == "dense":
        return
    inside = locked = 0
    for name, layer in layers:
        f = layer.frozen[0]
        n_in, n_lock = int((f >= 0).sum()), int((f > 0).sum())
        inside, locked = inside + n_in, locked + n_lock
        if global_k is None:
            k = layer_kept(layer.numel, method_cfg)
            if k > n_in:
                raise ConfigError(
                    f"method.density: layer {name!r} keeps {k} of {layer.numel} weights but its "
                    f"{kind} source holds only {n_in}; raise method.source.density or lower method.density"
                )
    if global_k is not None and not locked <= global_k <= inside:
        raise ConfigError(
            f"method.density: {method_cfg.density} keeps {global_k} weights, but the {kind} source "
            f"locks {locked} and allows at most {inside}; adjust method.source or method.density"
        )


def layer_kept(n: int, method_cfg) -> int:
    """Kept count of a layer of ``n`` weights under the method's density and source kind."""
    if method_cfg.source.kind == "er":
        return max(1, floor_count(n, method_cfg.density))
    return kept_count(n, method_cfg.density)
