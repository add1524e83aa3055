"""Benchmark: the analysis after the distances, at scale — diversity with its chance baseline,
and embeddings of many masks from precomputed distances.

    python benchmarks/analysis_scale.py diversity --n 2048      # Conv-4-sized masks
    python benchmarks/analysis_scale.py embed --n 10000         # PCA, MDS, t-SNE, UMAP

``diversity``: N random masks over the CIFAR Conv-4 layout (2,425,024 weights, 7 layers)
whose per-layer densities vary from mask to mask (uniform in 0.3-0.7, as global top-k,
frozen sources or random masks give), so nearly every pair has its own (K1, K2) per layer.
Timed: ``tl.distances(per_layer=True)`` (Jaccard + Hamming), then ``tl.diversity`` for each
metric (which computes the chance baseline), and ``tl.diversity`` with the previous
baseline code (distinct sizes found by ``np.unique(..., axis=0)`` on the pairs) as the peer.

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


def previous_jaccard_layer(n, k1, k2):
    """The baseline's per-layer step before: distinct sizes by sorting the pairs."""
    from landscape.tl.baseline import EXACT_SUPPORT, hypergeom_moments, jaccard_delta, jaccard_exact

    mean_i, var_i = hypergeom_moments(n, k1, k2)
    mean, sd = jaccard_delta(mean_i, var_i, k1 + k2)
    combos, inverse = np.unique(
        np.stack([np.minimum(k1, k2), np.maximum(k1, k2)], 1), axis=0, return_inverse=True
    )
    small = (np.minimum(combos[:, 0], n - combos[:, 1]) + 1) <= EXACT_SUPPORT
    if small.all() and len(combos) <= 256:
        exact = np.array([jaccard_exact(n, int(a), int(b)) for a, b in combos])
        return exact[inverse.ravel(), 0], exact[inverse.ravel(), 1]
    return mean, sd


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_diversity(args) -> None:
    import importlib

    baseline = importlib.import_module("landscape.tl.baseline")
    ms = varying_density_masks(args.n, CONV4, np.random.default_rng(0))
    tl.distances(ms[:8])  # load the compiled kernel
    print(f"load {os.getloadavg()[0]:.1f}; N = {args.n} masks x {ms.n_weights:,} weights, "
          f"{args.n * (args.n - 1) // 2:,} pairs, 7 layers")  # fmt: skip
    t_dist, _ = timed(lambda: tl.distances(ms, metric=("jaccard", "hamming"), per_layer=True))
    rows = [("tl.distances (per layer, Jaccard + Hamming)", t_dist, None)]
    tables = {}
    for metric in ("jaccard", "hamming"):
        t, tables[metric] = timed(lambda m=metric: tl.diversity(ms, metric=m))
        rows.append((f"tl.diversity, {metric} (with its baseline)", t, None))
    current = baseline._jaccard_layer
    baseline._jaccard_layer = lambda n, k1, k2, moments=None: previous_jaccard_layer(n, k1, k2)
    try:
        t_prev, prev = timed(lambda: tl.diversity(ms, metric="jaccard"))
    finally:
        baseline._jaccard_layer = current
    same = prev.equals(tables["jaccard"])
    rows.append(
        ("tl.diversity, jaccard, previous baseline code", t_prev, "identical table" if same else "DIFFERENT")
    )
    print("\n| step | seconds | / distances | note |\n|---|---|---|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / t_dist:.1%} | {note or ''} |")
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
