"""``landscape analyze RUNS``: the standard analysis, cached under the runs root."""

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
    p.add_argument("--metrics", nargs="+", default=["jaccard", "hamming"], choices=["jaccard", "hamming"])
    p.add_argument(
        "--barriers",
        type=int,
        default=0,
        metavar="N_PAIRS",
        help="loss barriers for N random mask pairs per run and weight seed (default 0)",
    )
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="split for barriers")
    p.add_argument("--embed", nargs="*", default=["mds"], choices=["pca", "mds", "tsne", "umap"])
    p.add_argument("--rng", type=int, default=0, help="seed for pair sampling and embeddings")
    p.add_argument("--out", default=None, help="folder for the tables (default RUNS/_analysis)")
    p.add_argument("--no-cache", action="store_true", help="recompute even if cached tables match")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto: distances and barriers")


def _analyze(args: argparse.Namespace) -> int:
    from landscape.analysis import analyze
    from landscape.search.runner import resolve_device

    if args.barriers < 0:
        raise ConfigError("--barriers: must be >= 0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = analyze(
            args.runs,
            where=args.where,
            metrics=tuple(args.metrics),
            barriers=args.barriers,
            barrier_split=args.split,
            embed=tuple(args.embed),
            rng=args.rng,
            out=args.out,
            use_cache=not args.no_cache,
            device=args.device if args.device == "cpu" else resolve_device(args.device),
        )
    print(result.summary())
    return 0


COMMANDS = {"analyze": _analyze}
