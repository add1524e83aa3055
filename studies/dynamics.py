"""Where mask diversity comes from on digits and MNIST-1D (docs/dynamics.md): masks during
their search, and the score initialisation against the data order as sources of randomness.

For Edge-Popup and Biprop, on one random network per data set (weight seed 0), the study
searches eight masks three ways: both sources vary (search seeds 0-7, every epoch kept as a
snapshot), only the scores vary (data seed held at 0) and only the data order varies (score
seed held at 0); on digits at densities 0.5 and 0.2 (MLP 64-256-256-10, 15 epochs), on
MNIST-1D at density 0.5 (MLP 40-128-128-10, 20 epochs, as in the main job). It prints, per
data set, Markdown tables:

1. how far a mask moves from the top-k of its initial scores, and when it settles;
2. within-method similarity over training, and that of the Edge-Popup/Biprop "twins" (the
   masks of the same seeds) over training;
3. how much of the overlap excess within a method each source explains;
4. how much of the twin similarity each source explains;

and the search's wall and CPU seconds with the load average around it.

    python studies/dynamics.py --runs runs/dynamics

searched 144 masks in 1,508 s wall (1,146 s CPU) on 2 cores shared with other jobs (load
average 2.5-8); the analysis takes seconds, and searches resume: a second call only analyses.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import landscape as ls
from landscape import tl
from landscape.config import load_config
from landscape.search.runner import run_search

EPOCH_COL = "epoch"

BIPROP = ["method.name=biprop", "model.weight_init=kaiming_normal", "model.scale_fan=true"]


@dataclass(frozen=True)
class Dataset:
    label: str
    n_inputs: int
    config: str  # the Edge-Popup config; Biprop adds BIPROP
    overrides: tuple[str, ...]
    densities: tuple[float, ...]


DATASETS = {
    # 15 epochs, not the config's 30: the masks settle in the last third either way (docs/dynamics.md)
    "digits": Dataset("digits", 64, "configs/digits_mlp_edge_popup.yaml", ("train.epochs=15",), (0.5, 0.2)),
    # the main job's MNIST-1D setting (landscape.demo.MNIST1D)
    "mnist1d": Dataset(
        "MNIST-1D",
        40,
        "configs/mnist1d_mlp_edge_popup.yaml",
        ("model.hidden=[128, 128]", "train.epochs=20"),
        (0.5,),
    ),
}
METHODS = {"edge_popup": [], "biprop": BIPROP}
DESIGNS = {  # what varies between the eight masks: config overrides
    "scores + data order": ["train.snapshot_every=1"],
    "scores": ["train.data_seed=0"],
    "data order": ["method.score_seed=0"],
}


def configs(data: Dataset, density: float, extra: list[str]):
    for method in METHODS.values():
        for overrides in DESIGNS.values():
            yield load_config(
                data.config, [*data.overrides, *method, f"method.density={density}", *overrides, *extra]
            )


def search(root: Path, data: Dataset, densities, seeds: int, extra: list[str]) -> None:
    for density in densities:
        for cfg in configs(data, density, extra):
            run_search(cfg, root, [0], list(range(seeds)), progress=False)


def fmt(x: float) -> str:
    return f"{x:.3f}"


def interval(row: pd.Series, col: str) -> str:
    return f"{fmt(row[col])} [{fmt(row[f'{col}_ci_low'])}, {fmt(row[f'{col}_ci_high'])}]"


def movement(snaps) -> None:
    """Similarity with the own initial top-k at the end, flips in the last epochs, settling."""
    slot = snaps.uns["trajectory"]
    groups, settling = slot["groups"], slot["settling"]
    last = groups[EPOCH_COL].max()
    print("\n### 1. How far masks move from the top-k of their initial scores\n")
    n = int(groups["n_masks"].max())
    print(f"Jaccard similarity of each final mask with its own epoch-0 mask (mean over {n} masks, 95% t")
    print("interval), against two random masks of the same counts; bits flipped per epoch in the")
    print("last five epochs; epoch after which under 1% of a mask's kept weights still change.\n")
    print(
        "| method | density | layer | with own initial top-k | chance | flips/epoch, last 5 | settling epoch |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (method, density, layer), part in groups.groupby(["method", "density", "layer"], sort=False):
        end = part[part[EPOCH_COL] == last].iloc[0]
        tail = part[part[EPOCH_COL] > last - 5]["flips_per_epoch"].mean()
        settle = settling[(settling["group"] == end["group"]) & (settling["layer"] == layer)][
            "settling_epoch"
        ]
        print(
            f"| {method} | {density} | {layer} | {interval(end, 'similarity_initial')} | "
            f"{fmt(end['chance_initial'])} | {tail:.2e} | {settle.median():.0f} "
            f"(range {settle.min()}-{settle.max()}) |"
        )


def over_training(snaps, epochs: list[int]) -> None:
    slot = snaps.uns["trajectory"]
    sim = slot["similarity"]
    sim = sim[sim["layer"] == "whole"]
    twins = snaps.uns["twins"]["summary"]
    twins = twins[(twins["layer"] == "whole") & (twins["shared"] == "both")]
    print("\n### 2. Similarity over training (whole network)\n")
    n = int(twins["n_pairs"].max())
    print(f"Within a method: mean Jaccard over the {n * (n - 1) // 2} pairs of the {n} masks, 95% jackknife")
    print(f"interval; twins: an Edge-Popup mask with the Biprop mask of the same search seed ({n} pairs).\n")
    print("| density | pairs | " + " | ".join(f"epoch {e}" for e in epochs) + " | chance |")
    print("| --- | --- | " + " | ".join("---" for _ in epochs) + " | --- |")
    for density in sorted(set(sim["density"]), reverse=True):
        for method in METHODS:
            part = sim[(sim["method"] == method) & (sim["density"] == density)].set_index(EPOCH_COL)
            cells = [interval(part.loc[e], "similarity") for e in epochs]
            print(
                f"| {density} | {method} | "
                + " | ".join(cells)
                + f" | {fmt(part['chance_similarity'].iloc[-1])} |"
            )
        part = twins[twins["density"] == density].set_index(EPOCH_COL)
        cells = [interval(part.loc[e], "similarity") for e in epochs]
        print(
            f"| {density} | twins | " + " | ".join(cells) + f" | {fmt(part['chance_similarity'].iloc[-1])} |"
        )


def attribution(ms) -> None:
    tl.seed_sources(ms)
    summary = ms.uns["seed_sources"]["summary"]
    explained = ms.uns["seed_sources"]["explained"]
    print("\n### 3. Which source makes masks of one method alike (final masks)\n")
    print("Mean Jaccard of the pairs of a family (the three designs pooled) by the seed they share,")
    print("95% jackknife interval; explained: (S_shared - S_neither) / (1 - S_neither).\n")
    print("| method | density | layer | share nothing | share the score seed | share the data seed | chance "
          "| explained by scores | by data order |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (method, density, layer), part in summary.groupby(["method", "density", "layer"], sort=False):
        p = part.set_index("shared")
        e = explained[
            (explained["method"] == method)
            & (explained["density"] == density)
            & (explained["layer"] == layer)
        ].set_index("source")
        print(
            f"| {method} | {density} | {layer} | {interval(p.loc['neither'], 'similarity')} | "
            f"{interval(p.loc['score seed'], 'similarity')} | {interval(p.loc['data seed'], 'similarity')} | "
            f"{fmt(p.loc['neither', 'chance_similarity'])} | {interval(e.loc['scores'], 'explained')} | "
            f"{interval(e.loc['data order'], 'explained')} |"
        )


def twins(ms) -> None:
    tl.seed_sources(ms, a={"method": "edge_popup"}, b={"method": "biprop"}, key_added="twins")
    summary = ms.uns["twins"]["summary"]
    explained = ms.uns["twins"]["explained"]
    print("\n### 4. Which source makes the Edge-Popup/Biprop twins alike (final masks)\n")
    print("Pairs of an Edge-Popup and a Biprop mask of the same density, by the seeds they share;")
    print("explained: (S_shared - S_neither) / (S_both - S_neither), S_both the twins.\n")
    print("| density | layer | share nothing | score seed | data seed | both (twins) | chance "
          "| explained by scores | by data order |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (density, layer), part in summary.groupby(["density", "layer"], sort=False):
        p = part.set_index("shared")
        e = explained[(explained["density"] == density) & (explained["layer"] == layer)].set_index("source")
        print(
            f"| {density} | {layer} | {interval(p.loc['neither'], 'similarity')} | "
            f"{interval(p.loc['score seed'], 'similarity')} | {interval(p.loc['data seed'], 'similarity')} | "
            f"{interval(p.loc['both'], 'similarity')} | {fmt(p.loc['neither', 'chance_similarity'])} | "
            f"{interval(e.loc['scores'], 'explained')} | {interval(e.loc['data order'], 'explained')} |"
        )


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def analyse(root: Path, data: Dataset, name: str, densities, seeds: int, extra: list[str]) -> None:
    ms = ls.read_runs(root, where={"data.name": name})
    ms = ms[ms.obs["method.density"].isin(densities).to_numpy()]
    free = ms[(ms.obs["varies"] == "scores + data order").to_numpy()]
    snaps = ls.read_snapshots(free)
    tl.trajectory(snaps)
    tl.seed_sources(snaps, a={"method": "edge_popup"}, b={"method": "biprop"}, key_added="twins")
    last = int(snaps.obs["epoch"].max())
    epochs = sorted({0, 1, 2, 5, 10, last} & set(snaps.obs["epoch"]))
    model = load_config(data.config, [*data.overrides, *extra]).model
    print(f"\n## {data.label}, MLP {data.n_inputs}-{'-'.join(map(str, model.hidden))}-10, {last} epochs, densities "
          f"{list(densities)}, {seeds} masks per design, weight seed 0")  # fmt: skip
    movement(snaps)
    over_training(snaps, epochs)
    attribution(ms)
    twins(ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/dynamics", help="runs root (searches resume)")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--densities", type=float, nargs="+", help="instead of each data set's own")
    parser.add_argument("--seeds", type=int, default=8, help="masks per design")
    parser.add_argument("--set", dest="extra", action="append", default=[], help="config override (tests)")
    args = parser.parse_args()
    root = Path(args.runs)
    load_before = os.getloadavg()
    t0, c0 = time.perf_counter(), cpu_seconds()
    for name in args.datasets:
        data = DATASETS[name]
        search(root, data, args.densities or data.densities, args.seeds, args.extra)
    searched, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    load_after = os.getloadavg()
    for name in args.datasets:
        data = DATASETS[name]
        analyse(root, data, name, args.densities or data.densities, args.seeds, args.extra)
    print(
        f"\nsearch {searched:.0f} s wall, {cpu:.0f} s CPU; analysis {time.perf_counter() - t0 - searched:.0f} s; "
        f"load average (1, 5, 15 min) {' '.join(f'{x:.2f}' for x in load_before)} before the search, "
        f"{' '.join(f'{x:.2f}' for x in load_after)} after"
    )


if __name__ == "__main__":
    main()
