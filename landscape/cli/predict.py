"""``landscape predict RUNS``: store every mask's validation and test outputs where missing."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="evaluate stored masks and keep their predictions (runs searched before they were kept)",
        description="Searches store each mask's outputs on the validation and test splits; runs "
        "searched before that get them here, by rebuilding each network from the run (random "
        "weights, stored weights and BatchNorm statistics) and evaluating it. Masks whose "
        "predictions are stored are left alone unless --force.",
    )
    p.add_argument("runs", nargs="?", default="runs", help="runs root or one run directory (default runs/)")
    p.add_argument("--splits", nargs="+", default=["val", "test"], choices=["val", "test"])
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--force", action="store_true", help="re-evaluate masks whose predictions are stored")
    p.add_argument("--batch-size", type=int, default=1024, help="examples per forward (default 1024)")


def _predict(args: argparse.Namespace) -> int:
    from landscape.errors import ConfigError
    from landscape.search.predict import fill_predictions

    if args.batch_size < 1:
        raise ConfigError("--batch-size: must be >= 1")
    for s in fill_predictions(
        args.runs, splits=tuple(args.splits), device=args.device, force=args.force, batch_size=args.batch_size
    ):
        diff = ", ".join(f"{k} {v:.2g}" for k, v in s.max_acc_difference.items())
        check = f"; largest accuracy change against the record: {diff}" if diff else ""
        skipped = f"; skipped: {s.problem}" if s.problem else ""
        kept = "replaced when stored before (--force)" if args.force else f"{s.present} already stored"
        print(f"{s.run_id:<14} {s.evaluated} masks evaluated, {kept}{check}{skipped}")
    return 0


COMMANDS = {"predict": _predict}
