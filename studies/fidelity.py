"""Fidelity study of the search methods on digits and MNIST-1D.

Searches every configuration of :mod:`fidelity_plan` for one dataset (one weight seed,
several search seeds, all masks of a configuration batched in one model), then writes the
tables as CSV under the runs folder and regenerates ``docs/fidelity.md`` with a verdict for
each of the eleven orderings the papers predict, for every dataset whose tables exist (the
digits tables are tracked in ``runs_fidelity/``). Finished masks are skipped, so an
interrupted study resumes where it stopped and a finished one only rebuilds the report::

    python studies/fidelity.py --quick                 # smoke version (about a minute)
    python studies/fidelity.py --dataset digits        # runs_fidelity/, 5 seeds, 30 epochs
    python studies/fidelity.py --dataset mnist1d       # runs_fidelity_mnist1d/, 8 seeds, 20 epochs

``--report-only`` rebuilds tables and document from the stored runs without searching;
``--doc-only`` rebuilds the document from the CSV tables alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fidelity_plan import PLANS, Entry, plan, quick_plan  # noqa: E402
from fidelity_report import DatasetTables, write_report  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
METRICS = ("test_acc", "test_acc_at_best_val", "val_acc", "all_ones_test_acc")
# runs whose masks the diversity-by-accuracy table compares (study, label)
LEVELS = (
    ("a", "Edge-Popup d=0.05"),
    ("a", "Edge-Popup d=0.1"),
    ("a", "Edge-Popup d=0.3"),
    ("d_div", "Edge-Popup d=0.5"),
    ("a", "Edge-Popup d=0.9"),
    ("b", "Edge-Popup w=0.125"),
    ("b", "Edge-Popup w=0.25"),
    ("a", "Biprop d=0.1"),
    ("d_div", "Biprop d=0.5"),
    ("b", "EP+IWR w=0.125"),
    ("b", "IteRand w=1"),
)
# groups of masks whose first-layer selection by input position is shown
INPUTS = (("d_div", "Edge-Popup d=0.5"), ("d_div", "Biprop d=0.5"), ("a", "Edge-Popup d=0.1"))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits", choices=sorted(PLANS), help="which study (default digits)")
    p.add_argument("--runs", default=None, help="runs root (default: the dataset's, e.g. runs_fidelity/)")
    p.add_argument("--seeds", type=int, default=None, help="search seeds per configuration (digits 5)")
    p.add_argument("--diversity-seeds", type=int, default=None, help="seeds of the mask-diversity runs")
    p.add_argument("--epochs", type=int, default=None, help="epochs per search (digits 30)")
    p.add_argument("--weight-seed", type=int, default=0, help="the one random network (default 0)")
    p.add_argument("--threads", type=int, default=1, choices=(1, 2), help="torch CPU threads (default 1)")
    p.add_argument("--quick", action="store_true", help="tiny smoke version: 3 epochs, 2 seeds, a subset")
    p.add_argument("--report-only", action="store_true", help="only rebuild the tables and the report")
    p.add_argument("--doc-only", action="store_true", help="only rebuild the report from the CSV tables")
    p.add_argument("--doc", default=str(REPO / "docs" / "fidelity.md"), help="report to write")
    args = p.parse_args(argv)
    args.plan = PLANS[args.dataset]
    args.runs = args.runs or args.plan.runs
    args.seeds = args.seeds or args.plan.seeds
    args.diversity_seeds = args.diversity_seeds or args.plan.diversity_seeds
    args.epochs = args.epochs or args.plan.epochs
    if args.quick:
        args.epochs, args.seeds, args.diversity_seeds = min(args.epochs, 3), 2, 3
    return args


def entries(args) -> list[Entry]:
    return quick_plan(args.plan) if args.quick else plan(args.diversity_seeds, args.plan)


def n_seeds(entry: Entry, args) -> int:
    return min(entry.n_seeds, args.diversity_seeds) if entry.n_seeds else args.seeds


def config_of(entry: Entry, args):
    from landscape.config import load_config

    return load_config(
        REPO / args.plan.config, {**args.plan.base, **entry.overrides, "train.epochs": args.epochs}
    )


def search_all(items: list[Entry], args) -> tuple[int, int]:
    """Search every distinct configuration once, with the most seeds any entry asks for.

    Returns how many masks this call searched and how many were stored before it.
    """
    from landscape.search.runner import run_search

    todo: dict[str, tuple[object, int, str]] = {}
    for e in items:
        cfg = config_of(e, args)
        seeds = max(n_seeds(e, args), todo.get(cfg.run_id, (None, 0, ""))[1])
        todo[cfg.run_id] = (cfg, seeds, todo.get(cfg.run_id, (None, 0, f"{e.study}: {e.label}"))[2])
    start, searched, before = time.perf_counter(), 0, 0
    for i, (run_id, (cfg, seeds, label)) in enumerate(todo.items(), 1):
        t0 = time.perf_counter()
        s = run_search(cfg, args.runs, [args.weight_seed], list(range(seeds)), "cpu", seeds, progress=False)
        dt = time.perf_counter() - t0
        searched += s.done
        before += s.skipped
        print(
            f"[{i:>2}/{len(todo)}] {label:<40} {run_id}: {s.done} searched, {s.skipped} done before "
            f"({dt:5.1f} s, {time.perf_counter() - start:6.0f} s total)",
            flush=True,
        )
    return searched, before


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
    table = tl.diversity(ms, metric="jaccard")  # one group per run (configuration)
    methods = ms.obs.groupby("run_id")["method"].first()
    out = _similarity_columns(table)
    out.insert(0, "method", table["run_id"].map(methods).to_numpy())
    return out


def _similarity_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The study's columns from a ``tl.diversity`` table (similarities, chance, excess, CI)."""
    return pd.DataFrame(
        {
            "layer": table["layer"],
            "n_masks": table["n_masks"],
            "n_pairs": table["n_pairs"],
            "jaccard": table["similarity"],
            "jaccard_sd": table["similarity_sd"],
            "chance": table["chance_similarity"],
            "excess": table["excess_similarity"],
            "excess_ci_low": table["excess_ci_low"],
            "excess_ci_high": table["excess_ci_high"],
            "p_value": table["p_value"],
        }
    )


def _entry(items: list[Entry], study: str, label: str) -> Entry | None:
    return next((e for e in items if e.study == study and e.label == label), None)


def _run_masks(entry: Entry, args):
    import landscape as ls

    run_id = config_of(entry, args).run_id
    query = (
        f"run_id == '{run_id}' and weight_seed == {args.weight_seed} and search_seed < {n_seeds(entry, args)}"
    )
    return ls.read_runs(args.runs, where=query)


def diversity_levels(items: list[Entry], args) -> pd.DataFrame:
    """Whole-network and per-layer Jaccard of the masks of single runs, beside each run's accuracy."""
    from landscape import tl

    rows = []
    for study, label in LEVELS:
        entry = _entry(items, study, label)
        if entry is None:
            continue
        ms = _run_masks(entry, args)
        tl.distances(ms, metric="jaccard", per_layer=True)
        table = _similarity_columns(tl.diversity(ms, metric="jaccard"))
        table.insert(0, "test_acc", float(ms.obs["test_acc"].mean()))
        table.insert(0, "study", study)
        table.insert(0, "label", f"{label} ({study})" if study == "b" else label)
        rows.append(table)
    return pd.concat(rows, ignore_index=True)


def input_look(items: list[Entry], args, figure: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First-layer selection frequency by input position (``tl.input_frequency``) per group;
    draws the first two groups side by side into ``figure`` (PNG) when given."""
    from landscape import tl

    tables, summaries, sets = [], [], []
    for study, label in INPUTS:
        entry = _entry(items, study, label)
        if entry is None:
            continue
        ms = _run_masks(entry, args)
        table = tl.input_frequency(ms, groupby="method").copy()  # the slot keeps its labels
        summary = ms.uns["input_frequency"]["summary"].copy()
        table["group"] = summary["group"] = label
        summary["label"] = label
        summary["null"] = float(table["null"].iloc[0])
        tables.append(table)
        summaries.append(summary)
        sets.append((label, ms))
    # how much of each position's variance lies between the class means (training split):
    # the share of class information an input position carries
    from landscape.search.runner import load_dataset

    x, y = (a.numpy() for a in load_dataset(config_of(items[0], args).data).train)
    x = x.reshape(len(x), -1).astype(np.float64)
    means = np.stack([x[y == c].mean(axis=0) for c in np.unique(y)])
    share = means.var(axis=0) / x.var(axis=0)
    for table, summary in zip(tables, summaries):
        table["class_share"] = share
        summary["corr_class_share"] = float(np.corrcoef(table["fraction"], share)[0, 1])
    if figure is not None and sets:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from landscape import pl

        with pl.publication_style():
            fig, axes = plt.subplots(1, min(2, len(sets)), figsize=(7.2, 2.4), squeeze=False)
            for ax, (label, ms) in zip(axes[0], sets):
                pl.input_frequency(ms, ax=ax)
                ax.set_title(label)
            fig.savefig(figure, dpi=150)
            plt.close(fig)
    return pd.concat(tables, ignore_index=True), pd.concat(summaries, ignore_index=True)


def _write_tables(items: list[Entry], args) -> None:
    runs = Path(args.runs)
    results = summarise(items, args)
    div = diversity(items, args)
    results.to_csv(runs / "fidelity_results.csv", index=False)
    div.to_csv(runs / "fidelity_diversity.csv", index=False)
    for study, part in results.groupby("study", sort=False):
        part.to_csv(runs / f"fidelity_{study}.csv", index=False)
    if args.dataset != "digits" and not args.quick:  # the extra looks of the newer study
        diversity_levels(items, args).to_csv(runs / "fidelity_levels.csv", index=False)
        figure = REPO / "docs" / f"fidelity_{args.dataset}_inputs.png"
        inputs, summary = input_look(items, args, figure)
        inputs.to_csv(runs / "fidelity_inputs.csv", index=False)
        summary.to_csv(runs / "fidelity_inputs_summary.csv", index=False)
    params = {k: getattr(args, k) for k in ("runs", "seeds", "diversity_seeds", "epochs", "threads", "quick")}
    (runs / "fidelity_params.json").write_text(json.dumps(params, indent=1) + "\n")


def load_tables(plan, runs: Path) -> DatasetTables | None:
    """A dataset's tables from its CSV files, or None when its study has not been run."""
    if not (runs / "fidelity_results.csv").exists():
        return None
    params_path = runs / "fidelity_params.json"
    # the digits study predates the params file: its published settings
    params = json.loads(params_path.read_text()) if params_path.exists() else {}
    params = {
        "runs": str(runs.relative_to(REPO)) if runs.is_relative_to(REPO) else str(runs),
        "seeds": plan.seeds,
        "diversity_seeds": plan.diversity_seeds,
        "epochs": plan.epochs,
        "threads": 2,
        **params,
    }
    params["machine"] = " on a 2-core CPU machine"
    timing = runs / "fidelity_search_s.txt"
    extra = {}
    for name in ("levels", "inputs", "inputs_summary"):
        path = runs / f"fidelity_{name}.csv"
        extra[name] = pd.read_csv(path) if path.exists() else None
    figure = REPO / "docs" / f"fidelity_{plan.name}_inputs.png"
    return DatasetTables(
        plan=plan,
        results=pd.read_csv(runs / "fidelity_results.csv"),
        div=pd.read_csv(runs / "fidelity_diversity.csv"),
        params=params,
        wall_s=float(timing.read_text()) if timing.exists() else float("nan"),
        levels=extra["levels"],
        inputs=extra["inputs"],
        inputs_summary=extra["inputs_summary"],
        figure=figure.name if figure.exists() else None,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    items = entries(args)
    Path(args.runs).mkdir(parents=True, exist_ok=True)
    if not args.doc_only:
        t0 = time.perf_counter()
        timing = Path(args.runs) / "fidelity_search_s.txt"
        searched, stored = search_all(items, args) if not args.report_only else (0, 0)
        if searched:
            # a resumed study adds to the time of the part before; one from scratch starts over
            earlier = float(timing.read_text()) if timing.exists() and stored else 0.0
            timing.write_text(f"{earlier + time.perf_counter() - t0:.1f}\n")
        _write_tables(items, args)
    # every dataset whose tables exist goes into the document, this one's from args.runs
    datasets = []
    for name, study in PLANS.items():
        runs = Path(args.runs) if name == args.dataset else REPO / study.runs
        tables = load_tables(study, runs.resolve())
        if tables is not None:
            datasets.append(tables)
    write_report(datasets, Path(args.doc))
    print(f"tables under {args.runs}/fidelity_*.csv; report -> {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
