"""``landscape import SOURCE... --runs RUNS --format FORMAT``: foreign masks as ordinary runs."""

from __future__ import annotations

import argparse

from landscape.cli._common import add_overrides
from landscape.errors import ConfigError
from landscape.importers import FORMATS


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import checkpoints of the reference codes or plain mask arrays as runs",
        description=(
            "Masks are recomputed from stored scores with the source code's own rule (or read as "
            "arrays) and written as ordinary runs; importing the same files again adds nothing. "
            "--set takes config fields (method.density, data.name, model.name...) and per-mask "
            "fields (weight_seed, search_seed, test_acc)."
        ),
    )
    p.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="files, or folders searched for the format's files"
    )
    p.add_argument("--runs", default="runs", help="runs root to write into (default runs/)")
    p.add_argument(
        "--format",
        required=True,
        type=lambda s: s.replace("-", "_"),
        choices=FORMATS,
        help="source format: " + ", ".join(FORMATS),
    )
    add_overrides(p)
    p.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="arrays: rename a parameter before mapping names (repeatable)",
    )
    p.add_argument(
        "--stacked", action="store_true", help="arrays: the first axis of every array indexes masks"
    )
    p.add_argument(
        "--pattern", default=None, metavar="FILE", help="er_slt: the ER source masks (0/1 per layer)"
    )
    p.add_argument(
        "--glob",
        action="append",
        default=None,
        metavar="PATTERN",
        help="which files of a folder to take (default per format, e.g. '**/model_best.pth')",
    )


def _rename(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ConfigError(f"--rename {item!r}: expected OLD=NEW")
        out[old.strip()] = new.strip()
    return out


def _import(args: argparse.Namespace) -> int:
    from landscape.importers import import_masks

    result = import_masks(
        args.sources,
        args.runs,
        args.format,
        args.overrides,
        rename=_rename(args.rename),
        stacked=args.stacked,
        pattern=args.pattern,
        glob=args.glob,
    )
    print(result.summary())
    return 0


COMMANDS = {"import": _import}
