"""Calibration of the intervals and the test that ``tl.diversity`` reports (docs/statistics.md).

Synthetic masks with a planted overlap (every mask takes a per-mask share of a fixed
template, :mod:`landscape.tl._planted`) have an exact expected Jaccard similarity; the study
counts how often the 95% interval of the excess covers the true excess, and how often the
test rejects at 5% and 1% when the masks are independent uniform masks (the null).

    python studies/uncertainty_calibration.py --sets 2000

prints a Markdown table (about 10 minutes on 2 cores for 2,000 sets per row).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from landscape import tl
from landscape.maskset import MaskSet
from landscape.store.layout import Layout
from landscape.tl._chance_moments import jaccard_exact
from landscape.tl._planted import expected_jaccard, planted_masks

N, K, T = 400, 120, 150
REGIMES = {
    "exchangeable (every mask takes 70 of its 120 weights from the template)": (70,),
    "moderate (60 or 80)": (60, 80),
    "strong (40, 70 or 100)": (40, 70, 100),
    "two kinds of mask (20 or 100)": (20, 100),
}
CHUNK = 100  # sets per MaskSet: one distance matrix of CHUNK x m masks


def diversity_of_sets(rng, n_sets: int, m: int, levels) -> pd.DataFrame:
    layout = Layout([("w", (N,))])
    frames = []
    for start in range(0, n_sets, CHUNK):
        count = min(CHUNK, n_sets - start)
        dense = np.vstack([planted_masks(rng, m, N, K, T, levels) for _ in range(count)])
        obs = pd.DataFrame({"run_id": np.repeat([f"set{start + s}" for s in range(count)], m)})
        ms = MaskSet.from_dense(dense, layout, obs)
        tl.distances(ms, metric="jaccard")
        frames.append(tl.diversity(ms, metric="jaccard"))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=2000, help="simulated sets per row")
    parser.add_argument("--masks", type=int, nargs="+", default=[5, 10, 20], help="masks per set")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    chance = 1 - jaccard_exact(N, K, K)[0]
    t0 = time.perf_counter()
    print(f"{args.sets} sets per row; layer of {N} weights, {K} kept, template of {T}\n")
    print("| masks differ | masks per set | coverage of the 95% interval of the excess |")
    print("| --- | --- | --- |")
    for name, levels in REGIMES.items():
        truth = expected_jaccard(N, K, T, levels) - chance
        for m in args.masks:
            table = diversity_of_sets(rng, args.sets, m, levels)
            covered = ((table["excess_ci_low"] <= truth) & (truth <= table["excess_ci_high"])).mean()
            print(f"| {name} | {m} | {covered:.3f} |")
    print("\n| null: independent uniform masks | masks per set | rejections at 5% | at 1% |")
    print("| --- | --- | --- | --- |")
    for m in args.masks:
        table = diversity_of_sets(rng, args.sets, m, None)
        p = table["p_value"]
        print(f"| {K} of {N} weights each | {m} | {(p < 0.05).mean():.3f} | {(p < 0.01).mean():.3f} |")
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
