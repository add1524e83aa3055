"""How masks move during their search, from the snapshots a search kept.

Input: a snapshot MaskSet (:func:`landscape.read_runs` with ``snapshots=True``: one row per
mask and kept epoch, columns ``epoch`` and ``mask``). Per mask and layer (and the whole
network, ``layer == "whole"``), between consecutive snapshots:

- ``flipped``: weights whose bit changed; ``flip_fraction`` = flipped / the layer's weights;
  ``flips_per_epoch`` = flip_fraction / epochs between the two snapshots;
- ``turnover``: fraction of the previously kept weights that were dropped (top-k keeps the
  count, so as many came in);
- ``similarity_initial`` / ``similarity_final``: similarity (``metric``) with the mask's own
  first snapshot (epoch 0: the top-k of its initial scores) and its last (the stored mask),
  beside ``chance_initial``: that of two independent random masks with the same counts;
- ``remaining_turnover``: the sum of the turnovers still to come after this snapshot;
  the **settling epoch** of a mask is its first snapshot epoch after which less than
  ``settle`` of its kept weights still change. Changes are counted between snapshots: a
  weight that leaves and returns between two snapshots is not seen.

Per group (one configuration, :mod:`landscape.grouping`) and epoch: the same quantities
averaged over the group's masks with a 95% t interval over masks, and the **within-group
similarity** of the masks at that epoch against chance, with the intervals and test of
:func:`landscape.tl.diversity` (jackknife over masks within a network, t over networks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.grouping import CONFIG, EPOCH, Group, group_masks
from landscape.tl import _stats
from landscape.tl._pairsets import SIMILARITY_METRICS, block_similarity, similarity_from_counts
from landscape.tl._source_frame import SourceFrames
from landscape.tl.baseline import _describe_groupby, chance_similarity
from landscape.tl.diversity import SIMILARITY, _network_rows, _without_chance, across_networks

#: per-mask columns of the masks table, after the identifying ones
MASK_COLUMNS = (
    "previous_epoch",
    "n_kept",
    "flipped",
    "flip_fraction",
    "flips_per_epoch",
    "turnover",
    "remaining_turnover",
    "similarity_initial",
    "similarity_final",
    "chance_initial",
)
#: quantities summarised over the masks of a group
SUMMARISED = ("flip_fraction", "flips_per_epoch", "turnover", "similarity_initial", "similarity_final")
_IDENTITY = ("run_id", "method", "density", "varies", "weight_seed", "search_seed", "score_seed", "data_seed")


def _check(ms) -> None:
    missing = [c for c in (EPOCH, "mask") if c not in ms.obs.columns]
    if missing:
        raise AnalysisError(
            f"trajectory: obs has no {missing[0]!r} column; read snapshots with "
            "landscape.read_runs(path, snapshots=True)"
        )


def _mask_rows(
    ms, label: str, positions: np.ndarray, group: str, metric: str, layers: list[str], frame
) -> list[dict]:
    """The per-mask table rows of one mask (its snapshots at ``positions``, epoch order;
    ``frame``: its source, :class:`~landscape.tl._source_frame.SourceFrame`, None when it
    has no usable null)."""
    obs = ms.obs.iloc[positions]
    epochs = obs[EPOCH].to_numpy(dtype=np.int64)
    whole, per_layer, kept, _ = block_similarity(ms.rows(positions), None, ms.layout, metric)
    numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
    # whole network first, then the layers: (E, E, 1 + L) similarities, (E, 1 + L) kept counts
    sim = np.concatenate([whole[..., None], per_layer], axis=2)
    kept = np.concatenate([kept.sum(1, keepdims=True), kept], axis=1)
    sizes = np.concatenate([[numel.sum()], numel])
    # flips from the intersections with the previous snapshot, recomputed from counts
    words = np.ascontiguousarray(ms.rows(positions)).view(np.uint64)
    inter_prev = np.zeros_like(kept)
    for li, spec in enumerate(ms.layout):
        both = words[1:, spec.word_slice] & words[:-1, spec.word_slice]
        inter_prev[1:, li + 1] = np.bitwise_count(both).sum(axis=1, dtype=np.int64)
    inter_prev[1:, 0] = inter_prev[1:, 1:].sum(axis=1)
    flipped = np.zeros_like(kept)
    flipped[1:] = kept[1:] + kept[:-1] - 2 * inter_prev[1:]
    dropped = np.zeros(kept.shape, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped[1:] = np.where(kept[:-1] > 0, (kept[:-1] - inter_prev[1:]) / kept[:-1], 0.0)
    remaining = np.cumsum(dropped[::-1], axis=0)[::-1]
    remaining = np.concatenate([remaining[1:], np.zeros((1, kept.shape[1]))], axis=0)
    gaps = np.diff(epochs, prepend=epochs[0])
    first, last = 0, len(epochs) - 1
    counts = kept[:, 1:]
    chance_l, _, chance_w, _ = chance_similarity(
        counts, numel, metric, np.zeros(len(epochs), dtype=np.int64), np.arange(len(epochs)), frame
    )
    chance = np.concatenate([chance_w[:, None], chance_l], axis=1)
    if frame is None:  # a source that cannot be redrawn: no chance level describes the mask
        chance[:] = np.nan
    head = {"group": group, **{c: obs[c].iloc[0] for c in _IDENTITY if c in obs.columns}, "mask": label}
    rows = []
    for e_i, epoch in enumerate(epochs):
        for k, layer in enumerate(["whole", *layers]):
            has_prev = e_i > 0
            frac = flipped[e_i, k] / sizes[k] if has_prev else np.nan
            rows.append(
                {
                    **head,
                    "layer": layer,
                    EPOCH: int(epoch),
                    "previous_epoch": int(epochs[e_i - 1]) if has_prev else -1,
                    "n_kept": int(kept[e_i, k]),
                    "flipped": int(flipped[e_i, k]) if has_prev else 0,
                    "flip_fraction": frac,
                    "flips_per_epoch": frac / gaps[e_i] if has_prev and gaps[e_i] else np.nan,
                    "turnover": float(dropped[e_i, k]) if has_prev else np.nan,
                    "remaining_turnover": float(remaining[e_i, k]),
                    "similarity_initial": float(sim[first, e_i, k]),
                    "similarity_final": float(sim[last, e_i, k]),
                    "chance_initial": float(chance[e_i, k]),
                }
            )
    return rows


def _summarise_masks(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and 95% t interval over the masks of each group, layer and epoch."""
    out = []
    for (group, layer, epoch), part in table.groupby(["group", "layer", EPOCH], sort=False):
        row = {"group": group, "layer": layer, EPOCH: int(epoch), "n_masks": len(part)}
        for c in ("method", "density", "varies"):
            if c in part.columns:
                row[c] = part[c].iloc[0]
        for name in SUMMARISED:
            v = part[name].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            stats = _stats.across_networks(v) if len(v) else None
            row[name] = float(stats["mean"]) if stats else np.nan
            row[f"{name}_sd"] = float(stats["sd"]) if stats else np.nan
            row[f"{name}_ci_low"] = float(stats["ci_low"]) if stats else np.nan
            row[f"{name}_ci_high"] = float(stats["ci_high"]) if stats else np.nan
        row["chance_initial"] = float(part["chance_initial"].mean())
        out.append(row)
    return pd.DataFrame(out)


def _settling(table: pd.DataFrame, settle: float) -> pd.DataFrame:
    """Per mask and layer: the first epoch after which less than ``settle`` still changes."""
    rows = []
    for (mask, layer), part in table.groupby(["mask", "layer"], sort=False):
        ok = part["remaining_turnover"].to_numpy() <= settle
        # the remaining turnover only falls with the epoch, so the first epoch below is final
        at = int(np.argmax(ok))
        epochs = part[EPOCH].to_numpy()
        rows.append(
            {
                "group": part["group"].iloc[0],
                "mask": mask,
                "layer": layer,
                "settling_epoch": int(epochs[at]),
                "final_epoch": int(epochs[-1]),
                "settled_before_end": bool(epochs[at] < epochs[-1]),
                "similarity_initial_final": float(part["similarity_initial"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def _within_groups(ms, groups: list[Group], metric: str) -> pd.DataFrame:
    """Within-group similarity at each epoch, per network (diversity's rows and statistics)."""
    layers = list(ms.layout.names)
    numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
    epochs_of = ms.obs[EPOCH].to_numpy()
    frames = SourceFrames(ms)
    rows = []
    for g in groups:
        for epoch in sorted(set(epochs_of[g.positions].tolist())):
            for net, pos_all in g.networks.items():
                pos = pos_all[epochs_of[pos_all] == epoch]
                if len(pos) < 2:
                    continue
                whole, per_layer, counts, _ = block_similarity(ms.rows(pos), None, ms.layout, metric)
                local = Group(
                    g.label, {**g.key, EPOCH: int(epoch)}, np.arange(len(pos)), {}, g.pooled, g.columns
                )
                frame = frames.of(pos)
                part = _network_rows(
                    local, net, np.arange(len(pos)), 1 - whole, 1 - per_layer, counts, numel, metric, layers,
                    g.pooled_text(), frame,
                )  # fmt: skip
                rows += _without_chance(part) if frame is None else part
    table = pd.DataFrame(rows)
    return table


def trajectory(
    ms,
    *,
    metric: str = "jaccard",
    settle: float = 0.01,
    groupby=CONFIG,
    key_added: str | None = None,
    copy: bool = False,
) -> pd.DataFrame:
    """Flips between snapshots, distance to each mask's own start and end, within-group
    similarity per epoch against chance, and when masks settle.

    Parameters
    ----------
    ms
        Snapshot MaskSet (``landscape.read_runs(path, snapshots=True)``).
    metric
        ``"jaccard"`` or ``"hamming"`` (similarity = 1 - normalised Hamming distance).
    settle
        Fraction of a mask's kept weights: its settling epoch is the first snapshot after
        which less than this still changes (summed turnover of the later snapshots).
    groupby
        Groups as in :func:`landscape.tl.diversity` (default: one per configuration).
    key_added, copy
        ``uns`` key (default ``"trajectory"``); with ``copy=True`` ``ms`` is left untouched.

    Returns
    -------
    pandas.DataFrame
        One row per mask, snapshot epoch and layer (``"whole"`` first) with the columns of
        :data:`MASK_COLUMNS` (see the module docstring). ``uns[key]`` also holds ``groups``
        (per group, layer and epoch: mean, sd and 95% t interval over masks of each
        quantity), ``similarity`` (per group, layer and epoch: within-group similarity,
        chance, excess and their intervals across networks, as ``tl.diversity``'s summary;
        ``similarity_networks`` per network) and ``settling`` (per mask and layer:
        ``settling_epoch``, ``settled_before_end``).
    """
    if metric not in SIMILARITY_METRICS:
        raise AnalysisError(f"metric={metric!r}: choose one of {SIMILARITY_METRICS}")
    if not 0 <= settle < 1:
        raise AnalysisError(f"settle={settle}: must be a fraction of the kept weights in [0, 1)")
    _check(ms)
    obs = ms.obs
    # groups are configurations over every epoch (labels stay the same from epoch to epoch)
    groups = group_masks(obs.drop(columns=[EPOCH]), groupby)
    group_of = np.empty(len(obs), dtype=object)
    for g in groups:
        group_of[g.positions] = g.label
    layers = list(ms.layout.names)
    frames = SourceFrames(ms)
    rows = []
    order = np.lexsort((obs[EPOCH].to_numpy(), pd.factorize(obs["mask"])[0]))
    masks = obs["mask"].to_numpy()[order]
    for label in dict.fromkeys(masks):
        positions = order[masks == label]
        rows += _mask_rows(
            ms, str(label), positions, group_of[positions[0]], metric, layers, frames.of(positions)
        )
    table = pd.DataFrame(rows)
    networks = _within_groups(ms, groups, metric)
    summary = across_networks(networks) if not networks.empty else networks
    networks = networks.drop(columns=[c for c in networks.columns if str(c).startswith("_")])
    if not copy:
        ms.uns[key_added or "trajectory"] = {
            "params": {
                "metric": metric,
                "similarity": SIMILARITY[metric],
                "settle": settle,
                "groupby": _describe_groupby(groupby),
                "interval_masks": "95% t interval over the masks of a group",
                "interval_similarity": "95% delete-one-mask jackknife within a network; t over networks",
                "flips": "counted between consecutive snapshots",
            },
            "masks": table,
            "groups": _summarise_masks(table),
            "similarity": summary,
            "similarity_networks": networks,
            "settling": _settling(table, settle),
        }
    return table


__all__ = ["MASK_COLUMNS", "similarity_from_counts", "trajectory"]
