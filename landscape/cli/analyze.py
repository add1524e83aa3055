"""``landscape analyze RUNS``: the standard analysis, its results kept under the runs root."""

from __future__ import annotations

import argparse
import warnings

from landscape.errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="diversity, baselines, barriers and embeddings of a runs root")
    p.add_argument("runs", nargs="?", default="runs", help="runs root or one run directory (default runs/)")
    p.add_argument(
        "--where",
        default=None,
        help="pandas query on the per-mask table, e.g. \"method == 'biprop' and density == 0.5\"",
    )
    p.add_argument(
        "--groupby",
        nargs="+",
        default=None,
        metavar="COLUMN",
        help="pool configurations with equal values of these columns (default: every configuration "
        "is its own group); the output names what was pooled",
    )
    p.add_argument("--metrics", nargs="+", default=["jaccard", "hamming"], choices=["jaccard", "hamming"])
    p.add_argument(
        "--barriers",
        type=int,
        default=0,
        metavar="N_PAIRS",
        help="loss barriers for N mask pairs per configuration and weight seed (default 0); pairs "
        "computed before are reused",
    )
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="split for barriers")
    p.add_argument("--points", type=int, default=11, help="alpha values per barrier path (default 11)")
    p.add_argument("--embed", nargs="*", default=["mds"], choices=["pca", "mds", "tsne", "umap"])
    p.add_argument("--rng", type=int, default=0, help="seed for pair sampling and embeddings")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto: where distances and barriers run")
    p.add_argument("--out", default=None, help="analysis folder: results and tables (default RUNS/_analysis)")
    p.add_argument(
        "--no-cache",
        dest="recompute",
        action="store_true",
        help="recompute distances (with --memory, every tile), embeddings and the agreement and "
        "ensemble tables even when stored (barrier curves are always reused)",
    )
    p.add_argument(
        "--memory",
        default=None,
        metavar="SIZE",
        help="compute distances out of core within this budget (e.g. 2GB), as resumable tiles "
        "under the analysis folder (default: in memory)",
    )


def _analyze(args: argparse.Namespace) -> int:
    from landscape.analysis import analyze
    from landscape.search.runner import resolve_device

    if args.barriers < 0:
        raise ConfigError("--barriers: must be >= 0")
    if args.points < 2:
        raise ConfigError("--points: need at least 2 (both ends of a path)")
    with warnings.catch_warnings():
        # library warnings (embeddings, kernels) are noise here; what the user must see (runs
        # skipped, damaged stored files) the analysis collects and the summary prints
        warnings.simplefilter("ignore")
        result = analyze(
            args.runs,
            where=args.where,
            groupby="config" if args.groupby is None else tuple(args.groupby),
            metrics=tuple(args.metrics),
            barriers=args.barriers,
            barrier_split=args.split,
            barrier_points=args.points,
            embed=tuple(args.embed),
            rng=args.rng,
            # a missing GPU is one line here, not a traceback deep in the distances
            device=args.device if args.device == "cpu" else resolve_device(args.device),
            out=args.out,
            recompute=args.recompute,
            memory=args.memory,
        )
    print(result.summary())
    return 0


COMMANDS = {"analyze": _analyze}
