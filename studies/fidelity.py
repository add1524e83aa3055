"""Fidelity study of the search methods on scikit-learn's digits (ALGORITHMS.md §9b).

Searches every configuration of :mod:`fidelity_plan` (one weight seed, several search
seeds, all masks of a configuration batched in one model), then writes the tables as CSV
under the runs folder and regenerates ``docs/fidelity.md`` with a verdict for each of the
eleven orderings the papers predict. Finished masks are skipped, so an interrupted study
resumes where it stopped and a finished one only rebuilds the report::

    python studies/fidelity.py --quick                 # smoke version (about a minute)
    python studies/fidelity.py --runs runs_fidelity --seeds 5 --epochs 30

``--report-only`` rebuilds tables and document from the stored runs without searching.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fidelity_plan import CONFIG, Entry, plan, quick_plan  # noqa: E402
from fidelity_report import write_report  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
METRICS = ("test_acc", "test_acc_at_best_val", "val_acc", "all_ones_test_acc")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs_fidelity", help="runs root (default runs_fidelity/)")
    p.add_argument("--seeds", type=int, default=5, help="search seeds per configuration (default 5)")
    p.add_argument("--diversity-seeds", type=int, default=10, help="seeds of the mask-diversity runs (10)")
    p.add_argument("--epochs", type=int, default=30, help="epochs per search (default 30)")
    p.add_argument("--weight-seed", type=int, default=0, help="the one random network (default 0)")
    p.add_argument("--threads", type=int, default=1, choices=(1, 2), help="torch CPU threads (default 1)")
    p.add_argument("--quick", action="store_true", help="tiny smoke version: 3 epochs, 2 seeds, a subset")
    p.add_argument("--report-only", action="store_true", help="only rebuild the tables and the report")
    p.add_argument("--doc", default=str(REPO / "docs" / "fidelity.md"), help="report to write")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.seeds, args.diversity_seeds = min(args.epochs, 3), 2, 3
    return args


def entries(args) -> list[Entry]:
    return quick_plan() if args.quick else plan(args.diversity_seeds)


def n_seeds(entry: Entry, args) -> int:
    return min(entry.n_seeds, args.diversity_seeds) if entry.n_seeds else args.seeds


def config_of(entry: Entry, args):
    from landscape.config import load_config

    return load_config(REPO / CONFIG, {**entry.overrides, "train.epochs": args.epochs})


def search_all(items: list[Entry], args) -> int:
    """Search every distinct configuration once, with the most seeds any entry asks for.

    Returns the number of masks searched by this call.
    """
    from landscape.search.runner import run_search

    todo: dict[str, tuple[object, int, str]] = {}
    for e in items:
        cfg = config_of(e, args)
        seeds = max(n_seeds(e, args), todo.get(cfg.run_id, (None, 0, ""))[1])
        todo[cfg.run_id] = (cfg, seeds, todo.get(cfg.run_id, (None, 0, f"{e.study}: {e.label}"))[2])
    start, searched = time.perf_counter(), 0
    for i, (run_id, (cfg, seeds, label)) in enumerate(todo.items(), 1):
        t0 = time.perf_counter()
        s = run_search(cfg, args.runs, [args.weight_seed], list(range(seeds)), "cpu", seeds, progress=False)
        dt = time.perf_counter() - t0
        searched += s.done
        print(
            f"[{i:>2}/{len(todo)}] {label:<40} {run_id}: {s.done} searched, {s.skipped} done before "
            f"({dt:5.1f} s, {time.perf_counter() - start:6.0f} s total)",
            flush=True,
        )
    return searched


def summarise(items: list[Entry], args) -> pd.DataFrame:
    """One row per entry: mean and sd over seeds of each metric, plus the mask's size."""
    from landscape.store import RunStore

    rows = []
    for e in items:
        cfg = config_of(e, args)
        table = RunStore.open(Path(args.runs) / cfg.run_id).records()
        table = table[(table["weight_seed"] == args.weight_seed) & (table["search_seed"] < n_seeds(e, args))]
        row = {"study": e.study, "label": e.label, "run_id": cfg.run_id, "n": len(table)}
        for col in METRICS:
            values = table[col].to_numpy(dtype=float) if col in table else np.array([np.nan])
            row[f"{col}_mean"] = float(np.mean(values))
            row[f"{col}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        for col in ("n_kept", "stored_bits"):
            row[col] = float(table[col].mean()) if col in table and table[col].notna().any() else np.nan
        row.update(
            method=cfg.method.name,
            density=cfg.method.density,
            width_mult=cfg.model.width_mult,
            hidden=int(cfg.model.hidden[0] * cfg.model.width_mult),
            n_weights=_n_weights(cfg.run_id, args),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _n_weights(run_id: str, args) -> int:
    from landscape.store import RunStore

    return RunStore.open(Path(args.runs) / run_id).layout.n_weights


def diversity(items: list[Entry], args) -> pd.DataFrame:
    """Per-layer Jaccard similarity of the diversity masks against independent random masks."""
    import landscape as ls
    from landscape import tl

    div = [e for e in items if e.study == "d_div"]
    ids = [config_of(e, args).run_id for e in div]
    seeds = max(n_seeds(e, args) for e in div)
    query = f"run_id in {ids} and weight_seed == {args.weight_seed} and search_seed < {seeds}"
    ms = ls.read_runs(args.runs, where=query)
    tl.distances(ms, metric="jaccard", per_layer=True)
    table = tl.diversity(ms, groupby="method", metric="jaccard")
    out = pd.DataFrame(
        {
            "method": table["method"],
            "layer": table["layer"],
            "n_masks": table["n_masks"],
            "n_pairs": table["n_pairs"],
            "jaccard": 1.0 - table["mean"],
            "jaccard_sd": table["sd"],
            "chance": 1.0 - table["baseline_mean"],
            "excess": table["excess"],
            "z": table["z"],
        }
    )
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    items = entries(args)
    Path(args.runs).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    timing = Path(args.runs) / "fidelity_search_s.txt"
    if not args.report_only and search_all(items, args):
        # cumulative over the invocations that searched something (resumed studies add up)
        before = float(timing.read_text()) if timing.exists() else 0.0
        timing.write_text(f"{before + time.perf_counter() - t0:.1f}\n")
    results = summarise(items, args)
    div = diversity(items, args)
    results.to_csv(Path(args.runs) / "fidelity_results.csv", index=False)
    div.to_csv(Path(args.runs) / "fidelity_diversity.csv", index=False)
    for study, part in results.groupby("study", sort=False):
        part.to_csv(Path(args.runs) / f"fidelity_{study}.csv", index=False)
    # total search time of the study (a report-only run searches nothing)
    wall_s = float(timing.read_text()) if timing.exists() else time.perf_counter() - t0
    write_report(results, div, args, Path(args.doc), wall_s=wall_s)
    print(f"tables under {args.runs}/fidelity_*.csv; report -> {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
