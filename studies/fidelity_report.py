"""Tables and verdicts of the fidelity study, written as ``docs/fidelity.md``.

Accuracies are final-epoch test accuracies (mean ± sd over search seeds, in %). Each dataset
has its tie rule (:class:`Table`). The discussion below each dataset's verdicts comes from a
hand-written notes file (``studies/fidelity_notes*.md``, kept across regenerations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from fidelity_plan import Plan
from fidelity_tables import inputs_text, markdown_table, table_a, table_b, table_div, table_levels, table_rows

HERE = Path(__file__).resolve().parent
NOTES = {"digits": HERE / "fidelity_notes.md", "mnist1d": HERE / "fidelity_notes_mnist1d.md"}
RULES = {
    "sd": "a difference smaller than the larger of the two sds is a tie",
    "welch": "a difference is resolved when the 95% Welch interval of the difference of the two "
    "means excludes 0 (t test on the search seeds), else it is a tie",
}


class Table:
    """Look-ups of (mean, sd) accuracy by study and label, with the plan's tie rule."""

    def __init__(self, results: pd.DataFrame, plan: Plan, metric: str = "test_acc", rule: str | None = None):
        self.r = results.set_index(["study", "label"])
        self.plan = plan
        self.metric = metric
        self.rule = rule or plan.tie_rule

    def has(self, study: str, label: str) -> bool:
        return (study, label) in self.r.index

    def get(self, study: str, label: str, metric: str | None = None) -> tuple[float, float]:
        row = self.r.loc[(study, label)]
        m = metric or self.metric
        return float(row[f"{m}_mean"]), float(row[f"{m}_sd"])

    def n(self, study: str, label: str) -> int:
        return int(self.r.loc[(study, label), "n"])

    def cell(self, study: str, label: str, metric: str | None = None) -> str:
        if not self.has(study, label):
            return "–"
        mean, sd = self.get(study, label, metric)
        return f"{100 * mean:.1f} ± {100 * sd:.1f}"

    def cmp(self, a: tuple[str, str], b: tuple[str, str]) -> tuple[str, float]:
        """'>' / '<' / '≈' (not resolved by the tie rule) and the difference in points."""
        (ma, sa), (mb, sb) = self.get(*a), self.get(*b)
        if self.rule == "welch":
            return _welch(ma, sa, self.n(*a), mb, sb, self.n(*b))
        return _cmp(ma, sa, mb, sb)


def _cmp(ma: float, sa: float, mb: float, sb: float) -> tuple[str, float]:
    diff = ma - mb
    if abs(diff) < max(sa, sb):
        return "≈", 100 * diff
    return (">" if diff > 0 else "<"), 100 * diff


def _welch(ma: float, sa: float, na: int, mb: float, sb: float, nb: int) -> tuple[str, float]:
    """Resolved when the 95% Welch interval of ``ma - mb`` excludes 0."""
    from scipy import stats

    diff = ma - mb
    va, vb = sa * sa / max(na, 1), sb * sb / max(nb, 1)
    se = math.sqrt(va + vb)
    if se == 0:
        return ("≈" if diff == 0 else (">" if diff > 0 else "<")), 100 * diff
    dof = (va + vb) ** 2 / ((va * va / max(na - 1, 1)) + (vb * vb / max(nb - 1, 1)))
    half = float(stats.t.ppf(0.975, dof)) * se
    if abs(diff) <= half:
        return "≈", 100 * diff
    return (">" if diff > 0 else "<"), 100 * diff


def resolution(results: pd.DataFrame, plan: Plan) -> float:
    """Median half-width (points) of the 95% interval of a difference between two rows."""
    from scipy import stats

    part = results[results["n"] > 1]
    se = (part["test_acc_sd"] ** 2 / part["n"]).median() ** 0.5 * math.sqrt(2)
    n = int(part["n"].median())
    return 100 * float(stats.t.ppf(0.975, 2 * n - 2)) * se


# the document --------------------------------------------------------------------------------


@dataclass
class DatasetTables:
    """One dataset's tables and how they were made."""

    plan: Plan
    results: pd.DataFrame
    div: pd.DataFrame
    params: dict
    wall_s: float
    levels: pd.DataFrame | None = None
    inputs: pd.DataFrame | None = None
    inputs_summary: pd.DataFrame | None = None
    figure: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def table(self) -> Table:
        return Table(self.results, self.plan)


DATA_TEXT = {
    "digits": "scikit-learn's bundled digits (8×8, 1,797 images), standardised, stratified 60/20/20 "
    "train/val/test split (`data.split_seed` 0): 1,079 / 359 / 359 images.",
    "mnist1d": "MNIST-1D from the reference generator (`mnist1d.data.make_dataset` with its default "
    "arguments, seed 42): its 4,000 training signals split stratified 80/20 into train/val "
    "(`data.split_seed` 0) and its 1,000 test signals: 3,200 / 800 / 1,000 signals of length 40, "
    "values as generated (standardised over the whole set by the generator).",
}


def _protocol(d: DatasetTables) -> str:
    p, plan = d.params, d.plan
    cmd = (
        f"python studies/fidelity.py --dataset {plan.name} --runs {p['runs']} --seeds {p['seeds']} "
        f"--diversity-seeds {p['diversity_seeds']} --epochs {p['epochs']} --threads {p['threads']}"
    )
    n_runs = d.results["run_id"].nunique()
    res = resolution(d.results, plan)
    hidden = plan.hidden
    return f"""### Protocol

```
{cmd}
```

- Data: {DATA_TEXT[plan.name]}
- Model: MLP {plan.n_in}-h-h-10 without biases or batch norm, every layer masked (first and last
  included), h = {hidden} scaled by `model.width_mult`.
- Base config `{plan.config}`{" with `model.hidden` = [128, 128]" if plan.base else ""}: SGD lr 0.1,
  momentum 0.9, weight decay 1e-4 (on the scores), cosine schedule, batch 64, **{p["epochs"]} epochs**;
  the overrides of every row are in `studies/fidelity_plan.py`.
- One weight seed (0); search seeds 0–{p["seeds"] - 1} for every row (0–{p["diversity_seeds"] - 1} for the
  two mask-diversity runs). All masks of one configuration train batched in one model.
- Reported: final-epoch test accuracy, mean ± sd over search seeds (ddof 1), in %; the CSV files
  also hold the test accuracy at the best validation epoch. Tie rule: {RULES[plan.tie_rule]}.
  With these seeds the median 95% interval of a difference between two rows is ±{res:.1f} points.
- {n_runs} distinct runs; searching took {d.wall_s / 60:.1f} min in all{p.get("machine", "")}
  with {p["threads"]} torch thread(s) (finished masks are skipped, so a re-run only rebuilds the tables).
- Tables: `{p["runs"]}/fidelity_results.csv` (every row), `fidelity_<study>.csv`,
  `fidelity_diversity.csv`{", `fidelity_levels.csv`, `fidelity_inputs.csv`" if d.levels is not None else ""}.
"""


def _settings(plan: Plan) -> str:
    every = plan.iterand.get("method.rerand.every")
    lr = plan.iterand.get("train.lr", 0.1)
    steps = {"digits": "about 1.2 epochs of 17 steps", "mnist1d": "0.85 of an epoch of 50 steps"}[plan.name]
    return f"""Method settings (see `studies/fidelity_plan.py`): Edge-Popup, IteRand and the sources
use signed-constant weights; Biprop uses Kaiming normal with `scale_fan` (its reference
configs), and Biprop+IWR the same init so the pair is matched. IWR recycles every F = 3
epochs with r = 0.1 (Edge-Popup, as in its Conv-2/4/8 configs) or r = 0.2 (Biprop, its
configs' rate; F scaled down from 10 because these runs are much shorter). IteRand re-draws
pruned weights every {every} steps ({steps}) with probability 0.1, at lr {lr:g}, from its
own score initialisation U(±√(6/fan_in)) (`method.score_init: kaiming_uniform_relu`, as in
the `iterand-ref` preset; the other score methods start from U(±1/√fan_in)). The
weight-training baselines start from Kaiming-normal weights with lr 0.05.
"""


def _frozen_text(plan: Plan) -> str:
    n = plan.n_weights(plan.hidden)
    h5, h7 = plan.comparator_widths()
    return f"""Stored bits are the weights whose mask bit carries information: the weights themselves
and the frozen pattern are regenerated from the weight seed, so a partially frozen network
stores one bit per *free* weight, (1 − p − r)·N. The frozen MLP (h = {plan.hidden}, N = {n:,}) with
p + r = 0.5 stores {n // 2:,} bits, about those of a dense-source MLP with h = {h5} ({plan.n_weights(h5):,}
bits); with p + r = 0.7 it stores {round(0.3 * n):,} bits, like a dense-source MLP with h = {h7}
({plan.n_weights(h7):,} bits). All rows of this table search with one global top-k (the frozen source
always does, so the dense-source rows are matched to it); the frozen pattern uses the ERK
split across layers.
"""


def _verdict_table(datasets: list[DatasetTables]) -> str:
    from fidelity_orderings import verdicts

    columns, header = [], ["#", "prediction"]
    for d in datasets:
        columns.append({v[0]: v for v in verdicts(d.table, d.div)})
        header.append(f"{d.plan.title} ({'1 sd' if d.plan.tie_rule == 'sd' else 'Welch 95%'})")
        if d.plan.tie_rule != "sd":
            columns.append({v[0]: v for v in verdicts(Table(d.results, d.plan, rule="sd"), d.div)})
            header.append(f"{d.plan.title} (1-sd rule)")
    first = columns[0]
    rows = [[num, first[num][1], *(c[num][2] for c in columns)] for num in first]
    return markdown_table(header, rows)


def _dataset_section(d: DatasetTables) -> list[str]:
    from fidelity_orderings import verdicts

    plan, t, results = d.plan, d.table, d.results
    h_full = plan.hidden
    lines = [
        f"## {plan.title}",
        "",
        _protocol(d),
        _settings(plan),
        f"### Verdicts on {plan.title}",
        "",
        markdown_table(
            ["#", "prediction", f"on {plan.title}", "evidence"], [list(v) for v in verdicts(t, d.div)]
        ),
        "",
    ]
    notes = NOTES.get(plan.name)
    if notes is not None and notes.exists():
        lines += [notes.read_text(encoding="utf-8").strip(), ""]
    lines += [
        f"### {plan.title} a. Accuracy vs density (h = {h_full})",
        "",
        table_a(t),
        "",
        f"### {plan.title} b. Accuracy vs width (density 0.5; dense training at density 1, lr 0.05)",
        "",
        table_b(t),
        "",
        f"### {plan.title} c. Frozen vs dense source at equal stored bits",
        "",
        _frozen_text(plan),
        table_rows(t, results, "c", extra=True),
        "",
        f"### {plan.title} d. Further comparisons",
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
        "the same kept counts; excess = J − chance, with its 95% jackknife interval over masks where",
        "the table holds one; see docs/statistics.md):",
        "",
        table_div(d.div),
        "",
    ]
    if d.levels is not None:
        lines += [
            f"### {plan.title} e. Mask diversity at several accuracy levels",
            "",
            "Pairs of masks of one run (different search seeds, same weights); chance as above, per run",
            "from its own kept counts. Sorted as in the study plan; the accuracy is the run's mean.",
            "",
            table_levels(d.levels),
            "",
        ]
    if d.inputs is not None and d.inputs_summary is not None:
        lines += [
            f"### {plan.title} f. Which inputs the first layer keeps",
            "",
            "For each of the 40 input positions, the fraction of its first-layer weights (h rows ×",
            "masks) that the masks keep, against independent masks of the layer's density",
            "(`landscape.tl.input_frequency`: Binomial(masks × h, d) per position, 95% band). The",
            "last column correlates the kept fraction with each position's class share, the part of",
            "its variance over the training signals that lies between the ten class means:",
            "",
            inputs_text(d.inputs, d.inputs_summary, d.figure),
            "",
        ]
    return lines


def write_report(datasets: list[DatasetTables], path: Path) -> None:
    """Write the whole document: a side-by-side verdict table, then one section per dataset."""
    titles = " and ".join(d.plan.title for d in datasets)
    lines = [
        f"# Fidelity of the search methods on {titles}",
        "",
        "How closely the methods of `landscape` reproduce the qualitative findings of their papers",
        "on CPU-sized problems. Generated by `studies/fidelity.py` from the stored tables; re-run it",
        "to refresh every number (the command of each dataset is in its protocol).",
        "",
        "## Verdicts side by side",
        "",
        _verdict_table(datasets),
        "",
    ]
    side = HERE / "fidelity_notes_side_by_side.md"
    if side.exists() and len(datasets) > 1:
        lines += [side.read_text(encoding="utf-8").strip(), ""]
    for d in datasets:
        lines += _dataset_section(d)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
