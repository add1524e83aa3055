"""Benchmark: the analysis after the distances, at scale — diversity with its chance baseline,
and embeddings of many masks from precomputed distances.

    python benchmarks/analysis_scale.py diversity --n 2048      # Conv-4-sized masks
    python benchmarks/analysis_scale.py embed --n 10000         # PCA, MDS, t-SNE, UMAP

``diversity``: N random masks over the CIFAR Conv-4 layout (2,425,024 weights, 7 layers)
whose per-layer densities vary from mask to mask (uniform in 0.3-0.7, as global top-k,
frozen sources or random masks give), so nearly every pair has its own (K1, K2) per layer.
Timed: ``tl.distances(per_layer=True)`` (Jaccard + Hamming), then ``tl.diversity`` for each
metric (one compiled pass over each network's pairs, chance moments included) and
``tl.random_baseline``; the peers are the previous numpy route, full ``(m, m, L + 1)``
matrices and per-pair chance arrays (kept as the reference of ``tests/tl/test_tl_pairsums.py``),
with the largest relative difference between the two routes' tables.

``embed``: N masks of the digits MLP layout (84,480 weights) around 10 planted centres (5%
of bits flipped), ``tl.distances``, then each embedding on the precomputed matrices.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd

from landscape import tl
from landscape.maskset import MaskSet
from landscape.store.layout import Layout

CONV4 = Layout([("convs.0", (64, 3, 3, 3)), ("convs.1", (64, 64, 3, 3)), ("convs.2", (128, 64, 3, 3)),
                ("convs.3", (128, 128, 3, 3)), ("fcs.0", (256, 8192)), ("fcs.1", (256, 256)),
                ("fcs.2", (10, 256))])  # fmt: skip
MLP = Layout([("fcs.0", (256, 64)), ("fcs.1", (256, 256)), ("fcs.2", (10, 256))])


def varying_density_masks(n: int, layout: Layout, rng) -> MaskSet:
    rows = np.zeros((n, layout.row_bytes), dtype=np.uint8)
    for spec in layout:
        for i0 in range(0, n, 64):
            k = min(64, n - i0)
            dense = rng.random((k, spec.numel), dtype=np.float32) < rng.uniform(0.3, 0.7, size=(k, 1))
            packed = np.packbits(dense, axis=1, bitorder="little")
            rows[i0 : i0 + k, spec.byte_slice.start : spec.byte_slice.start + packed.shape[1]] = packed
    obs = pd.DataFrame(
        {"method": "random", "density": 0.5, "weight_seed": 0}, index=[f"m{i}" for i in range(n)]
    )
    return MaskSet.from_rows(rows, layout, obs)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def load_text() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def differences(ours: pd.DataFrame, ref: pd.DataFrame) -> str:
    """Largest relative difference over the float columns, and the largest absolute one over
    the excess columns and p-values: an excess is a difference of two means of ~0.3 that
    nearly cancel, so its relative difference says nothing about either route."""
    rel = absolute = 0.0
    for col in ours.columns:
        a, b = ours[col].to_numpy(), ref[col].to_numpy()
        if a.dtype.kind != "f":
            continue
        keep = ~(np.isnan(a) & np.isnan(b))
        diff = np.abs(a - b)[keep]
        if col.startswith("excess") or col == "p_value":
            absolute = max(absolute, float(diff.max(initial=0.0)))
        else:
            rel = max(rel, float((diff / np.maximum(np.abs(b[keep]), 1e-300)).max(initial=0.0)))
    return f"max relative difference {rel:.1e}, excess and p-value max absolute difference {absolute:.1e}"


def errors_against_exact_sums(ms, metric: str, tables: dict[str, pd.DataFrame]) -> str:
    """Each route's largest absolute error, over the whole-network and layer rows of the one
    network, against the same statistics from exactly rounded sums over the pairs
    (``math.fsum`` of every pair's similarity, chance and chance variance)."""
    import math

    from scipy import special

    from landscape.tl.baseline import chance_similarity, layer_sizes

    counts, numel = layer_sizes(ms)
    i, j = np.triu_indices(ms.n_masks, 1)
    mean_l, sd_l, mean_w, sd_w = chance_similarity(counts, numel, metric, i, j)
    sims = [1 - ms.obsp[f"dist_{metric}"][i, j]] + [
        1 - ms.obsp[f"dist_{metric}_layers"][i, j, k] for k in range(len(numel))
    ]
    chances = [mean_w] + [mean_l[:, k] for k in range(len(numel))]
    variances = [sd_w**2] + [sd_l[:, k] ** 2 for k in range(len(numel))]
    p = len(i)
    exact = {"similarity": [], "chance_similarity": [], "excess_similarity": [], "p_value": []}
    for sim, chance, var in zip(sims, chances, variances):
        excess = math.fsum(np.concatenate([sim, -chance])) / p
        exact["similarity"].append(math.fsum(sim) / p)
        exact["chance_similarity"].append(math.fsum(chance) / p)
        exact["excess_similarity"].append(excess)
        exact["p_value"].append(special.erfc(abs(excess * p / math.sqrt(math.fsum(var))) / math.sqrt(2)))
    parts = []
    for col, values in exact.items():
        errs = [float(np.abs(t[col].to_numpy() - np.array(values)).max()) for t in tables.values()]
        parts.append(f"{col} " + " / ".join(f"{e:.1e}" for e in errs))
    return f"{metric}, max absolute error vs exactly rounded sums ({' / '.join(tables)}): " + "; ".join(parts)


def bench_diversity(args) -> None:
    import importlib

    from landscape.grouping import group_masks
    from tests.tl.test_tl_pairsums import reference_baseline, reference_network_rows

    diversity_module = importlib.import_module("landscape.tl.diversity")
    ms = varying_density_masks(args.n, CONV4, np.random.default_rng(0))
    small = ms[:8]
    tl.distances(small, per_layer=True)  # load the compiled kernels
    tl.diversity(small)
    print(f"load {load_text()}; N = {args.n} masks x {ms.n_weights:,} weights, "
          f"{args.n * (args.n - 1) // 2:,} pairs, 7 layers")  # fmt: skip
    t_dist, _ = timed(lambda: tl.distances(ms, metric=("jaccard", "hamming"), per_layer=True))
    rows = [("tl.distances (per layer, Jaccard + Hamming)", t_dist, None, load_text())]
    tables = {}
    for metric in ("jaccard", "hamming"):
        t, tables[metric] = timed(lambda m=metric: tl.diversity(ms, metric=m))
        rows.append((f"tl.diversity, {metric} (with its baseline)", t, None, load_text()))
    t, base = timed(lambda: tl.random_baseline(ms, metric=("jaccard", "hamming"), copy=True))
    rows.append(("tl.random_baseline, jaccard + hamming, per layer", t, None, load_text()))
    current = diversity_module._network_rows
    diversity_module._network_rows = reference_network_rows
    checks = []
    try:
        for metric in ("jaccard", "hamming"):
            t, prev = timed(lambda m=metric: tl.diversity(ms, metric=m))
            note = differences(tables[metric], prev)
            rows.append((f"previous route: tl.diversity, {metric} (full matrices)", t, note, load_text()))
            checks.append(errors_against_exact_sums(ms, metric, {"this": tables[metric], "previous": prev}))
    finally:
        diversity_module._network_rows = current
    t, prev = timed(lambda: reference_baseline(ms, ("jaccard", "hamming"), group_masks(ms.obs, "config")))
    cols = list(prev.columns)
    note = differences(base[cols].reset_index(drop=True), prev)
    rows.append(("previous route: tl.random_baseline (per-pair arrays)", t, note, load_text()))
    print("\n| step | seconds | / distances | load after (1, 5, 15 min) | note |\n|---|---|---|---|---|")
    for name, seconds, note, load in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / t_dist:.1%} | {load} | {note or ''} |")
    print("", *checks, sep="\n")
    print(f"\nload at end {os.getloadavg()[0]:.1f}; max RSS {maxrss_mb():.0f} MB")


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_embed(args) -> None:
    rng = np.random.default_rng(1)
    centres = rng.random((10, MLP.n_weights)) < 0.5
    rows = np.zeros((args.n, MLP.row_bytes), dtype=np.uint8)
    from landscape.store.packing import pack_flat

    for i0 in range(0, args.n, 500):
        i1 = min(i0 + 500, args.n)
        dense = centres[np.arange(i0, i1) % 10] ^ (rng.random((i1 - i0, MLP.n_weights)) < 0.05)
        rows[i0:i1] = pack_flat(dense, MLP)
    obs = pd.DataFrame({"method": "m"}, index=[f"m{i}" for i in range(args.n)])
    ms = MaskSet.from_rows(rows, MLP, obs)
    print(
        f"load {os.getloadavg()[0]:.1f}; N = {args.n} masks x {ms.n_weights:,} weights (10 planted centres)"
    )
    t, _ = timed(lambda: tl.distances(ms, metric=("jaccard", "hamming")))
    print("\n| step | seconds | max RSS MB so far | note |\n|---|---|---|---|")
    print(f"| tl.distances (Jaccard + Hamming) | {t:.1f} | {maxrss_mb():.0f} | |")
    truth = np.arange(args.n) % 10
    for method in ("pca", "mds", "tsne", "umap"):
        t, _ = timed(lambda m=method: tl.embed(ms, method=m, metric="jaccard", rng=0))
        coords = ms.obsm[f"X_{method}"]
        purity = _neighbour_purity(coords, truth)
        print(
            f"| tl.embed {method} | {t:.1f} | {maxrss_mb():.0f} | nearest-neighbour label agreement {purity:.3f} |"
        )
    print(f"\nload at end {os.getloadavg()[0]:.1f}")


def _neighbour_purity(coords: np.ndarray, labels: np.ndarray, sample: int = 2000) -> float:
    """How often a point's nearest neighbour in the embedding has its planted centre."""
    idx = np.random.default_rng(0).choice(len(coords), min(sample, len(coords)), replace=False)
    d = ((coords[idx, None, :] - coords[None, :, :]) ** 2).sum(-1)
    d[np.arange(len(idx)), idx] = np.inf
    return float((labels[d.argmin(axis=1)] == labels[idx]).mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["diversity", "embed"])
    parser.add_argument("--n", type=int)
    args = parser.parse_args(argv)
    if args.what == "diversity":
        args.n = args.n or 2048
        bench_diversity(args)
    else:
        args.n = args.n or 10_000
        bench_embed(args)


if __name__ == "__main__":
    main()
