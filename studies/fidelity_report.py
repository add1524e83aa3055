"""Tables and verdicts of the digits fidelity study, written as ``docs/fidelity.md``.

Accuracies are final-epoch test accuracies (mean ± sd over search seeds, in %). A
difference smaller than the larger of the two standard deviations is a tie, as §9b asks.
The discussion below the verdicts comes from ``studies/fidelity_notes.md`` (hand-written,
kept across regenerations).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from fidelity_plan import DENSITIES, METHODS_B, WIDTHS

NOTES = Path(__file__).resolve().parent / "fidelity_notes.md"


class Table:
    """Look-ups of (mean, sd) accuracy by study and label."""

    def __init__(self, results: pd.DataFrame, metric: str = "test_acc") -> None:
        self.r = results.set_index(["study", "label"])
        self.metric = metric

    def has(self, study: str, label: str) -> bool:
        return (study, label) in self.r.index

    def get(self, study: str, label: str, metric: str | None = None) -> tuple[float, float]:
        row = self.r.loc[(study, label)]
        m = metric or self.metric
        return float(row[f"{m}_mean"]), float(row[f"{m}_sd"])

    def cell(self, study: str, label: str, metric: str | None = None) -> str:
        if not self.has(study, label):
            return "–"
        mean, sd = self.get(study, label, metric)
        return f"{100 * mean:.1f} ± {100 * sd:.1f}"

    def cmp(self, a: tuple[str, str], b: tuple[str, str]) -> tuple[str, float]:
        """'>' / '<' / '≈' (difference under the larger sd) and the difference in points."""
        (ma, sa), (mb, sb) = self.get(*a), self.get(*b)
        return _cmp(ma, sa, mb, sb)


def _cmp(ma: float, sa: float, mb: float, sb: float) -> tuple[str, float]:
    diff = ma - mb
    if abs(diff) < max(sa, sb):
        return "≈", 100 * diff
    return (">" if diff > 0 else "<"), 100 * diff


def _pts(x: float) -> str:
    return f"{x:+.1f}"


# tables --------------------------------------------------------------------------------------


def _md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def table_a(t: Table) -> str:
    rows = [[f"{d:g}", t.cell("a", f"Edge-Popup d={d:g}"), t.cell("a", f"Biprop d={d:g}")] for d in DENSITIES]
    return _md(["density (kept)", "Edge-Popup (SC)", "Biprop (KN, scale_fan)"], rows)


def table_b(t: Table) -> str:
    rows = [[f"{w:g} (h={int(256 * w)})", *(t.cell("b", f"{m} w={w:g}") for m in METHODS_B)] for w in WIDTHS]
    return _md(["width_mult (h)", *METHODS_B], rows)


def table_rows(t: Table, results: pd.DataFrame, study: str, extra: bool = False) -> str:
    part = results[results["study"] == study]
    header = ["configuration", "test acc (%)", "at best val (%)"]
    if extra:
        header += ["stored bits", "kept weights"]
    rows = []
    for _, r in part.iterrows():
        row = [r["label"], t.cell(study, r["label"]), t.cell(study, r["label"], "test_acc_at_best_val")]
        if extra:
            row += [_int(r["stored_bits"]), _int(r["n_kept"])]
        rows.append(row)
    return _md(header, rows)


def _int(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{int(round(x)):,}"


def table_div(div: pd.DataFrame) -> str:
    rows = []
    for layer in div["layer"].unique():
        part = div[div["layer"] == layer].set_index("method")
        row = [layer, f"{part['chance'].iloc[0]:.3f}"]
        for method in ("edge_popup", "biprop"):
            if method in part.index:
                p = part.loc[method]
                row += [f"{p['jaccard']:.3f} ± {p['jaccard_sd']:.3f}", f"{p['excess']:+.3f} (z={p['z']:.1f})"]
            else:
                row += ["–", "–"]
        rows.append(row)
    return _md(["layer", "chance J", "Edge-Popup J", "EP excess", "Biprop J", "Biprop excess"], rows)


# the document --------------------------------------------------------------------------------


def _protocol(args, results: pd.DataFrame, wall_s: float) -> str:
    quick = " --quick" if args.quick else ""
    cmd = (
        f"python studies/fidelity.py --runs {args.runs} --seeds {args.seeds} "
        f"--diversity-seeds {args.diversity_seeds} --epochs {args.epochs} --threads {args.threads}{quick}"
    )
    n_runs = results["run_id"].nunique()
    return f"""## Protocol

```
{cmd}
```

- Data: scikit-learn's bundled digits (8×8, 1,797 images), standardised, stratified
  60/20/20 train/val/test split (`data.split_seed` 0): 1,079 / 359 / 359 images.
- Model: MLP 64-h-h-10 without biases or batch norm, every layer masked (first and last
  included), `model.hidden` = [256, 256] scaled by `model.width_mult`.
- Base config `configs/digits_mlp_edge_popup.yaml`: SGD lr 0.1, momentum 0.9, weight decay
  1e-4 (on the scores), cosine schedule, batch 64, **{args.epochs} epochs**; the overrides of
  every row are in `studies/fidelity_plan.py`.
- One weight seed ({args.weight_seed}); search seeds 0–{args.seeds - 1} for every row
  (0–{args.diversity_seeds - 1} for the two mask-diversity runs). All masks of one
  configuration train batched in one model.
- Reported: final-epoch test accuracy, mean ± sd over search seeds (ddof 1), in %; the
  CSV files also hold the test accuracy at the best validation epoch. A difference smaller
  than the larger of the two sds is a **tie**.
- {n_runs} distinct runs; searching took {wall_s / 60:.1f} min in all on a
  shared 2-core CPU machine with {args.threads} torch thread(s) (finished masks are skipped,
  so a re-run only rebuilds the tables).
- Tables: `{args.runs}/fidelity_results.csv` (every row), `fidelity_<study>.csv`,
  `fidelity_diversity.csv`.
"""


def _settings() -> str:
    return """Method settings (see `studies/fidelity_plan.py`): Edge-Popup, IteRand and the sources
use signed-constant weights; Biprop uses Kaiming normal with `scale_fan` (its reference
configs), and Biprop+IWR the same init so the pair is matched. IWR recycles every F = 3
epochs with r = 0.1 (Edge-Popup, as in its Conv-2/4/8 configs) or r = 0.2 (Biprop, its
configs' rate; F scaled down from 10 because these runs are much shorter). IteRand re-draws
pruned weights every 20 steps (about 1.2 epochs of 17 steps) with probability 0.1. The
weight-training baselines start from Kaiming-normal weights with lr 0.05.
"""


def _frozen_text() -> str:
    return """Stored bits are the weights whose mask bit carries information: the weights themselves
and the frozen pattern are regenerated from the weight seed, so a partially frozen network
stores one bit per *free* weight, (1 − p − r)·N. The frozen MLP (h = 256, N = 84,480) with
p + r = 0.5 stores 42,240 bits, the same as a dense-source MLP with h = 172 (42,312 bits);
with p + r = 0.7 it stores 25,344 bits, like a dense-source MLP with h = 128 (25,856 bits).
All rows of this table search with one global top-k (the frozen source always does, so the
dense-source rows are matched to it); the frozen pattern uses the ERK split across layers.
"""


def write_report(results: pd.DataFrame, div: pd.DataFrame, args, path: Path, wall_s: float) -> None:
    """Write the whole document from the study's tables."""
    from fidelity_orderings import verdicts

    t = Table(results)
    lines = [
        "# Fidelity of the search methods on digits",
        "",
        "How closely the methods of `landscape` reproduce the qualitative findings of their papers",
        "on a CPU-sized problem (ALGORITHMS.md §9b). Generated by `studies/fidelity.py` from the",
        "stored runs; re-run it to refresh every number.",
        "",
        _protocol(args, results, wall_s),
        _settings(),
        "## Verdicts on the predicted orderings",
        "",
        _md(["#", "prediction", "on digits", "evidence"], [list(v) for v in verdicts(t, div)]),
        "",
    ]
    if NOTES.exists():
        lines += [NOTES.read_text(encoding="utf-8").strip(), ""]
    lines += [
        "## a. Accuracy vs density (h = 256)",
        "",
        table_a(t),
        "",
        "## b. Accuracy vs width (density 0.5; dense training at density 1, lr 0.05)",
        "",
        table_b(t),
        "",
        "## c. Frozen vs dense source at equal stored bits",
        "",
        _frozen_text(),
        table_rows(t, results, "c", extra=True),
        "",
        "## d. Further comparisons",
        "",
        "Edge-Popup initialisation (density 0.5):",
        "",
        table_rows(t, results, "d_init"),
        "",
        "Edge-Popup in Erdős–Rényi sources (density 0.2 of the full layer):",
        "",
        table_rows(t, results, "d_er", extra=True),
        "",
        "High sparsity (density 0.1):",
        "",
        table_rows(t, results, "d_sparse"),
        "",
        "Controls (IteRand's raw-score ranking without re-draws; the init scale at high sparsity):",
        "",
        table_rows(t, results, "d_ctrl"),
        "",
        "Weight-training pruning at initialisation (density 0.2, lr 0.05; dense line at density 1):",
        "",
        table_rows(t, results, "d_wt"),
        "",
        "Null model (untrained random masks) and the all-ones random network:",
        "",
        table_rows(t, results, "d_null"),
        "",
        f"All-ones mask on the random weights (no training), from the Edge-Popup d=0.5 run: "
        f"{t.cell('a', 'Edge-Popup d=0.5', 'all_ones_test_acc')} %.",
        "",
        "Mask diversity at density 0.5 (Jaccard similarity J of pairs of masks from different",
        "search seeds on the same weights; chance = expected J of independent random masks with",
        "the same kept counts; excess = J − chance, z in units of the chance sd):",
        "",
        table_div(div),
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
