"""``landscape analyze``: the standard analysis of a runs root, cached, as tidy tables.

One call in a notebook (``landscape.analysis.analyze("runs")``) does what the CLI does:
read every finished run (skipping, and naming, incomplete or corrupt ones), group runs by
layout (masks of different networks are never compared), compute distances, the random
baseline, diversity, consensus, clusters, embeddings and optionally loss barriers, and write
the tables under ``<runs>/_analysis/``. A second call with the same runs and parameters
reads the cached tables instead of recomputing.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from landscape.errors import AnalysisError

ANALYSIS_DIR = "_analysis"
TABLES = ("masks", "diversity", "baseline", "consensus", "barriers", "barrier_curves", "embedding")


@dataclass
class Analysis:
    """Result of :func:`analyze`: the tables, the analysed MaskSets and what was skipped."""

    tables: dict[str, pd.DataFrame]
    out_dir: Path
    masksets: dict[str, object] = field(default_factory=dict)  # layout group -> MaskSet
    skipped: list[str] = field(default_factory=list)
    cached: bool = False

    def summary(self) -> str:
        return format_summary(self)


def _load_groups(root: Path, where) -> tuple[dict[str, object], list[str]]:
    """Finished masks grouped by layout (labelled ``<model>-<layout hash>``), and the runs
    that were skipped with the reason."""
    from landscape.maskset import read_layout_groups

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped runs are reported in the summary instead
        sets = read_layout_groups(root, where=where)
    groups = {}
    for ms in sets:
        key = hashlib.sha256(ms.layout.dumps().encode()).hexdigest()[:8]
        groups[f"{ms.obs['model.name'].iloc[0]}-{key}"] = ms
    skipped = [f"{s['path']}: {s['reason']}" for s in sets[0].uns.get("skipped_runs", [])]
    return groups, skipped


def _cache_key(root: Path, params: dict) -> str:
    """Changes whenever a run gains masks (its manifest changes) or the parameters change."""
    from landscape.store.catalog import run_dirs

    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for path in run_dirs(root):
        manifest = path / "manifest.json"
        h.update(path.name.encode())
        h.update(manifest.read_bytes() if manifest.is_file() else b"-")
    return h.hexdigest()[:16]


def analyze(
    path: str | Path,
    *,
    where=None,
    metrics: tuple[str, ...] = ("jaccard", "hamming"),
    barriers: int = 0,
    barrier_split: str = "test",
    embed: tuple[str, ...] = ("mds",),
    rng: int = 0,
    out: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> Analysis:
    """Analyse every finished run under ``path``.

    Parameters
    ----------
    where
        Query on ``obs`` (pandas ``query`` string or ``{column: value(s)}``).
    metrics
        Distance metrics (``jaccard``, ``hamming``).
    barriers
        Number of random mask pairs per (run, weight seed) whose loss barrier is computed
        (0 = none); linear and constant-density swap paths.
    embed
        Embeddings to compute (``pca``, ``mds``, ``tsne``, ``umap``).
    out
        Folder for the tables (default ``<path>/_analysis``).
    """
    from landscape import tl

    root = Path(path)
    params = {
        "where": where if not isinstance(where, dict) else sorted(where.items()),
        "metrics": list(metrics),
        "barriers": barriers,
        "barrier_split": barrier_split,
        "embed": list(embed),
        "rng": rng,
    }
    out_dir = Path(out) if out is not None else root / ANALYSIS_DIR
    key = _cache_key(root, params)
    if use_cache and _cache_valid(out_dir, key):
        tables = {
            name: pd.read_csv(out_dir / f"{name}.csv")
            for name in TABLES
            if (out_dir / f"{name}.csv").exists()
        }
        return Analysis(tables, out_dir, {}, _read_skipped(out_dir), cached=True)

    masksets, skipped = _load_groups(root, where)
    collected: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    for ms in masksets.values():
        tl.distances(ms, metric=tuple(metrics), per_layer=True)
        collected["baseline"].append(tl.random_baseline(ms, metric=tuple(metrics), per_layer=True))
        for metric in metrics:
            collected["diversity"].append(tl.diversity(ms, metric=metric, key_added=f"diversity_{metric}"))
        if len(ms) >= 2:
            collected["consensus"].append(tl.consensus(ms))
            # as many clusters as configurations: do masks cluster by how they were found?
            n_groups = len(ms.obs.groupby(["method", "density"], dropna=False))
            tl.cluster(ms, metric=metrics[0], n_clusters=int(np.clip(n_groups, 1, len(ms))))
            for method in embed:
                if len(ms) >= 3:
                    tl.embed(ms, method=method, metric=metrics[0], rng=rng)
        if barriers:
            table = _barriers(ms, barriers, barrier_split, rng, progress)
            if table is not None:
                collected["barriers"].append(table)
                collected["barrier_curves"].append(ms.uns["barrier"]["curves"])
        collected["masks"].append(_masks_table(ms))
        collected["embedding"].append(_embedding_table(ms))
    tables = {}
    for name, frames in collected.items():
        frames = [f for f in frames if f is not None and len(f)]
        if frames:
            tables[name] = pd.concat(frames, ignore_index=True)
    _write(out_dir, tables, key, skipped)
    return Analysis(tables, out_dir, masksets, skipped)


def _barriers(ms, n_pairs: int, split: str, rng: int, progress: bool):
    from landscape import tl

    try:
        return tl.barriers(ms, pairs=n_pairs, split=split, rng=rng, progress=progress)
    except AnalysisError as exc:
        warnings.warn(f"barriers skipped: {exc}", stacklevel=2)
        return None


def _masks_table(ms) -> pd.DataFrame:
    table = ms.obs.copy()
    table.insert(0, "mask", table.index)
    table["n_kept"] = ms.counts()
    return table.reset_index(drop=True)


def _embedding_table(ms) -> pd.DataFrame | None:
    cols = {}
    for key, coords in ms.obsm.items():
        if key.startswith("X_"):
            for d in range(min(2, coords.shape[1])):
                cols[f"{key[2:]}_{d + 1}"] = coords[:, d]
    if not cols:
        return None
    table = pd.DataFrame(cols)
    table.insert(0, "mask", list(ms.obs.index))
    for col in ("run_id", "method", "density", "weight_seed", "search_seed", "test_acc"):
        if col in ms.obs:
            table[col] = ms.obs[col].to_numpy()
    if "cluster" in ms.obs:
        table["cluster"] = ms.obs["cluster"].astype(str).to_numpy()
    return table


def _write(out_dir: Path, tables: dict[str, pd.DataFrame], key: str, skipped: list[str]) -> None:
    from landscape.store._io import write_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.csv"):
        if old.stem not in tables:
            old.unlink()
    for name, table in tables.items():
        write_atomic(out_dir / f"{name}.csv", _plain(table).to_csv(index=False).encode())
        _maybe_parquet(out_dir / f"{name}.parquet", table)
    write_atomic(out_dir / "cache.json", json.dumps({"key": key, "skipped": skipped}, indent=1).encode())


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """Tuples (e.g. ``model.hidden``) as strings so CSV and Parquet round-trip."""
    table = table.copy()
    for col in table.columns:
        if table[col].dtype == object and table[col].map(lambda v: isinstance(v, (tuple, list))).any():
            table[col] = table[col].map(lambda v: json.dumps(list(v)) if isinstance(v, (tuple, list)) else v)
    return table


def _maybe_parquet(path: Path, table: pd.DataFrame) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    _plain(table).to_parquet(path, index=False)


def _cache_valid(out_dir: Path, key: str) -> bool:
    try:
        return json.loads((out_dir / "cache.json").read_text())["key"] == key
    except (OSError, ValueError, KeyError):
        return False


def _read_skipped(out_dir: Path) -> list[str]:
    try:
        return list(json.loads((out_dir / "cache.json").read_text()).get("skipped", []))
    except (OSError, ValueError):
        return []


# ------------------------------------------------------------------------------------------
# the printed summary


def format_summary(result: Analysis) -> str:
    t = result.tables
    lines = []
    masks = t.get("masks")
    if masks is not None:
        lines.append(f"{len(masks)} masks in {masks['run_id'].nunique()} runs")
        acc = masks.groupby(["method", "density"], dropna=False)["test_acc"].agg(["count", "mean", "std"])
        lines.append("\ntest accuracy (final epoch), mean ± sd over masks:")
        for (method, density), row in acc.iterrows():
            sd = 0.0 if np.isnan(row["std"]) else row["std"]
            lines.append(
                f"  {method:<22} density {density:<5g} n={int(row['count']):<3} {row['mean']:.4f} ± {sd:.4f}"
            )
        if "all_ones_test_acc" in masks and masks["all_ones_test_acc"].notna().any():
            ref = masks.loc[masks["method"] != "random", "all_ones_test_acc"].dropna()
            if len(ref):
                lines.append(f"  (all weights kept, no search: {ref.mean():.4f})")
    div = t.get("diversity")
    if div is not None and len(div):
        for metric, part in div.groupby("metric"):
            name = {"jaccard": "Jaccard similarity |A∩B|/|A∪B|", "hamming": "matching (1 − Hamming)"}[metric]
            lines.append(f"\n{name} between masks of a group vs independent random masks:")
            for _, row in part.iterrows():
                if row["layer"] != "whole" and row is not None:
                    continue
                lines.append(_diversity_line(row))
            layers = part[part["layer"] != "whole"]
            if len(layers) and metric == "jaccard":
                lines.append("  per layer (similarity vs chance, excess):")
                for _, row in layers.iterrows():
                    lines.append("    " + _diversity_line(row, layer=True))
    bar = t.get("barriers")
    if bar is not None and len(bar):
        lines.append("\nloss barriers (max loss along the path above the chord of the end losses):")
        for path, part in bar.groupby("path"):
            lines.append(
                f"  {path:<7} {len(part)} pairs: mean {part['barrier_loss'].mean():.4f}, "
                f"max {part['barrier_loss'].max():.4f}; accuracy barrier mean {part['barrier_acc'].mean():.4f}"
            )
    if result.skipped:
        lines.append("\nskipped (not analysed):")
        lines += [f"  {s}" for s in result.skipped]
    lines.append(f"\ntables: {result.out_dir}" + (" (cached)" if result.cached else ""))
    return "\n".join(lines)


def _diversity_line(row, layer: bool = False) -> str:
    label = row["layer"] if layer else f"{row.get('method', '')} d={row.get('density', '')}"
    sim, base = 1 - row["mean"], 1 - row["baseline_mean"]
    return (
        f"  {label:<30} {sim:.4f} (chance {base:.4f}, excess {row['excess']:+.4f}, n={int(row['n_masks'])})"
    )
