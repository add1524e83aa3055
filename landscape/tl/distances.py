"""Exact pairwise distances between the masks of a MaskSet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from landscape.errors import AnalysisError
from landscape.tl import _kernels
from landscape.tl._utils import target

METRICS = ("jaccard", "hamming", "matching")


def _metrics(metric) -> tuple[str, ...]:
    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise AnalysisError(f"metric={bad[0] if bad else metric!r} is unknown; choose from {METRICS}")
    return metrics


def _slot(metric: str) -> str:
    return "sim_matching" if metric == "matching" else f"dist_{metric}"


def distances(
    ms,
    *,
    metric: str | tuple[str, ...] = ("jaccard", "hamming"),
    per_layer: bool = False,
    backend: str = "auto",
    device: str | None = None,
    key_added: str | None = None,
    copy: bool = False,
    memory: int | str | None = None,
    tiles: str | Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    **cluster_options,
):
    """Exact pairwise Jaccard/Hamming distances (and matching similarity) between masks.

    All metrics derive from the integer intersection counts, computed once by the fastest
    exact route (see :mod:`landscape.tl._kernels`). Results equal
    ``scipy.spatial.distance.pdist`` on the unpacked masks, bit for bit, on every route.

    With ``memory`` or ``tiles`` the counts are computed out of core: as tiles (row blocks x
    word ranges) read from the memory-mapped shards, holding at most about ``memory`` bytes
    (one word range of all rows, the tile buffers, and the result matrices that fit; larger
    results become memory-mapped ``.npy`` files). With ``tiles`` the job is stored in that
    folder: a killed call resumes from the finished tiles, and ``executor`` shares the tiles
    between worker processes or cluster jobs.

    Parameters
    ----------
    ms
        MaskSet.
    metric
        ``"jaccard"`` (distance ``1 - |A & B| / |A or B|``, and ``0`` for two empty masks),
        ``"hamming"`` (differing bits / n_weights, scipy's normalisation), ``"matching"``
        (agreeing positions / n_weights, a similarity: ``1 - hamming`` up to the last bit of
        the float, since it is computed from the agreeing count directly), or a tuple of them.
    per_layer
        Also store per-layer matrices ``(n, n, L)``, each normalised by its layer's size.
    backend, device
        ``"auto"``, ``"numba"``, ``"numpy"``, ``"int8"`` or ``"float32"``; ``device="cuda"``
        runs the GEMM routes on a GPU.
    key_added
        Prefix of the slots and key in ``uns`` (default: no prefix, ``uns["distances"]``).
    copy
        Work on a copy and return it.
    memory
        Budget of the out-of-core route, bytes or a size (``"2GB"``, ``"512MiB"``); default
        2 GiB when only ``tiles`` is given. It bounds what this process holds beyond the page
        cache (plus the interpreter itself); each worker process holds as much.
    tiles
        Folder for resumable tile jobs (one subfolder per job, named by a key of the masks'
        checksums, row order, layout and toolkit version). Default: a temporary folder,
        removed afterwards.
    executor, workers, **cluster_options
        Where the tiles run: ``None`` (this process), ``"local"`` (``workers`` processes) or a
        submitit executor (``"slurm"``, ``"submitit-local"``, ``"debug"``) with the options of
        ``landscape sweep`` (``partition``, ``time_min``, ``mem_gb``, ...).
    progress
        Show a progress bar over the tiles.

    Returns
    -------
    MaskSet or None
        The copy when ``copy=True``. Slots written: ``obsp["intersection"]`` int64,
        ``obsp["dist_jaccard"]``, ``obsp["dist_hamming"]``, ``obsp["sim_matching"]`` float64
        (as asked), with ``*_layers`` versions when ``per_layer``.
    """
    metrics = _metrics(metric)
    route = _kernels.resolve_backend(backend, device)
    if (executor is not None or cluster_options) and memory is None and tiles is None:
        raise AnalysisError("executor= runs the tiles of an out-of-core job: pass memory= or tiles= too")
    ms = target(ms, copy)
    params = {"metric": list(metrics), "per_layer": per_layer, "backend": route, "device": device}
    record = {}
    if memory is None and tiles is None:
        slots = _in_memory(ms, metrics, per_layer, route, device)
    else:
        from landscape.tl._outofcore import DEFAULT_MEMORY, tiled_distances
        from landscape.tl._tiles import parse_memory

        budget = DEFAULT_MEMORY if memory is None else parse_memory(memory)
        slots, record = tiled_distances(
            ms, metrics, per_layer, route, device, budget, tiles, executor, workers, progress,
            cluster_options, _slot,
        )  # fmt: skip
        params["memory"] = budget
    prefix = f"{key_added}_" if key_added else ""
    for name, value in slots.items():
        ms.obsp[prefix + name] = value
    ms.uns[key_added or "distances"] = {
        "params": params,
        "layers": ms.layout.names,
        "n_weights": ms.layout.n_weights,
        **({"tiles": record} if record else {}),
    }
    return ms if copy else None


def in_memory_bytes(n: int, n_layers: int, n_metrics: int, per_layer: bool) -> int:
    """Bytes of the in-memory route's matrices: per-layer counts (always computed), their sum,
    each metric, and each metric per layer when asked (8-byte entries)."""
    per_pair = n_layers + 1 + n_metrics + (n_metrics * n_layers if per_layer else 0)
    return 8 * n * n * per_pair


def peak_bytes(n: int, n_layers: int, n_metrics: int, per_layer: bool) -> int:
    """:func:`in_memory_bytes` plus the temporaries of the largest metric (a Jaccard's union and
    differences, int64, and its mask of non-empty unions)."""
    return in_memory_bytes(n, n_layers, n_metrics, per_layer) + 17 * n * n * (n_layers if per_layer else 1)


def fits_in_ram(n: int, n_layers: int, n_metrics: int, per_layer: bool) -> tuple[bool, int, int | None]:
    """Whether the in-memory route's peak fits the RAM available: ``(fits, need, free)``."""
    from landscape.ram import available_ram

    need, free = peak_bytes(n, n_layers, n_metrics, per_layer), available_ram()
    return free is None or need <= free, need, free


def _check_fits(ms, metrics, per_layer: bool) -> None:
    """Refuse, before any work, matrices larger than the RAM available (an out-of-memory kill
    would come only after the counting)."""
    fits, need, free = fits_in_ram(len(ms), len(ms.layout), len(metrics), per_layer)
    if not fits:
        raise AnalysisError(
            f"distances of {len(ms):,} masks in memory: their {'per-layer ' if per_layer else ''}matrices "
            f"need {need / 1e9:.1f} GB, more than the {free / 1e9:.1f} GB of RAM available; pass memory= "
            "(landscape analyze --memory 4GB) to compute them in tiles, with the matrices beyond the "
            "budget memory-mapped on disk, or analyse fewer masks"
        )


def _in_memory(ms, metrics, per_layer: bool, route: str, device) -> dict[str, np.ndarray]:
    _check_fits(ms, metrics, per_layer)
    bounds = _kernels.layer_bounds(ms.layout)
    layers = _kernels.intersection_counts(ms.words(), bounds, backend=route, device=device)
    return _slots_from_counts(ms, layers, metrics, per_layer)


def _slots_from_counts(ms, layers: np.ndarray, metrics, per_layer: bool) -> dict[str, np.ndarray]:
    whole = layers.sum(axis=2)
    slots = {"intersection": whole}
    for m in metrics:
        slots[_slot(m)] = _metric(whole, m, ms.layout.n_weights)
    if per_layer:
        numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
        slots["intersection_layers"] = layers
        for m in metrics:
            slots[_slot(m) + "_layers"] = _metric(layers, m, numel)
    return slots


def fill_from_counts(
    ms, layers: np.ndarray, metrics, per_layer: bool, key_added: str | None = None, **provenance
) -> None:
    """Write the slots of :func:`distances` from per-layer intersection counts ``(n, n, L)``
    (the diagonal holds each mask's kept count), e.g. counts kept from an earlier run."""
    metrics = _metrics(metrics)
    prefix = f"{key_added}_" if key_added else ""
    for name, value in _slots_from_counts(ms, layers, metrics, per_layer).items():
        ms.obsp[prefix + name] = value
    ms.uns[key_added or "distances"] = {
        "params": {"metric": list(metrics), "per_layer": per_layer, **provenance},
        "layers": ms.layout.names,
        "n_weights": ms.layout.n_weights,
    }


def _metric(inter: np.ndarray, metric: str, n_weights) -> np.ndarray:
    if metric == "jaccard":
        return _kernels.jaccard(inter)
    if metric == "hamming":
        return _kernels.hamming(inter, n_weights)
    return _kernels.matching(inter, n_weights)
