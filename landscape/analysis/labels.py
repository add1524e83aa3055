"""The labels of an analysis: every group named as in the whole analysis, whatever layout
group (MaskSet) it was computed in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.grouping import CONFIG, distinguishing_fields, group_labels, group_masks
from landscape.networks import split_network_label
from landscape.tl.group_clusters import ACROSS


def analysis_labels(masksets: dict[str, object], groupby) -> dict[str, dict[str, str]]:
    """Per layout group, ``{its group label: the label of that group among all analysed
    masks}``.

    Each layout group labels its groups by the fields that differ within it, so two layouts
    (the widths of a width sweep, say) can give different configurations the same label;
    the tables of all layouts are concatenated, and the summary groups them by label. The
    labels of the whole analysis name every field that differs between any two groups, and
    where a pooling ``groupby`` would put masks of several layouts under one label (they can
    never be pooled: their masks differ in shape), also the fields that tell the layouts apart.
    """
    if len(masksets) < 2:
        return {key: {} for key in masksets}
    obs = pd.concat([ms.obs for ms in masksets.values()], ignore_index=True)
    layouts = np.repeat(np.array(list(masksets), dtype=object), [len(ms) for ms in masksets.values()])
    overall = group_labels(obs, groupby, mark_pooled=False).to_numpy()
    if groupby != CONFIG and pd.Series(layouts).groupby(overall).nunique().max() > 1:
        overall = _labels_apart(obs, layouts, groupby)
    out, start, seen = {}, 0, {}
    for key, ms in masksets.items():
        out[key] = {}
        for g in group_masks(ms.obs, groupby):
            label = str(overall[start + g.positions[0]])
            if seen.setdefault(label, (key, g.label)) != (key, g.label):
                raise AnalysisError(f"analyze: the label {label!r} names two groups of masks")
            out[key][g.label] = label
        start += len(ms)
    return out


def _labels_apart(obs: pd.DataFrame, layouts: np.ndarray, groupby) -> np.ndarray:
    """Labels of ``groupby``'s groups split by layout, named by the config fields that tell the
    layouts apart (``hidden 48-32``), or by the layout when no field does."""
    fields = distinguishing_fields(obs, layouts)
    if not fields:
        obs, fields = obs.assign(layout=layouts), ["layout"]
    cols = [] if groupby is None else [groupby] if isinstance(groupby, str) else list(groupby)
    return group_labels(obs, [*cols, *fields], mark_pooled=False).to_numpy()


def with_labels(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """``frame`` with its group-label columns renamed by ``names`` (labels not in it stay)."""
    columns = [c for c in ("group", "group_a", "group_b") if c in frame.columns]
    if not names or not columns:
        return frame
    frame = frame.copy()
    for c in columns:
        frame[c] = [_renamed(v, names) if isinstance(v, str) else v for v in frame[c]]
    return frame


def _renamed(label: str, names: dict[str, str]) -> str:
    """``label`` renamed, also as the per-network label of a group (consensus, ...)."""
    if label in names:
        return names[label]
    base, network = split_network_label(label)
    return f"{names[base]}{network}" if network and base in names else label


def clusters_table(table: pd.DataFrame, layout: str, names: dict[str, str]) -> pd.DataFrame:
    """``tl.group_clusters``'s table with the layout group it ran in and the analysis-wide
    labels of the groups it compared (joined by ``" | "``)."""
    if table.empty:
        return table
    table = table.copy()
    table.insert(0, "layout", layout)
    if names:
        table["groups"] = [
            v if net == ACROSS else " | ".join(names.get(label, label) for label in v.split(" | "))
            for v, net in zip(table["groups"], table["stratum"])
        ]
    return table
