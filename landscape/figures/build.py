"""Build named figures from a runs root or a MaskSet: select masks, analyse, draw, save.

Beside each figure ``<name>.<fmt>``: ``<name>.txt`` (its caption: what it shows, over what its
bars run and its selection — dataset, model, density, width, epochs, masks, networks),
``<name>.csv`` (the numbers it drew) and ``<name>.json`` (provenance, caption and selection
included); ``index.html`` shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from landscape.errors import ConfigError, LandscapeError
from landscape.figures.caption import caption, selection_summary
from landscape.figures.index import write_index
from landscape.figures.registry import FIGURES, FigureSkipped, FigureSpec, ensure
from landscape.figures.select import searched_masks
from landscape.figures.source import Source
from landscape.store._io import write_atomic

_MAX_LISTED_MASKS = 5000


class BuiltFigures(list):
    """The files written (a list of Path), with ``skipped``: ``(name, reason)`` per figure left
    out, ``files``: ``{name: [Path, ...]}``, ``captions``: ``{name: caption}`` and ``index``:
    the path of ``index.html`` (None when not written)."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[tuple[str, str]] = []
        self.files: dict[str, list[Path]] = {}
        self.captions: dict[str, str] = {}
        self.index: Path | None = None


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
    index: bool = True,
) -> BuiltFigures:
    """Write named figures (``<out>/<name>.<fmt>``), their captions, numbers and provenance.

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
    index
        Write ``<out>/index.html`` (every figure in the folder with its caption, numbers and
        provenance).

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
    source_obj = Source(source, where, masks)
    source_obj.obs()  # no runs, or a bad where: an error for every figure, so raise it once
    out = Path(out)
    built = BuiltFigures()
    for spec in specs:
        try:
            files, text = _build_one(spec, source_obj, out, formats, dpi)
        except (FigureSkipped, LandscapeError) as exc:
            built.skipped.append((spec.name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            continue
        built.files[spec.name] = files
        built.captions[spec.name] = text
        built.extend(files)
    if index:
        built.index = write_index(out, built.skipped)
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


def _obs_of(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, list):
        return pd.concat([d.obs for d in data])
    return data.obs


def _build_one(
    spec: FigureSpec, source: Source, out: Path, formats: tuple[str, ...], dpi: int
) -> tuple[list[Path], str]:
    import matplotlib.pyplot as plt

    from landscape.pl import data_of, masks_of, notes_of
    from landscape.pl.style import figsize, publication_style, save_figure

    data, selection = source.select(spec)
    computed: list[str] = []
    if spec.masks:
        for part in data if isinstance(data, list) else [data]:
            computed += [c for c in ensure(part, spec.needs) if c not in computed]
    with publication_style(**{"figure.figsize": figsize(spec.width, spec.aspect)}):
        drawn = spec.draw(data)
        fig = drawn if hasattr(drawn, "savefig") else drawn.figure
        try:
            obs = _obs_of(data)
            used = masks_of(drawn)
            # a plot that leaves masks out (no counterpart in their network) is captioned with
            # the masks it drew, not the ones it was given
            shown = obs if used is None else obs[obs.index.astype(str).isin(used)]
            available = source.obs()
            summary = selection_summary(
                shown, available[searched_masks(available).to_numpy()], layouts=source.layout_keys(shown)
            )
            if len(shown) < len(obs):
                summary["n_selected"] = int(len(obs))
            if "layout" in selection.get("reasons", {}):
                summary["layout"] = selection["layout"]
            text = caption(spec.description, notes_of(drawn), summary, selection.get("reasons"))
            out.mkdir(parents=True, exist_ok=True)
            extra = _write_extras(out, spec.name, text, data_of(drawn))
            provenance = _provenance(spec, data, source, selection, computed, shown)
            provenance.update(caption=text, selection=summary)
            if extra.get("csv"):
                provenance["data_file"] = extra["csv"].name
            images = [f"{spec.name}.{fmt}" for fmt in formats]
            provenance["files"] = images + [p.name for p in extra.values()]
            written = save_figure(fig, out / spec.name, formats, dpi, provenance)
            return written[:-1] + list(extra.values()) + written[-1:], text
        finally:
            plt.close(fig)


def _write_extras(out: Path, name: str, text: str, table: Any) -> dict[str, Path]:
    """``<name>.txt`` (the caption) and ``<name>.csv`` (the numbers drawn, when recorded)."""
    files = {"txt": out / f"{name}.txt"}
    write_atomic(files["txt"], (text + "\n").encode())
    if isinstance(table, pd.DataFrame):
        files["csv"] = out / f"{name}.csv"
        write_atomic(files["csv"], table.to_csv(index=False).encode())
    return files


def _provenance(
    spec: FigureSpec, data: Any, source: Source, selection: dict, computed: list[str], shown: pd.DataFrame
) -> dict:
    obs = shown
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
    given = _obs_of(data)
    if len(given) > len(obs) and len(given) <= _MAX_LISTED_MASKS:
        record["masks_not_drawn"] = [str(i) for i in given.index if i not in obs.index]
    record["plot_params"] = dict(spec.params)
    if not isinstance(data, pd.DataFrame):
        sets = data if isinstance(data, list) else [data]
        record["analysis"] = {
            k: v["params"] for ms in sets for k, v in ms.uns.items() if isinstance(v, dict) and "params" in v
        }
        record["computed_for_figure"] = list(computed)
    return record
