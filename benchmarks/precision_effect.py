"""What reduced training precision (``train.precision``) does to the masks a search finds.

For each method the same masks are searched once per precision: the same weight seeds and
search seeds, so the same random networks, initial scores and data order. Only the arithmetic
of the training steps differs. Per method and precision the script reports:

- test accuracy, mean ± sd over masks, and the paired difference from fp32, with a 95% t
  interval over the networks' mean differences (masks of one network share its weights, so
  they are not independent);
- how far the masks move: the Jaccard distance between a mask and the fp32 mask of the same
  seeds, beside the distance between fp32 masks of one network that differ only in their
  search seed (the spread the seeds alone give);
- the search's wall time.

On the CPU ``tf32`` is ``fp32`` (TF32 is a CUDA tensor-core mode) and is left out.

    python benchmarks/precision_effect.py --runs /tmp/precision            # MNIST-1D, CPU
    python benchmarks/precision_effect.py --runs /tmp/p --device cuda --precisions fp32,tf32,bf16
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

import landscape as ls
from landscape.config import load_config
from landscape.search.runner import run_search

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "edge_popup": ROOT / "configs" / "mnist1d_mlp_edge_popup.yaml",
    "biprop": ROOT / "configs" / "mnist1d_mlp_biprop.yaml",
}


def search(root: Path, method: str, precision: str, networks: int, masks: int, device: str, extra) -> dict:
    cfg = load_config(CONFIGS[method], [f"train.precision={precision}", *extra])
    t0 = time.perf_counter()
    summary = run_search(cfg, root, list(range(networks)), list(range(masks)), device=device, progress=False)
    seconds = time.perf_counter() - t0
    return {
        "method": method,
        "precision": precision,
        "run_id": summary.run_id,
        "seeds": (list(range(networks)), list(range(masks))),
        # a rerun over the same folder finds the masks stored: no time to report
        "seconds": seconds if summary.done == networks * masks else float("nan"),
    }


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """95% t interval of the mean of ``values`` (NaN when fewer than two)."""
    if len(values) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def compare(root: Path, method: str, runs: dict[str, dict]) -> list[dict]:
    ids = [r["run_id"] for r in runs.values()]
    weight_seeds, search_seeds = next(iter(runs.values()))["seeds"]
    # the masks asked for, not others a folder searched earlier holds
    ms = ls.read_runs(root, where={"run_id": ids, "weight_seed": weight_seeds, "search_seed": search_seeds})
    ls.tl.distances(ms, metric="jaccard")
    dist = np.asarray(ms.obsp["dist_jaccard"])
    obs = ms.obs.reset_index(drop=True)
    by_run = {r["run_id"]: p for p, r in runs.items()}
    obs["precision"] = obs["run_id"].map(by_run)
    ref = obs[obs["precision"] == "fp32"]
    ref_at = {(w, s): i for i, w, s in zip(ref.index, ref["weight_seed"], ref["search_seed"])}
    # fp32 masks of one network with different search seeds: the seeds' own spread
    seed_pairs = [
        dist[i, j]
        for i in ref.index
        for j in ref.index
        if i < j and ref.at[i, "weight_seed"] == ref.at[j, "weight_seed"]
    ]
    rows = []
    for precision, run in runs.items():
        part = obs[obs["precision"] == precision]
        mates = [ref_at[(w, s)] for w, s in zip(part["weight_seed"], part["search_seed"])]
        diff = part["test_acc"].to_numpy() - ref.loc[mates, "test_acc"].to_numpy()
        per_network = pd.Series(diff).groupby(part["weight_seed"].to_numpy()).mean().to_numpy()
        moved = dist[part.index.to_numpy(), mates]
        rows.append(
            {
                "method": method,
                "precision": precision,
                "masks": len(part),
                "networks": part["weight_seed"].nunique(),
                "acc": part["test_acc"].mean(),
                "acc_sd": part["test_acc"].std(ddof=1),
                "diff": diff.mean(),
                "diff_ci": t_interval(per_network),
                "moved": moved.mean(),
                "moved_max": moved.max(),
                "seed_spread": float(np.mean(seed_pairs)),
                "seconds": run["seconds"],
            }
        )
    return rows


COLUMNS = (
    "method",
    "precision",
    "masks",
    "networks",
    "test_acc, mean ± sd",
    "minus fp32, paired (95% CI over networks)",
    "Jaccard distance to the fp32 mask of the same seeds, mean (max)",
    "Jaccard distance between fp32 masks of one network",
    "search s",
)


def markdown_row(r: dict) -> list[str]:
    reference = r["precision"] == "fp32"
    low, high = r["diff_ci"]
    return [
        r["method"],
        r["precision"],
        str(r["masks"]),
        str(r["networks"]),
        f"{r['acc']:.4f} ± {r['acc_sd']:.4f}",
        "—"
        if reference
        else f"{r['diff']:+.4f} " + (f"[{low:+.4f}, {high:+.4f}]" if np.isfinite(low) else "(one network)"),
        "0" if reference else f"{r['moved']:.4f} ({r['moved_max']:.4f})",
        f"{r['seed_spread']:.4f}",
        f"{r['seconds']:.1f}" if np.isfinite(r["seconds"]) else "stored before",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=Path, required=True, help="runs root to search into")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", default="edge_popup,biprop")
    parser.add_argument("--precisions", default="fp32,bf16", help="fp32 first: the others are compared to it")
    parser.add_argument("--networks", type=int, default=4, help="weight seeds")
    parser.add_argument("--masks", type=int, default=8, help="search seeds per network")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config overrides")
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    if precisions[0] != "fp32":
        parser.error("--precisions: fp32 must come first (the others are compared to it)")
    rows, methods = [], args.methods.split(",")
    if any(m not in CONFIGS for m in methods):
        parser.error(f"--methods: choose from {', '.join(CONFIGS)}")
    for method in methods:
        runs = {
            p: search(args.runs, method, p, args.networks, args.masks, args.device, args.set)
            for p in precisions
        }
        rows += compare(args.runs, method, runs)
    cpu = platform.processor() or platform.machine()
    print(
        f"# train.precision and the masks found ({args.device}, {cpu}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {', '.join(CONFIGS[m].name for m in methods)}"
        f"{' with ' + ' '.join(args.set) if args.set else ''}; {args.networks} networks x {args.masks} masks)\n"
    )
    print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(markdown_row(row)) + " |")


if __name__ == "__main__":
    main()
