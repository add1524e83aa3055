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
from landscape.store.catalog import ANALYSIS_RECORD

ANALYSIS_DIR = "_analysis"
# the cache record; a folder holding it is never taken for a run
CACHE_FILE = ANALYSIS_RECORD
TABLES = ("masks", "diversity", "baseline", "consensus", "barriers", "barrier_curves", "embedding")


@dataclass
class Analysis:
    """Result of :func:`analyze`: the tables, the analysed MaskSets and what was skipped."""

    tables: dict[str, pd.DataFrame]
    out_dir: Path
    masksets: dict[str, object] = field(default_factory=dict)  # layout group -> MaskSet
    skipped: list[str] = field(default_factory=list)
    cached: bool = False
    removed: list[str] = field(default_factory=list)  # tables of an earlier analysis

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
    """Changes with the parameters, the toolkit version, and any change to a run's files
    (manifest content, and size and time of config, layout and shard files)."""
    from landscape import __version__
    from landscape.store.catalog import run_dirs

    h = hashlib.sha256(json.dumps({**params, "version": __version__}, sort_keys=True, default=str).encode())
    for path in run_dirs(root):
        h.update(path.name.encode())
        manifest = path / "manifest.json"
        h.update(manifest.read_bytes() if manifest.is_file() else b"-")
        files = [path / "config.json", path / "layout.json", *sorted((path / "shards").glob("*"))]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
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
    device: str = "cpu",
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
    device
        Where distances (exact integer counts on every device) and barriers (float32 loss
        curves, equal across devices within rounding) are computed: ``cpu``, ``cuda``...
        Not part of the cache key.
    """
    from landscape import tl

    if barriers < 0:
        raise AnalysisError(f"barriers: the number of mask pairs must be >= 0, got {barriers}")
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    embed = (embed,) if isinstance(embed, str) else tuple(embed)
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
        tl.distances(ms, metric=tuple(metrics), per_layer=True, device=None if device == "cpu" else device)
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
            table = _barriers(ms, barriers, barrier_split, rng, progress, device)
            if table is not None:
                collected["barriers"].append(table)
                curves = ms.uns["barrier"]["curves"]
                if "obs_i" not in curves:  # pair ids restart per layout group; names do not
                    names = table[["pair", "obs_i", "obs_j"]].drop_duplicates("pair")
                    curves = curves.merge(names, on="pair", how="left")
                collected["barrier_curves"].append(curves)
        collected["masks"].append(_masks_table(ms))
        collected["embedding"].append(_embedding_table(ms))
    tables = {}
    for name, frames in collected.items():
        frames = [f for f in frames if f is not None and len(f)]
        if frames:
            tables[name] = pd.concat(frames, ignore_index=True)
    barrier_params = next(
        (ms.uns["barrier"]["params"] for ms in masksets.values() if "barrier" in ms.uns), None
    )
    removed = _write(out_dir, tables, {"key": key, "skipped": skipped, "barrier_params": barrier_params})
    return Analysis(tables, out_dir, masksets, skipped, removed=removed)


# Barriers compare masks over shared random weights; weight-training baselines train their
# own weights per mask, so there is no mask path between two of them.
WEIGHT_TRAINING = ("dense", "kstarts", "dissipating", "kstarts_dissipating")


def _barriers(ms, n_pairs: int, split: str, rng: int, progress: bool, device: str = "cpu"):
    from landscape import pp, tl

    keep = ~ms.obs["method.name"].isin(WEIGHT_TRAINING).to_numpy()
    if keep.sum() < 2:
        return None
    sub = ms if keep.all() else pp.subset(ms, keep)
    pairs = _pairs_per_run(sub.obs, n_pairs, rng)
    if not pairs:
        return None
    try:
        table = tl.barriers(sub, pairs=pairs, split=split, rng=rng, progress=progress, device=device)
    except AnalysisError as exc:
        warnings.warn(f"barriers skipped: {exc}", stacklevel=2)
        return None
    if sub is not ms:  # keep the results on the analysed MaskSet (figures read them there)
        ms.uns["barrier"] = sub.uns["barrier"]
        full = np.full((len(ms), len(ms)), np.nan)
        pos = np.flatnonzero(keep)
        full[np.ix_(pos, pos)] = sub.obsp["barrier"]
        ms.obsp["barrier"] = full
    for col in ("method", "density", "model.width_mult", "run_id"):
        if col in sub.obs and col not in table:
            table[col] = sub.obs[col].to_numpy()[table["i"].to_numpy()]
    return table


def _pairs_per_run(obs: pd.DataFrame, n_pairs: int, rng: int) -> list[tuple[int, int]]:
    """Up to ``n_pairs`` random mask pairs (positions) within every (run, weight seed)."""
    gen = np.random.default_rng(rng)
    pairs: list[tuple[int, int]] = []
    positions = pd.Series(np.arange(len(obs)), index=obs.index)
    for _, group in positions.groupby([obs["run_id"], obs["weight_seed"]], sort=True):
        pos = group.to_numpy()
        i, j = np.triu_indices(len(pos), k=1)
        take = gen.permutation(len(i))[:n_pairs]
        pairs += [(int(pos[i[t]]), int(pos[j[t]])) for t in sorted(take)]
    return pairs


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


def _write(out_dir: Path, tables: dict[str, pd.DataFrame], record: dict) -> list[str]:
    """Write the tables, then the cache record; returns the earlier tables removed."""
    from landscape.store._io import write_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    # the cache record goes first and comes back last: a write that dies half-way is never
    # taken for a finished analysis
    (out_dir / CACHE_FILE).unlink(missing_ok=True)
    removed = []
    for old in [*out_dir.glob("*.csv"), *out_dir.glob("*.parquet")]:
        if old.stem not in tables:
            old.unlink()
            removed.append(old.name)
    for name, table in tables.items():
        write_atomic(out_dir / f"{name}.csv", _plain(table).to_csv(index=False).encode())
        _maybe_parquet(out_dir / f"{name}.parquet", table)
    write_atomic(out_dir / CACHE_FILE, json.dumps(record, indent=1, default=str).encode())
    return removed


def attach_barriers(ms, runs: str | Path, out: str | Path | None = None) -> bool:
    """Put the loss barriers of an earlier :func:`analyze` of ``runs`` on ``ms`` (for the
    pairs whose masks ``ms`` holds), as ``uns["barrier"]`` and ``obsp["barrier"]``.

    Returns False when that analysis computed no barriers for these masks.
    """
    out_dir = Path(out) if out is not None else Path(runs) / ANALYSIS_DIR
    try:
        table = pd.read_csv(out_dir / "barriers.csv")
        curves = pd.read_csv(out_dir / "barrier_curves.csv")
        record = json.loads((out_dir / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return False
    if not {"obs_i", "obs_j"} <= set(table.columns) & set(curves.columns):
        return False
    names = pd.Index(ms.obs.index.astype(str))
    table = table[table["obs_i"].astype(str).isin(names) & table["obs_j"].astype(str).isin(names)]
    curves = curves[curves["obs_i"].astype(str).isin(names) & curves["obs_j"].astype(str).isin(names)]
    if table.empty:
        return False
    pos = pd.Series(np.arange(len(names)), index=names)
    i, j = pos[table["obs_i"].astype(str)].to_numpy(), pos[table["obs_j"].astype(str)].to_numpy()
    table = table.assign(i=i, j=j)
    curves = curves.assign(
        i=pos[curves["obs_i"].astype(str)].to_numpy(), j=pos[curves["obs_j"].astype(str)].to_numpy()
    )
    first = table[table["path"] == table["path"].iloc[0]]
    matrix = np.full((len(ms), len(ms)), np.nan)
    matrix[first["i"], first["j"]] = matrix[first["j"], first["i"]] = first["barrier_loss"]
    params = dict(record.get("barrier_params") or {})
    params["from"] = str(out_dir)
    ms.uns["barrier"] = {"params": params, "curves": curves.reset_index(drop=True), "table": table}
    ms.obsp["barrier"] = matrix
    return True


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
        return json.loads((out_dir / CACHE_FILE).read_text())["key"] == key
    except (OSError, ValueError, KeyError):
        return False


def _read_skipped(out_dir: Path) -> list[str]:
    try:
        return list(json.loads((out_dir / CACHE_FILE).read_text()).get("skipped", []))
    except (OSError, ValueError):
        return []


# ------------------------------------------------------------------------------------------
# the printed summary

GROUP_COLUMNS = ("method", "density", "model.width_mult")


def format_summary(result: Analysis) -> str:
    """Readable tables: accuracy per configuration, diversity beside chance, barriers."""
    t = result.tables
    lines: list[str] = []
    masks = t.get("masks")
    if masks is not None:
        lines.append(f"{len(masks)} masks in {masks['run_id'].nunique()} runs\n")
        lines.append("test accuracy (final epoch), mean ± sd over masks:")
        lines.append(_indent(_accuracy_table(masks).to_string(index=False)))
        if "all_ones_test_acc" in masks and masks["all_ones_test_acc"].notna().any():
            ref = masks.loc[masks["method"] != "random", "all_ones_test_acc"].dropna()
            if len(ref):
                lines.append(f"  the same random networks with every weight kept: {ref.mean():.4f}")
    div = t.get("diversity")
    if div is not None and len(div):
        for metric in ("jaccard", "hamming"):
            part = div[div["metric"] == metric]
            if len(part):
                lines.append("")
                lines.append(_diversity_title(metric))
                lines.append(_indent(_diversity_table(part).to_string(index=False)))
    bar = t.get("barriers")
    if bar is not None and len(bar):
        lines.append("\nloss barriers (max loss along the path above the chord of the end losses):")
        lines.append(_indent(_barrier_table(bar).to_string(index=False)))
    if result.skipped:
        lines.append("\nskipped (not analysed):")
        lines += [f"  {s}" for s in result.skipped]
    lines.append(f"\ntables: {result.out_dir}" + (" (cached)" if result.cached else ""))
    if result.removed:
        lines.append(
            f"  (removed tables of an earlier analysis with other options: {', '.join(result.removed)})"
        )
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _group_cols(frame: pd.DataFrame) -> list[str]:
    return [c for c in GROUP_COLUMNS if c in frame.columns]


def _short(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"model.width_mult": "width"})


def _accuracy_table(masks: pd.DataFrame) -> pd.DataFrame:
    cols = _group_cols(masks)
    acc = masks.groupby(cols, dropna=False)["test_acc"].agg(["count", "mean", "std"]).reset_index()
    acc["test_acc"] = [f"{m:.4f} ± {0 if np.isnan(s) else s:.4f}" for m, s in zip(acc["mean"], acc["std"])]
    return _short(acc.drop(columns=["mean", "std"]).rename(columns={"count": "n"}))


def _diversity_title(metric: str) -> str:
    what = (
        "Jaccard similarity |A∩B|/|A∪B|"
        if metric == "jaccard"
        else "matching fraction (1 − normalised Hamming)"
    )
    return (
        f"{what} of masks within a group, beside independent random masks of the same per-layer "
        "counts (excess = observed − chance; per layer: excess):"
    )


def _diversity_table(part: pd.DataFrame) -> pd.DataFrame:
    """One row per group: whole-network similarity, chance, excess, and per-layer excess."""
    cols = [c for c in (*_group_cols(part), "weight_seed") if c in part.columns]
    part = part[part["n_pairs"] > 0]
    whole = part[part["layer"] == "whole"].copy()
    whole = whole[whole["density"] < 1] if "density" in whole else whole  # identical dense masks
    out = whole[[*cols, "n_masks"]].rename(columns={"n_masks": "n"}).reset_index(drop=True)
    out["similarity"] = (1 - whole["mean"]).round(4).to_numpy()
    out["chance"] = (1 - whole["baseline_mean"]).round(4).to_numpy()
    out["excess"] = whole["excess"].round(4).to_numpy()
    layers = part[part["layer"] != "whole"]
    if len(layers):
        excess = layers.pivot_table(index="group", columns="layer", values="excess", sort=False)
        order = list(dict.fromkeys(layers["layer"]))
        for layer in order:
            out[layer] = excess[layer].reindex(whole["group"]).round(4).to_numpy()
    return _short(out.sort_values(cols[:3]).reset_index(drop=True))


def _barrier_table(bar: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in (*GROUP_COLUMNS, "path") if c in bar.columns] or ["path"]
    table = bar.groupby(cols, dropna=False).agg(
        pairs=("barrier_loss", "size"),
        loss_barrier=("barrier_loss", "mean"),
        max_loss_barrier=("barrier_loss", "max"),
        acc_barrier=("barrier_acc", "mean"),
        hamming=("hamming", "mean"),
    )
    return _short(table.round(4).reset_index())
