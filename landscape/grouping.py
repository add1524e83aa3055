"""Which masks are compared with which: groups are configurations, pairs stay inside a network.

The toolkit's rule, used by every statistic, table and figure:

- A **configuration** is the full search configuration of a mask (every config field but the
  seeds and the engineering knobs): masks of one run share it, so by default a group is one
  run. Two runs that differ only in ``train.epochs`` are two groups, never one.
- A **network** is one random weight draw (``weight_seed``). Pairwise statistics are computed
  within a group *and* a network (masks over different random weights are not comparable
  bit for bit), then summarised across the networks of the group. Across groups a weight
  seed is one network only where the groups draw weights by the same rule
  (``model.weight_init``; see :mod:`landscape.networks`).
- Coarser pooling happens only on request (``groupby=("method", "density")``), and then every
  output names the configuration fields that were pooled (:attr:`Group.pooled`).
- Groups are labelled by the fields that differ between the groups being shown
  (``edge_popup · density 0.3 · epochs 2``), never by identifiers; a group's label leaves
  out the fields its configuration does not read (:func:`landscape.config.reads.field_read`:
  no re-draw period beside Edge-Popup, no epochs for random masks).
- Snapshots of masks during their search (an ``epoch`` column, :mod:`landscape.snapshots`)
  are compared within one epoch: ``epoch`` is part of every group's key.
- A run that holds the score seed or the data seed fixed (``method.score_seed``,
  ``train.data_seed``) is a configuration of its own: its masks differ only in the other
  source of randomness, which its ``varies`` column names.

Masks built in Python without run columns (:meth:`MaskSet.from_dense`) form one configuration
unless their ``obs`` carries config columns (dotted names such as ``train.epochs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from landscape.config.reads import DECIDING_FIELDS, field_read
from landscape.errors import AnalysisError
from landscape.networks import draws_differ, network_values

#: ``groupby`` value of the default rule: one group per configuration
CONFIG = "config"
#: obs columns that identify a mask inside its configuration, never part of a configuration
SEED_COLUMNS = ("weight_seed", "search_seed", "score_seed", "data_seed")
#: config fields that do not change what is searched (where the data lives)
NON_IDENTITY_FIELDS = ("data.root",)
#: short names of config fields in labels (others: the dotted name without its section)
FIELD_NAMES = {
    "method": "",
    "method.name": "",
    "density": "density",
    "method.density": "density",
    "model.width_mult": "width",
    "model.weight_init": "init",
    "model.scale_fan": "scale_fan",
    "model.name": "model",
    "data.name": "data",
    "train.epochs": "epochs",
    "train.lr": "lr",
    "origin.format": "imported from",
    "origin.variant": "as the source states",
    "method.score_seed": "score seed",
    "train.data_seed": "data seed",
    "epoch": "epoch",
}
#: the value a seed field shows when it follows each mask's search seed
_FOLLOWS_SEARCH_SEED = {"method.score_seed", "train.data_seed"}
#: obs column of snapshot sets: masks are compared within one epoch
EPOCH = "epoch"
# fields whose variation another column already shows ("method" is method.name plus suffixes)
_SHOWN_BY = {"method.name": "method", "method.density": "density"}
# label order: these first, then the rest in the order of obs
_FIRST = ("method", "density", "model.width_mult")
#: columns every table of groups carries (where the group holds one value), besides its label
TABLE_COLUMNS = ("method", "density", "model.name", "model.width_mult", "data.name", "train.epochs", "varies")


def config_columns(obs: pd.DataFrame) -> list[str]:
    """The obs columns that make up a configuration: flattened config fields (dotted names)
    plus the derived ``method`` and ``density`` columns, seeds excluded."""
    cols = [c for c in obs.columns if isinstance(c, str) and "." in c and c not in NON_IDENTITY_FIELDS]
    return [c for c in ("method", "density") if c in obs.columns] + cols


def twin_pairs(obs: pd.DataFrame, positions: np.ndarray) -> int:
    """How many pairs of the masks ``positions`` (one network) are twins: masks of two
    configurations searched from one score seed or one data seed (a search seed, unless the
    config holds it fixed). They start from the same scores or see the same batches, so they
    are more alike than independent searches; only a group that pools configurations has
    them. Masks that do not say their seeds, or imported ones, count as none."""
    part = obs.iloc[positions]
    if "search_seed" not in part.columns or len(part) < 2:
        return 0
    imported = part["origin.format"].astype(object) if "origin.format" in part.columns else None
    if imported is not None and imported.where(imported.notna(), "").astype(str).ne("").any():
        return 0

    def held(column: str) -> pd.Series:
        seed = part["search_seed"]
        if column not in part.columns:
            return seed.astype(object)
        fixed = part[column]
        return fixed.where(fixed.notna(), seed).astype(object)

    config = _hashable(part[["run_id"]] if "run_id" in part.columns else part[config_columns(part)])
    keys = pd.DataFrame(
        {"config": config, "score": held("method.score_seed"), "data": held("train.data_seed")}
    )

    def pairs_sharing(*cols: str) -> int:
        n = keys.groupby(list(cols), dropna=False).size().to_numpy()
        return int((n * (n - 1) // 2).sum())

    # pairs sharing a score or a data seed, minus those inside one configuration
    share = pairs_sharing("score") + pairs_sharing("data") - pairs_sharing("score", "data")
    inside = pairs_sharing("config", "score") + pairs_sharing("config", "data")
    return share - (inside - pairs_sharing("config", "score", "data"))


def field_name(column: str) -> str:
    """Short display name of a config column (``train.epochs`` -> ``epochs``)."""
    if column in FIELD_NAMES:
        return FIELD_NAMES[column]
    return column.split(".", 1)[-1].replace(".", " ").replace("_", " ")


def format_value(value: Any) -> str:
    """A config value as shown in labels: ``0.3``, ``true``, ``256-256``."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    if isinstance(value, (tuple, list, np.ndarray)):
        return "-".join(format_value(v) for v in value)
    return str(value)


def describe(values: dict[str, Any]) -> str:
    """``{"method": "edge_popup", "train.epochs": 2}`` -> ``"edge_popup · epochs 2"``."""
    parts = []
    for col, value in values.items():
        name = field_name(col)
        if col in _FOLLOWS_SEARCH_SEED and _missing(value):
            parts.append(f"{name} = search seed")
            continue
        if col == "origin.format" and (_missing(value) or value == ""):  # beside imported runs
            parts.append("searched")
            continue
        if col == "origin.variant" and (_missing(value) or value == ""):  # beside a stated variant
            parts.append("no variant stated")
            continue
        parts.append(f"{name} {format_value(value)}" if name else format_value(value))
    return " · ".join(parts) if parts else "all masks"


@dataclass
class Group:
    """One group of masks: its label, the values that define it and where its masks are.

    Attributes
    ----------
    label
        Display label: the fields that differ between the groups shown.
    key
        The obs values that define the group (``{"run_id": ...}`` by default).
    positions
        Positions of its masks in the MaskSet (obs order).
    networks
        ``{weight_seed: positions}``; pairs are taken within each network.
    pooled
        Configuration fields that take more than one value inside the group, with their
        values (empty under the default rule).
    columns
        The group's values of :data:`TABLE_COLUMNS` and of the fields in its label (those it
        holds one value of), for tables.
    copies
        Positions of the masks left out as bit-for-bit copies of another pooled run's masks
        (:func:`landscape.copies.pooled_groups`).
    """

    label: str
    key: dict[str, Any]
    positions: np.ndarray
    networks: dict[Any, np.ndarray]
    pooled: dict[str, list[Any]] = field(default_factory=dict)
    columns: dict[str, Any] = field(default_factory=dict)
    copies: tuple[int, ...] = ()
    # the group's distinct values of the fields that decide which fields it reads
    _readers: list[dict] | None = field(default=None, repr=False, compare=False)

    @property
    def n_masks(self) -> int:
        return len(self.positions)

    @property
    def n_networks(self) -> int:
        return len(self.networks)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """All ``i < j`` pairs of masks inside one network of this group (positions)."""
        firsts, seconds = [], []
        for pos in self.networks.values():
            a, b = np.triu_indices(len(pos), 1)
            firsts.append(pos[a])
            seconds.append(pos[b])
        if not firsts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(firsts), np.concatenate(seconds)

    def pooled_text(self) -> str:
        """``"epochs 2, 10; lr 0.1, 0.05"`` or ``""``, and the copies counted once."""
        parts = [
            f"{field_name(c) or c} {', '.join(format_value(v) or 'none' for v in vals)}"
            for c, vals in self.pooled.items()
        ]
        if self.copies:
            parts.append(f"{len(self.copies)} {_copies_text(len(self.copies))}")
        return "; ".join(parts)


def _copies_text(n: int) -> str:
    masks = "mask" if n == 1 else "masks"
    return f"{masks} repeating another run's bit for bit left out (one mask counts once)"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _key_columns(obs: pd.DataFrame, groupby) -> tuple[list[str], bool]:
    """Columns that define groups, and whether they are the default configuration rule."""
    cols, default = _base_key_columns(obs, groupby)
    if EPOCH in obs.columns and EPOCH not in cols:
        # snapshots: never pair masks of different epochs, not even when everything else is
        # pooled (a mask and its own earlier snapshot are not two masks of one group)
        cols = [*cols, EPOCH]
    return cols, default


def _base_key_columns(obs: pd.DataFrame, groupby) -> tuple[list[str], bool]:
    if groupby is None:
        return [], False
    if isinstance(groupby, str) and groupby == CONFIG:
        if "run_id" in obs.columns:
            return ["run_id"], True
        return config_columns(obs), True
    cols = [groupby] if isinstance(groupby, str) else list(groupby)
    missing = [c for c in cols if c not in obs.columns]
    if missing:
        raise AnalysisError(
            f"groupby: obs has no column {missing[0]!r} (columns: {', '.join(map(str, obs.columns))})"
        )
    return cols, False


def _hashable(frame: pd.DataFrame) -> list[tuple]:
    values = frame.astype(object).where(frame.notna(), None).to_numpy()
    return [tuple(tuple(v) if isinstance(v, (list, np.ndarray)) else v for v in row) for row in values]


class _Columns:
    """Hashable values of obs columns, converted once per column (groups then only index them)."""

    def __init__(self, obs: pd.DataFrame) -> None:
        self.obs, self._cache = obs, {}

    def __getitem__(self, column: str) -> list[Any]:
        if column not in self._cache:
            self._cache[column] = [row[0] for row in _hashable(self.obs[[column]])]
        return self._cache[column]

    def distinct(self, column: str, positions: np.ndarray) -> list[Any]:
        values = self[column]
        return list(dict.fromkeys(values[p] for p in positions))


def group_masks(obs: pd.DataFrame, groupby=CONFIG, *, vary: Sequence[str] = ()) -> list[Group]:
    """The groups of masks in ``obs`` under the toolkit's rule (see the module docstring).

    Parameters
    ----------
    obs
        Per-mask table (``MaskSet.obs``).
    groupby
        ``"config"`` (default): one group per configuration. A column or a sequence of
        columns: pool every configuration with equal values in them; ``None``: pool all masks
        into one group (one per epoch in a snapshot set: epochs are never pooled). Pooled
        groups name what they pooled in :attr:`Group.pooled`.
    vary
        Config columns allowed to differ inside a configuration group (an accuracy-vs-density
        figure puts every density of one configuration into one curve). The ``density``
        alias and ``method.density`` count as one field.

    Returns
    -------
    list of Group
        In order of first appearance; ``weight_seed`` splits each group into networks (one
        network when the column is absent), keyed ``"weight seed 0 · init kaiming_normal"`` in
        a pooled group whose masks' ``model.weight_init`` differ.
    """
    n = len(obs)
    cols, default = _key_columns(obs, groupby)
    vary = set(vary)
    if vary & {"density", "method.density"}:
        vary |= {"density", "method.density"}
    config = config_columns(obs)
    if default and vary:
        cols = [c for c in config if c not in vary] + ([EPOCH] if EPOCH in cols else [])
    if EPOCH in vary:  # epochs along an axis: one curve per group over its epochs
        cols = [c for c in cols if c != EPOCH]
    keys = _hashable(obs[cols]) if cols else [()] * n
    codes: dict[tuple, list[int]] = {}
    for pos, key in enumerate(keys):
        codes.setdefault(key, []).append(pos)
    networks_of = obs["weight_seed"].to_numpy() if "weight_seed" in obs.columns else np.zeros(n, dtype=int)
    columns = _Columns(obs)
    groups = []
    for key, positions in codes.items():
        pos = np.asarray(positions, dtype=np.int64)
        nets: dict[Any, np.ndarray] = {}
        if draws_differ(obs.iloc[pos]):
            # a pooled group over weights drawn by two rules (model.weight_init): one seed is
            # two networks, keyed "weight seed 0 · init kaiming_normal" (a plain value for the
            # tables' weight_seed column), and their masks are never paired
            keys_of = network_values(obs.iloc[pos], with_init=True)
            for k in dict.fromkeys(keys_of):
                nets[k] = pos[[x == k for x in keys_of]]
        else:
            for w in dict.fromkeys(networks_of[pos].tolist()):
                nets[w] = pos[networks_of[pos] == w]
        pooled = {}
        if not default or vary:
            for c in config:
                if c in cols or c in vary or (c in _SHOWN_BY and _SHOWN_BY[c] in config):
                    continue
                values = columns.distinct(c, pos)
                if len(values) > 1:
                    pooled[c] = _sorted(values)
        groups.append(Group("", dict(zip(cols, key)), pos, nets, pooled))
    _label(groups, obs, cols if not default or vary else None, columns, pool_all=groupby is None)
    return groups


def _label(
    groups: list[Group],
    obs: pd.DataFrame,
    key_cols: list[str] | None,
    columns: _Columns,
    pool_all: bool = False,
) -> None:
    """Set each group's label from the fields that differ between the groups (``pool_all``:
    every mask in one group, or one per epoch of a snapshot set, "all masks · epoch 3")."""
    if key_cols is None:  # one group per configuration: compare the configurations
        candidates = config_columns(obs) + ([EPOCH] if EPOCH in obs.columns else [])
    else:
        candidates = [c for c in key_cols if c != "run_id"] or key_cols
    candidates = [c for c in candidates if not (c in _SHOWN_BY and _SHOWN_BY[c] in candidates)]
    if pool_all or key_cols == []:  # everything pooled into one group (per epoch of snapshots)
        by_epoch = len(groups) > 1
        for g in groups:
            g.label = describe({}) + (f" · {describe({EPOCH: g.key[EPOCH]})}" if by_epoch else "")
        _table_columns(groups, obs, [], columns)
        return
    rows = [obs.iloc[g.positions[0]] for g in groups]
    varying = [c for c in candidates if len({format_value(r[c]) for r in rows}) > 1]
    if not varying:  # a single group, or groups that differ in nothing shown: name the method
        varying = [c for c in ("method", "density") if c in candidates][:1] or candidates[:1]
    varying.sort(key=lambda c: (_FIRST.index(c) if c in _FIRST else len(_FIRST), candidates.index(c)))
    # a field no mask of the group reads (IteRand's re-draw period beside Edge-Popup) is left
    # out of its label, except in groups that only such a field tells apart
    full = [describe({c: row[c] for c in varying}) for row in rows]
    short = [
        describe({c: row[c] for c in varying if _group_reads(c, obs, g)}) for g, row in zip(groups, rows)
    ]
    clashing = {label for label in short if short.count(label) > 1}
    labels = [f if s in clashing else s for f, s in zip(full, short)]
    if len(set(labels)) < len(labels):  # a kept full label meets another's short one
        labels = full
    for g, label in zip(groups, labels):
        g.label = label
    _table_columns(groups, obs, varying, columns)
    labels = [g.label for g in groups]
    if len(set(labels)) < len(labels):  # same shown fields (list-valued fields, say): keep them apart
        for g in groups:
            g.label = f"{g.label} [{_short_key(g.key)}]"


def _table_columns(groups: list[Group], obs: pd.DataFrame, varying: list[str], columns: _Columns) -> None:
    """Fill each group's ``columns`` with the table columns it holds a single value of."""
    shown = [c for c in dict.fromkeys([*TABLE_COLUMNS, *varying]) if c in obs.columns]
    for g in groups:
        g.columns = {}
        for c in shown:
            if c in g.key or not _group_reads(c, obs, g):  # unread: no value to show
                continue
            if len(columns.distinct(c, g.positions)) == 1:
                g.columns[c] = obs[c].iloc[g.positions[0]]


def _group_reads(column: str, obs: pd.DataFrame, group: Group) -> bool:
    """Whether any mask of the group reads config field ``column`` (a pooled group may hold
    Edge-Popup and IteRand masks)."""
    if group._readers is None:  # the group's distinct values of the deciding fields, once
        deciding = [c for c in DECIDING_FIELDS if c in obs.columns]
        combos = obs.iloc[group.positions][deciding].drop_duplicates() if deciding else None
        group._readers = [] if combos is None else combos.to_dict("records")
    return not group._readers or any(field_read(column, values) for values in group._readers)


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # mixed types: keep the order of appearance
        return values


def _short_key(key: dict[str, Any]) -> str:
    return ", ".join(format_value(v) for v in key.values())[:40]


def pair_label(a: str, b: str) -> str:
    """The group of a pair of masks: their shared group, or ``"a × b"`` (sorted) across groups."""
    return a if a == b else " × ".join(sorted((a, b)))


def distinguishing_fields(obs: pd.DataFrame, parts: Sequence[Any]) -> list[str]:
    """Config fields that tell the parts of ``obs`` apart (``parts``: one name per mask, e.g.
    the layout of an analysis): each holds one value within every part and together they hold
    a different combination in each part. Model fields come first (they decide a layout), and
    no field is kept that the others make redundant. Empty when no such fields exist.
    """
    parts = np.asarray(parts, dtype=object)
    names = list(dict.fromkeys(parts.tolist()))
    if len(names) < 2:
        return []
    config = config_columns(obs)
    config = [c for c in config if not (c in _SHOWN_BY and _SHOWN_BY[c] in config)]
    columns = _Columns(obs)
    where = [np.flatnonzero(parts == name) for name in names]
    shown: dict[str, list[str]] = {}  # field -> its value in each part
    for c in config:
        per_part = [columns.distinct(c, pos) for pos in where]
        if all(len(v) == 1 for v in per_part) and len({format_value(v[0]) for v in per_part}) > 1:
            shown[c] = [format_value(v[0]) for v in per_part]

    def n_apart(fields: list[str]) -> int:
        return len(set(zip(*(shown[c] for c in fields)))) if fields else 1

    chosen: list[str] = []
    for c in sorted(shown, key=lambda c: (not c.startswith("model."), config.index(c))):
        if n_apart([*chosen, c]) > n_apart(chosen):
            chosen.append(c)
    if n_apart(chosen) < len(names):
        return []
    for c in list(chosen):
        if n_apart([f for f in chosen if f != c]) == len(names):
            chosen.remove(c)
    if "data.name" in shown and "data.name" not in chosen:  # another dataset is always said
        chosen.append("data.name")
    return chosen


def group_labels(
    obs: pd.DataFrame, groupby=CONFIG, *, vary: Sequence[str] = (), mark_pooled: bool = True
) -> pd.Series:
    """One group label per mask (aligned with ``obs``); a pooled group's label says what it
    pools (``"edge_popup (pools epochs 1, 3)"``) unless ``mark_pooled=False``."""
    labels = np.empty(len(obs), dtype=object)
    for g in group_masks(obs, groupby, vary=vary):
        text = g.pooled_text()
        labels[g.positions] = f"{g.label} (pools {text})" if text and mark_pooled else g.label
    return pd.Series(labels, index=obs.index, name="group")
