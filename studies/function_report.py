"""Writes docs/function.md from the tables of studies/function.py."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pandas as pd

NAMES = {
    "edge_popup": "Edge-Popup",
    "biprop": "Biprop",
    "iterand": "IteRand",
    "random": "random masks",
    "dense": "dense",
}
MASKS = "masks of one network"


def _name(method: str) -> str:
    return NAMES.get(str(method), str(method))


def _ci(row, name: str, fmt: str = "{:.3f}") -> str:
    lo, hi = row[f"{name}_ci_low"], row[f"{name}_ci_high"]
    value = fmt.format(row[name])
    if pd.isna(lo) or pd.isna(hi):
        return value
    return f"{value} [{fmt.format(lo)}, {fmt.format(hi)}]"


def _range(values, fmt: str = "{:.2f}") -> str:
    lo, hi = fmt.format(values.min()), fmt.format(values.max())
    return lo if lo == hi else f"{lo}–{hi}"


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    rank = {m: i for i, m in enumerate(NAMES)}
    key = frame["method"].map(lambda m: rank.get(m, len(rank)))
    return frame.assign(_rank=key).sort_values(["_rank", "density"]).drop(columns="_rank")


def structure_table(agree: pd.DataFrame, accuracy_only: pd.DataFrame) -> str:
    plain = accuracy_only.set_index("group")
    lines = [
        "| method | density | masks (networks) | test accuracy | Jaccard similarity | structural diversity "
        "| disagreement | normalised disagreement [95%] | normalised, accuracy-only baseline "
        "| errors shared [95%] | functional / structural |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in _order(agree).iterrows():
        trained = r["members"] != MASKS
        structural = "—" if trained else f"{r['structural_diversity']:.3f}"
        ratio = "—" if trained else f"{r['normalised_disagreement'] / r['structural_diversity']:.2f}"
        nets = "independent" if trained else str(int(r["n_networks"]))
        jaccard = "—" if trained else f"{r['jaccard_similarity']:.3f}"
        lines.append(
            f"| {_name(r['method'])} | {r['density']:g} | {int(r['n_masks'])} ({nets}) | {r['accuracy']:.4f} "
            f"| {jaccard} | {structural} | {r['disagreement']:.4f} | {_ci(r, 'normalised_disagreement')} "
            f"| {plain.loc[r['group'], 'normalised_disagreement']:.3f} | {_ci(r, 'error_ratio', '{:.2f}')} "
            f"| {ratio} |"
        )
    return "\n".join(lines)


def ensemble_table(ens: pd.DataFrame) -> str:
    lines = [
        "| method | density | K | single mask (mean) | best single (by validation) | ensemble of K [95%] "
        "| gain over the mean single | gain over the best | NLL: single → ensemble |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    largest = ens.sort_values("k").groupby("group", sort=False).tail(1)
    first = ens[ens["k"] == 1].set_index("group")
    for _, r in _order(largest).iterrows():
        lines.append(
            f"| {_name(r['method'])} | {r['density']:g} | {int(r['k'])} | {r['single_acc']:.4f} "
            f"| {r['best_acc']:.4f} | {_ci(r, 'acc', '{:.4f}')} | {r['gain']:+.4f} | {r['gain_over_best']:+.4f} "
            f"| {first.loc[r['group'], 'nll']:.3f} → {r['nll']:.3f} |"
        )
    return "\n".join(lines)


def cka_table(cka: pd.DataFrame) -> str:
    reps = list(dict.fromkeys(cka.sort_values("position")["representation"]))
    head = " | ".join(f"CKA {r} (random masks)" for r in reps)
    lines = [
        f"| method | density | {head} | excess at the logits [95%] |",
        "|---|---|" + "---|" * (len(reps) + 1),
    ]
    for g in _order(cka.drop_duplicates("group"))["group"]:
        part = cka[cka["group"] == g].set_index("representation")
        first = part.iloc[0]
        cells = " | ".join(f"{part.loc[r, 'cka']:.3f} ({part.loc[r, 'random_cka']:.3f})" for r in reps)
        lines.append(
            f"| {_name(first['method'])} | {first['density']:g} | {cells} | {_ci(part.loc[reps[-1]], 'excess')} |"
        )
    return "\n".join(lines)


def findings(agree: pd.DataFrame, ens: pd.DataFrame, cka: pd.DataFrame) -> list[str]:
    """Sentences made from the numbers (ranges over the configurations; no claim beyond them)."""
    out = []
    masks = agree[agree["members"] == MASKS]
    s = masks[masks["method"] != "random"]
    if len(s):
        out.append(
            f"- **Structure.** Searched masks are {_range(s['structural_diversity'])} as far apart (Jaccard "
            "distance) as independent random "
            "masks of the same per-layer counts."
        )
        ratio = s["normalised_disagreement"] / s["structural_diversity"]
        out.append(
            f"- **Function.** They disagree on {_range(100 * s['disagreement'], '{:.1f}')}% of the test "
            f"examples: {_range(s['normalised_disagreement'])} of what two "
            "classifiers with their confusion matrices and independent errors would. Functional / structural "
            f"diversity: {_range(ratio)}."
        )
        above = int((s["error_ratio_ci_low"] > 1).sum())
        out.append(
            f"- **Shared errors.** Both masks of a pair are wrong on {_range(s['error_ratio'], '{:.1f}')} "
            "times as many examples as independent errors would give; the 95% "
            f"interval lies above 1 in {above} of {len(s)} configurations."
        )
    random = masks[masks["method"] == "random"]
    if len(random):
        r = random.iloc[0]
        out.append(
            f"- **Null.** Random masks (test accuracy {r['accuracy']:.3f}) give normalised disagreement "
            f"{_ci(r, 'normalised_disagreement')} and shared-error ratio {_ci(r, 'error_ratio', '{:.2f}')} "
            "(independent errors give 1)."
        )
    largest = ens.sort_values("k").groupby("group", sort=False).tail(1)
    for _, e in _order(largest).iterrows():
        if e["method"] == "random":
            continue
        what = (
            "independently trained dense networks"
            if e["method"] == "dense"
            else f"{_name(e['method'])} masks at density {e['density']:g}"
        )
        out.append(
            f"- **Ensemble, {what}.** {int(e['k'])} members: {e['acc']:.4f} against {e['single_acc']:.4f} for "
            f"the mean single member ({e['gain']:+.4f}) and {e['best_acc']:.4f} for the best one chosen on "
            f"validation ({e['gain_over_best']:+.4f})."
        )
    if len(cka):
        last = cka.sort_values("position").groupby("group", sort=False).tail(1)
        last = last[last["method"] != "random"]
        if len(last):
            out.append(
                f"- **Representations.** At the logits, CKA between masks is {_range(last['cka'], '{:.3f}')} "
                f"against {_range(last['random_cka'], '{:.3f}')} "
                "between random masks over the same weights."
            )
    return out


def _cost(c: dict) -> str:
    return f"{c['wall_s']:.0f} s wall, {c['cpu_s']:.0f} s CPU"


def dataset_section(spec, tables: dict[str, pd.DataFrame], search: dict, analysis: dict, figures: str) -> str:
    agree, ens, cka = tables["agreement"], tables["ensemble"], tables["cka"]
    n_examples = int(agree["n_examples"].iloc[0])
    methods = ", ".join(_name(m) for m in spec.methods)
    densities = ", ".join(f"{d:g}" for d in spec.densities)
    seeds = "s" if spec.networks > 1 else ""
    nets = f"{spec.networks} weight seed{seeds} (a random network per seed and initialiser)"
    interval = (
        f"a delete-one-mask jackknife within a network, then a t interval over the {spec.networks} networks"
        if spec.networks > 1
        else "a delete-one-mask jackknife (one network)"
    )
    fig = f"{figures}/{spec.name}"
    notes = "\n".join(f"- {n}." for n in spec.notes)
    return f"""## {spec.title}

{notes}
- {spec.base["train.epochs"]} epochs. {methods} at densities {densities}; {nets} × {spec.masks} masks (search seeds) each;
  random masks (density 0.5, one network) as the null; {spec.dense} dense networks, each from its
  own initialisation and data order (weight seed = search seed = 0..{spec.dense - 1}), as the
  deep-ensemble reference. Predictions on the {n_examples} test examples (one is
  {100 / n_examples:.2f}%); the best single mask is chosen on the validation split.
- Intervals: 95%, {interval}; the dense networks form one set of independent members.
- Search {_cost(search)}, analysis {_cost(analysis)}; tables in `{spec.runs}/function_*.csv`.

### Structure against function

{structure_table(agree, tables["agreement_accuracy"])}

### Findings

{chr(10).join(findings(agree, ens, cka))}

### Ensembles

{ensemble_table(ens)}

### Representations

CKA on {int(cka["n_examples"].iloc[0])} test examples, at the input of each hidden layer and at the logits.

{cka_table(cka)}

### Figures

![disagreement against Jaccard distance]({fig}_disagreement_vs_distance.png)

Prediction disagreement of every pair of masks in one network against their Jaccard distance;
dashed: classifiers with the group's confusion matrices and independent errors.

![diversity–accuracy plane]({fig}_diversity_accuracy.png)

Each pair's disagreement as a fraction of that of independent errors against the pair's accuracy.

![ensemble accuracy]({fig}_ensemble_accuracy.png)

Test accuracy of K averaged masks at density 0.5 (95% band), the best single mask by validation
dotted, independently trained dense networks in black.

![CKA by layer]({fig}_cka_by_layer.png)

Linear CKA between masks at density 0.5, layer by layer, against random masks over the same
weights (dashed).
"""


def write_report(args, results: dict, total: dict, load: str, figures: Path) -> None:
    command = "nice -n 10 python studies/function.py" + (" --quick" if args.quick else "")
    if list(results) != ["digits", "mnist1d"]:
        command += " --datasets " + " ".join(results)
    rel = os.path.relpath(figures, Path(args.doc).resolve().parent)
    sections = "\n".join(dataset_section(spec, t, s, a, rel) for spec, t, s, a in results.values())
    doc = f"""# Do diverse masks compute different functions?

Masks found in one random network share little more of their weights than random masks do
(`docs/statistics.md`). This study asks whether that structural diversity is functional: do
two masks make the same predictions, the same mistakes, the same internal representations,
and is a handful of masks over one set of random weights a useful ensemble? Generated by
`studies/function.py` from the stored runs; re-run it to refresh every number.

```
{command}
```

This run: {_cost(total)} in all ({platform.machine()}, torch threads {args.threads}, on the CPU of a
machine shared with other jobs: the CPU seconds say what the work costs without them); load at
the end: `{load}`. The predictions are the ones each search stored with its
masks (`landscape predict` re-creates them from the masks); CKA runs the networks rebuilt from
the runs on one fixed batch of the test split.

## What the columns mean

- *structural diversity*: mean Jaccard distance of two masks / that of two independent random
  masks with the same per-layer counts (1: as far apart as chance, 0: the same mask).
- *disagreement*: fraction of test examples on which two masks predict different classes;
  *normalised*: divided by the disagreement of two classifiers that answer independently given
  the true class, each with its own confusion matrix (each keeps its accuracy, which classes it
  finds hard and where its wrong answers go): 1 = independent errors, 0 = identical
  predictions. *Accuracy-only baseline*: the same with wrong answers uniform over the other
  classes; it over-states the disagreement expected of classifiers that favour some classes
  (see the random masks).
- *errors shared*: how many examples both get wrong, over what independent errors give (1 =
  independent, above 1 = they fail on the same examples).
- *functional / structural*: the ratio of the two normalised diversities — the share of the
  structural diversity that shows up in the predictions.
- Ensembles average their members' class probabilities; the accuracy of K members is the mean
  over the K-subsets of a network's masks (all of them here, at most 256 per K). Across
  networks, K runs up to the smallest network's number of masks, so every K averages the same
  networks.
- CKA: linear CKA of the masks' representations, beside independent random masks over the same
  random weights (as many as stored masks, each with a stored mask's per-layer counts); the mean
  runs over the pairs whose CKA is defined (a constant representation has none).

{sections}
## On your own runs

Any runs root works: `landscape predict RUNS` stores the predictions of masks searched before
they were kept, `landscape analyze RUNS` adds the agreement and ensemble tables, and
`landscape figures disagreement_vs_distance diversity_accuracy ensemble_accuracy cka_by_layer --runs RUNS`
draws the figures. In Python: `ls.tl.agreement(ms)`, `ls.tl.ensemble(ms)`,
`ls.tl.representation_similarity(ms)`.
"""
    Path(args.doc).write_text(doc)
