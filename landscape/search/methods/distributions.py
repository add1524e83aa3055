"""Layer-wise densities: how a network-wide density is spread over the layers.

Each function takes the weight shapes of the layers in layout order and a network density
``d`` and returns one density per layer in ``[0, 1]``. Where a layer would exceed 1 it is
capped at 1 (dense) and, unless stated otherwise, its surplus goes to the other layers so
that ``sum(d_l N_l) = d N`` still holds.

``uniform``
    Every layer ``d``.
``erk`` (Erdős–Rényi-kernel, Evci et al. 2020)
    ``d_l = eps * sum(shape_l) / prod(shape_l)``; layers above 1 are made dense and ``eps``
    is solved again over the rest.
``epl`` (equal per layer; the partially frozen code's ImageNet and GNN configs)
    Every layer the same *count* ``d N / L``; a layer smaller than its share is dense and
    the overflow is shared equally by the others, repeated until none overflows.
``balanced`` (the ER source code's ``ER_same_params_per_layer``)
    Every layer the count ``d N / L``, capped at dense *without* redistribution: when a layer
    caps, the network density falls below ``d`` (as in that code).
``igq`` (Iterative Global Quantile; Lee et al., the partially frozen code's option)
    ``d_l = 1 / (1 + f N_l)`` with the force ``f >= 0`` found by bisection so that the network
    density is ``d``.
``pyramidal`` (the ER source code's ``pyramid_sparsity``)
    ``d_l = x^l`` for the ``l``-th layer (1-based), with ``x`` in (0, 1] solving
    ``sum_l N_l x^l = d N``: density falls geometrically with depth and never exceeds 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Shapes = Sequence[tuple[int, ...]]


def _sizes(shapes: Shapes) -> list[int]:
    return [math.prod(s) for s in shapes]


def uniform_densities(shapes: Shapes, density: float) -> list[float]:
    """Every layer at ``density``."""
    return [float(density)] * len(shapes)


def erk_densities(shapes: Shapes, density: float) -> list[float]:
    """Erdős–Rényi-kernel densities whose weighted mean is ``density`` (see the module doc)."""
    sizes = _sizes(shapes)
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


def epl_densities(shapes: Shapes, density: float) -> list[float]:
    """Equal count per layer with the overflow of dense layers shared by the others."""
    sizes = _sizes(shapes)
    counts = [0.0] * len(sizes)
    open_layers = set(range(len(sizes)))
    left = density * sum(sizes)
    while left > 0 and open_layers:
        share = left / len(open_layers)
        left = 0.0
        for i in sorted(open_layers):
            counts[i] += share
            if counts[i] >= sizes[i]:
                left += counts[i] - sizes[i]
                counts[i] = float(sizes[i])
        open_layers = {i for i in open_layers if counts[i] < sizes[i]}
    return [c / n for c, n in zip(counts, sizes)]


def balanced_densities(shapes: Shapes, density: float) -> list[float]:
    """Equal count per layer, each capped at dense; no redistribution (see the module doc)."""
    sizes = _sizes(shapes)
    share = density * sum(sizes) / len(sizes)
    return [min(1.0, share / n) for n in sizes]


def igq_densities(shapes: Shapes, density: float) -> list[float]:
    """``1 / (1 + f N_l)`` with ``f`` bisected until the network density is ``density``."""
    sizes = _sizes(shapes)
    total = sum(sizes)
    if density >= 1.0:
        return [1.0] * len(sizes)

    def kept(force: float) -> float:
        return sum(n / (1.0 + force * n) for n in sizes)

    low, high = 0.0, 1.0
    while kept(high) > density * total:  # kept() falls from N (f = 0) towards 0
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if kept(mid) > density * total:
            low = mid
        else:
            high = mid
        if high - low <= 1e-15 * high:
            break
    force = 0.5 * (low + high)
    return [1.0 / (1.0 + force * n) for n in sizes]


def pyramidal_densities(shapes: Shapes, density: float) -> list[float]:
    """``x^l`` per layer (1-based depth) with ``sum N_l x^l = density * N`` (bisection on x)."""
    sizes = _sizes(shapes)
    target = density * sum(sizes)
    if density >= 1.0:
        return [1.0] * len(sizes)

    def kept(x: float) -> float:
        return sum(n * x ** (depth + 1) for depth, n in enumerate(sizes))

    low, high = 0.0, 1.0  # kept() is increasing, kept(0) = 0 < target < kept(1) = N
    for _ in range(200):
        mid = 0.5 * (low + high)
        if kept(mid) < target:
            low = mid
        else:
            high = mid
        if high - low <= 1e-16:
            break
    x = 0.5 * (low + high)
    return [x ** (depth + 1) for depth in range(len(sizes))]


DISTRIBUTIONS: dict[str, Callable[[Shapes, float], list[float]]] = {
    "uniform": uniform_densities,
    "equal": uniform_densities,  # the frozen source's name for an equal fraction per layer
    "erk": erk_densities,
    "epl": epl_densities,
    "balanced": balanced_densities,
    "igq": igq_densities,
    "pyramidal": pyramidal_densities,
}


def layer_densities(kind: str, shapes: Shapes, density: float) -> list[float]:
    """Densities per layer under distribution ``kind`` (a key of :data:`DISTRIBUTIONS`).

    A network density of 0 (a frozen source locking nothing, say) is 0 in every layer.
    """
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"unknown layer distribution {kind!r} (choose from {', '.join(DISTRIBUTIONS)})")
    if density <= 0:
        return [0.0] * len(shapes)
    return DISTRIBUTIONS[kind](shapes, density)
