"""``landscape figures``: build the named paper figures of a runs root."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "figures",
        help="draw the named paper figures (PDF/PNG, caption, numbers, provenance, index.html)",
        description="Draw named figures from stored runs, using what `landscape analyze` stored "
        "(distances, barriers). Beside each figure: <name>.txt (its caption, with the selection: "
        "dataset, model, density, width, epochs, masks, networks), <name>.csv (the numbers drawn) "
        "and <name>.json (provenance); index.html shows them all and opens without a server. "
        "Figures whose data is absent (no barriers computed, a single density...) are skipped with "
        "the reason; --list shows the names.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="figures to draw (default: all)")
    p.add_argument("--runs", default="runs", help="runs root or one run directory (default: runs/)")
    p.add_argument("--out", default="figures", help="output folder (default: figures/)")
    p.add_argument(
        "--format",
        dest="formats",
        nargs="+",
        default=["pdf", "png"],
        metavar="FMT",
        help="image formats (default: pdf png)",
    )
    p.add_argument(
        "--where",
        default=None,
        metavar="QUERY",
        help="select masks by obs, e.g. \"`model.name` == 'conv4' and density == 0.5\"",
    )
    p.add_argument("--dpi", type=int, default=300, help="resolution of raster formats (default 300)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")


def _figures(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window from the command line
    from landscape.errors import ConfigError
    from landscape.figures import FIGURES, build_figures

    if args.list:
        width = max(len(n) for n in FIGURES.names()) + 2
        for name in FIGURES.names():
            print(f"{name:<{width}}{FIGURES.get(name).description}")
        return 0
    if args.dpi < 1:
        raise ConfigError(f"--dpi: must be >= 1, got {args.dpi}")
    built = build_figures(
        args.runs, args.names or None, out=args.out, formats=args.formats, where=args.where, dpi=args.dpi
    )
    for name, files in built.files.items():
        print(f"{name}: " + ", ".join(str(f) for f in files))
    for name, reason in built.skipped:
        print(f"{name}: skipped ({reason})")
    if built.index is not None:
        print(f"index: {built.index} (every figure with its caption, numbers and provenance)")
    if not built.files:
        print(f"no figures written to {args.out}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"figures": _figures}
