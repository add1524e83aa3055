"""``landscape analyze``: the standard analysis of a runs root, kept in a result store.

One call in a notebook (``landscape.analysis.analyze("runs")``) does what the CLI does: read
every finished run (skipping, and naming, incomplete or corrupt ones), keep masks of
different networks apart (one MaskSet per layout), and per group of masks — one
configuration each unless ``groupby`` pools — compute distances, the random baseline,
similarity beside chance with intervals over masks and networks, consensus, clusters,
embeddings and optionally loss barriers.

Every computed result goes into ``<runs>/_analysis/results/`` under a key of its inputs
(:mod:`landscape.store.results`); a later analysis reuses what matches and computes the
rest, and barrier pairs accumulate. The tables in ``<runs>/_analysis/*.csv`` are views of
the latest analysis over that store: the barrier tables show every stored curve between the
analysed masks, whatever analysis computed it. Only ``landscape clean`` removes results.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from landscape.analysis import cached
from landscape.analysis.cached import attach_barriers as attach_stored_barriers
from landscape.analysis.function import function_tables
from landscape.analysis.labels import analysis_labels, clusters_table, with_labels
from landscape.analysis.roots import record_root
from landscape.analysis.summary import format_summary
from landscape.analysis.views import ANALYSIS_DIR, analysis_folder, masks_table, write_views
from landscape.errors import AnalysisError, DamagedFileWarning, StoreError
from landscape.grouping import CONFIG, group_masks
from landscape.store.results import ResultStore

__all__ = ["ANALYSIS_DIR", "Analysis", "analyze", "attach_barriers", "format_summary"]

# Barriers compare masks over shared random weights; weight-training baselines train their
# own weights per mask, so there is no mask path between two of them.
WEIGHT_TRAINING = ("dense", "kstarts", "dissipating", "kstarts_dissipating")


@dataclass
class Analysis:
    """Result of :func:`analyze`: the tables, the analysed MaskSets, what was skipped and
    which stored files were found damaged (each line names the file and what was done).

    ``work`` counts what was computed and what was reused from the result store
    (``{"distances": {"computed": 1, "reused": 0}, "barrier curves": {...}, ...}``).
    """

    tables: dict[str, pd.DataFrame]
    out_dir: Path
    masksets: dict[str, object] = field(default_factory=dict)  # layout group -> MaskSet
    skipped: list[str] = field(default_factory=list)
    work: dict[str, dict[str, int]] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)  # runs holding fewer masks than planned
    damaged: list[str] = field(default_factory=list)  # stored results and tiles found unreadable

    def summary(self) -> str:
        return format_summary(self)


def _load_groups(root: Path, where) -> tuple[dict[str, object], list[str]]:
    """Finished masks grouped by layout (labelled ``<model>-<layout hash>``), the runs that
    were skipped with the reason, and the runs not finished."""
    import hashlib

    from landscape.reading import read_layout_groups

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped runs are reported in the summary instead
        sets = read_layout_groups(root, where=where)
    groups = {}
    for ms in sets:
        key = hashlib.sha256(ms.layout.dumps().encode()).hexdigest()[:8]
        model = ms.obs["model.name"].iloc[0] if "model.name" in ms.obs else "masks"
        groups[f"{model}-{key}"] = ms
    skipped = [f"{s['path']}: {s['reason']}" for s in sets[0].uns.get("skipped_runs", [])]
    unfinished = [f"{u['path']}: {u['masks']} of {u['planned']} planned masks"
                  for ms in sets for u in ms.uns.get("unfinished_runs", [])]  # fmt: skip
    return groups, skipped, unfinished


def analyze(
    path: str | Path,
    *,
    where=None,
    groupby=CONFIG,
    metrics: tuple[str, ...] = ("jaccard", "hamming"),
    barriers: int = 0,
    barrier_split: str = "test",
    barrier_points: int = 11,
    embed: tuple[str, ...] = ("mds",),
    rng: int = 0,
    device: str | None = "cpu",
    out: str | Path | None = None,
    recompute: bool = False,
    progress: bool = True,
    memory: int | str | None = None,
) -> Analysis:
    """Analyse every finished run under ``path``.

    Parameters
    ----------
    where
        Query on ``obs`` (pandas ``query`` string or ``{column: value(s)}``).
    groupby
        ``"config"`` (default): every configuration is its own group, never pooled with
        another. Columns (``("method", "density")``): pool configurations with equal values;
        the tables' ``pooled`` column and the summary name what was pooled.
    metrics
        Similarity metrics (``jaccard``, ``hamming``).
    barriers
        Loss barriers for N mask pairs **per configuration and network** (0 = none, the
        meaning of ``pairs=N`` in :func:`landscape.tl.barriers`); linear and constant-density
        swap paths. Pairs already in the result store are reused: asking for 4 after 2
        computes 2 more.
    barrier_split, barrier_points
        Split on which the paths are evaluated, and alpha values per path (ends included).
    embed
        Embeddings to compute (``pca``, ``mds``, ``tsne``, ``umap``).
    rng
        Seed for barrier pairs, swap orders and random embeddings.
    device
        Where distances (GEMM routes) and barriers run (``"cuda"``, ``"auto"``).
    out
        Analysis folder: the result store and the table views (default ``<path>/_analysis``).
    recompute
        Recompute distances, embeddings and the agreement and ensemble tables even when
        stored (the entries are replaced; with ``memory``, every distance tile too);
        barrier curves are deterministic and always reused.
    memory
        Budget for out-of-core distances (bytes or ``"2GB"``), computed as tiles kept under
        ``<out>/tiles`` so that a killed analysis resumes them. Results do not depend on it.
    """
    from landscape import tl

    if barriers < 0:
        raise AnalysisError(f"barriers: the number of mask pairs must be >= 0, got {barriers}")
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    embed = (embed,) if isinstance(embed, str) else tuple(embed)
    root = Path(path)
    out_dir = analysis_folder(root, out)
    store = ResultStore(out_dir)
    masksets, skipped, unfinished = _load_groups(root, where)
    record_root(out_dir, root)  # before any result: `clean` must know whose masks they used
    failures: list[Exception] = []  # runs whose barriers could not be computed
    work: dict[str, dict[str, int]] = {}

    def count(what: str, how: str, n: int = 1) -> None:
        work.setdefault(what, {"computed": 0, "reused": 0})[how] += n

    collected: dict[str, list[pd.DataFrame]] = {}
    relabel = analysis_labels(masksets, groupby)
    names: dict[str, str] = {}  # this layout group's group labels -> the analysis-wide ones

    def add(name: str, frame) -> None:
        if frame is not None and len(frame):
            collected.setdefault(name, []).append(with_labels(frame, names))

    distance_options = {"device": device} if device not in (None, "cpu") else {}
    if memory is not None:  # out of core: resumable tiles beside the result store
        distance_options.update(memory=memory, tiles=out_dir / "tiles", progress=progress)
    with _damaged_files() as damaged:  # listed in the summary, where a CLI filter cannot hide them
        for layout, ms in masksets.items():
            names = relabel[layout]
            count("distances", cached.distances(ms, metrics, store, recompute, **distance_options))
            add("baseline", tl.random_baseline(ms, metric=metrics, per_layer=True, groupby=groupby))
            for metric in metrics:
                add(
                    "diversity",
                    tl.diversity(ms, metric=metric, groupby=groupby, key_added=f"diversity_{metric}"),
                )
                add("diversity_summary", ms.uns[f"diversity_{metric}"]["summary"])
            function, how, unreadable = function_tables(ms, groupby, store, recompute)  # stored predictions
            if how != "none":
                count("function tables", how)
            skipped += [
                f"{u['path']}: {u['reason']} (left out of the agreement and ensemble tables)"
                for u in unreadable
            ]
            for name, frame in function.items():
                add(name, frame)
            if len(ms) >= 2:
                add("consensus", tl.consensus(ms, groupby=groupby))
                # do masks cluster by how they were found? one clustering per network and density
                clusters = tl.group_clusters(ms, groupby=groupby, metric=metrics[0], rng=rng)
                add("clusters", clusters_table(clusters, layout, names))
                for method in embed:
                    for how, n in cached.embedding_per_network(
                        ms, method, metrics[0], rng, store, recompute
                    ).items():
                        if n:
                            count("embeddings", how, n)
            if barriers:
                done = _barriers(
                    ms,
                    barriers,
                    barrier_split,
                    barrier_points,
                    rng,
                    device,
                    store,
                    progress,
                    skipped,
                    failures,
                )
                if done is not None:
                    count("barrier curves", "computed", done["n_computed"])
                    count("barrier curves", "reused", done["n_reused"])
            view = cached.barrier_view(ms, store)
            if view is not None:
                add("barriers", _with_groups(view[0], ms, groupby))
                add("barrier_curves", view[1])
                attach_stored_barriers(ms, store)  # the figures read them from the MaskSet
            add("masks", masks_table(ms, groupby))
            add("embedding", _embedding_table(ms))
    if barriers and failures and not work.get("barrier curves"):
        raise failures[0]  # barriers were asked for and no run could give any: say why, loudly
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in collected.items()}
    params = {
        "where": where if not isinstance(where, dict) else sorted(where.items()),
        "groupby": groupby if isinstance(groupby, str) or groupby is None else list(groupby),
        "metrics": list(metrics),
        "barriers": barriers,
        "barrier_split": barrier_split,
        "barrier_points": barrier_points,
        "embed": list(embed),
        "rng": rng,
        "device": device,
    }
    write_views(
        out_dir,
        tables,
        {"params": params, "skipped": skipped, "unfinished": unfinished, "damaged": damaged, "work": work},
    )
    return Analysis(tables, out_dir, masksets, skipped, work, params, unfinished, damaged)


@contextmanager
def _damaged_files() -> Iterator[list[str]]:
    """Fill the yielded list, on leaving, with the messages of :class:`DamagedFileWarning`
    (the first about each file), and pass those and every other warning on as they would
    have gone: the CLI, which hides library warnings, still prints the list."""
    messages: list[str] = []
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DamagedFileWarning)
            yield messages
    finally:
        named: set[str] = set()
        for w in caught:
            if isinstance(w.message, DamagedFileWarning):
                if w.message.path in named:
                    continue
                named.add(w.message.path)
                messages.append(str(w.message))
            # under its module's name, so that filters by module still apply
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, module=_module_of(w.filename))


def _module_of(filename: str) -> str | None:
    """The name of the loaded module whose source is ``filename`` (None: let warnings derive it)."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return None


def _barriers(ms, n_pairs: int, split: str, n_points: int, rng: int, device, store, progress,
              skipped: list[str], failures: list[Exception]) -> dict | None:  # fmt: skip
    """Barriers of ``n_pairs`` pairs per configuration and network (searched masks only),
    one run at a time, so that a run whose network cannot be rebuilt is reported by path
    (in ``skipped``) and the others still get theirs. Pairs never span runs here, so this
    draws the same pairs as one call over all runs would."""
    from landscape import pp, tl
    from landscape.tl._barrier_engine import SwapUndefined

    keep = ~ms.obs["method.name"].isin(WEIGHT_TRAINING).to_numpy() if "method.name" in ms.obs else None
    if keep is None or keep.sum() < 2:
        return None
    sub = ms if keep.all() else pp.subset(ms, keep)
    runs = sub.obs["run_id"].astype(str).to_numpy()
    done = None
    for run_id in dict.fromkeys(runs):
        part = pp.subset(sub, runs == run_id)
        where = sub.runs.get(run_id, run_id)
        options = dict(pairs=n_pairs, split=split, n_points=n_points, rng=rng, device=device or "cpu",
                       store=store, progress=progress)  # fmt: skip
        try:
            if _own_weights(part, where):  # the method changed each mask's weights: linear only
                tl.barriers(part, path="linear", **options)
                skipped.append(
                    f"{where}: swap path not defined (its masks carry weights their method changed)"
                )
            else:
                try:
                    tl.barriers(part, **options)
                except SwapUndefined as exc:  # weights that differ although none are stored
                    skipped.append(f"{where}: swap path not defined ({exc})")
                    tl.barriers(part, path="linear", **options)
        except (AnalysisError, StoreError) as exc:
            if "single mask" not in str(exc):  # no network of this run holds two masks
                skipped.append(f"{where}: barriers not computed ({exc})")
                failures.append(exc)
            continue
        params = part.uns["barrier"]["params"]
        done = done or {"n_computed": 0, "n_reused": 0}
        done["n_computed"] += params["n_computed"]
        done["n_reused"] += params["n_reused"]
    return done


def _own_weights(part, where) -> bool:
    """Whether the run's method changed each mask's weights (its rule says so), so that two of
    its masks lie over different weights and only the linear path joins them."""
    from landscape.store.rebuild import method_changes_weights
    from landscape.store.run_store import RunStore

    # False for imported masks without a searchable method: tl.barriers says what is missing
    return method_changes_weights(RunStore.open(where))


def _with_groups(table: pd.DataFrame, ms, groupby) -> pd.DataFrame:
    """The barrier table with the group label and the config columns of its first mask, and
    ``group_b`` / ``weight_seed_b`` of its second (pairs stored across groups or networks,
    through :func:`landscape.tl.barriers` with ``across_seeds``, stay apart in the summary)."""
    labels = pd.Series("", index=range(len(ms)), dtype=object)
    for g in group_masks(ms.obs, groupby):
        labels[g.positions] = g.label
    i, j = table["i"].to_numpy(), table["j"].to_numpy()
    out = table.copy()
    out.insert(0, "group", labels.to_numpy()[i])
    out.insert(1, "group_b", labels.to_numpy()[j])
    for col in ("run_id", "method", "density", "model.width_mult", "weight_seed"):
        if col in ms.obs:
            out[col] = ms.obs[col].to_numpy()[i]
    if "weight_seed" in ms.obs:
        out["weight_seed_b"] = ms.obs["weight_seed"].to_numpy()[j]
    return out


def _embedding_table(ms) -> pd.DataFrame | None:
    """Two coordinates per embedding and mask; with several networks each network was embedded
    on its own (``within`` names the column; coordinates of two networks are not comparable)."""
    cols, within = {}, None
    for key, coords in ms.obsm.items():
        if key.startswith("X_"):
            for d in range(min(2, coords.shape[1])):
                cols[f"{key[2:]}_{d + 1}"] = coords[:, d]
            within = within or ms.uns.get(key[2:], {}).get("params", {}).get("within")
    if not cols:
        return None
    table = pd.DataFrame(cols)
    table.insert(0, "mask", list(ms.obs.index))
    for col in ("run_id", "method", "density", "weight_seed", "search_seed", "test_acc"):
        if col in ms.obs:
            table[col] = ms.obs[col].to_numpy()
    if within == "network":  # one weight seed drawn by two initialisers: two networks
        from landscape.networks import network_values

        table["network"] = network_values(ms.obs, with_init=True)
    if "cluster" in ms.obs:
        table["cluster"] = ms.obs["cluster"].astype(str).to_numpy()
    table["within"] = within or "all masks"
    return table[table[list(cols)].notna().any(axis=1)].reset_index(drop=True)


def attach_barriers(ms, runs: str | Path, out: str | Path | None = None) -> bool:
    """Put the stored loss barriers between masks of ``ms`` (from the result store of the
    analysis folder of ``runs``) on it as ``uns["barrier"]`` and ``obsp["barrier"]``.

    Returns False when no barrier between these masks has been computed.
    """
    return attach_stored_barriers(ms, ResultStore(analysis_folder(Path(runs), out)))
