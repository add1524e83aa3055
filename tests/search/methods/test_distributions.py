"""Layer-wise density distributions (ERK, EPL, balanced, IGQ, pyramidal) on real layer lists."""

from __future__ import annotations

import math

import pytest

from landscape.config import ModelConfig
from landscape.nn import models
from landscape.search.methods.base import floor_count
from landscape.search.methods.distributions import layer_densities
from landscape.search.methods.sources import frozen_counts


def _shapes(name: str) -> list[tuple[int, ...]]:
    build = getattr(models, name)
    net = build(ModelConfig(name=name), (3, 32, 32), 10, 1)
    return [layer.weight_shape for _, layer in net.masked_layers()]


@pytest.fixture(scope="module")
def layer_lists() -> dict[str, list[tuple[int, ...]]]:
    """Conv-6 (9 masked layers, 2.26M weights) and ResNet-18 (21 layers, 11.16M weights)."""
    return {"conv6": _shapes("conv6"), "resnet18": _shapes("resnet18")}


def network_density(shapes, densities) -> float:
    sizes = [math.prod(s) for s in shapes]
    return sum(d * n for d, n in zip(densities, sizes)) / sum(sizes)


def test_the_layer_lists_are_the_reference_networks(layer_lists):
    assert [sum(math.prod(s) for s in v) for v in layer_lists.values()] == [2_261_184, 11_164_352]
    assert [len(v) for v in layer_lists.values()] == [9, 21]


@pytest.mark.parametrize("net", ["conv6", "resnet18"])
@pytest.mark.parametrize("kind", ["erk", "epl", "igq", "pyramidal"])
@pytest.mark.parametrize("density", [0.05, 0.2, 0.5])
def test_redistributing_distributions_meet_the_network_density(layer_lists, net, kind, density):
    shapes = layer_lists[net]
    d = layer_densities(kind, shapes, density)
    assert all(0 < x <= 1 for x in d)
    assert network_density(shapes, d) == pytest.approx(density, rel=1e-9)


@pytest.mark.parametrize("net", ["conv6", "resnet18"])
def test_erk_follows_the_kernel_rule_below_the_cap(layer_lists, net):
    shapes = layer_lists[net]
    d = layer_densities("erk", shapes, 0.1)
    free = [i for i, x in enumerate(d) if x < 1]
    eps = {d[i] * math.prod(shapes[i]) / sum(shapes[i]) for i in free}  # d_l = eps * sum / prod
    assert max(eps) == pytest.approx(min(eps), rel=1e-12)
    # a capped layer is one the kernel rule would put above 1
    capped = [i for i, x in enumerate(d) if x == 1]
    assert all(next(iter(eps)) * sum(shapes[i]) / math.prod(shapes[i]) > 1 for i in capped)


@pytest.mark.parametrize("net", ["conv6", "resnet18"])
@pytest.mark.parametrize("density", [0.05, 0.2, 0.5])
def test_epl_equal_count_per_layer_with_overflow_redistributed(layer_lists, net, density):
    shapes = layer_lists[net]
    sizes = [math.prod(s) for s in shapes]
    counts = [x * n for x, n in zip(layer_densities("epl", shapes, density), sizes)]
    open_counts = [c for c, n in zip(counts, sizes) if c < n]
    # every layer not made dense holds the same count, and that count exceeds every dense
    # layer's size (a layer is dense only when its equal share overflowed it)
    assert max(open_counts) == pytest.approx(min(open_counts), rel=1e-12)
    assert all(n < open_counts[0] for c, n in zip(counts, sizes) if c >= n)
    assert sum(counts) == pytest.approx(density * sum(sizes), rel=1e-12)


def test_epl_on_conv6_at_density_0_2_by_hand(layer_lists):
    # Conv-6: 1,728 / 36,864 / 73,728 / 147,456 / 294,912 / 589,824 / 1,048,576 / 65,536 / 2,560
    # weights; 0.2 of 2,261,184 is 452,236.8, a ninth 50,248.5. Layers 1, 2 and 9 are smaller
    # than that; sharing their overflow over six raises the share above layer 8 (65,536) too,
    # which is then dense as well; the five others hold (452,236.8 - 106,688) / 5 each.
    shapes = layer_lists["conv6"]
    sizes = [math.prod(s) for s in shapes]
    counts = [x * n for x, n in zip(layer_densities("epl", shapes, 0.2), sizes)]
    dense = [0, 1, 7, 8]
    share = (0.2 * sum(sizes) - sum(sizes[i] for i in dense)) / 5
    assert share == pytest.approx(69_109.76)
    assert [counts[i] for i in dense] == [sizes[i] for i in dense]
    assert counts[2:7] == pytest.approx([share] * 5, rel=1e-12)


@pytest.mark.parametrize("net", ["conv6", "resnet18"])
def test_balanced_caps_without_redistribution(layer_lists, net):
    shapes = layer_lists[net]
    sizes = [math.prod(s) for s in shapes]
    d = layer_densities("balanced", shapes, 0.2)
    share = 0.2 * sum(sizes) / len(sizes)
    assert d == [min(1.0, share / n) for n in sizes]
    assert network_density(shapes, d) < 0.2  # small layers capped: the shortfall is not moved


@pytest.mark.parametrize("net", ["conv6", "resnet18"])
def test_pyramidal_is_geometric_in_depth(layer_lists, net):
    shapes = layer_lists[net]
    d = layer_densities("pyramidal", shapes, 0.2)
    x = d[0]
    assert d == pytest.approx([x ** (i + 1) for i in range(len(d))], rel=1e-12)
    assert 0 < x < 1


@pytest.mark.parametrize("net", ["conv6", "resnet18"])
def test_igq_is_one_over_one_plus_force_times_size(layer_lists, net):
    shapes = layer_lists[net]
    sizes = [math.prod(s) for s in shapes]
    d = layer_densities("igq", shapes, 0.2)
    forces = [(1 / x - 1) / n for x, n in zip(d, sizes)]
    assert max(forces) == pytest.approx(min(forces), rel=1e-9)
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    assert [d[i] for i in order] == sorted(d, reverse=True)


def test_zero_target_is_zero_everywhere(layer_lists):
    for kind in ("erk", "epl", "balanced", "igq", "pyramidal", "uniform"):
        assert layer_densities(kind, layer_lists["conv6"], 0.0) == [0.0] * 9
    counts = frozen_counts(layer_lists["conv6"], 0.4, 0.0, "igq", "density")  # locks nothing
    assert all(r == 0 for _, r in counts)


def test_dense_target_is_dense_everywhere(layer_lists):
    for kind in ("erk", "epl", "igq", "pyramidal", "uniform"):
        assert layer_densities(kind, layer_lists["conv6"], 1.0) == pytest.approx([1.0] * 9)
    # balanced gives each layer N / L, so layers larger than that stay sparse even at 1
    assert min(layer_densities("balanced", layer_lists["conv6"], 1.0)) < 1


# frozen counts under the new distributions and locked rules ----------------------------------


@pytest.mark.parametrize("distribution", ["erk", "epl", "igq", "equal"])
@pytest.mark.parametrize("rule", ["sparsity", "density"])
def test_frozen_counts_have_exact_totals(layer_lists, distribution, rule):
    shapes = layer_lists["conv6"]
    sizes = [math.prod(s) for s in shapes]
    counts = frozen_counts(shapes, 0.5, 0.2, distribution, rule)
    assert sum(p for p, _ in counts) == floor_count(sum(sizes), 0.5)
    assert sum(r for _, r in counts) == floor_count(sum(sizes), 0.2)
    assert all(p + r <= n for (p, r), n in zip(counts, sizes))


def test_frozen_epl_keeps_an_equal_unpruned_count_per_layer(layer_lists):
    shapes = layer_lists["conv6"]
    sizes = [math.prod(s) for s in shapes]
    counts = frozen_counts(shapes, 0.8, 0.0, "epl")
    unpruned = [n - p for (p, _), n in zip(counts, sizes)]
    open_ = [u for u, n in zip(unpruned, sizes) if u < n]
    assert max(open_) - min(open_) <= 1  # equal up to the rounding of exact totals


def test_locked_rules_differ_as_their_definitions_say(layer_lists):
    shapes = layer_lists["conv6"]
    sizes = [math.prod(s) for s in shapes]
    by_sparsity = frozen_counts(shapes, 0.3, 0.3, "erk", "sparsity")
    by_density = frozen_counts(shapes, 0.3, 0.3, "erk", "density")
    assert [p for p, _ in by_sparsity] == [p for p, _ in by_density]  # pruned: the same rule
    d_locked = layer_densities("erk", shapes, 0.3)
    for (_, r), d, n in zip(by_density, d_locked, sizes):
        assert abs(r - d * n) <= 1  # locked = the distribution's density at `locked`
    d_frozen = layer_densities("erk", shapes, 0.4)
    for (p, r), d, n in zip(by_sparsity, d_frozen, sizes):
        assert abs(p + r - (1 - d) * n) <= 2  # pruned + locked = the sparsity at 1 - p - r
    assert by_sparsity != by_density
