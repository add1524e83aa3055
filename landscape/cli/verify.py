"""``landscape verify RUNS``: check every stored file against its checksum."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="check every stored file against its checksum")
    p.add_argument("runs", nargs="?", default="runs", help="runs root or one run (default runs/)")
    p.add_argument(
        "--weights",
        action="store_true",
        help="also regenerate each random network and compare with its stored checksum",
    )


def _verify(args: argparse.Namespace) -> int:
    from landscape.errors import StoreError
    from landscape.store import RunStore
    from landscape.store.catalog import run_dirs

    bad = 0
    paths = run_dirs(args.runs)
    for path in paths:
        try:
            store = RunStore.open(path)
            store.verify()
            detail = f"{store.n_masks} masks"
            n_predicted = len(store.predictions_index())
            if n_predicted:
                detail += f", predictions of {n_predicted}"
            if args.weights:
                from landscape.store.rebuild import verify_weights

                detail += f", weights of seeds {verify_weights(store)} regenerate exactly"
            print(f"ok       {path.name:<14} {detail}")
        except StoreError as exc:
            bad += 1
            print(f"CORRUPT  {path.name:<14} {exc}")
    if bad:
        raise StoreError(f"{args.runs}: {bad} of {len(paths)} runs failed verification")
    return 0


COMMANDS = {"verify": _verify}
