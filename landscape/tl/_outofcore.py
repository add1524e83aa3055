"""Distances under a memory budget: a tile job, then results held in memory or on disk.

The counts come from a :class:`~landscape.tl._tilejob.TileJob` (resumable, shareable between
workers). The result matrices are allocated in memory while they fit in ``OUTPUT_SHARE`` of
the budget, in the order whole-network counts, whole-network metrics, per-layer counts,
per-layer metrics; the rest become memory-mapped ``.npy`` files in the job folder (file
cache, not process memory). Metrics are derived a block of rows at a time with the same
arithmetic as the in-memory route, so every value is identical to it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from landscape.tl import _kernels
from landscape.tl._tilejob import TileJob
from landscape.tl._tilestore import remove_job

DEFAULT_MEMORY = 2 * 2**30
OUTPUT_SHARE = 0.5  # of the budget for result matrices held in memory
SCRATCH_SHARE = 0.25  # of the budget for the temporaries of one block of rows
_TEMPORARIES = 5  # int64/float64 arrays alive per element while a metric is derived


class Outputs:
    """Allocates result matrices in memory while they fit, memory-mapped files after."""

    def __init__(self, job: TileJob, budget: int):
        self.job, self.left = job, int(budget * OUTPUT_SHARE)
        self.on_disk: list[str] = []

    def zeros(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if nbytes <= self.left:
            self.left -= nbytes
            return np.zeros(shape, dtype=dtype)
        path = self.job.store.output_path(name)
        self.on_disk.append(str(path))
        # a new inode: arrays of an earlier call still map the old file, which must not change
        # (or shrink) under them; a fresh file is sparse, zero without writing anything
        path.unlink(missing_ok=True)
        return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def tiled_distances(
    ms,
    metrics: tuple[str, ...],
    per_layer: bool,
    route: str,
    device,
    memory: int,
    tiles: str | Path | None,
    executor: str | None,
    workers: int | None,
    progress: bool,
    options: dict,
    slot,
) -> tuple[dict[str, np.ndarray], dict]:
    """The slots of :func:`landscape.tl.distances` computed through a tile job.

    Returns ``{slot: array}`` and a record of the job (folder, plan, files on disk).
    """
    temporary = tiles is None
    root = Path(tempfile.mkdtemp(prefix="landscape-tiles-")) if temporary else Path(tiles)
    try:
        job = TileJob.prepare(ms, root, memory)
        computed = job.run(executor, workers, backend=route, device=device, progress=progress, **options)
        n, n_layers = len(ms), len(ms.layout)
        out = Outputs(job, memory)
        whole = out.zeros("intersection", (n, n), np.int64)
        metric_whole = {m: out.zeros(slot(m), (n, n), np.float64) for m in metrics}
        layers = out.zeros("intersection_layers", (n, n, n_layers), np.int64) if per_layer else None
        metric_layers = (
            {m: out.zeros(slot(m) + "_layers", (n, n, n_layers), np.float64) for m in metrics}
            if per_layer
            else {}
        )
        job.merge(whole, layers, route, device)
        numel = np.array([s.numel for s in ms.layout], dtype=np.int64)
        for m, target in metric_whole.items():
            metric_blocks(whole, m, ms.layout.n_weights, target, memory)
        for m, target in metric_layers.items():
            metric_blocks(layers, m, numel, target, memory)
        result = {"intersection": whole, **{slot(m): a for m, a in metric_whole.items()}}
        if per_layer:
            result["intersection_layers"] = layers
            result.update({slot(m) + "_layers": a for m, a in metric_layers.items()})
        for a in result.values():
            if isinstance(a, np.memmap):
                a.flush()
        record = {
            "tiles": None if temporary else str(job.folder),
            "memory": memory,
            "plan": job.plan.to_json() | {"n_tiles": len(job.plan.tiles())},
            "computed_tiles": computed,
            "on_disk": [] if temporary else out.on_disk,
        }
        return result, record
    finally:
        if temporary:  # memory maps stay readable after their files are unlinked (POSIX)
            remove_job(root)


def discard_tile_job(ms, tiles: str | Path) -> None:
    """Remove the tile job of ``ms``'s rows under ``tiles`` (its finished tiles too), so that
    the next tiled call computes every tile again."""
    from landscape.tl._tilestore import job_key

    remove_job(Path(tiles) / job_key(ms.X, ms.layout)[0])


def metric_blocks(inter: np.ndarray, metric: str, n_weights, out: np.ndarray, memory: int) -> None:
    """``out[...] = metric(inter)`` a block of rows at a time (temporaries within budget)."""
    n = inter.shape[0]
    diag = np.array(np.diagonal(inter, axis1=0, axis2=1))  # (n,) or (L, n)
    diag = diag.T if inter.ndim == 3 else diag
    per_row = max(1, int(np.prod(inter.shape[1:]))) * 8 * _TEMPORARIES
    rows = max(1, int(memory * SCRATCH_SHARE) // per_row)
    nj = diag[None]
    for r0 in range(0, n, rows):
        r1 = min(r0 + rows, n)
        block = np.asarray(inter[r0:r1])
        out[r0:r1] = _kernels.metric_from_counts(block, diag[r0:r1, None], nj, metric, n_weights)
