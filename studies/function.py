"""How much of the masks' structural diversity is functional? (digits, MNIST-1D; docs/function.md)

Per dataset, searches ensembles of masks in random MLPs (per method and density, eight masks
per random network), random masks as the null and a deep ensemble of independently trained
dense networks, then compares what the masks keep (Jaccard distance beside random masks) with
what they compute (prediction disagreement beside independent errors, shared errors, CKA of
representations beside random masks) and what averaging them gains. Writes the tables as CSV
under each runs folder, figures under ``docs/function/`` and regenerates ``docs/function.md``::

    nice -n 10 python studies/function.py                     # both datasets
    python studies/function.py --quick --doc /tmp/function.md   # smoke version

Finished masks are skipped, so an interrupted study resumes; ``--report-only`` rebuilds the
tables, figures and document from the stored runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from function_report import write_report  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BIPROP = {"method.name": "biprop", "model.weight_init": "kaiming_normal", "model.scale_fan": True}
DENSE = {
    "method.name": "dense",
    "method.density": 1.0,
    "model.weight_init": "kaiming_normal",
    "train.lr": 0.05,
}


@dataclass(frozen=True)
class Dataset:
    """One dataset's part of the study: base config, what differs from it, and the grid."""

    name: str
    title: str
    config: str
    base: dict
    methods: dict[str, dict]
    densities: tuple[float, ...]
    networks: int
    masks: int = 8
    dense: int = 8
    runs: str = ""
    notes: list[str] = field(default_factory=list)


DATASETS = {
    "digits": Dataset(
        "digits",
        "digits",
        "configs/digits_mlp_edge_popup.yaml",
        {"train.epochs": 30},
        {
            "edge_popup": {},
            "biprop": BIPROP,
            "iterand": {"method.name": "iterand", "method.rerand.every": 20, "method.rerand.prob": 0.1},
        },
        (0.1, 0.5),
        networks=1,
        runs="runs_function",
        notes=[
            "scikit-learn's digits (8×8), stratified 60/20/20 split; MLP 64-256-256-10 "
            "(`configs/digits_mlp_edge_popup.yaml`); IteRand re-draws every 20 steps with probability 0.1",
        ],
    ),
    "mnist1d": Dataset(
        "mnist1d",
        "MNIST-1D",
        "configs/mnist1d_mlp_edge_popup.yaml",
        {"train.epochs": 20, "model.hidden": "[128, 128]"},
        {"edge_popup": {}, "biprop": BIPROP},
        (0.5,),
        networks=1,
        dense=4,
        runs="runs_function_mnist1d",
        notes=[
            "MNIST-1D from its reference generator: 3,200 / 800 / 1,000 train/val/test signals of "
            "length 40; MLP 40-128-128-10 (`configs/mnist1d_mlp_edge_popup.yaml` with the "
            "fidelity study's MNIST-1D width and epochs)",
        ],
    ),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--threads", type=int, default=2, choices=(1, 2), help="torch CPU threads (default 2)")
    p.add_argument("--quick", action="store_true", help="smoke version: 3 epochs, 4 masks, one density")
    p.add_argument("--runs-prefix", default="", help="put the runs folders under this folder")
    p.add_argument("--report-only", action="store_true", help="only rebuild tables, figures and document")
    p.add_argument("--doc", default=str(REPO / "docs" / "function.md"), help="report to write")
    return p.parse_args(argv)


def spec_of(name: str, args) -> Dataset:
    spec = DATASETS[name]
    runs = str(Path(args.runs_prefix) / spec.runs) if args.runs_prefix else spec.runs
    spec = replace(spec, runs=runs)
    if args.quick:
        spec = replace(
            spec, base={**spec.base, "train.epochs": 3}, densities=(0.5,), networks=1, masks=4, dense=3
        )
    return spec


def plan(spec: Dataset) -> list[tuple[str, dict, list[tuple[int, int]]]]:
    """``(label, overrides, (weight_seed, search_seed) pairs)`` of every run."""
    nets = range(spec.networks)
    out = []
    for method, overrides in spec.methods.items():
        for d in spec.densities:
            pairs = [(w, s) for w in nets for s in range(spec.masks)]
            out.append((f"{method} d={d:g}", {**overrides, "method.density": d}, pairs))
    random = {"method.name": "random", "method.density": 0.5}
    out.append(("random masks d=0.5", random, [(0, s) for s in range(spec.masks)]))
    # a deep ensemble: every member its own initialisation and data order
    out.append(("dense (independently trained)", DENSE, [(w, w) for w in range(spec.dense)]))
    return out


def cpu_seconds() -> float:
    """CPU time of this process over all its threads (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def search(spec: Dataset) -> dict[str, float]:
    """Search what is missing; the wall and CPU seconds it took are kept beside the runs, so a
    report rebuilt later still says what the search cost."""
    from landscape.config import load_config
    from landscape.search.runner import run_search

    t0, c0 = time.perf_counter(), cpu_seconds()
    searched = 0
    for label, overrides, pairs in plan(spec):
        sets = {**spec.base, **overrides}
        cfg = load_config(REPO / spec.config, [f"{k}={_value(v)}" for k, v in sets.items()])
        t = time.perf_counter()
        done = 0
        for w in sorted({w for w, _ in pairs}):
            seeds = [s for ww, s in pairs if ww == w]
            done += run_search(cfg, spec.runs, [w], seeds, device="cpu", progress=False).done
        searched += done
        took = time.perf_counter() - t
        print(f"  {spec.name}: {label:<32} {done:>3} masks searched ({took:.0f} s)", flush=True)
    cost = {"wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0, "masks": searched}
    path = Path(spec.runs) / "function_search_s.json"
    if searched or not path.exists():
        path.write_text(json.dumps(cost, indent=1))
    return cost


def search_cost(spec: Dataset) -> dict[str, float]:
    path = Path(spec.runs) / "function_search_s.json"
    return json.loads(path.read_text()) if path.exists() else {"wall_s": float("nan"), "cpu_s": float("nan")}


def _value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def analyse(spec: Dataset, figures: Path) -> dict[str, pd.DataFrame]:
    import landscape as ls

    ms = ls.read_runs(spec.runs)
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
    for name, table in tables.items():
        table.to_csv(Path(spec.runs) / f"function_{name}.csv", index=False)
    _figures(ms, searched, figures, spec.name)
    return tables


def _figures(ms, searched, out: Path, prefix: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landscape import pl

    def groups_of(slot, keep):
        table = slot["summary"]
        return [g for g, m, d in zip(table["group"], table["method"], table["density"]) if keep(m, d)]

    def save(ax, name):
        pl.save_figure(ax.figure, out / f"{prefix}_{name}", ("png",), dpi=200)
        plt.close(ax.figure)

    mask_groups = groups_of(ms.uns["agreement"], lambda m, d: m not in ("random", "dense"))
    main = groups_of(ms.uns["ensemble"], lambda m, d: (d == 0.5 and m != "random") or m == "dense")
    at_half = groups_of(searched.uns["representation_similarity"], lambda m, d: d == 0.5)
    with pl.publication_style(**{"figure.figsize": pl.figsize("double", 0.42)}):
        save(pl.disagreement_vs_distance(ms, groups=mask_groups), "disagreement_vs_distance")
        save(pl.diversity_accuracy(ms, groups=mask_groups), "diversity_accuracy")
        save(pl.ensemble_accuracy(ms, groups=main), "ensemble_accuracy")
        save(pl.cka_by_layer(searched, groups=at_half), "cka_by_layer")


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    figures = Path(args.doc).resolve().with_suffix("")  # beside the report: docs/function/
    t0 = time.perf_counter()
    results = {}
    for name in args.datasets:
        spec = spec_of(name, args)
        if not args.report_only:
            search(spec)
        t, c = time.perf_counter(), cpu_seconds()
        tables = analyse(spec, figures)
        analysis = {"wall_s": time.perf_counter() - t, "cpu_s": cpu_seconds() - c}
        results[name] = (spec, tables, search_cost(spec), analysis)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    total = {"wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds()}
    write_report(args, results, total, load, figures)
    print(f"wrote {args.doc} ({time.perf_counter() - t0:.0f} s; {load})")


if __name__ == "__main__":
    main()
