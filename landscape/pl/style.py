"""Publication style: fonts and line widths at print size, column widths, method colours, saving.

Figures are drawn at the size they are printed (a single column is 3.5 in wide), so font sizes
in points are the sizes a reader sees; nothing is scaled down by LaTeX afterwards.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np

from landscape.errors import ConfigError

#: Width in inches of one column of a two-column paper (ICML, CVPR; NeurIPS text is 5.5 in).
SINGLE_COLUMN = 3.5
#: Width in inches of the full text block of a two-column paper.
DOUBLE_COLUMN = 7.2
#: Height/width ratio used when a caller gives only a width.
ASPECT = 0.75

# Okabe & Ito (2008) colour-blind-safe colours, with black for the dense reference.
_OKABE_ITO = {
    "blue": "#0072B2",
    "sky": "#56B4E9",
    "vermillion": "#D55E00",
    "orange": "#E69F00",
    "green": "#009E73",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
GREY = "#999999"

#: Fixed colour of each method: the same method has the same colour in every figure.
#: A recycled variant takes the lighter shade of its base method's hue.
METHOD_COLORS: dict[str, str] = {
    "edge_popup": _OKABE_ITO["blue"],
    "edge_popup+recycle": _OKABE_ITO["sky"],
    "biprop": _OKABE_ITO["vermillion"],
    "biprop+recycle": _OKABE_ITO["orange"],
    "iterand": _OKABE_ITO["green"],
    "dense": _OKABE_ITO["black"],
    "kstarts": _OKABE_ITO["purple"],
    "dissipating": "#882255",
    "random": GREY,
}

# Further colour-blind-safe colours (Tol's "muted" scheme) for names without a fixed colour;
# yellow comes last because thin yellow lines vanish on white paper.
EXTRA_COLORS: tuple[str, ...] = (
    "#44AA99",
    "#332288",
    "#999933",
    "#AA4499",
    "#117733",
    "#88CCEE",
    "#661100",
    _OKABE_ITO["yellow"],
)

#: Marker cycle for groups that also need to be told apart in greyscale prints.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")

_RC: dict[str, Any] = {
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7.5,
    "legend.frameon": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "mathtext.fontset": "dejavusans",
    # Type 42 keeps text as text in PDF (selectable, editable) instead of Type 3 bitmaps.
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlepad": 4.0,
    "axes.labelpad": 2.5,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "patch.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.major.pad": 2.0,
    "ytick.major.pad": 2.0,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "figure.figsize": (SINGLE_COLUMN, SINGLE_COLUMN * ASPECT),
    "figure.dpi": 150,
    "figure.constrained_layout.use": True,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "image.cmap": "viridis",
}


def rc_params() -> dict[str, Any]:
    """The rcParams of :func:`publication_style` (a copy, safe to modify)."""
    return dict(_RC)


@contextlib.contextmanager
def publication_style(**overrides: Any) -> Iterator[None]:
    """Draw with print-size fonts (7–8 pt), thin lines and embeddable vector fonts.

    Parameters
    ----------
    **overrides
        rcParams to set on top of the style, e.g. ``publication_style(**{"font.size": 9})``.

    Examples
    --------
    >>> with publication_style():
    ...     ax = pl.layer_overlap(ms)
    """
    params = rc_params()
    params.update(overrides)
    with mpl.rc_context(params):
        yield


def figsize(width: str | float = "single", aspect: float = ASPECT) -> tuple[float, float]:
    """Figure size in inches for ``"single"`` / ``"double"`` column or an explicit width."""
    if isinstance(width, str):
        widths = {"single": SINGLE_COLUMN, "double": DOUBLE_COLUMN}
        if width not in widths:
            raise ConfigError(f"width: expected 'single', 'double' or inches, got {width!r}")
        width = widths[width]
    return float(width), float(width) * aspect


def method_color(name: str) -> str:
    """The colour of a method or group label: a label's method part (``"biprop · epochs 2"``)
    keeps the method's fixed colour; other names get a stable hashed colour."""
    from landscape.pl.names import method_part

    name = str(name)
    if name in METHOD_COLORS:
        return METHOD_COLORS[name]
    method = method_part(name)
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    return EXTRA_COLORS[zlib.crc32(name.encode()) % len(EXTRA_COLORS)]


def shade(color: str, k: int) -> str:
    """The ``k``-th shade of a colour (0: itself; then darker and lighter in turn), for groups
    of one method that must still be told apart."""
    if k == 0:
        return color
    rgb = np.array(mpl.colors.to_rgb(color))
    step = (k + 1) // 2
    amount = min(0.3 * step, 0.75)
    target = np.zeros(3) if k % 2 else np.ones(3)
    return mpl.colors.to_hex((1 - amount) * rgb + amount * target)


def group_colors(names: Iterable[Any], methods: Mapping[Any, str] | None = None) -> dict[Any, str]:
    """Colours for the groups of one plot: a group of a known method takes the method's colour
    (from ``methods``, ``{group: method}``, or the method part of its label), several groups
    of one method take shades of it; other groups get distinct colours.

    A name without a fixed colour gets its hashed colour unless another group of the same plot
    already uses it; then it takes the first unused extra colour, so groups never share a colour
    while there are colours left.
    """
    from landscape.pl.names import method_part

    names = list(dict.fromkeys(names))
    methods = dict(methods or {})
    colors: dict[Any, str] = {}
    per_method: dict[str, int] = {}
    for n in names:
        method = methods.get(n) or (str(n) if str(n) in METHOD_COLORS else method_part(str(n)))
        if method in METHOD_COLORS:
            k = per_method.get(method, 0)
            per_method[method] = k + 1
            colors[n] = shade(METHOD_COLORS[method], k)
    used = set(colors.values())
    for name in names:
        if name in colors:
            continue
        color = method_color(name)
        if color in used:
            free = [c for c in EXTRA_COLORS if c not in used]
            color = free[0] if free else color
        colors[name] = color
        used.add(color)
    return {n: colors[n] for n in names}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 1000 else f"<array {obj.dtype} {obj.shape}>"
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return f"<{type(obj).__name__} {obj.shape}>"
    return repr(obj)


def save_figure(
    fig: Any,
    path_stem: str | Path,
    formats: Sequence[str] = ("pdf", "png"),
    dpi: int = 300,
    provenance: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write a figure in each format and, beside it, ``<stem>.json`` with its provenance.

    Parameters
    ----------
    fig
        A matplotlib Figure (an Axes is accepted and its figure is saved).
    path_stem
        Path without extension, e.g. ``figures/layer_overlap``; parent folders are created.
    formats
        File formats understood by matplotlib (``pdf``, ``png``, ``svg``...).
    dpi
        Resolution of raster formats.
    provenance
        What the figure was made from (run ids, tool parameters...); versions and the creation
        time are added. Values that are not JSON (arrays, frames) are summarised.

    Returns
    -------
    list of Path
        The files written, images first and the JSON last.
    """
    if not hasattr(fig, "savefig"):
        fig = fig.figure
    stem = Path(path_stem)
    if stem.suffix.lower().lstrip(".") in {f.lower() for f in formats}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in formats:
        fmt = fmt.lower().lstrip(".")
        path = stem.with_name(f"{stem.name}.{fmt}")
        tmp = path.with_name(f".{path.name}.tmp")
        # A temp name then replace: an interrupted save never leaves a truncated figure.
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_file_metadata(fmt))
        tmp.replace(path)
        written.append(path)
    record = dict(provenance or {})
    for key, value in {"files": [p.name for p in written], **version_info()}.items():
        record.setdefault(key, value)
    record.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
    json_path = stem.with_name(f"{stem.name}.json")
    tmp = json_path.with_name(f".{json_path.name}.tmp")
    tmp.write_text(json.dumps(_jsonable(record), indent=2, sort_keys=False) + "\n")
    tmp.replace(json_path)
    written.append(json_path)
    return written


def _file_metadata(fmt: str) -> dict[str, Any] | None:
    # Fixed PDF metadata keeps files byte-stable across rebuilds (no creation date inside).
    if fmt == "pdf":
        return {"Creator": "landscape", "CreationDate": None}
    if fmt == "png":
        return {"Software": "landscape"}
    return None


def version_info() -> dict[str, str]:
    """Versions of the packages a figure depends on."""
    import landscape

    return {
        "landscape_version": landscape.__version__,
        "numpy_version": np.__version__,
        "matplotlib_version": mpl.__version__,
    }
