"""How much of the masks' structural diversity is functional? (digits; docs/function.md)

Searches ensembles of masks in random MLPs (per method and density, two random networks,
eight masks each) and a deep ensemble of independently trained dense networks, then compares
what the masks keep (Jaccard distance beside random masks) with what they compute
(prediction disagreement beside independent errors, shared errors, CKA of representations
beside random masks) and what averaging them gains. Writes the tables as CSV under the runs
folder, four figures under ``docs/function/`` and regenerates ``docs/function.md``::

    nice -n 10 python studies/function.py                  # about 6 minutes on 2 cores
    python studies/function.py --quick --doc /tmp/f.md     # smoke version (about a minute)

Finished masks are skipped, so an interrupted study resumes; ``--report-only`` rebuilds the
tables, figures and document from the stored runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from function_report import write_report  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "digits_mlp_edge_popup.yaml"
METHODS = {
    "edge_popup": {},
    "biprop": {"method.name": "biprop", "model.weight_init": "kaiming_normal", "model.scale_fan": True},
    "iterand": {"method.name": "iterand", "method.rerand.every": 20, "method.rerand.prob": 0.1},
}
DENSE = {
    "method.name": "dense",
    "method.density": 1.0,
    "model.weight_init": "kaiming_normal",
    "train.lr": 0.05,
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs_function", help="runs root (default runs_function/)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--densities", nargs="+", type=float, default=[0.1, 0.3, 0.5])
    p.add_argument("--masks", type=int, default=8, help="masks per network (default 8)")
    p.add_argument("--networks", type=int, default=2, help="random networks (weight seeds) per configuration")
    p.add_argument("--dense", type=int, default=8, help="independently trained dense networks (default 8)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2, choices=(1, 2), help="torch CPU threads (default 2)")
    p.add_argument("--quick", action="store_true", help="smoke version: 3 epochs, 4 masks, one density")
    p.add_argument("--report-only", action="store_true", help="only rebuild tables, figures and document")
    p.add_argument("--doc", default=str(REPO / "docs" / "function.md"), help="report to write")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.masks, args.networks, args.dense, args.densities = 3, 4, 1, 3, [0.5]
    return args


def plan(args) -> list[tuple[str, dict, list[tuple[int, int]]]]:
    """``(label, overrides, (weight_seed, search_seed) pairs)`` of every run."""
    out = []
    nets = range(args.networks)
    for method in args.methods:
        for d in args.densities:
            pairs = [(w, s) for w in nets for s in range(args.masks)]
            out.append((f"{method} d={d:g}", {**METHODS[method], "method.density": d}, pairs))
    out.append(
        (
            "random masks d=0.5",
            {"method.name": "random", "method.density": 0.5},
            [(0, s) for s in range(args.masks)],
        )
    )
    # a deep ensemble: every member its own initialisation and data order
    out.append(("dense (independently trained)", DENSE, [(w, w) for w in range(args.dense)]))
    return out


def search(args, entries) -> float:
    from landscape.config import load_config
    from landscape.search.runner import run_search

    t0 = time.perf_counter()
    for label, overrides, pairs in entries:
        cfg = load_config(
            CONFIG, [f"{k}={_value(v)}" for k, v in {**overrides, "train.epochs": args.epochs}.items()]
        )
        t = time.perf_counter()
        done = 0
        for w in sorted({w for w, _ in pairs}):
            seeds = [s for ww, s in pairs if ww == w]
            done += run_search(cfg, args.runs, [w], seeds, device="cpu", progress=False).done
        print(f"  {label:<32} {done:>3} masks searched ({time.perf_counter() - t:.0f} s)", flush=True)
    return time.perf_counter() - t0


def _value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def analyse(args) -> dict[str, pd.DataFrame]:
    import landscape as ls

    ms = ls.read_runs(args.runs)
    ls.tl.distances(ms, metric="jaccard")
    tables = {}
    ls.tl.agreement(ms)
    tables["agreement"] = ms.uns["agreement"]["summary"]
    tables["agreement_pairs"] = ms.uns["agreement"]["pairs"]
    ls.tl.agreement(ms, baseline="accuracy", key_added="agreement_accuracy")
    tables["agreement_accuracy"] = ms.uns["agreement_accuracy"]["summary"]
    ls.tl.ensemble(ms)
    tables["ensemble"] = ms.uns["ensemble"]["summary"]
    searched = ms[~ms.obs["method.name"].isin(["dense"]).to_numpy()]
    ls.tl.representation_similarity(searched, n_examples=512)
    tables["cka"] = searched.uns["representation_similarity"]["summary"]
    folder = Path(args.runs)
    for name, table in tables.items():
        table.to_csv(folder / f"function_{name}.csv", index=False)
    _figures(ms, searched, REPO / "docs" / "function" if not args.quick else folder / "_figures")
    return tables


def _figures(ms, searched, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from landscape import pl

    def groups_of(slot, where):
        table = slot["summary"]
        return [g for g, m, d in zip(table["group"], table["method"], table["density"]) if where(m, d)]

    def save(ax, name):
        pl.save_figure(ax.figure, out / name, ("png",), dpi=200)
        import matplotlib.pyplot as plt

        plt.close(ax.figure)

    searched_only = groups_of(ms.uns["agreement"], lambda m, d: m not in ("random", "dense"))
    main = groups_of(ms.uns["ensemble"], lambda m, d: (d == 0.5 and m != "random") or m == "dense")
    with pl.publication_style(**{"figure.figsize": pl.figsize("double", 0.42)}):
        save(pl.disagreement_vs_distance(ms, groups=searched_only), "disagreement_vs_distance")
        save(pl.diversity_accuracy(ms, groups=searched_only), "diversity_accuracy")
        save(pl.ensemble_accuracy(ms, groups=main), "ensemble_accuracy")
        at_half = groups_of(searched.uns["representation_similarity"], lambda m, d: d == 0.5)
        save(pl.cka_by_layer(searched, groups=at_half), "cka_by_layer")


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    entries = plan(args)
    t0 = time.perf_counter()
    search_s = 0.0 if args.report_only else search(args, entries)
    t1 = time.perf_counter()
    tables = analyse(args)
    analysis_s = time.perf_counter() - t1
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    write_report(args, tables, search_s, analysis_s, time.perf_counter() - t0, load)
    print(f"wrote {args.doc} ({time.perf_counter() - t0:.0f} s; {load})")


if __name__ == "__main__":
    main()
