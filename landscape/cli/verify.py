"""``landscape verify RUNS``: check every stored file against its checksum, and record the result.

Each checked run gets a ``verified.json`` (time, toolkit version, ok or the fault), which
``landscape ls`` shows without re-hashing anything. ``--repair`` quarantines damaged masks
so that searching the run again re-searches exactly those.
"""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="check every stored file against its checksum (and record it)")
    p.add_argument("runs", nargs="?", default="runs", help="runs root or one run (default runs/)")
    p.add_argument(
        "--weights",
        action="store_true",
        help="also regenerate each random network and compare with its stored checksum",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="move damaged masks to the run's quarantine/ folder; searching the run again "
        "re-searches exactly those",
    )


def _verify(args: argparse.Namespace) -> int:
    from landscape.errors import StoreError
    from landscape.store.catalog import run_dirs

    bad = 0
    paths = run_dirs(args.runs)
    for path in paths:
        try:
            line = _verify_run(path, args.weights, args.repair)
        except StoreError as exc:
            bad += 1
            line = f"CORRUPT  {path.name:<14} {exc}"
        print(line)
    if bad:
        raise StoreError(f"{args.runs}: {bad} of {len(paths)} runs failed verification")
    return 0


def _verify_run(path, weights: bool, repair: bool) -> str:
    """One run: its report line; :class:`StoreError` (after recording it) when it is damaged."""
    from landscape.errors import StoreError
    from landscape.store import RunStore, verification

    store = RunStore.open(path)
    repaired: list[dict] = []
    try:
        faults = store.faults()
        if faults and repair:
            repaired = store.repair()
            faults = store.faults()
        if faults:
            more = f" (and {len(faults) - 1} more damaged files)" if len(faults) > 1 else ""
            raise StoreError(faults[0].reason + more)
        detail = f"{store.n_masks} masks"
        n_predicted = len(store.predictions_index())
        if n_predicted:
            detail += f", predictions of {n_predicted}"
        if weights:
            detail += _weights_detail(store)
    except StoreError as exc:
        verification.record(path, False, str(exc), _masks(store), weights, repaired)
        raise
    verification.record(path, True, None, store.n_masks, weights, repaired)
    if not repaired:
        return f"ok       {path.name:<14} {detail}"
    lost = sum(len(r["pairs"]) for r in repaired)
    where = ", ".join(r["folder"] for r in repaired)
    again = []
    if lost:  # masks listed twice, or damaged predictions, leave nothing to search again
        again.append(
            "import them again" if store.config.origin.format else "search the run again to re-search them"
        )
    if any("predictions" in r["folder"] for r in repaired):
        again.append(f"`landscape predict {path}` evaluates the unlisted predictions again")
    steps = "".join(f"; {step}" for step in again)
    return f"REPAIRED {path.name:<14} {lost} masks quarantined ({where}), {detail} intact{steps}"


def _weights_detail(store) -> str:
    from landscape.store.meta import _version
    from landscape.store.rebuild import verify_weights

    how = verify_weights(store)
    exact = [w for w, h in how.items() if h == "exact"]
    stored = [w for w, h in how.items() if h == "stored"]
    text = f", weights of seeds {exact} regenerate exactly" if exact else ""
    if stored:
        text += (
            f", weights of seeds {stored} regenerate differently with torch {_version('torch')}; "
            "the run rebuilds from its stored random weights"
        )
    return text


def _masks(store) -> int:
    from landscape.errors import StoreError

    try:
        return store.n_masks
    except StoreError:
        return 0


COMMANDS = {"verify": _verify}
