"""The Markdown tables of the fidelity study's report (:mod:`fidelity_report`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
from fidelity_plan import METHOD_NAMES

if TYPE_CHECKING:
    from fidelity_report import Table


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def table_a(t: Table) -> str:
    rows = [
        [f"{d:g}", t.cell("a", f"Edge-Popup d={d:g}"), t.cell("a", f"Biprop d={d:g}")]
        for d in t.plan.densities
    ]
    return markdown_table(["density (kept)", "Edge-Popup (SC)", "Biprop (KN, scale_fan)"], rows)


def table_b(t: Table) -> str:
    rows = [
        [f"{w:g} (h={t.plan.h(w)})", *(t.cell("b", f"{m} w={w:g}") for m in METHOD_NAMES)]
        for w in t.plan.widths
    ]
    return markdown_table(["width_mult (h)", *METHOD_NAMES], rows)


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
    return markdown_table(header, rows)


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
                row += [f"{p['jaccard']:.3f} ± {p['jaccard_sd']:.3f}", _excess(p)]
            else:
                row += ["–", "–"]
        rows.append(row)
    return markdown_table(
        ["layer", "chance J", "Edge-Popup J", "EP excess", "Biprop J", "Biprop excess"], rows
    )


def _excess(row) -> str:
    """Excess similarity with its 95% interval over masks where the table has one."""
    if "excess_ci_low" in row and pd.notna(row["excess_ci_low"]):
        return f"{row['excess']:+.3f} [{row['excess_ci_low']:+.3f}, {row['excess_ci_high']:+.3f}]"
    return f"{row['excess']:+.3f}"


def table_levels(levels: pd.DataFrame) -> str:
    """Whole-network and per-layer Jaccard excess of runs at several accuracy levels."""
    layers = [x for x in levels["layer"].unique() if x != "whole"]
    rows = []
    for label, part in levels.groupby("label", sort=False):
        p = part.set_index("layer")
        whole = p.loc["whole"]
        rows.append(
            [
                label,
                f"{100 * whole['test_acc']:.1f}",
                str(int(whole["n_masks"])),
                f"{whole['jaccard']:.3f}",
                f"{whole['chance']:.3f}",
                _excess(whole),
                *(f"{p.loc[layer, 'excess']:+.3f}" for layer in layers),
            ]
        )
    return markdown_table(
        ["run", "test acc (%)", "masks", "whole J", "chance J", "excess", *(f"{x} excess" for x in layers)],
        rows,
    )


def inputs_text(inputs: pd.DataFrame, summary: pd.DataFrame, figure: str | None) -> str:
    """The input-position look: figure, per-group summary and the most favoured positions."""
    lines = []
    if figure:
        lines += [f"![first-layer selection frequency by input position]({figure})", ""]
    rows = []
    for _, s in summary.iterrows():
        part = inputs[inputs["group"] == s["group"]].sort_values("z")
        low = ", ".join(str(int(p)) for p in part.head(5)["position"])
        high = ", ".join(str(int(p)) for p in part.tail(5)["position"][::-1])
        rows.append(
            [
                str(s["label"]),
                str(int(s["n_masks"])),
                f"{int(s['outside'])} of {int(s['n_units'])} (chance {s['outside_expected']:.1f})",
                f"{s['chi2']:.0f} on {int(s['chi2_dof'])} dof (p = {s['chi2_pvalue']:.1g})",
                f"{100 * part['fraction'].min():.1f}–{100 * part['fraction'].max():.1f} (null {100 * s['null']:.1f})",
                high,
                low,
                f"{s['corr_class_share']:+.2f}" if "corr_class_share" in s else "–",
            ]
        )
    lines.append(
        markdown_table(
            [
                "masks",
                "n",
                "positions outside the 95% band",
                "chi-square vs binomial",
                "kept % range",
                "most kept",
                "least kept",
                "r with class share",
            ],
            rows,
        )
    )
    return "\n".join(lines)
