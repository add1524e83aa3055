"""MaskSet: the one analysis object — bit-packed masks plus aligned per-mask tables.

Like an AnnData whose ``X`` stays bit-packed and memory-mapped:

- ``X``: lazy packed rows (:class:`~landscape.store.rows.PackedRows`), ``uint8 (n, row_bytes)``
- ``obs``: pandas table, one row per mask, index ``"<run_id>/w<weight_seed>/s<search_seed>"``
- ``layout``: the :class:`~landscape.store.layout.Layout` every row follows
- ``obsp``: arrays whose first two axes are masks (distances, intersections, barriers)
- ``obsm``: arrays whose first axis is masks (embeddings)
- ``uns``: anything else; ``uns[key]["params"]`` records each tool's parameters
- ``runs``: ``run_id -> run directory``

Subsetting keeps every slot aligned and each mask once; unlike AnnData it drops the tool
results in ``uns`` that describe the whole set (a summary over masks the subset no longer
holds), so a plot of the subset asks for its own. Concatenation refuses different layouts.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError
from landscape.store.layout import Layout
from landscape.store.packing import as_words, layer_counts, pack_flat, pack_layers, unpack_flat, unpack_layer
from landscape.store.rows import PackedRows
from landscape.store.shards import check_rows

__all__ = ["MaskSet", "select_obs"]


class MaskSet:
    """Bit-packed binary masks over one layout, with per-mask and pairwise annotations.

    Build one with :func:`read_runs`, :meth:`from_dense` or :meth:`from_rows`.
    """

    def __init__(
        self,
        X: PackedRows,
        obs: pd.DataFrame,
        layout: Layout,
        obsp: dict[str, np.ndarray] | None = None,
        obsm: dict[str, Any] | None = None,
        uns: dict[str, Any] | None = None,
        runs: dict[str, str] | None = None,
    ) -> None:
        if len(obs) != len(X):
            raise AnalysisError(f"obs has {len(obs)} rows but X holds {len(X)} masks")
        if X.row_bytes != layout.row_bytes:
            raise AnalysisError(f"rows have {X.row_bytes} bytes, the layout needs {layout.row_bytes}")
        self.X, self.obs, self.layout = X, obs, layout
        self.obsp = dict(obsp or {})
        self.obsm = dict(obsm or {})
        self.uns = dict(uns or {})
        self.runs = dict(runs or {})

    # construction -------------------------------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: np.ndarray, layout: Layout, obs: pd.DataFrame | None = None) -> MaskSet:
        """A MaskSet over packed rows ``uint8 (n, layout.row_bytes)`` (copied, read-only)."""
        rows = np.array(rows, dtype=np.uint8, copy=True)
        try:
            counts = check_rows(rows, layout)
        except ValueError as exc:
            raise AnalysisError(str(exc)) from None
        rows.flags.writeable = False
        return cls(PackedRows.from_arrays([rows], layout.row_bytes), _default_obs(obs, counts), layout)

    @classmethod
    def from_dense(
        cls,
        masks: np.ndarray | Mapping[str, np.ndarray],
        layout: Layout,
        obs: pd.DataFrame | None = None,
    ) -> MaskSet:
        """A MaskSet from bool masks: ``(n, n_weights)`` in layout order, or ``{layer: (n, *shape)}``."""
        try:
            if isinstance(masks, Mapping):
                rows = pack_layers(masks, layout)
            else:
                rows = pack_flat(np.asarray(masks), layout)
        except (KeyError, ValueError) as exc:
            raise AnalysisError(f"masks do not fit the layout: {exc}") from None
        return cls.from_rows(rows, layout, obs)

    # size ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.X)

    @property
    def n_masks(self) -> int:
        return len(self.X)

    @property
    def n_weights(self) -> int:
        return self.layout.n_weights

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_masks, self.n_weights)

    def __repr__(self) -> str:
        lines = [
            f"MaskSet with n_masks × n_weights = {self.n_masks} × {self.n_weights:,} "
            f"({len(self.layout)} layers, {self.obs['run_id'].nunique() if 'run_id' in self.obs else 0} runs)"
        ]
        for name in ("obs", "obsp", "obsm", "uns"):
            keys = list(self.obs.columns) if name == "obs" else list(getattr(self, name))
            if keys:
                lines.append(f"    {name}: " + ", ".join(repr(str(k)) for k in keys))
        return "\n".join(lines)

    # masks --------------------------------------------------------------------------------------
    def rows(self, idx=None) -> np.ndarray:
        """Packed rows ``uint8 (n, row_bytes)`` (all, or those selected by ``idx``); read-only."""
        return self.X.materialize(None if idx is None else self._positions(idx))

    def words(self, idx=None) -> np.ndarray:
        """Packed rows viewed as ``uint64 (n, layout.row_words)``."""
        return as_words(self.rows(idx))

    def dense(self, rows=None, layer: str | None = None) -> np.ndarray:
        """Unpacked bool masks: ``(n, n_weights)``, or ``(n, numel)`` of one ``layer``.

        ``rows`` selects masks like ``ms[rows]`` (None: all).
        """
        packed = self.rows(rows)
        if layer is None:
            return unpack_flat(packed, self.layout)
        return unpack_layer(packed, self.layout, self._layer(layer).name)

    def counts(self, layer: str | None = None) -> np.ndarray:
        """Kept weights per mask, int64 ``(n,)`` (whole network or one ``layer``)."""
        per_layer = layer_counts(self.rows(), self.layout)
        if layer is None:
            return per_layer.sum(axis=1)
        return per_layer[:, self.layout.names.index(self._layer(layer).name)]

    def densities(self) -> pd.DataFrame:
        """Fraction of weights kept, per mask (rows) and layer (columns)."""
        numel = np.array([s.numel for s in self.layout], dtype=float)
        values = layer_counts(self.rows(), self.layout) / numel
        return pd.DataFrame(values, index=self.obs.index.copy(), columns=self.layout.names)

    def _layer(self, layer: str):
        try:
            return self.layout[layer]
        except KeyError:
            raise AnalysisError(f"unknown layer {layer!r}; layers are {self.layout.names}") from None

    # subsetting ---------------------------------------------------------------------------------
    def _positions(self, idx) -> np.ndarray:
        """Integer positions for an int, slice, bool mask, int array or obs labels."""
        n = self.n_masks
        if isinstance(idx, slice):
            return np.arange(n)[idx]
        if isinstance(idx, (int, np.integer)):
            return _check_bounds(np.array([idx]), n)
        if isinstance(idx, str):
            idx = [idx]
        if isinstance(idx, pd.Series):
            idx = _aligned(idx, self.obs)
        arr = np.asarray(idx)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise AnalysisError(f"boolean selector has shape {arr.shape}, expected ({n},)")
            return np.flatnonzero(arr)
        if np.issubdtype(arr.dtype, np.integer):
            return _check_bounds(arr.ravel(), n)
        found = self.obs.index.get_indexer(arr.ravel())
        if (found < 0).any():
            raise AnalysisError(f"no mask labelled {str(arr.ravel()[found < 0][0])!r} in obs")
        return found

    def __getitem__(self, idx) -> MaskSet:
        pos = self._positions(idx)
        if len(np.unique(pos)) < len(pos):  # a repeated mask would be paired with itself
            first = next(p for i, p in enumerate(pos) if p in pos[:i])
            raise AnalysisError(
                f"mask {self.obs.index[first]!r} is selected twice; a MaskSet holds each mask once"
            )
        obsp = {k: np.asarray(v)[pos][:, pos] for k, v in self.obsp.items()}
        obsm = {
            k: v.iloc[pos] if isinstance(v, pd.DataFrame) else np.asarray(v)[pos]
            for k, v in self.obsm.items()
        }
        return MaskSet(
            self.X.subset(pos),
            self.obs.iloc[pos],
            self.layout,
            obsp,
            obsm,
            _subset_uns(self.uns, pos, len(self), kept=obsm),
            self.runs,
        )

    def copy(self) -> MaskSet:
        """An independent copy of every slot (the packed rows are shared: they are never written)."""
        return MaskSet(
            self.X.subset(np.arange(self.n_masks)),
            self.obs.copy(),
            self.layout,
            {k: np.array(v, copy=True) for k, v in self.obsp.items()},
            {k: v.copy() for k, v in self.obsm.items()},
            _copy.deepcopy(self.uns),
            dict(self.runs),
        )

    # writing ----------------------------------------------------------------------------------------
    def write(self, runs_root: str | Path, config=None):
        """Save these masks as a run under ``runs_root`` (created or joined).

        Parameters
        ----------
        runs_root
            The runs root (``landscape analyze``, ``read_runs`` and figures then see the run).
        config
            A :class:`~landscape.config.SearchConfig`, or ``{dotted field: value}`` such as
            ``{"method.density": 0.5, "model.name": "conv6"}`` (unnamed: ``model.name`` and
            ``data.name`` ``external``). The run's ``origin.format`` is ``maskset``; a given
            density must reproduce every mask's kept count (else it is the first mask's kept
            fraction).

        Returns
        -------
        WriteSummary
            ``run_id``, ``path``, how many masks were ``added`` (0 when written before) and the
            ``(weight_seed, search_seed)`` of each mask, taken from ``obs`` columns of those
            names when present.
        """
        from landscape.importers.maskset import write_maskset

        return write_maskset(self, runs_root, config)

    # concatenation ------------------------------------------------------------------------------
    @classmethod
    def concat(cls, sets: Sequence[MaskSet], index_unique: str | None = None) -> MaskSet:
        """Stack MaskSets of one layout.

        ``obsp``, ``obsm`` and ``uns`` are not carried over (pairwise values between the sets
        are unknown), except ``uns["skipped_runs"]`` and ``uns["unfinished_runs"]``, which are
        merged.

        Parameters
        ----------
        index_unique
            When given, labels become ``f"{label}{index_unique}{k}"`` (k = position of the
            set) so sets with clashing labels can be stacked; otherwise clashes are an error.
        """
        sets = list(sets)
        if not sets:
            raise AnalysisError("nothing to concatenate")
        first = sets[0]
        for other in sets[1:]:
            if other.layout != first.layout:
                raise AnalysisError(
                    f"cannot concatenate masks with different layouts: {_name(first)} vs {_name(other)} "
                    f"({first.layout.difference(other.layout)})"
                )
        frames = [s.obs for s in sets]
        if index_unique is not None:
            frames = [f.set_axis([f"{i}{index_unique}{k}" for i in f.index]) for k, f in enumerate(frames)]
        obs = pd.concat(frames)
        if obs.index.has_duplicates:
            dup = obs.index[obs.index.duplicated()][0]
            raise AnalysisError(f"mask {dup!r} appears twice; pass index_unique='-' to relabel")
        uns: dict[str, Any] = {}
        for key in ("skipped_runs", "unfinished_runs"):  # notes about runs, not about pairs
            notes = [r for s in sets for r in s.uns.get(key, [])]
            if notes:
                uns[key] = notes
        runs = {k: v for s in sets for k, v in s.runs.items()}
        return cls(PackedRows.concat([s.X for s in sets]), obs, first.layout, uns=uns, runs=runs)


#: ``uns`` entries holding one value per mask, in row order (caches such as result-store keys)
_PER_MASK_UNS = ("_mask_ids",)
#: ``uns`` entries a subset keeps: where the masks came from, the distances' parameters (the
#: matrices in ``obsp`` follow the rows) and barriers (one row per pair, named by its masks)
SUBSET_SAFE_UNS = ("read_runs", "skipped_runs", "unfinished_runs", "distances", "barrier")


def _subset_uns(
    uns: dict[str, Any], pos: np.ndarray, n: int, kept: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``uns`` for the rows at ``pos``: per-mask entries follow the rows (or are dropped when
    they no longer fit), so a subset or reordering never keeps values of other masks. Tool
    results over the whole set (a diversity summary over two networks, ensembles of four
    masks) are dropped unless every mask is kept in its order: drawn from a subset, they
    would describe masks it no longer holds. An embedding's entry stays with its coordinates
    (``kept``: the subset's ``obsm``): it says how they were drawn (one per network)."""
    same = len(pos) == n and bool(np.array_equal(pos, np.arange(n)))
    kept = kept or {}
    safe = {*SUBSET_SAFE_UNS, *_PER_MASK_UNS, *kept, *(k[2:] for k in kept if k.startswith("X_"))}
    out = {k: v for k, v in uns.items() if same or k in safe}
    for key in _PER_MASK_UNS:
        values = out.pop(key, None)
        if values is not None and len(values) == n:
            out[key] = [values[p] for p in pos]
    return out


def _check_bounds(pos: np.ndarray, n: int) -> np.ndarray:
    if pos.size and (pos.min() < -n or pos.max() >= n):
        raise AnalysisError(f"mask position out of range for {n} masks")
    return np.where(pos < 0, pos + n, pos).astype(np.int64)


def _default_obs(obs: pd.DataFrame | None, counts: np.ndarray) -> pd.DataFrame:
    if obs is None:
        obs = pd.DataFrame(index=pd.Index([f"mask{i}" for i in range(len(counts))]))
    elif len(obs) != len(counts):
        raise AnalysisError(f"obs has {len(obs)} rows for {len(counts)} masks")
    else:
        obs = obs.copy()
        obs.index = obs.index.astype(str)
    if "n_kept" not in obs.columns:
        obs["n_kept"] = counts.astype(np.int64)
    return obs


def _name(ms: MaskSet) -> str:
    """The runs a MaskSet comes from, for messages."""
    if "run_id" in ms.obs.columns and len(ms.obs):
        ids = list(dict.fromkeys(ms.obs["run_id"].astype(str)))
        return "run " + ", ".join(ids[:3]) + (" ..." if len(ids) > 3 else "")
    return f"a set of {ms.n_masks} masks"


def _aligned(selector: pd.Series, obs: pd.DataFrame) -> np.ndarray:
    """A Series selector by label (as pandas would align it), not by position."""
    if selector.index.equals(obs.index):
        return selector.to_numpy()
    if len(selector) != len(obs) or not selector.index.isin(obs.index).all():
        raise AnalysisError("selector Series: its index does not match the masks' obs index")
    return selector.reindex(obs.index).to_numpy()


def _unknown_column(exc: Exception, obs: pd.DataFrame) -> str:
    """A query's unknown name as the column the user wrote, with the nearest column (and the
    backticks a dotted one needs); empty for other errors."""
    import difflib
    import re

    found = re.search(r"name '([^']+)' is not defined", str(exc))
    if type(exc).__name__ != "UndefinedVariableError" or not found:
        return ""
    name = found.group(1)
    if name.startswith("BACKTICK_QUOTED_STRING_"):  # pandas' spelling of `a.b`
        name = name.removeprefix("BACKTICK_QUOTED_STRING_").replace("_DOT_", ".")
    columns = [str(c) for c in obs.columns]
    dotted = sorted(c for c in columns if c.startswith(f"{name}."))
    if dotted:  # `train.epochs` written without backticks reads as the name train
        return f"no column {name!r}: a dotted column needs backticks, e.g. `{dotted[0]}`"
    close = difflib.get_close_matches(name, columns, n=1)
    hint = ""
    if close:
        shown = f"`{close[0]}`" if "." in close[0] else close[0]
        hint = f"; did you mean {shown}?" + (" (dotted columns need backticks)" if "." in close[0] else "")
    return f"no column {name!r}{hint}"


def select_obs(obs: pd.DataFrame, where: Any, what: str = "where") -> np.ndarray:
    """Bool per row of ``obs`` from ``where``: a :meth:`pandas.DataFrame.eval` string
    (dotted columns in backticks), ``{column: value or values}``, a callable on ``obs`` or a
    bool array; a bad ``where`` is an :class:`AnalysisError` naming ``what``."""
    label = "where" if what == "where" else f"{what}: where"
    if isinstance(where, str):
        try:
            keep = obs.eval(where)
        except Exception as exc:  # pandas raises many types for a bad expression
            unknown = _unknown_column(exc, obs)
            if unknown:
                raise AnalysisError(f"{label}={where!r}: {unknown}") from None
            raise AnalysisError(f"{label}={where!r}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        if not isinstance(keep, pd.Series) or keep.dtype != bool:
            raise AnalysisError(f"{label}={where!r} does not give True/False per mask")
        return keep.to_numpy(dtype=bool, copy=True)
    if isinstance(where, Mapping):
        keep = np.ones(len(obs), dtype=bool)
        for col, value in where.items():
            if col not in obs.columns:
                raise AnalysisError(
                    f"{what}: unknown column {col!r} (obs has {', '.join(map(str, obs.columns))})"
                )
            values = list(value) if isinstance(value, (list, tuple, set, np.ndarray)) else [value]
            keep &= obs[col].isin(values).to_numpy()
        return keep
    keep = where(obs) if callable(where) else where
    keep = np.array(_aligned(keep, obs) if isinstance(keep, pd.Series) else keep)  # a copy: narrowed in place
    if keep.dtype != bool or keep.shape != (len(obs),):
        raise AnalysisError(
            f"{what}: expected a query string, a mapping or a bool array of shape ({len(obs)},)"
        )
    return keep


def __getattr__(name: str):
    # read_runs and read_layout_groups live in landscape.reading; old imports keep working
    if name in ("read_runs", "read_layout_groups"):
        from landscape import reading

        return getattr(reading, name)
    raise AttributeError(f"module 'landscape.maskset' has no attribute {name!r}")
