"""The printed summary of ``landscape analyze``: accuracy, similarity beside chance (across
networks, then per network) and barriers, each group labelled by what differs between groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.analysis.function import format_function
from landscape.analysis.views import one_row_per
from landscape.grouping import pair_label
from landscape.store.records import ALL_ONES_STALE
from landscape.tl._source_frame import IN_SOURCE_NOTE
from landscape.tl.baseline import SOURCE_NOTE
from landscape.tl.diversity import SIMILARITY
from landscape.tl.group_clusters import ACROSS


def format_summary(result) -> str:
    t = result.tables
    lines: list[str] = []
    masks = t.get("masks")
    if masks is not None:
        masks = _with_networks(masks)
        kept = masks[~masks["pooled_copy"].astype(bool)] if "pooled_copy" in masks else masks
        n_nets = kept.groupby("group")["_network"].nunique(dropna=False) if "weight_seed" in masks else None
        lines.append(
            f"{len(masks)} masks in {masks['run_id'].nunique()} runs, {masks['group'].nunique()} groups"
            + (f", up to {int(n_nets.max())} networks (weight seeds) per group" if n_nets is not None else "")
        )
        copies = int(masks["pooled_copy"].astype(bool).sum()) if "pooled_copy" in masks else 0
        if copies:
            lines.append(
                f"{copies} of them repeat masks of another pooled run bit for bit (runs that differ only in"
                " fields these masks never read, or masks imported twice): each such mask counts once"
            )
        pooled = _pooled_note(t)
        if pooled:
            lines.append(pooled)
        if result.unfinished:
            lines.append("searches not finished (their stored masks are analysed as they are):")
            lines += [f"  {u}" for u in result.unfinished]
        table = _accuracy_table(masks)
        lines.append(
            "\ntest accuracy (final epoch), mean ± sd over masks; 95% CI of the mean: t over the masks"
            " of one network, or over the network means where a group has several"
            + ("; every weight kept: the group's random networks with no mask, mean over networks:"
               if "every weight kept" in table else ":")
        )  # fmt: skip
        lines.append(_indent(table.to_string(index=False)))
    summary, per_network = t.get("diversity_summary"), t.get("diversity")
    if summary is not None and len(summary):
        for metric in ("jaccard", "hamming"):
            part = summary[summary["metric"] == metric]
            if not len(part):
                continue
            lines += _diversity_lines(part, metric)
            nets = _tested(per_network[per_network["metric"] == metric])
            if nets.groupby("group")["weight_seed"].nunique().max() > 1:
                lines.append("  per network (weight seed), 95% intervals over masks:")
                lines.append(_indent(_network_table(nets).to_string(index=False), 4))
    lines += format_function(t)
    lines += _cluster_lines(t.get("clusters"))
    bar = t.get("barriers")
    if bar is not None and len(bar):
        done = result.work.get("barrier curves")
        note = f" ({done['computed']} curves computed now, {done['reused']} reused)" if done else ""
        lines.append(
            "\nloss barriers, over distinct pairs (max loss along the path above the chord of the end"
            " losses; a pair stored again under another seed counts once, the barriers of its curves"
            " averaged; sd and max over pairs)" + note + ":"
        )
        lines.append(_indent(_barrier_table(bar).to_string(index=False)))
    if result.skipped:
        lines.append("\nskipped (not analysed):")
        lines += [f"  {s}" for s in result.skipped]
    if getattr(result, "damaged", None):
        lines.append("\ndamaged stored files (analysis results, distance tiles):")
        lines += [f"  {d}" for d in result.damaged]
    lines.append(f"\ntables: {result.out_dir} (results kept in {result.out_dir / 'results'})")
    return "\n".join(lines)


def _indent(text: str, n: int = 2) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def _pooled_note(t: dict) -> str:
    table = t.get("diversity_summary")
    if table is None or "pooled" not in table or not table["pooled"].astype(bool).any():
        return ""
    parts = table.loc[table["pooled"].astype(bool), ["group", "pooled"]].drop_duplicates()
    return "pooled on request (groupby): " + "; ".join(f"{g} pools {p}" for g, p in parts.to_numpy())


def _accuracy_table(masks: pd.DataFrame) -> pd.DataFrame:
    if "pooled_copy" in masks:  # one mask stored in two pooled runs counts once
        masks = masks[~masks["pooled_copy"].astype(bool)]
    masks = _with_networks(masks)
    acc = masks.groupby("group", sort=False)["test_acc"].agg(["size", "count", "mean", "std"]).reset_index()
    # imported masks picked on the test set carry only that (optimistic) accuracy: say so
    # rather than leave the column looking merely unrecorded
    selected = (
        masks.assign(_test=masks["selected_on"].astype(str) == "test")
        .groupby("group", sort=False)["_test"]
        .any()
        if "selected_on" in masks
        else pd.Series(dtype=bool)
    )
    acc["test_acc"] = [
        (
            "— (masks selected on the test set: see best_test_acc)"
            if selected.get(g, False)
            else "— (not recorded)"
        )
        if np.isnan(m)
        else f"{m:.4f} ± {0 if np.isnan(s) else s:.4f}" + _of(g, k, n, selected)
        for g, m, s, k, n in zip(acc["group"], acc["mean"], acc["std"], acc["count"], acc["size"])
    ]
    intervals = {g: _mean_interval(part) for g, part in masks.groupby("group", sort=False)}
    acc["95% CI"] = ["" if selected.get(g, False) else intervals.get(g, "[—]") for g in acc["group"]]
    if "weight_seed" in masks:
        nets = masks.groupby("group", sort=False)["_network"].nunique(dropna=False)
        acc.insert(2, "networks", nets.reindex(acc["group"]).to_numpy())
    stale = (
        set(masks.loc[masks["all_ones_batchnorm"] == ALL_ONES_STALE, "group"])
        if "all_ones_batchnorm" in masks
        else set()
    )
    if "all_ones_test_acc" in masks and (masks["all_ones_test_acc"].notna().any() or stale):
        recorded = masks.dropna(subset=["all_ones_test_acc"])
        # every mask of a run's network records the same value; the runs a pooled group holds
        # at one weight seed are averaged, then its networks
        keys = [c for c in ("group", "weight_seed", "run_id") if c in masks]
        networks = [c for c in keys if c != "run_id"]
        per_network = recorded.drop_duplicates(keys).groupby(networks, sort=False)["all_ones_test_acc"].mean()
        ones = per_network.groupby(level=0, sort=False).mean()
        acc["every weight kept"] = [
            f"{ones[g]:.4f}"
            if g in ones.index
            else "— (test-batch BatchNorm, older search)"
            if g in stale
            else "—"
            for g in acc["group"]
        ]
    return acc.drop(columns=["mean", "std", "count"]).rename(columns={"size": "masks"})


def _with_networks(masks: pd.DataFrame) -> pd.DataFrame:
    """``masks`` with ``_network``: each mask's network within its group, as the tools pair
    them (its weight seed; with the initialiser in a pooled group over several)."""
    from landscape.networks import network_values

    if "_network" in masks:
        return masks
    out = pd.Series(None, index=masks.index, dtype=object)
    for _, part in masks.groupby("group", sort=False) if "group" in masks else [(None, masks)]:
        out.loc[part.index] = pd.Series(network_values(part), index=part.index, dtype=object)
    return masks.assign(_network=out)


def _mean_interval(part: pd.DataFrame) -> str:
    """The 95% t interval of a group's mean test accuracy: over its masks when they share one
    network, else over its networks' means (masks of one network share its weights)."""
    from landscape.tl import _stats

    part = _with_networks(part).dropna(subset=["test_acc"])
    if part["_network"].nunique(dropna=False) > 1:
        values = part.groupby("_network", dropna=False)["test_acc"].mean().to_numpy()
    else:
        values = part["test_acc"].to_numpy(dtype=np.float64)
    if len(values) < 2:
        return "[—]"
    lo, hi = _stats.interval(values.mean(), values.std(ddof=1) / np.sqrt(len(values)), len(values) - 1)
    return f"[{lo:.4f}, {hi:.4f}]"


def _of(group: str, recorded: int, n: int, selected: pd.Series) -> str:
    """Over how many of the group's masks a mean runs, when not all of them record one."""
    if recorded == n:
        return ""
    why = "; the others selected on the test set" if selected.get(group, False) else ""
    return f" ({recorded} of {n} masks{why})"


def _diversity_title(metric: str) -> str:
    return (
        f"{SIMILARITY.get(metric, metric)} within a group, beside independent random masks of the "
        "same per-layer counts; excess = similarity − chance, [95% interval: over networks, or over "
        "masks when a group has one network], p: two-sided test of independent random masks; "
        "per layer: excess ± half its 95% interval"
    )


def _signed(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:+.4f}"


def _ci(lo: float, hi: float) -> str:
    return "[—]" if np.isnan(lo) or np.isnan(hi) else f"[{lo:+.4f}, {hi:+.4f}]"


def p_text(p: float) -> str:
    """A p-value as printed; one that could not be computed (NaN) claims nothing."""
    if np.isnan(p):
        return "—"
    return f"{p:.2g}" if p >= 1e-16 else "<1e-16"


def _tested(part: pd.DataFrame) -> pd.DataFrame:
    """Rows of groups whose similarity can be tested: where random masks of a group's counts are
    identical over the whole network (every weight kept, as in weight training), so are its
    masks, and the test has no variance."""
    whole = part[part["layer"] == "whole"]
    identical = whole.loc[whole["chance_similarity"].astype(float) >= 1.0 - 1e-12, "group"]
    return part[~part["group"].isin(identical)]


def _diversity_lines(part: pd.DataFrame, metric: str) -> list[str]:
    """The similarity table of one metric, and which groups it leaves out (see :func:`_tested`)."""
    tested = _tested(part)
    untested = list(dict.fromkeys(part.loc[~part.index.isin(tested.index), "group"]))
    lines = ["", _diversity_title(metric)]
    if len(tested):
        lines.append(_indent(_diversity_table(tested).to_string(index=False)))
        whole = tested[tested["layer"] == "whole"]
        unsourced = whole.loc[whole["chance_similarity"].isna(), "group"]
        if len(unsourced):
            lines.append(f"  —: {'; '.join(dict.fromkeys(unsourced))}: {SOURCE_NOTE}")
        if "chance_null" in whole:
            inside = whole.loc[whole["chance_null"].astype(str).str.contains("source"), "group"]
            if len(inside):
                lines.append(f"  {'; '.join(dict.fromkeys(inside))}: {IN_SOURCE_NOTE}")
        lines += _twin_lines(whole)
    if untested:
        lines.append(
            f"  not shown: {'; '.join(untested)} (every mask keeps every weight, so any two masks are "
            "identical, as random masks of those counts are: nothing to test)"
        )
    return lines


def _twin_lines(whole: pd.DataFrame) -> list[str]:
    """Which pooled groups' pairs include twins (see :func:`landscape.grouping.twin_pairs`)."""
    if "n_twin_pairs" not in whole:
        return []
    twins = whole[whole["n_twin_pairs"].fillna(0) > 0]
    return [
        f"  {row['group']}: {int(row['n_twin_pairs'])} of {int(row['n_pairs'])} pairs are twins, masks of two "
        "pooled configurations searched from one score or data seed: more alike than independent "
        "searches, they raise the similarity and the excess (tl.cross_method separates them)"
        for _, row in twins.iterrows()
    ]


def _diversity_table(part: pd.DataFrame) -> pd.DataFrame:
    """One row per group: whole-network similarity, chance, excess with its interval, p,
    and the per-layer excess."""
    one_row_per(part, ["group", "layer"], "similarity summary")
    whole = part[part["layer"] == "whole"].reset_index(drop=True)
    out = pd.DataFrame({"group": whole["group"], "masks": whole["n_masks"], "networks": whole["n_networks"]})
    out["similarity"] = whole["similarity"].round(4)
    out["chance"] = ["—" if np.isnan(c) else f"{c:.4f}" for c in whole["chance_similarity"]]
    out["excess"] = [_signed(e) for e in whole["excess_similarity"]]
    out["95% interval"] = [_ci(lo, hi) for lo, hi in zip(whole["excess_ci_low"], whole["excess_ci_high"])]
    out["p"] = [p_text(p) for p in whole["p_value"]]
    layers = part[part["layer"] != "whole"]
    if len(layers):

        def of_layer(column: str, layer: str) -> np.ndarray:
            wide = layers.pivot(index="group", columns="layer", values=column)
            return wide[layer].reindex(whole["group"]).to_numpy(dtype=float)

        for layer in dict.fromkeys(layers["layer"]):
            half = (of_layer("excess_ci_high", layer) - of_layer("excess_ci_low", layer)) / 2
            out[layer] = [_plus_minus(e, h) for e, h in zip(of_layer("excess_similarity", layer), half)]
    return out


def _plus_minus(value: float, half_width: float) -> str:
    """An excess and half its interval (t intervals are symmetric); the excess alone where the
    interval is undefined (fewer than three masks), — where the excess is."""
    if np.isnan(value) or np.isnan(half_width):
        return _signed(value)
    return f"{value:+.4f} ±{half_width:.4f}"


def _network_table(part: pd.DataFrame) -> pd.DataFrame:
    whole = part[part["layer"] == "whole"]
    return pd.DataFrame(
        {
            "group": whole["group"].to_numpy(),
            "weight seed": whole["weight_seed"].to_numpy(),
            "masks": whole["n_masks"].to_numpy(),
            "similarity": whole["similarity"].round(4).to_numpy(),
            "excess": [_signed(e) for e in whole["excess_similarity"]],
            "95% interval": [_ci(lo, hi) for lo, hi in zip(whole["excess_ci_low"], whole["excess_ci_high"])],
        }
    )


def _cluster_lines(clusters: pd.DataFrame | None) -> list[str]:
    """Do the masks of each network and density cluster by group? ARI beside its permutation null."""
    if clusters is None or not len(clusters):
        return []
    first = clusters.iloc[0]
    out = pd.DataFrame(
        {
            **({"layout": clusters["layout"]} if clusters["layout"].nunique() > 1 else {}),
            "masks of": clusters["stratum"],
            "masks": clusters["n_masks"],
            "groups": ["" if n == ACROSS else g for n, g in zip(clusters["stratum"], clusters["n_groups"])],
            "ARI": clusters["ari"].round(4),
            "chance (95th pct)": [
                "—" if np.isnan(m) else f"{m:+.4f} ({h:+.4f})"
                for m, h in zip(clusters["chance_ari"], clusters["chance_ari_high"])
            ],
            "p": [p_text(p) for p in clusters["p_value"]],
        }
    )
    return [
        "\ndo masks cluster by group? the masks of each network and density clustered on their own"
        f" ({first['linkage']} linkage on {first['metric']} distance, as many clusters as they hold groups;"
        " masks that keep every weight left out); adjusted Rand index of clusters vs groups (1: the"
        " clusters are the groups, 0: unrelated), beside shuffled group labels; p: one-sided,"
        f" {int(first['n_permutations'])} shuffles; 'all': the mean over the other rows of its layout:",
        _indent(out.to_string(index=False)),
    ]


def _barrier_table(bar: pd.DataFrame) -> pd.DataFrame:
    """Over distinct pairs: a pair stored under several seeds counts once (its curves averaged);
    BatchNorm re-estimation settings are shown only where they differ within a table."""
    from landscape.analysis.barrier_pairs import per_pair

    pairs = per_pair(_pair_labels(bar), by=("group",) if "group" in bar.columns else ())
    settings = [
        c for c in ("bn_batches", "batch_size") if c in pairs.columns and pairs[c].nunique(dropna=False) > 1
    ]
    cols = [c for c in ("group", "split", "n_points", "path", *settings) if c in pairs.columns]
    table = pairs.groupby(cols, dropna=False, sort=False).agg(
        pairs=("barrier_loss", "size"),
        curves=("n_curves", "sum"),
        loss_barrier=("barrier_loss", "mean"),
        sd=("barrier_loss", "std"),
        max=("barrier_loss", "max"),
        acc_barrier=("barrier_acc", "mean"),
        hamming=("hamming", "mean"),
    )
    if (table["curves"] == table["pairs"]).all():
        table = table.drop(columns="curves")
    return table.round(4).reset_index().rename(columns={"n_points": "points"})


def _pair_labels(bar: pd.DataFrame) -> pd.DataFrame:
    """A pair between two groups is its own row ("a × b"), one across networks is marked."""
    if "group_b" not in bar.columns:
        return bar
    across = (
        (bar["weight_seed"] != bar["weight_seed_b"]).to_numpy()
        if {"weight_seed", "weight_seed_b"} <= set(bar.columns)
        else np.zeros(len(bar), dtype=bool)
    )
    label = [
        pair_label(a, b) + (" (across networks)" if x else "")
        for a, b, x in zip(bar["group"].astype(str), bar["group_b"].astype(str), across)
    ]
    return bar.assign(group=label)
