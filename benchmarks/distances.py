"""Benchmark: exact pairwise Hamming + Jaccard on bit-packed masks, every route side by side.

    python benchmarks/distances.py            # N=64 x 2,000,000 and N=1024 x 2,425,024 (Conv-4)
    python benchmarks/distances.py --quick    # the second case with N=256
    python benchmarks/distances.py --out results.md

Each timed route computes both metrics from scratch: the intersection counts, then Hamming
and Jaccard. scipy's ``pdist`` runs on the unpacked bool masks (the packing is not counted
against it); above ``--scipy-rows`` masks it runs on a subset and its time is extrapolated
by the number of pairs. Every route's integer counts are checked against the numba route.
Peak memory: the largest numpy allocation seen by tracemalloc while the route runs (torch
allocations are invisible to it) and the process's maximum resident set size so far.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
from scipy.spatial.distance import pdist

from landscape.tl import _kernels

ROUTES = ("auto", "numba", "numpy", "int8", "float32")


def random_words(n: int, n_weights: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Packed uint64 rows of independent Bernoulli(density) masks, drawn a few rows at a time."""
    n_words = -(-n_weights // 64)
    out = np.zeros((n, n_words * 8), dtype=np.uint8)
    for start in range(0, n, 16):
        dense = rng.random((min(16, n - start), n_weights), dtype=np.float32) < density
        out[start : start + dense.shape[0], : -(-n_weights // 8)] = np.packbits(
            dense, axis=1, bitorder="little"
        )
    return out.view(np.uint64)


def both_metrics(words: np.ndarray, backend: str, n_weights: int):
    inter = _kernels.intersection_counts(words, backend=backend)[:, :, 0]
    return inter, _kernels.hamming(inter, n_weights), _kernels.jaccard(inter)


def timed(fn, repeats: int):
    best, result, peak = np.inf, None, 0
    for _ in range(repeats):
        tracemalloc.start()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return best, result, peak


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scipy_time(words: np.ndarray, n_weights: int, rows: int) -> tuple[float, int]:
    sub = words[:rows]
    dense = np.unpackbits(sub.view(np.uint8), axis=1, count=n_weights, bitorder="little").astype(bool)
    start = time.perf_counter()
    pdist(dense, "hamming")
    pdist(dense, "jaccard")
    return time.perf_counter() - start, sub.shape[0]


def run_case(n: int, n_weights: int, args) -> list[dict]:
    rng = np.random.default_rng(0)
    words = random_words(n, n_weights, args.density, rng)
    pairs = n * (n - 1) // 2
    rows = []
    s_time, s_rows = scipy_time(words, n_weights, min(n, args.scipy_rows))
    s_pairs = s_rows * (s_rows - 1) // 2
    scipy_est = s_time * pairs / s_pairs
    note = "" if s_rows == n else f"measured on {s_rows} masks, scaled by pairs x{pairs / s_pairs:.0f}"
    rows.append({"route": "scipy pdist (bool)", "seconds": scipy_est, "exact": "reference", "note": note})
    _kernels.intersection_counts(words[:8, :64], backend="numba")  # compile / load the kernel
    reference = None
    for route in args.routes:
        if route in args.skip:
            continue
        repeats = args.repeats if route in ("auto", "numba") else 1
        seconds, (inter, ham, jac), peak = timed(lambda r=route: both_metrics(words, r, n_weights), repeats)
        if reference is None:
            reference = inter
        same = np.array_equal(inter, reference)
        label = f"{route} ({_kernels.resolve_backend(route)})" if route == "auto" else route
        rows.append(
            {
                "route": label,
                "seconds": seconds,
                "exact": "identical" if same else "MISMATCH",
                "peak_numpy_mb": peak / 2**20,
                "maxrss_mb": maxrss_mb(),
            }
        )
    fastest = min(r["seconds"] for r in rows[1:])
    for r in rows:
        r["vs_scipy"] = scipy_est / r["seconds"]
        r["vs_fastest"] = r["seconds"] / fastest
    return rows


def table(title: str, rows: list[dict]) -> str:
    lines = [
        f"#### {title}",
        "",
        "| route | seconds | speed-up vs scipy | time / fastest | counts | peak numpy MB | max RSS MB | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        peak = f"{r['peak_numpy_mb']:.0f}" if "peak_numpy_mb" in r else ""
        rss = f"{r['maxrss_mb']:.0f}" if "maxrss_mb" in r else ""
        lines.append(
            f"| {r['route']} | {r['seconds']:.3f} | {r['vs_scipy']:.0f}x | {r['vs_fastest']:.2f} | "
            f"{r['exact']} | {peak} | {rss} | {r.get('note', '')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=256 instead of 1024 for the Conv-4 case")
    parser.add_argument("--density", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the fast routes (min is kept)")
    parser.add_argument("--scipy-rows", type=int, default=64, help="masks scipy runs on before extrapolating")
    parser.add_argument("--routes", nargs="+", default=list(ROUTES), choices=ROUTES)
    parser.add_argument("--skip", nargs="*", default=[], help="routes to leave out of the large case")
    parser.add_argument("--only", choices=("small", "large"), help="run one case only")
    parser.add_argument("--out", help="also write the markdown tables to this file")
    args = parser.parse_args(argv)
    cases = [("small", 64, 2_000_000), ("large", 256 if args.quick else 1024, 2_425_024)]
    text = []
    for name, n, n_weights in cases:
        if args.only and name != args.only:
            continue
        skip = args.skip if name == "large" else []
        rows = run_case(n, n_weights, argparse.Namespace(**{**vars(args), "skip": skip}))
        text.append(table(f"N = {n} masks x {n_weights:,} weights, density {args.density}", rows))
        print(text[-1], flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(text))


if __name__ == "__main__":
    main()
