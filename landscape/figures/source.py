"""Where the figures' masks come from: a runs root or a MaskSet, loaded once, selected per figure.

Mask figures use the layout group with the most masks (masks of different layouts cannot be
compared bit by bit); figures over several layouts (a width axis) get one MaskSet per layout;
accuracy figures read the table of every run. Loss barriers stored by ``landscape analyze``
are attached to the masks as they are loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError, ConfigError, LandscapeError
from landscape.figures.registry import FigureSkipped, FigureSpec
from landscape.maskset import SUBSET_SAFE_UNS

# uns entries that stay valid when masks are subset (the barrier pl functions find pairs by
# obs name; the distance record describes the pairwise slots, which are carried over); every
# other tool result describes the whole set and is recomputed on a subset.
MOST_MASKS = "the density with the most masks"
MOST_WIDTHS = "the density searched at the most widths"
LAYOUT_REASON = "the network layout with the most masks"


class Source:
    """Loads masks (per layout) or only the obs table (any layouts) once, and selects from them."""

    def __init__(self, source: Any, where: str | None, masks: Any = None) -> None:
        self.source, self.where = source, where
        self._given_masks = masks
        self._sets: list[Any] | None = None
        self._error: LandscapeError | None = None
        self._obs: pd.DataFrame | None = None
        self._subsets: dict[tuple, Any] = {}
        self._run_layouts: dict[str, Any] = {}

    def describe(self) -> str:
        if hasattr(self.source, "obsp"):
            return "MaskSet"
        return str(self.source) + (" (masks: an analysed MaskSet)" if self._given_masks is not None else "")

    def layout_sets(self) -> list[Any]:
        """One MaskSet per layout, the one with the most masks first."""
        if self._sets is None and self._error is None:
            try:
                self._sets = self._load()
            except LandscapeError as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._sets

    def masks(self) -> Any:
        return self.layout_sets()[0]

    def _load(self) -> list[Any]:
        if hasattr(self.source, "obsp"):
            ms = self.source[np.arange(len(self.source))]  # a new object: slots written here stay here
            return [subset(ms, query(ms.obs, self.where, "where")) if self.where else ms]
        from landscape.analysis import attach_barriers
        from landscape.reading import read_layout_groups

        groups = read_layout_groups(self.source, where=self.where)
        if self._given_masks is not None:  # e.g. the analysed MaskSet of `landscape demo`
            given = self._given_masks
            given = (
                subset(given, query(given.obs, self.where, "where"))
                if self.where
                else given[np.arange(len(given))]
            )
            groups = [given] + [g for g in groups if g.layout != given.layout]
        from landscape.analysis.cached import stored_distances
        from landscape.analysis.views import analysis_folder
        from landscape.store.results import ResultStore

        store = ResultStore(analysis_folder(Path(self.source), None))
        for group in groups:
            # whatever `landscape analyze` computed: barriers, and distances (never recomputed)
            if "barrier" not in group.uns:
                attach_barriers(group, self.source)
            if "dist_jaccard" not in group.obsp:
                stored_distances(group, ("jaccard", "hamming"), store)
        return groups

    def obs(self) -> pd.DataFrame:
        if self._obs is None:
            if hasattr(self.source, "obsp"):
                ms = self.masks()
                self._obs = ms.obs
                self._run_layouts = {str(r): ms.layout for r in ms.runs}
            else:
                # runs of several layouts (widths, depths) cannot share a MaskSet, but their
                # tables can share an accuracy figure
                self._obs, self._run_layouts = read_obs_per_run(Path(self.source), self.where)
        return self._obs

    def layout_keys(self, obs: pd.DataFrame) -> list[Any] | None:
        """Each row's layout as a number (first seen first), for telling networks of two
        layouts apart; None where obs cannot say (no run ids, or a run not read here)."""
        self.obs()
        if "run_id" not in obs.columns:
            return None
        runs = obs["run_id"].astype(str).tolist()
        if any(r not in self._run_layouts for r in runs):
            return None
        numbers: dict[Any, int] = {}
        return [numbers.setdefault(self._run_layouts[r], len(numbers)) for r in runs]

    def layout_choice(self) -> dict[str, Any]:
        """Which layout mask figures show (the one with the most masks) and the others, by the
        config fields that tell the layouts apart (hidden sizes, model, dataset, width)."""
        from landscape.grouping import distinguishing_fields, format_value

        sets = self.layout_sets()
        obs = pd.concat([ms.obs for ms in sets])
        parts = np.repeat(np.arange(len(sets)), [len(ms) for ms in sets])
        fields = distinguishing_fields(obs, parts)

        def values(ms: Any) -> dict[str, str]:
            return {f: format_value(ms.obs[f].dropna().iloc[0]) for f in fields if ms.obs[f].notna().any()}

        return {
            "fields": fields,
            "value": values(sets[0]),
            "also_present": [values(ms) for ms in sets[1:]],
            "n_masks": [int(len(ms)) for ms in sets],
        }

    def select(self, spec: FigureSpec) -> tuple[Any, dict[str, Any]]:
        """The masks (a MaskSet, a list of them for ``spec.layouts``, or obs) a figure uses,
        and a record of how they were chosen."""
        selection: dict[str, Any] = {"where": self.where, "figure_where": describe_where(spec.where)}
        reasons = dict(getattr(spec.where, "holds", {}))
        if spec.masks and not spec.layouts and len(self.layout_sets()) > 1:
            choice = self.layout_choice()
            selection["layout"] = choice
            # layouts told apart by width alone: the caption's width sentence says it
            key = "width" if choice["fields"] == ["model.width_mult"] else "layout"
            reasons[key] = LAYOUT_REASON
        if reasons:
            selection["reasons"] = reasons
        if not spec.masks:
            obs = self.obs()
            return obs[query(obs, spec.where, f"figure {spec.name}")], selection
        sets = self.layout_sets() if spec.layouts else [self.masks()]
        keeps = [query(ms.obs, spec.where, f"figure {spec.name}") for ms in sets]
        if spec.one_density and all("density" in ms.obs.columns for ms in sets):
            chosen = pd.concat([ms.obs[k] for ms, k in zip(sets, keeps)])
            density = main_density(chosen, by_widths=spec.layouts)
            if density is not None:
                keeps = [k & (ms.obs["density"].to_numpy() == density) for ms, k in zip(sets, keeps)]
                selection["density"] = density
                selection.setdefault("reasons", {})["density"] = MOST_WIDTHS if spec.layouts else MOST_MASKS
        picked = [
            self._subset(ms, keep, spec, selection, n)
            for n, (ms, keep) in enumerate(zip(sets, keeps))
            if keep.any()
        ]
        if not picked:
            raise FigureSkipped("no masks selected")
        return (picked if spec.layouts else picked[0]), selection

    def _subset(self, ms: Any, keep: np.ndarray, spec: FigureSpec, selection: dict, n: int) -> Any:
        if keep.all():
            return ms
        # keyed on the selection itself: two where-functions of one name (figures.select and
        # fig_dynamics both define searched_masks) keep different masks
        key = (n, np.flatnonzero(keep).tobytes())
        if key not in self._subsets:
            self._subsets[key] = subset(ms, keep)
        return self._subsets[key]


def query(obs: pd.DataFrame, where: Any, what: str) -> np.ndarray:
    if where is None:
        return np.ones(len(obs), dtype=bool)
    from landscape.maskset import select_obs

    try:
        return select_obs(obs, where, what)
    except AnalysisError as exc:  # a bad where is a bad argument to this call
        raise ConfigError(str(exc)) from None


def subset(ms: Any, keep: np.ndarray) -> Any:
    """Masks ``keep`` with pairwise slots carried over and whole-set tool results dropped."""
    sub = ms[np.flatnonzero(keep)]
    sub.obsm = {}
    # dropped even when every mask is kept: each figure computes the results it draws
    sub.uns = {k: v for k, v in sub.uns.items() if k in SUBSET_SAFE_UNS}
    return sub


def main_density(obs: pd.DataFrame, by_widths: bool = False) -> float | None:
    """The density with the most masks (``by_widths``: searched at the most widths, then the
    most masks); ties: the larger density."""
    values = pd.to_numeric(obs["density"], errors="coerce")
    if values.dropna().nunique() <= 1:
        return None if values.dropna().empty else float(values.dropna().iloc[0])
    score = values.value_counts().rename("n").to_frame()
    if by_widths and "model.width_mult" in obs.columns:
        widths = obs.assign(_d=values).groupby("_d")["model.width_mult"].nunique()
        score["widths"] = widths
        score = score.sort_values(["widths", "n"], ascending=False)
        best = score[(score["widths"] == score["widths"].iloc[0]) & (score["n"] == score["n"].iloc[0])]
        return float(best.index.max())
    best = score[score["n"] == score["n"].max()].index.max()
    return float(best)


def describe_where(where: Any) -> str | None:
    if where is None or isinstance(where, str):
        return where
    doc = (getattr(where, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else getattr(where, "__name__", repr(where))


def read_obs_per_run(root: Path, where: str | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table of every readable run under ``root`` (any layouts), and each run's layout."""
    import warnings

    from landscape.reading import read_runs
    from landscape.store.catalog import run_dirs

    frames, layouts = [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unreadable runs were already reported by read_runs
        for d in run_dirs(root):
            try:
                ms = read_runs(d)
            except LandscapeError:
                continue
            frames.append(ms.obs)
            layouts.update({str(r): ms.layout for r in ms.runs})
    if not frames:
        raise AnalysisError(f"{root}: no readable runs with stored masks")
    obs = pd.concat(frames)
    return (obs[query(obs, where, "where")] if where else obs), layouts
