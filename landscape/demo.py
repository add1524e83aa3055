"""The main job on the embedded data: ensembles -> analysis -> figures.

``landscape demo`` (the README's first command) searches Edge-Popup, Biprop and random-null
ensembles on scikit-learn's bundled 8x8 digits, a density sweep and a width sweep with the
dense weight-trained reference, the same three ensembles on MNIST-1D (generated offline,
where the methods separate), analyses the runs and writes every figure. It takes a few
minutes on a 2-core CPU and is resumable like any search: run it again and finished masks
are skipped, and the analysis reuses its stored results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
BASE_CONFIG = CONFIGS / "digits_mlp_edge_popup.yaml"
MNIST1D_CONFIG = CONFIGS / "mnist1d_mlp_edge_popup.yaml"
# the MNIST-1D study's setting: MLP 40-128-128-10, 20 epochs (the plateau at this width)
MNIST1D = ["model.hidden=[128, 128]", "train.epochs=20"]

BIPROP = ["method.name=biprop", "model.weight_init=kaiming_normal", "model.scale_fan=true"]
DENSE = ["method.name=dense", "method.density=1.0", "train.lr=0.05"]
# masks during the search, for the dynamics figures (neither the run id nor the masks change)
SNAPSHOTS = ("train.snapshot_every=5",)


@dataclass(frozen=True)
class DemoRun:
    label: str
    overrides: tuple[str, ...]
    search_seeds: tuple[int, ...]
    config: Path = BASE_CONFIG


def demo_plan(n_masks: int = 8, n_sweep: int = 3) -> list[DemoRun]:
    """The runs of the main job: ensembles at density 0.5, then density and width sweeps."""
    ens, sweep = tuple(range(n_masks)), tuple(range(n_sweep))
    plan = [
        DemoRun("Edge-Popup ensemble", SNAPSHOTS, ens),
        DemoRun("Biprop ensemble", (*BIPROP, *SNAPSHOTS), ens),
        DemoRun("random masks (null model)", ("method.name=random",), ens),
        DemoRun("dense weight-trained reference", tuple(DENSE), sweep),
    ]
    for density in (0.05, 0.1, 0.3, 0.7, 0.9):
        plan.append(DemoRun(f"Edge-Popup density {density}", (f"method.density={density}",), sweep))
        plan.append(DemoRun(f"Biprop density {density}", (*BIPROP, f"method.density={density}"), sweep))
    for width in (0.0625, 0.125, 0.25):
        plan.append(DemoRun(f"Edge-Popup width {width}", (f"model.width_mult={width}",), sweep))
        plan.append(DemoRun(f"Biprop width {width}", (*BIPROP, f"model.width_mult={width}"), sweep))
        plan.append(DemoRun(f"dense width {width}", (*DENSE, f"model.width_mult={width}"), sweep))
    plan += [
        DemoRun("MNIST-1D Edge-Popup ensemble", tuple(MNIST1D), ens, MNIST1D_CONFIG),
        DemoRun("MNIST-1D Biprop ensemble", (*MNIST1D, *BIPROP), ens, MNIST1D_CONFIG),
        DemoRun("MNIST-1D random masks (null)", (*MNIST1D, "method.name=random"), ens, MNIST1D_CONFIG),
    ]
    return plan


def run_demo(
    runs: str | Path = "runs",
    out: str | Path = "figures",
    epochs: int | None = None,
    n_masks: int = 8,
    barrier_pairs: int = 4,
    device: str = "cpu",
    progress: bool = True,
) -> str:
    """Search, analyse and plot; returns the closing summary (also printed by the CLI)."""
    from landscape.analysis import analyze
    from landscape.config import load_config
    from landscape.figures import build_figures
    from landscape.search.runner import run_search

    t0 = time.perf_counter()
    plan = demo_plan(n_masks)
    extra = [f"train.epochs={epochs}"] if epochs is not None else []
    for i, item in enumerate(plan, 1):
        cfg = load_config(item.config, [*item.overrides, *extra])
        t = time.perf_counter()
        summary = run_search(cfg, runs, [0], list(item.search_seeds), device=device, progress=progress)
        took = time.perf_counter() - t
        print(
            f"[{i:>2}/{len(plan)}] {item.label:<34} run {summary.run_id}: "
            f"{summary.done} searched, {summary.skipped} already done ({took:.0f} s)",
            flush=True,
        )
    print("analysing ...", flush=True)
    # stored results are reused: a second `make run` recomputes nothing
    result = analyze(runs, barriers=barrier_pairs, embed=("mds", "tsne", "pca"), progress=progress)
    print(result.summary(), flush=True)
    print("plotting ...", flush=True)
    main_masks = max(result.masksets.values(), key=len) if result.masksets else None
    report = build_figures(runs, out=out, masks=main_masks)
    lines = [f"\nmain job finished in {time.perf_counter() - t0:.0f} s"]
    lines.append(f"  runs:    {Path(runs).resolve()}  (list them: landscape ls {runs})")
    lines.append(f"  tables:  {result.out_dir.resolve()}")
    lines.append(f"  figures: {Path(out).resolve()}")
    for name, files in report.files.items():
        lines.append(f"    {name}: {', '.join(f.suffix[1:] for f in files)}")
    lines += [f"    skipped {name}: {reason}" for name, reason in report.skipped]
    return "\n".join(lines)
