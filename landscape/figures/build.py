"""Build named figures from a runs root or a MaskSet: select masks, analyse, draw, save."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError, ConfigError, LandscapeError
from landscape.figures.registry import FIGURES, FigureSkipped, FigureSpec, ensure

# uns entries that stay valid when masks are subset (the barrier pl functions find pairs by
# obs name); every other tool result describes the whole set and is recomputed on a subset.
_SUBSET_SAFE_UNS = ("barrier", "read_runs", "skipped_runs")
_MAX_LISTED_MASKS = 5000


class BuiltFigures(list):
    """The files written (a list of Path), with ``skipped``: ``(name, reason)`` per figure left out."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[tuple[str, str]] = []
        self.files: dict[str, list[Path]] = {}


def figure_names() -> list[str]:
    """Names of the registered figures."""
    return FIGURES.names()


def build_figures(
    source: Any,
    names: Iterable[str] | None = None,
    out: str | Path = "figures",
    formats: Sequence[str] = ("pdf", "png"),
    *,
    where: str | None = None,
    dpi: int = 300,
    masks: Any = None,
) -> BuiltFigures:
    """Write named figures (``<out>/<name>.<fmt>``) and their provenance (``<name>.json``).

    Parameters
    ----------
    source
        A runs root (or one run directory) or a MaskSet. A MaskSet is never modified: analysis
        steps a figure needs (distances, embedding, consensus) are computed on a copy.
    names
        Figures to build (default: all registered, see :func:`figure_names`).
    out
        Output folder (created).
    formats
        Image formats, e.g. ``("pdf", "png")``.
    where
        :meth:`pandas.DataFrame.eval` query on ``obs`` applied before every figure's own
        selection, e.g. ``"`model.name` == 'conv4'"``.
    dpi
        Resolution of raster formats.
    masks
        Optional MaskSet for the mask figures when ``source`` is a runs root, e.g. the one
        :func:`landscape.analysis.analyze` returns with barriers already computed (accuracy
        figures still read every run under ``source``).

    Returns
    -------
    BuiltFigures
        The files written; ``.skipped`` lists each figure whose data is absent with a one-line
        reason (such figures never raise).

    Raises
    ------
    ConfigError
        An unknown figure name (with a did-you-mean hint), format or a bad ``where``.
    AnalysisError
        When ``source`` holds no readable runs.
    """
    specs = [FIGURES.get(n) for n in (list(names) if names else FIGURES.names())]
    formats = _check_formats(formats)
    source_obj = _Source(source, where, masks)
    source_obj.obs()  # no runs, or a bad where: an error for every figure, so raise it once
    out = Path(out)
    built = BuiltFigures()
    for spec in specs:
        try:
            files = _build_one(spec, source_obj, out, formats, dpi)
        except (FigureSkipped, LandscapeError) as exc:
            built.skipped.append((spec.name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            continue
        built.files[spec.name] = files
        built.extend(files)
    return built


def _check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    import matplotlib.pyplot as plt

    known = set(plt.figure().canvas.get_supported_filetypes())
    plt.close("all")
    cleaned = tuple(str(f).lower().lstrip(".") for f in formats)
    for fmt in cleaned:
        if fmt not in known:
            raise ConfigError(f"format: unknown image format {fmt!r} (known: {', '.join(sorted(known))})")
    if not cleaned:
        raise ConfigError("format: give at least one image format, e.g. pdf png")
    return cleaned


def _build_one(
    spec: FigureSpec, source: _Source, out: Path, formats: tuple[str, ...], dpi: int
) -> list[Path]:
    import matplotlib.pyplot as plt

    from landscape.pl.style import figsize, publication_style, save_figure

    data, selection = source.select(spec)
    computed = ensure(data, spec.needs) if spec.masks else []
    with publication_style(**{"figure.figsize": figsize(spec.width, spec.aspect)}):
        drawn = spec.draw(data)
        fig = drawn if hasattr(drawn, "savefig") else drawn.figure
        try:
            provenance = _provenance(spec, data, source, selection, computed)
            return save_figure(fig, out / spec.name, formats, dpi, provenance)
        finally:
            plt.close(fig)


class _Source:
    """Loads masks (one layout) or only the obs table (any layouts) once, and selects from them."""

    def __init__(self, source: Any, where: str | None, masks: Any = None) -> None:
        self.source, self.where = source, where
        self._given_masks = masks
        self._masks: Any = None
        self._masks_error: LandscapeError | None = None
        self._obs: pd.DataFrame | None = None
        self._subsets: dict[tuple, Any] = {}

    def describe(self) -> str:
        if hasattr(self.source, "obsp"):
            return "MaskSet"
        return str(self.source) + (" (masks: an analysed MaskSet)" if self._given_masks is not None else "")

    def masks(self) -> Any:
        if self._masks is None and self._masks_error is None:
            try:
                self._masks = self._load_masks()
            except LandscapeError as exc:
                self._masks_error = exc
        if self._masks_error is not None:
            raise self._masks_error
        return self._masks

    def _load_masks(self) -> Any:
        given = self._given_masks if self._given_masks is not None else self.source
        if hasattr(given, "obsp"):
            ms = given[np.arange(len(given))]  # a new object: slots written here stay here
            return _subset(ms, _query(ms.obs, self.where, "where")) if self.where else ms
        # runs of several layouts (a width sweep beside the ensembles): mask figures use the
        # layout with the most masks; accuracy figures read every run's table (see obs())
        from landscape.analysis import attach_barriers
        from landscape.maskset import read_layout_groups

        groups = read_layout_groups(self.source, where=self.where)
        self.n_layouts = len(groups)
        attach_barriers(groups[0], self.source)  # barriers of an earlier `landscape analyze`
        return groups[0]

    def obs(self) -> pd.DataFrame:
        if self._obs is None:
            if hasattr(self.source, "obsp"):
                self._obs = self.masks().obs
            else:
                # runs of several layouts (widths, depths) cannot share a MaskSet, but their
                # tables can share an accuracy figure
                self._obs = _read_obs_per_run(Path(self.source), self.where)
        return self._obs

    def select(self, spec: FigureSpec) -> tuple[Any, dict[str, Any]]:
        """The masks (or obs) a figure uses, and a record of how they were chosen."""
        selection: dict[str, Any] = {"where": self.where, "figure_where": _describe_where(spec.where)}
        if not spec.masks:
            obs = self.obs()
            keep = _query(obs, spec.where, f"figure {spec.name}")
            return obs[keep], selection
        ms = self.masks()
        keep = _query(ms.obs, spec.where, f"figure {spec.name}")
        if spec.one_density and "density" in ms.obs.columns:
            density = _main_density(ms.obs[keep])
            if density is not None:
                keep &= ms.obs["density"].to_numpy() == density
                selection["density"] = density
        if not keep.any():
            raise FigureSkipped("no masks selected")
        key = (
            spec.where if isinstance(spec.where, str) else getattr(spec.where, "__name__", None),
            selection.get("density"),
        )
        if keep.all():
            return ms, selection
        if key not in self._subsets:
            self._subsets[key] = _subset(ms, keep)
        return self._subsets[key], selection


def _query(obs: pd.DataFrame, where: Any, what: str) -> np.ndarray:
    if where is None:
        return np.ones(len(obs), dtype=bool)
    from landscape.maskset import select_obs

    try:
        return select_obs(obs, where, what)
    except AnalysisError as exc:  # a bad where is a bad argument to this call
        raise ConfigError(str(exc)) from None


def _subset(ms: Any, keep: np.ndarray) -> Any:
    """Masks ``keep`` with pairwise slots carried over and whole-set tool results dropped."""
    sub = ms[np.flatnonzero(keep)]
    sub.obsm = {}
    sub.uns = {k: v for k, v in sub.uns.items() if k in _SUBSET_SAFE_UNS}
    return sub


def _main_density(obs: pd.DataFrame) -> float | None:
    """The density with the most masks (ties: the larger density)."""
    values = pd.to_numeric(obs["density"], errors="coerce").dropna()
    if values.nunique() <= 1:
        return None if values.empty else float(values.iloc[0])
    counts = values.value_counts()
    best = counts[counts == counts.max()].index.max()
    return float(best)


def _describe_where(where: Any) -> str | None:
    if where is None or isinstance(where, str):
        return where
    doc = (getattr(where, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else getattr(where, "__name__", repr(where))


def _read_obs_per_run(root: Path, where: str | None) -> pd.DataFrame:
    import warnings

    from landscape.maskset import read_runs
    from landscape.store.catalog import run_dirs

    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unreadable runs were already reported by read_runs
        for d in run_dirs(root):
            try:
                frames.append(read_runs(d).obs)
            except LandscapeError:
                continue
    if not frames:
        raise AnalysisError(f"{root}: no readable runs with stored masks")
    obs = pd.concat(frames)
    return obs[_query(obs, where, "where")] if where else obs


def _provenance(spec: FigureSpec, data: Any, source: _Source, selection: dict, computed: list[str]) -> dict:
    obs = data if isinstance(data, pd.DataFrame) else data.obs
    record: dict[str, Any] = {
        "figure": spec.name,
        "description": spec.description,
        "source": source.describe(),
        **selection,
        "n_masks": int(len(obs)),
    }
    if "run_id" in obs.columns:
        per_run = obs["run_id"].astype(str).value_counts(sort=False)
        record["run_ids"] = sorted(per_run.index)
        record["masks_per_run"] = {k: int(v) for k, v in sorted(per_run.items())}
    if len(obs) <= _MAX_LISTED_MASKS:
        record["masks"] = [str(i) for i in obs.index]
    record["plot_params"] = dict(spec.params)
    if not isinstance(data, pd.DataFrame):
        record["analysis"] = {
            k: v["params"] for k, v in data.uns.items() if isinstance(v, dict) and "params" in v
        }
        record["computed_for_figure"] = list(computed)
    return record
