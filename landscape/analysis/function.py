"""The function-space part of ``landscape analyze``: prediction agreement and mask ensembles,
from the predictions stored with the masks (runs without them are left out, and the summary
says how to add them)."""

from __future__ import annotations

import warnings

import pandas as pd

from landscape.errors import AnalysisError

TABLES = ("agreement", "agreement_summary", "ensemble", "ensemble_summary")


def function_tables(ms, groupby) -> dict[str, pd.DataFrame]:
    """``{table: frame}`` of :func:`landscape.tl.agreement` and :func:`landscape.tl.ensemble`
    on the test split; empty when no mask has stored predictions."""
    from landscape import tl

    out: dict[str, pd.DataFrame] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # runs without predictions: the summary names the fix
        try:
            out["agreement"] = tl.agreement(ms, groupby=groupby)
            out["agreement_summary"] = ms.uns["agreement"]["summary"]
        except AnalysisError:
            pass
        try:
            out["ensemble"] = tl.ensemble(ms, groupby=groupby)
            out["ensemble_summary"] = ms.uns["ensemble"]["summary"]
        except AnalysisError:
            pass
    return out


def format_function(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Summary lines: per group, disagreement beside independent errors and structure, and
    what an ensemble of all its masks gains."""
    agree = tables.get("agreement_summary")
    if agree is None or not len(agree):
        return []
    ens = tables.get("ensemble_summary")
    if ens is not None and len(ens):  # groups with an ensemble but no pairs come last
        extra = ens.loc[~ens["group"].isin(agree["group"]), ["group", "n_masks"]].drop_duplicates("group")
        agree = pd.concat([agree, extra], ignore_index=True)
    lines = [
        "",
        "test predictions within a group: disagreement, and as a fraction of that of classifiers "
        "independent given the true class (normalised) [95% interval]; errors shared: both wrong / "
        "independent; structure: Jaccard distance / that of random masks",
    ]
    frame = pd.DataFrame(
        {
            "group": agree["group"],
            "masks": agree["n_masks"],
            "accuracy": agree["accuracy"].round(4),
            "disagreement": agree["disagreement"].round(4),
            "normalised": [
                f"{v:.3f} {_ci(lo, hi)}"
                for v, lo, hi in zip(
                    agree["normalised_disagreement"],
                    agree["normalised_disagreement_ci_low"],
                    agree["normalised_disagreement_ci_high"],
                )
            ],
            "errors shared": agree["error_ratio"].round(2),
            "structure": agree["structural_diversity"].round(3),
        }
    )
    if ens is not None and len(ens):
        largest = ens.sort_values("k").groupby("group", sort=False).tail(1).set_index("group")
        frame["ensemble (K)"] = [
            f"{largest.loc[g, 'acc']:.4f} ({int(largest.loc[g, 'k'])})" if g in largest.index else "—"
            for g in frame["group"]
        ]
        frame["gain"] = [
            f"{largest.loc[g, 'gain']:+.4f}" if g in largest.index else "—" for g in frame["group"]
        ]
    lines += ["  " + line for line in frame.to_string(index=False).splitlines()]
    return lines


def _ci(lo: float, hi: float) -> str:
    return "[—]" if pd.isna(lo) or pd.isna(hi) else f"[{lo:.3f}, {hi:.3f}]"
